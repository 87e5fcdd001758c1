import type { Clock } from './clock.js';
import type { FanOutHook } from './fan-out.js';
import type { BrokerHooks } from './hooks.js';
import type { Logger } from './logger.js';
import type { SessionOwnershipHook } from './session-ownership.js';
import type { Store } from './store.js';

/** Broker limits and behaviour. Every field is optional; defaults are in `defaultBrokerOptions`. */
export interface BrokerOptions {
  /**
   * Largest packet accepted from a client, fixed header included. Default 268 435 460, the
   * protocol maximum (as Mosquitto and Aedes): memory is bounded by `maxPartialPacketBytes`.
   */
  maxPacketSize?: number;
  /**
   * Bytes held, across all connections, for packets still arriving (split across socket
   * chunks). A connection whose partial packet takes the total past this is closed (5.0:
   * DISCONNECT 0x97 quota exceeded), so many clients each sending half of a huge packet cannot
   * exhaust memory. Default 512 MiB.
   */
  maxPartialPacketBytes?: number;
  /** Largest CONNECT accepted, checked before the body is buffered. Default 64 KiB. */
  maxConnectPacketSize?: number;
  /** Time a new connection has to send CONNECT. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /**
   * Time an async `authenticate` hook has to answer; then the client is refused with "server
   * unavailable" (3.x return code 3, 5.0 0x88) and the late answer ignored. Default 5 000 ms.
   */
  authenticateTimeoutMs?: number;
  /**
   * Outbound QoS 1/2 messages awaiting acknowledgement per client (a 5.0 client's smaller
   * Receive Maximum wins). Default 256.
   */
  maxInflightMessages?: number;
  /**
   * QoS 1/2 messages queued per session behind the in-flight window or while offline. An
   * online session at this mark pauses the publishers feeding it until it drains (no message is
   * dropped); an offline session drops its oldest (a lossless one holds its publishers instead,
   * see `AcceptOptions`). Default 1000.
   */
  maxQueuedMessages?: number;
  /**
   * Broker-wide bytes of messages queued for online sessions. Past it, publishers into online
   * sessions are paused until the queues drain below three quarters of it. Default 256 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * A subscriber whose queue is full (it is holding publishers back) and that acknowledges
   * nothing for this long is disconnected; a persistent session then keeps queuing offline up
   * to `maxQueuedMessages`. Lossless sessions (`AcceptOptions`) are exempt. Default 30 000 ms.
   */
  stalledSubscriberTimeoutMs?: number;
  /**
   * Subscriptions one session may hold; further new filters are refused (SUBACK 0x80, 5.0
   * 0x97 quota exceeded), so a SUBSCRIBE flood cannot exhaust memory. Default 10 000.
   */
  maxSubscriptionsPerSession?: number;
  /**
   * Open connections, broker-wide, those still before CONNECT included. `Broker.accept` closes
   * any transport beyond it at once (no CONNACK), counts it (`limitHits.connections`) and logs
   * a warning at the first. Default 0: unlimited.
   */
  maxConnections?: number;
  /**
   * CONNECTs per second per source host (`remoteAddress` without its port), with a burst of
   * the same size: a token bucket per host. A CONNECT over it is refused (5.0 CONNACK 0x9F
   * connection rate exceeded, 3.x return code 3 server unavailable) and closed. At most 65 536
   * hosts are tracked; a host is forgotten once its bucket has refilled. Default 0: off.
   */
  maxConnectRatePerAddress?: number;
  /**
   * Inbound PUBLISH packets per second per connection, with a burst of the same size. Over it
   * the client is slowed, never disconnected: its input is not read (acks and pings still pass)
   * until about a tenth of a second of tokens is back; keepalive does not count that time.
   * Default 0: off (no per-connection state at all).
   */
  maxPublishRatePerClient?: number;
  /**
   * Most levels of a topic name (PUBLISH, will) or a topic filter (SUBSCRIBE, after any
   * `$share/{group}/`). A PUBLISH or will over it is treated as an invalid topic name (5.0:
   * DISCONNECT / CONNACK 0x90; 3.x: closed); a filter over it gets SUBACK 0x80 (5.0: 0x8F).
   * Default 128, `DEFAULT_MAX_LEVELS` of `@mqtt-adapt/topic`, which bounds the work of
   * matching one publish and the depth of the retained index. 1-32768.
   */
  maxTopicLevels?: number;
  /**
   * Most UTF-8 bytes of a topic name or filter, treated as `maxTopicLevels` is. Default 65535,
   * the protocol maximum (no check of its own).
   */
  maxTopicLength?: number;
  /**
   * Retained messages kept at most. A retained PUBLISH that would add one more is delivered but
   * not retained (replacing or deleting an existing one always may). Default 0: unlimited.
   */
  maxRetainedMessages?: number;
  /**
   * Sum of the payload bytes of retained messages at most; a retained PUBLISH that would take
   * the sum past it (replacing counts the difference) is delivered but not retained. Default 0:
   * unlimited.
   */
  maxRetainedBytes?: number;
  /** Largest payload retained; a larger retained PUBLISH is delivered but not retained. Default 0: unlimited. */
  maxRetainedPayloadBytes?: number;
  /**
   * 5.0 Topic Alias Maximum the broker advertises in CONNACK: how many topic aliases one client
   * may set; each holds a topic name in memory for the connection's life. 0 allows none
   * (a PUBLISH with an alias then gets 0x94). Default 10, as Mosquitto.
   */
  topicAliasMaximum?: number;
  /**
   * 5.0 outbound Topic Aliases per client at most: a client whose CONNECT sets Topic Alias
   * Maximum gets the topic name of a delivery once with an alias, then the alias alone; past
   * the smaller of both maximums the least recently used alias is reassigned. Each holds a topic
   * name for the connection's life, and such a client's deliveries are encoded for it alone
   * (not shared with other subscribers). 0: never any. Default 16.
   */
  maxOutboundTopicAliases?: number;
  /**
   * 5.0 Server Keep Alive: when set, the keepalive every 5.0 client must use, sent in CONNACK in
   * place of the one it asked for (3.x clients keep theirs). Default: unset (the client's own).
   */
  serverKeepAliveSeconds?: number;
  /**
   * 5.0 Response Information sent in CONNACK to a client that set Request Response Information
   * (a topic prefix for its responses, e.g. `responses/`). Default: unset (none sent).
   */
  responseInformation?: string;
  /**
   * 5.0 Receive Maximum of the broker: QoS 1 and 2 PUBLISH packets one client may have
   * unacknowledged by the broker (QoS 1 until its PUBACK, QoS 2 until its PUBCOMP or a PUBREC
   * of 0x80 or more), advertised in CONNACK when below 65535. One more gets DISCONNECT 0x93.
   * Default 65535, the protocol's (nothing advertised): MQTT.js, for one, ignores a server's
   * Receive Maximum, and acks wait for the store's group commit. 1-65535.
   */
  receiveMaximum?: number;
  /**
   * 5.0 Wildcard Subscription Available. `false` is advertised in CONNACK; a 5.0 SUBSCRIBE
   * with `+` or `#` then gets DISCONNECT 0xA2, a 3.x filter SUBACK 0x80. Default true.
   */
  wildcardSubscriptionAvailable?: boolean;
  /**
   * 5.0 Subscription Identifiers Available. `false` is advertised in CONNACK; a SUBSCRIBE with
   * a Subscription Identifier then gets DISCONNECT 0xA1. Default true.
   */
  subscriptionIdentifiersAvailable?: boolean;
  /**
   * 5.0 Shared Subscription Available. `false` is advertised in CONNACK; a 5.0 SUBSCRIBE to
   * `$share/...` then gets DISCONNECT 0x9E, a 3.x filter SUBACK 0x80. Default true.
   */
  sharedSubscriptionAvailable?: boolean;
  /**
   * 5.0 Retain Available. `false` is advertised in CONNACK; a PUBLISH with RETAIN 1 then gets
   * DISCONNECT 0x9A (3.x: closed), a will with RETAIN 1 CONNACK 0x9A (3.x: closed). The
   * application's own `Broker.publish` (`$SYS`) may still retain. Default true.
   */
  retainAvailable?: boolean;
  /**
   * Longest Session Expiry Interval granted, in seconds: a 5.0 client asking for more gets this
   * (told in CONNACK), and a 3.x Clean Session 0 session, which would never expire, ends this
   * long after its client went away. Default 0xFFFFFFFF: no cap (sessions may never expire).
   */
  maxSessionExpirySeconds?: number;
  /** Highest QoS granted to subscriptions. Default 2. */
  maxQoS?: 0 | 1 | 2;
  /** Packets decoded while CONNECT (authentication) is pending before the connection is paused. Default 64. */
  maxPendingPacketsBeforeConnack?: number;
  /**
   * Persistence of sessions, subscriptions, queued messages and retained messages. Default: a
   * new `MemoryStore` (nothing survives a restart). Call `await broker.open()` before `accept`.
   */
  store?: Store;
  hooks?: BrokerHooks;
  logger?: Logger;
  clock?: Clock;
  /** Generates client ids for empty client ids with clean session. Default: `mqtt-adapt-` + random. */
  generateClientId?: () => string;
  /**
   * Hands routed messages and subscription changes to a layer beyond this broker (a cluster);
   * see `FanOutHook` and `Broker.deliverRemote`. Default: unset, nothing is handed on.
   */
  fanOut?: FanOutHook;
  /**
   * Cluster seam: claims a client id's session at CONNECT (see `SessionOwnershipHook`). Unset
   * (default): sessions are this broker's alone.
   */
  sessionOwnership?: SessionOwnershipHook;
}

/** How the broker treats one connection, chosen by the application that accepts it (`Broker.accept`). */
export interface AcceptOptions {
  /**
   * The connection's session never loses an acknowledged message to a limit: it is never
   * disconnected as a stalled subscriber (`stalledSubscriberTimeoutMs`), and at
   * `maxQueuedMessages`, online or offline, it holds the publishers feeding it instead of
   * dropping its oldest message; they resume once it drains to half after (re)connecting. Meant
   * for in-process consumers the application runs itself, such as a bridge that acknowledges a
   * message only once its destination confirmed it: a network client with it could hold its
   * publishers for as long as it likes. The session keeps the policy while offline, until a
   * connection without it takes the session over; it is not stored (after a restart the session
   * is an ordinary one until such a connection comes back). Default false.
   */
  readonly lossless?: boolean;
}

export type ResolvedBrokerOptions = Required<
  Omit<
    BrokerOptions,
    'hooks' | 'serverKeepAliveSeconds' | 'responseInformation' | 'fanOut' | 'sessionOwnership'
  >
> & {
  hooks: BrokerHooks;
  fanOut: FanOutHook | undefined;
  sessionOwnership: SessionOwnershipHook | undefined;
  serverKeepAliveSeconds: number | undefined;
  responseInformation: string | undefined;
};
