import type { QoS } from '@mqtt-adapt/codec';
import type { Message } from './message.js';

/** Who is asking, as known when a hook runs. */
export interface ClientInfo {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly remoteAddress: string;
  readonly protocolVersion: 3 | 4 | 5;
}

export interface AuthenticateRequest {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly remoteAddress: string;
  readonly protocolVersion: 3 | 4 | 5;
  /**
   * `Transport.identity`, when the transport established one (a verified client certificate):
   * it is also `username`, and a hook may accept it without a password.
   */
  readonly identity: string | undefined;
}

/**
 * `true` accepts; `false` refuses with "bad user name or password" (3.x return code 4, 5.0
 * 0x86); a number refuses with that 5.0 reason code (mapped to the nearest 3.x return code).
 */
export type AuthenticateResult = boolean | number;

/** A hook may answer at once or with a promise; a throw or rejection refuses (and is logged). */
export type HookResult<T> = T | Promise<T>;

export interface BrokerHooks {
  /** Runs once per CONNECT before CONNACK. Default: accept everyone. */
  authenticate?(request: AuthenticateRequest): HookResult<AuthenticateResult>;
  /** Runs per inbound PUBLISH. `false` drops it (3.x still acks it; 5.0 acks with 0x87). */
  authorizePublish?(client: ClientInfo, topicName: string, qos: QoS, retain: boolean): HookResult<boolean>;
  /**
   * Runs per topic filter of a SUBSCRIBE. `false` refuses it (SUBACK 0x80 / 0x87); a QoS
   * grants at most that QoS.
   */
  authorizeSubscribe?(client: ClientInfo, topicFilter: string, qos: QoS): HookResult<boolean | QoS>;
  /**
   * Runs synchronously per delivery, before a message is written or queued for a session, and
   * per retained message sent on subscribe: `false` skips that delivery (the subscriber may
   * not read that topic, e.g. through a wildcard). It runs for every subscriber of every
   * message, so keep it cheap (a precompiled lookup). A throw denies and is logged. `client`
   * is the session's last connection (a restored session offline: `remoteAddress` is empty).
   */
  authorizeRead?(client: ClientInfo, topicName: string): boolean;
}

/** Why a connection closed, for events and logs. */
export type DisconnectReason =
  | 'client-disconnect'
  | 'transport-closed'
  | 'transport-error'
  | 'keepalive-timeout'
  | 'connect-timeout'
  | 'protocol-error'
  | 'malformed-packet'
  | 'not-authorized'
  | 'session-taken-over'
  | 'server-shutting-down'
  /** The store failed to make an acknowledged write durable. */
  | 'store-failure'
  /** An exception escaped while serving this client (a bug): the connection was closed. */
  | 'internal-error'
  /** Its full queue held publishers back and it acknowledged nothing for `stalledSubscriberTimeoutMs`. */
  | 'subscriber-stalled'
  /** Its partly received packet took the broker past `maxPartialPacketBytes`. */
  | 'partial-packet-budget';

export type DropReason =
  | 'slow-consumer'
  | 'queue-full'
  | 'not-authorized'
  | 'dollar-topic'
  | 'offline-qos0'
  /** Its 5.0 Message Expiry Interval ran out before delivery started. */
  | 'expired'
  /** Larger than the 5.0 client's Maximum Packet Size: discarded, as the spec says. */
  | 'packet-too-large';

/** Events for metrics, logs and bridges. Listeners run synchronously: keep them cheap. */
export interface BrokerEventMap {
  clientConnected: [client: ClientInfo, sessionPresent: boolean];
  clientDisconnected: [client: ClientInfo, reason: DisconnectReason];
  subscribed: [client: ClientInfo, topicFilter: string, grantedQos: QoS];
  unsubscribed: [client: ClientInfo, topicFilter: string];
  /** Every message accepted for routing, including wills and `Broker.publish`. */
  messagePublished: [message: Message];
  /** A message not delivered to one subscriber (or not accepted from a publisher). */
  messageDropped: [message: Message, clientId: string, reason: DropReason];
}
export type BrokerEventName = keyof BrokerEventMap;
export type BrokerListener<E extends BrokerEventName> = (...args: BrokerEventMap[E]) => void;
