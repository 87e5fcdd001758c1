import type { Clock } from './clock.js';
import type { BrokerHooks } from './hooks.js';
import type { Logger } from './logger.js';
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
   * dropped); an offline session drops its oldest. Default 1000.
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
   * to `maxQueuedMessages`. Default 30 000 ms.
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
   * 5.0 Server Keep Alive: when set, the keepalive every 5.0 client must use, sent in CONNACK in
   * place of the one it asked for (3.x clients keep theirs). Default: unset (the client's own).
   */
  serverKeepAliveSeconds?: number;
  /**
   * 5.0 Response Information sent in CONNACK to a client that set Request Response Information
   * (a topic prefix for its responses, e.g. `responses/`). Default: unset (none sent).
   */
  responseInformation?: string;
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
}

export type ResolvedBrokerOptions = Required<
  Omit<BrokerOptions, 'hooks' | 'serverKeepAliveSeconds' | 'responseInformation'>
> & {
  hooks: BrokerHooks;
  serverKeepAliveSeconds: number | undefined;
  responseInformation: string | undefined;
};
