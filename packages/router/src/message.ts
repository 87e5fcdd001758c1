import type { Properties, QoS } from '@mqtt-adapt/codec';
import type { SharedSettled } from './shared-settle.js';

/**
 * An application message as routed: immutable and shared by every subscriber, never copied
 * per subscriber. `payload` is owned by the message (copied off the socket chunk).
 */
export interface Message {
  readonly topicName: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties: Properties | undefined;
  /** Client id of the publisher; undefined for wills of sessions gone and `Broker.publish`. */
  readonly publisherId: string | undefined;
}

/**
 * A message as the router holds it: the shared `Message` plus persistence bookkeeping. Created
 * only by `createMessage`, so every message object has the same shape.
 */
export interface RoutedMessage extends Message {
  /** Id in the store once a persistent session holds it; 0 until then. */
  storeId: number;
  /** Stored deliveries referring to it; the stored body is deleted when this drops to 0. */
  storeRefs: number;
  /** Queues of online sessions holding it: its bytes count once toward `maxQueuedBytes`. */
  queueRefs: number;
  /** Clock time its 5.0 Message Expiry Interval ends; 0 until first looked at (see `isExpired`). */
  expiresAt: number;
  /** A remote message whose share-group deliveries another broker waits for (`DeliverRemoteOptions.sharedSettled`). */
  sharedSettled: SharedSettled | undefined;
}

export function createMessage(
  topicName: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  properties: Properties | undefined,
  publisherId: string | undefined,
): RoutedMessage {
  return {
    topicName,
    payload,
    qos,
    retain,
    properties,
    publisherId,
    storeId: 0,
    storeRefs: 0,
    queueRefs: 0,
    expiresAt: 0,
    sharedSettled: undefined,
  };
}
