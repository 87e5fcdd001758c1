import type { Properties, QoS } from '@mqtt-adapt/codec';

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
