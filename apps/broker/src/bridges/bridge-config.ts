/**
 * The `bridges:` section of the config: each bridge connects the broker to one messaging engine
 * (RabbitMQ, NATS JetStream, Redis Streams or another MQTT broker) through `@mqtt-adapt/mq`.
 * Validation lives in `bridge-checks.ts`; the running bridges in `bridge-runtime.ts`.
 */

export const BRIDGE_TYPES = ['rabbitmq', 'nats', 'redis', 'mqtt'] as const;
export type BridgeType = (typeof BRIDGE_TYPES)[number];
export const UPLINK_ACK_MODES = ['store', 'after-confirm'] as const;
/**
 * When a device's QoS 1/2 PUBLISH is acknowledged:
 * - `store`: once the broker's store holds it for the bridge's persistent session (the bridge
 *   forwards it from there, also after a restart, and acknowledges its own copy only after the
 *   destination confirmed it);
 * - `after-confirm`: only once the destination confirmed it.
 */
export type UplinkAckMode = (typeof UPLINK_ACK_MODES)[number];
export const BRIDGE_CODECS = ['json', 'raw'] as const;
/** `json`: the JSON envelope (`DeviceEnvelope`); `raw`: the payload byte for byte, metadata in headers. */
export type BridgeCodec = (typeof BRIDGE_CODECS)[number];

/** Exponential backoff with jitter (see `@mqtt-adapt/mq` `RetryPolicy`). */
export interface BridgeRetryConfig {
  /** Delay before the first retry. Default 100 ms. */
  initialDelayMs: number;
  /** Cap on one delay. Default 10000 ms. */
  maxDelayMs: number;
  /** Growth per retry. Default 2. */
  multiplier: number;
  /** Random fraction of each delay, 0..1. Default 0.5. */
  jitter: number;
  /** Attempts at a message the destination refuses before it is dead-lettered (outages retry forever). Default 5. */
  maxAttempts: number;
}

/** Devices to the engine: one MQTT template (or filter) to one destination. */
export interface BridgeUplinkConfig {
  /** Unique within the bridge: logs, metrics labels and the persistent session's client id. */
  name: string;
  /** `{node_id}/{device_id}/telemetry`: the rule subscribes to `+/+/telemetry` and parses the levels. */
  template: string | undefined;
  /** A plain MQTT filter (`site-1/#`) instead of a template: no variables, ordered by topic. */
  filter: string | undefined;
  /**
   * Routing key (rabbitmq), subject (nats), stream key (redis) or remote topic (mqtt): a template
   * over the topic's variables plus `{kind}`. Required except for mqtt, where it defaults to the
   * local topic mapped through `prefixes`.
   */
  destination: string | undefined;
  /** The envelope's `kind`. Default: the template's last literal level, else the rule name. */
  kind: string | undefined;
  /** QoS of the rule's subscription (messages are forwarded at most at it). Default 1. */
  qos: 0 | 1 | 2;
  /** Default `store`. */
  ack: UplinkAckMode;
  /** Messages of this rule in flight at once (the bound of backpressure). Default 256. */
  maxInFlight: number;
  /** Sends in parallel (different devices). Default 16. */
  concurrency: number;
  /** Default `json` (`raw` for mqtt bridges). */
  codec: BridgeCodec;
  retry: BridgeRetryConfig;
  /** Destination (on the same engine) for messages the rule cannot map or the engine refuses. Default: logged and dropped. */
  deadLetter: string | undefined;
}

/** The engine to devices: messages of a queue, stream or subject published as commands. */
export interface BridgeDownlinkConfig {
  name: string;
  /** rabbitmq: the queue; redis: the stream key; nats: the subject (of the bridge's stream); mqtt: the remote filter. */
  source: string;
  /** rabbitmq: routing keys binding the queue to the bridge's exchange. Default none. */
  bindings: string[];
  /** redis: the consumer group. Default `mqtt-adapt`. */
  group: string | undefined;
  /** redis: the consumer's name in the group; nats: the durable consumer's name. Default `mqtt-adapt-<bridge>-<rule>`. */
  consumer: string;
  /** Where a command goes: default `{node_id}/{device_id}/command` (mqtt: the mapped remote topic). */
  template: string | undefined;
  /** QoS of the PUBLISH to devices. Default 1. */
  qos: 0 | 1 | 2;
  retain: boolean;
  /** Default `json` (`raw` for mqtt bridges). */
  codec: BridgeCodec;
  maxInFlight: number;
  concurrency: number;
  retry: BridgeRetryConfig;
  /** Dead letters of this rule go to this destination of the same engine. Default: logged and acknowledged. */
  deadLetter: string | undefined;
  /** How long a command with a reply-to waits for the device's response. Default: `requestReply.timeoutMs`. */
  responseTimeoutMs: number | undefined;
}

export interface BridgeRequestReplyConfig {
  /** Default `{node_id}/{device_id}/command`. */
  commandTemplate: string;
  /** Default `{node_id}/{device_id}/response`; the bridge subscribes to its filter. */
  responseTemplate: string;
  qos: 0 | 1 | 2;
  /** Default 30000 ms. */
  timeoutMs: number;
  /**
   * `auto` (default): MQTT 5 Correlation Data and Response Topic. `envelope`: commands are also
   * wrapped in JSON `{ correlationId, payload, encoding }`, for MQTT 3.1.1 devices, which echo
   * `correlationId` in a JSON response.
   */
  correlation: 'auto' | 'envelope';
}

export interface RabbitMqExchangeConfig {
  name: string;
  /** Default `topic`. */
  type: 'topic' | 'direct' | 'fanout' | 'headers';
  /** Default true. */
  durable: boolean;
}

export interface RabbitMqQueueConfig {
  name: string;
  /** Routing keys binding it to the exchange. */
  bindings: string[];
}

export interface JetStreamStreamConfig {
  name: string;
  /** Subjects the stream stores (`iot.>`); uplink destinations and downlink sources fall inside them. */
  subjects: string[];
  /** Default 120000 ms. */
  duplicateWindowMs: number;
  /** Default `file`. */
  storage: 'file' | 'memory';
}

export interface MqttPrefixConfig {
  local: string;
  remote: string;
}

export interface BridgeConfig {
  /** Unique: logs, metrics labels and client ids. Letters, digits, `_` and `-`. */
  name: string;
  type: BridgeType;
  /**
   * rabbitmq `amqp://user:password@host:5672/vhost`; nats `nats://host:4222` (several:
   * comma-separated); redis `redis://:password@host:6379/0`; mqtt `mqtt://user:password@host:1883`.
   * A secret: redacted in `--print-config` and logs.
   */
  url: string;
  /** rabbitmq: where uplink records are published (the destination is the routing key). */
  exchange: RabbitMqExchangeConfig | undefined;
  /** rabbitmq: queues declared and bound on start, so that records have somewhere to go. */
  queues: RabbitMqQueueConfig[];
  /** nats: the JetStream stream, created or updated on start. */
  stream: JetStreamStreamConfig | undefined;
  /** redis: trim each stream to about this many entries. Default: no trim. */
  maxLen: number | undefined;
  /** mqtt: client id on the remote broker (persistent session). Default `mqtt-adapt-bridge-<name>`. */
  clientId: string | undefined;
  /** mqtt: local topic prefix to remote topic prefix, first match wins. Default: topics unchanged. */
  prefixes: MqttPrefixConfig[];
  /** Commands with a reply-to wait for the device's response on this template; `false` turns it off. */
  requestReply: BridgeRequestReplyConfig | false;
  uplinks: BridgeUplinkConfig[];
  downlinks: BridgeDownlinkConfig[];
}

export const defaultBridgeRetry: Readonly<BridgeRetryConfig> = Object.freeze({
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  multiplier: 2,
  jitter: 0.5,
  maxAttempts: 5,
});

export const defaultRequestReply: Readonly<BridgeRequestReplyConfig> = Object.freeze({
  commandTemplate: '{node_id}/{device_id}/command',
  responseTemplate: '{node_id}/{device_id}/response',
  qos: 1,
  timeoutMs: 30_000,
  correlation: 'auto',
});

/** What separates the levels of a destination of each engine. */
export const DESTINATION_SEPARATORS: Readonly<Record<BridgeType, string>> = {
  rabbitmq: '.',
  nats: '.',
  redis: ':',
  mqtt: '/',
};

/** Client ids of the broker's own bridge sessions start with this; devices may not use them. */
export const BRIDGE_CLIENT_ID_PREFIX = 'mqtt-adapt-bridge:';
/** `Transport.remoteAddress` of the bridges' in-process connections. */
export const BRIDGE_REMOTE_ADDRESS_PREFIX = 'in-process:bridge/';
