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

/** What an enhanced authentication method knows when an exchange starts (MQTT 5.0 §4.12). */
export interface EnhancedAuthRequest {
  readonly clientId: string;
  /** The CONNECT's User Name (`Transport.identity` when the transport set one); in a re-authentication, the connection's. */
  readonly username: string | undefined;
  /** The CONNECT's Password; `undefined` in a re-authentication. */
  readonly password: Buffer | undefined;
  readonly remoteAddress: string;
  readonly identity: string | undefined;
  /** The Authentication Method, as the client named it. */
  readonly authenticationMethod: string;
  /** The client's first Authentication Data (of the CONNECT, or of the AUTH 0x19). */
  readonly authenticationData: Buffer | undefined;
  /** `true` when a connected client asked to re-authenticate (AUTH 0x19, MQTT 5.0 §4.12.1). */
  readonly reauthenticate: boolean;
}

/**
 * One answer of an enhanced authentication method:
 * - `continue`: send `data` in AUTH 0x18 and wait for the client's next AUTH; `state` is handed
 *   back to `step` with it.
 * - `success`: the client is authenticated. CONNACK 0x00 (a re-authentication: AUTH 0x00) carries
 *   the Authentication Method and `data`, if any. `username`, when given, becomes the
 *   connection's user name (the transport's identity, when it has one, stays it); a
 *   re-authentication that names another user than the connection's fails with 0x87.
 * - `failure`: CONNACK with `reasonCode` (0x80 or above, e.g. 0x86 bad user name or password,
 *   0x87 not authorized) and close; a re-authentication gets DISCONNECT (0x87 when `reasonCode`
 *   is not a DISCONNECT reason code). `reason` goes out as the Reason String.
 */
export type EnhancedAuthAnswer<S = unknown> =
  | { readonly result: 'continue'; readonly data: Buffer | undefined; readonly state: S }
  | { readonly result: 'success'; readonly data?: Buffer | undefined; readonly username?: string | undefined }
  | { readonly result: 'failure'; readonly reasonCode: number; readonly reason?: string | undefined };

/**
 * A challenge/response authentication method such as SCRAM or Kerberos (MQTT 5.0 §4.12),
 * offered under its Authentication Method name in `BrokerHooks.authMethods`. The router runs
 * the AUTH packets; the method only computes answers. Each call may answer at once or with a
 * promise, within `authenticateTimeoutMs`; a throw, rejection or timeout refuses the client
 * (CONNACK 0x88 server unavailable; in a re-authentication, DISCONNECT 0x80) and is logged.
 */
export interface EnhancedAuthMethod<S = unknown> {
  /** Starts an exchange: at CONNECT, or at a connected client's AUTH 0x19. */
  start(request: EnhancedAuthRequest): HookResult<EnhancedAuthAnswer<S>>;
  /** The client's next Authentication Data (its AUTH 0x18), after a `continue` answer with `state`. */
  step(state: S, data: Buffer | undefined, request: EnhancedAuthRequest): HookResult<EnhancedAuthAnswer<S>>;
}

export interface BrokerHooks {
  /** Runs once per CONNECT before CONNACK. Default: accept everyone. */
  authenticate?(request: AuthenticateRequest): HookResult<AuthenticateResult>;
  /**
   * 5.0 enhanced authentication methods by Authentication Method name (e.g. `SCRAM-SHA-256`). A
   * CONNECT naming one of them is authenticated by it instead of `authenticate`; one naming
   * another gets CONNACK 0x8C. Default: none.
   */
  authMethods?: Readonly<Record<string, EnhancedAuthMethod>>;
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
  /**
   * Runs per inbound PUBLISH the broker accepted (authorized, routed to its subscribers), before
   * its acknowledgement. Return `undefined` to acknowledge as usual. Return a promise to hold
   * the PUBACK (QoS 1) or PUBREC (QoS 2) until it resolves, e.g. until a bridge's destination
   * confirmed the message ("ack after confirm"). While it is pending, the client's later
   * packets wait behind it (acknowledgements stay in order, and the client is not read past
   * `maxPendingPacketsBeforeConnack` packets: that is the backpressure). A QoS 2 packet id is
   * remembered only once the promise resolved. A rejection (or a throw) acknowledges nothing:
   * the connection is closed (5.0: DISCONNECT 0x80 with a Reason String; `clientDisconnected`
   * reason `publish-not-confirmed`), so the client sends the message again on its next
   * connection; for QoS 0 a rejection is only logged. Unset (the default), nothing is
   * allocated per message.
   */
  beforePublishAck?(client: ClientInfo, message: Message): Promise<void> | undefined;
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
  | 'partial-packet-budget'
  /**
   * `beforePublishAck` refused (rejected or threw) one of its QoS 1/2 messages: it was not
   * acknowledged, and the client sends it again on its next connection (5.0: DISCONNECT 0x80).
   */
  | 'publish-not-confirmed';

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
  /**
   * After CONNACK. `will` is the connection's will as it would be published (`undefined`: none,
   * or discarded as a `$` topic) and `willDelayMs` its 5.0 Will Delay Interval; both stay as they
   * were at CONNECT (a clean DISCONNECT discards the will later, then `clientDisconnected`).
   */
  clientConnected: [
    client: ClientInfo,
    sessionPresent: boolean,
    will: Message | undefined,
    willDelayMs: number,
  ];
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
