import type { BrokerOptions } from '@mqtt-adapt/router';
import { booleanText, type Check, integerIn, mapping, mqttString, oneOf } from './internal/checks.js';

/** Limits, each mapped one-to-one onto the router's `BrokerOptions`. */
export interface LimitsConfig {
  /**
   * Largest packet accepted from a client, fixed header included. Default 268435460, the
   * protocol maximum (as Mosquitto and Aedes); memory is bounded by `maxPartialPacketBytes`.
   */
  maxPacketSize: number;
  /**
   * Bytes held, across all connections, for packets still arriving (split across socket
   * chunks). A connection whose partial packet takes the total past this is closed (MQTT 5.0:
   * DISCONNECT 0x97 quota exceeded), so many clients each sending half of a huge packet cannot
   * exhaust memory. Default 536870912 (512 MiB).
   */
  maxPartialPacketBytes: number;
  /**
   * Largest CONNECT accepted, checked before its body is buffered; the smaller of this and
   * `maxPacketSize` applies. Default 65536 (64 KiB).
   */
  maxConnectPacketSize: number;
  /** Time a new connection has to send CONNECT before it is closed. Default 10000 ms. */
  connectTimeoutMs: number;
  /**
   * Time the authenticate step (the store's login, or an embedder's hook) has to answer; then
   * the client is refused with "server unavailable" (3.x return code 3, 5.0 0x88). Default 5000 ms.
   */
  authenticateTimeoutMs: number;
  /**
   * Outbound QoS 1/2 messages awaiting acknowledgement per client (an MQTT 5.0 client's smaller
   * Receive Maximum wins). Default 256.
   */
  maxInflightMessages: number;
  /**
   * QoS 1/2 messages queued per session behind the in-flight window or while offline. An online
   * session at this mark pauses the publishers feeding it (their sockets are not read) until it
   * drains: nothing is dropped while the subscriber is online. An offline persistent session
   * drops its oldest. Default 1000.
   */
  maxQueuedMessages: number;
  /**
   * Broker-wide bytes of messages queued for online sessions. Past it, publishers into online
   * sessions are paused until the queues drain below three quarters of it. Default 268435456
   * (256 MiB).
   */
  maxQueuedBytes: number;
  /**
   * A subscriber whose queue is full (it is holding publishers back) and that acknowledges
   * nothing for this long is disconnected; a persistent session then queues offline up to
   * `maxQueuedMessages`. Default 30000 ms.
   */
  stalledSubscriberTimeoutMs: number;
  /** Highest QoS granted to subscriptions. Default 2. */
  maxQoS: 0 | 1 | 2;
  /**
   * 5.0 Topic Alias Maximum advertised in CONNACK: topic aliases one client may set (each keeps
   * a topic name for the connection's life); 0 allows none. Default 10, as Mosquitto.
   */
  topicAliasMaximum: number;
  /**
   * Longest Session Expiry Interval granted, in seconds: a 5.0 client asking for more gets this
   * (told in CONNACK); a 3.x Clean Session 0 session ends this long after its client left.
   * Default 4294967295 (0xFFFFFFFF): no cap, sessions may never expire.
   */
  maxSessionExpirySeconds: number;
  /**
   * Open MQTT connections, all listeners together (those still before CONNECT included); past
   * it a new connection is closed at once, without CONNACK, counted and logged (warn, once until
   * one is accepted again). Each listener's own `maxConnections` applies too. Default 0: unlimited.
   */
  maxConnections: number;
  /**
   * CONNECTs per second from one source host (the address without the port), with a burst of
   * the same size. Over it the CONNECT is refused (5.0 CONNACK 0x9F connection rate exceeded,
   * 3.x return code 3 server unavailable) and closed. Default 0: off.
   */
  maxConnectRatePerAddress: number;
  /**
   * Inbound PUBLISH packets per second per connection, with a burst of the same size. Over it
   * the client's socket is not read until its rate allows: it is slowed, never disconnected.
   * Default 0: off.
   */
  maxPublishRatePerClient: number;
  /**
   * Most levels of a topic name (PUBLISH, will) or filter (SUBSCRIBE). A PUBLISH or will over
   * it is treated as an invalid topic (5.0: 0x90; 3.x: closed); a filter over it gets SUBACK
   * 0x80 (5.0: 0x8F). Default 128 (1-32768).
   */
  maxTopicLevels: number;
  /** Most UTF-8 bytes of a topic name or filter, treated as `maxTopicLevels`. Default 65535, the protocol maximum. */
  maxTopicLength: number;
  /**
   * Retained messages kept at most; a retained PUBLISH that would add one is delivered but not
   * retained (replacing or deleting one always may). Default 0: unlimited.
   */
  maxRetainedMessages: number;
  /**
   * Sum of the retained payloads at most, in bytes; a retained PUBLISH that would go past it
   * is delivered but not retained. Default 0: unlimited.
   */
  maxRetainedBytes: number;
  /** Largest retained payload in bytes; a larger one is delivered but not retained. Default 0: unlimited. */
  maxRetainedPayloadBytes: number;
  /**
   * 5.0 Receive Maximum of the broker: QoS 1/2 PUBLISH packets one client may have
   * unacknowledged by the broker (until PUBACK, or PUBCOMP for QoS 2); advertised in CONNACK
   * when below 65535, one more gets DISCONNECT 0x93. Default 65535, the protocol's: MQTT.js
   * ignores a server's Receive Maximum, and acks wait for the store's group commit (1-65535).
   */
  receiveMaximum: number;
  /**
   * 5.0 Server Keep Alive in seconds: the keepalive every 5.0 client must use, sent in CONNACK
   * instead of the one it asked for (3.x clients keep theirs); 0 turns keepalive off. Default:
   * unset (each client's own).
   */
  serverKeepAliveSeconds: number | undefined;
  /**
   * 5.0 Response Information sent in CONNACK to a client that sets Request Response Information,
   * e.g. a topic prefix for its responses (`responses/`). Default: unset (none sent).
   */
  responseInformation: string | undefined;
  /**
   * 5.0 Retain Available. `false` is advertised in CONNACK; then a PUBLISH with RETAIN 1 gets
   * DISCONNECT 0x9A and a will with RETAIN 1 CONNACK 0x9A (3.x clients: closed). The broker's own
   * `$SYS` topics are still retained. Default true.
   */
  retainAvailable: boolean;
  /**
   * 5.0 Wildcard Subscription Available. `false` is advertised in CONNACK; then a 5.0 SUBSCRIBE
   * with `+` or `#` gets DISCONNECT 0xA2 (3.x: SUBACK 0x80 for that filter). Default true.
   */
  wildcardSubscriptionAvailable: boolean;
  /**
   * 5.0 Subscription Identifiers Available. `false` is advertised in CONNACK; then a SUBSCRIBE
   * with a Subscription Identifier gets DISCONNECT 0xA1. Default true.
   */
  subscriptionIdentifiersAvailable: boolean;
  /**
   * 5.0 Shared Subscription Available. `false` is advertised in CONNACK; then a 5.0 SUBSCRIBE to
   * `$share/...` gets DISCONNECT 0x9E (3.x: SUBACK 0x80 for that filter). Default true.
   */
  sharedSubscriptionAvailable: boolean;
}

/** MQTT's largest packet: a 4-byte remaining length of 268435455 plus the fixed header. */
const MQTT_MAX_PACKET_SIZE = 268_435_460;
/** Node's timers hold at most 2^31 - 1 ms. */
const MAX_TIMEOUT_MS = 2_147_483_647;
/** Broker-wide byte budgets: at least 1 KiB (less would refuse or pause nearly every packet). */
const MIN_BUDGET_BYTES = 1024;
const MAX_BUDGET_BYTES = Number.MAX_SAFE_INTEGER;

export const defaultLimits: Readonly<LimitsConfig> = Object.freeze({
  maxPacketSize: MQTT_MAX_PACKET_SIZE,
  maxPartialPacketBytes: 536_870_912,
  maxConnectPacketSize: 65_536,
  connectTimeoutMs: 10_000,
  authenticateTimeoutMs: 5_000,
  maxInflightMessages: 256,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 268_435_456,
  stalledSubscriberTimeoutMs: 30_000,
  maxQoS: 2,
  topicAliasMaximum: 10,
  maxSessionExpirySeconds: 4_294_967_295,
  maxConnections: 0,
  maxConnectRatePerAddress: 0,
  maxPublishRatePerClient: 0,
  maxTopicLevels: 128,
  maxTopicLength: 65_535,
  maxRetainedMessages: 0,
  maxRetainedBytes: 0,
  maxRetainedPayloadBytes: 0,
  receiveMaximum: 65_535,
  serverKeepAliveSeconds: undefined,
  responseInformation: undefined,
  retainAvailable: true,
  wildcardSubscriptionAvailable: true,
  subscriptionIdentifiersAvailable: true,
  sharedSubscriptionAvailable: true,
});

/** Checks of the limits, part of the config's `fieldChecks`. */
export const limitChecks = {
  maxPacketSize: integerIn(16, MQTT_MAX_PACKET_SIZE, 'a packet size in bytes'),
  maxPartialPacketBytes: integerIn(MIN_BUDGET_BYTES, MAX_BUDGET_BYTES, 'a size in bytes'),
  maxConnectPacketSize: integerIn(16, MQTT_MAX_PACKET_SIZE, 'a packet size in bytes'),
  connectTimeoutMs: integerIn(1, MAX_TIMEOUT_MS, 'a timeout in ms'),
  authenticateTimeoutMs: integerIn(1, MAX_TIMEOUT_MS, 'a timeout in ms'),
  maxInflightMessages: integerIn(1, 65_535, 'a message count'),
  maxQueuedMessages: integerIn(0, MAX_TIMEOUT_MS, 'a message count'),
  maxQueuedBytes: integerIn(MIN_BUDGET_BYTES, MAX_BUDGET_BYTES, 'a size in bytes'),
  stalledSubscriberTimeoutMs: integerIn(1, MAX_TIMEOUT_MS, 'a timeout in ms'),
  maxQoS: oneOf([0, 1, 2], 'a QoS'),
  topicAliasMaximum: integerIn(0, 65_535, 'an alias count'),
  maxSessionExpirySeconds: integerIn(0, 4_294_967_295, 'a number of seconds'),
  maxConnections: integerIn(0, MAX_BUDGET_BYTES, 'a connection count (0 = unlimited)'),
  maxConnectRatePerAddress: integerIn(0, MAX_BUDGET_BYTES, 'a rate per second (0 = off)'),
  maxPublishRatePerClient: integerIn(0, MAX_BUDGET_BYTES, 'a rate per second (0 = off)'),
  maxTopicLevels: integerIn(1, 32_768, 'a number of topic levels'),
  maxTopicLength: integerIn(1, 65_535, 'a topic length in bytes'),
  maxRetainedMessages: integerIn(0, MAX_BUDGET_BYTES, 'a message count (0 = unlimited)'),
  maxRetainedBytes: integerIn(0, MAX_BUDGET_BYTES, 'a size in bytes (0 = unlimited)'),
  maxRetainedPayloadBytes: integerIn(0, MAX_BUDGET_BYTES, 'a size in bytes (0 = unlimited)'),
  receiveMaximum: integerIn(1, 65_535, 'a message count'),
  serverKeepAliveSeconds: integerIn(0, 65_535, 'a keepalive in seconds'),
  responseInformation: mqttString('a response information string'),
  retainAvailable: booleanText(),
  wildcardSubscriptionAvailable: booleanText(),
  subscriptionIdentifiersAvailable: booleanText(),
  sharedSubscriptionAvailable: booleanText(),
} as const satisfies Record<keyof LimitsConfig, Check<unknown>>;

/** Validates `limits` of a raw config and fills in defaults. */
export function resolveLimits(value: unknown): LimitsConfig {
  const keys = Object.keys(defaultLimits) as Array<keyof LimitsConfig>;
  const entry = mapping(value, 'limits', keys);
  const limits = { ...defaultLimits };
  for (const name of keys) {
    const check = limitChecks[name] as Check<unknown>;
    if (entry[name] !== undefined)
      (limits as Record<string, unknown>)[name] = check(entry[name], `limits.${name}`);
  }
  return limits;
}

/** The router options for a resolved config (hooks, logger and clock are added by the caller). */
export function toBrokerOptions(limits: LimitsConfig): BrokerOptions {
  return {
    maxPacketSize: limits.maxPacketSize,
    maxPartialPacketBytes: limits.maxPartialPacketBytes,
    maxConnectPacketSize: Math.min(limits.maxConnectPacketSize, limits.maxPacketSize),
    connectTimeoutMs: limits.connectTimeoutMs,
    authenticateTimeoutMs: limits.authenticateTimeoutMs,
    maxInflightMessages: limits.maxInflightMessages,
    maxQueuedMessages: limits.maxQueuedMessages,
    maxQueuedBytes: limits.maxQueuedBytes,
    stalledSubscriberTimeoutMs: limits.stalledSubscriberTimeoutMs,
    maxQoS: limits.maxQoS,
    topicAliasMaximum: limits.topicAliasMaximum,
    maxSessionExpirySeconds: limits.maxSessionExpirySeconds,
    maxConnections: limits.maxConnections,
    maxConnectRatePerAddress: limits.maxConnectRatePerAddress,
    maxPublishRatePerClient: limits.maxPublishRatePerClient,
    maxTopicLevels: limits.maxTopicLevels,
    maxTopicLength: limits.maxTopicLength,
    maxRetainedMessages: limits.maxRetainedMessages,
    maxRetainedBytes: limits.maxRetainedBytes,
    maxRetainedPayloadBytes: limits.maxRetainedPayloadBytes,
    receiveMaximum: limits.receiveMaximum,
    serverKeepAliveSeconds: limits.serverKeepAliveSeconds,
    responseInformation: limits.responseInformation,
    retainAvailable: limits.retainAvailable,
    wildcardSubscriptionAvailable: limits.wildcardSubscriptionAvailable,
    subscriptionIdentifiersAvailable: limits.subscriptionIdentifiersAvailable,
    sharedSubscriptionAvailable: limits.sharedSubscriptionAvailable,
  };
}
