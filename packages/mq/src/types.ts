import type { QoS } from '@mqtt-adapt/topic';

export type { QoS };

/** The MQTT 5 PUBLISH properties a bridge reads or sets; a v3 link leaves them out. */
export interface MessageProperties {
  readonly correlationData?: Uint8Array;
  readonly responseTopic?: string;
  readonly contentType?: string;
  /** MQTT 5 Payload Format Indicator: true when the payload is UTF-8 text. */
  readonly payloadFormatIndicator?: boolean;
  readonly messageExpiryInterval?: number;
  readonly userProperties?: Readonly<Record<string, string | readonly string[]>>;
}

/** One PUBLISH as a broker hands it to the bridge. */
export interface BrokerMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties?: MessageProperties;
}

export interface LinkPublishOptions {
  readonly qos: QoS;
  readonly retain?: boolean;
  readonly properties?: MessageProperties;
}

/**
 * Resolve once the bridge is done with the message; the broker acknowledges the device's QoS 1/2
 * PUBLISH (PUBACK/PUBREC) only then ("ack after confirm"). A rejection means: do not acknowledge.
 */
export type LinkHandler = (message: BrokerMessage) => Promise<void>;

/**
 * The few calls the bridge needs from a broker: an embedded one (Aedes, `@mqtt-adapt/router`)
 * or a remote one through an MQTT client (`MqttClientLink` in `@mqtt-adapt/mq/mqtt`).
 */
export interface BrokerLink {
  subscribe(topicFilter: string, options: { readonly qos: QoS }, handler: LinkHandler): Promise<void>;
  unsubscribe(topicFilter: string): Promise<void>;
  /** Resolves when the broker delivered or owns the message (QoS 1: after PUBACK). */
  publish(topicName: string, payload: Uint8Array, options: LinkPublishOptions): Promise<void>;
  /** True when `properties` survive the link (MQTT 5); otherwise correlation goes in a JSON field. */
  readonly supportsProperties?: boolean;
  /** Stop reading from publishers: a rule is at its bound. Optional; the pending handler promise also holds acks. */
  pause?(): void;
  /** Start reading again once every rule is below its low-water mark. */
  resume?(): void;
}

/** One message for a destination, already encoded. */
export interface ProducerRecord {
  /** Routing key, subject, stream key or topic, formatted from the rule's destination template. */
  readonly destination: string;
  /** Messages with the same key keep their order (device id by default). */
  readonly partitionKey: string;
  /** Stable across retries of this message: a de-duplication id where the engine has one. */
  readonly messageId: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  /** Metadata that travels beside the body (AMQP headers, NATS headers, stream fields, user properties). */
  readonly headers: Readonly<Record<string, string>>;
}

/** What a destination reported for a record it stored. */
export interface SendResult {
  /** The destination recognised the message id and did not store it again (NATS `Nats-Msg-Id`). */
  readonly duplicate?: boolean;
}

/**
 * A destination for uplink messages. Implement it to add an engine (Kafka, SQS, ...): resolve only
 * once the destination confirmed the record; reject with `MQ_DESTINATION_UNAVAILABLE` for outages
 * (retried without limit) and `MQ_DESTINATION_REJECTED` for a refusal of this record.
 */
export interface Producer {
  readonly name: string;
  /** What separates levels of its destinations (`.` for routing keys and subjects). Default `.`. */
  readonly keySeparator?: string;
  /**
   * Optional: connect and declare what the destination needs (exchange, queues, stream) when the
   * bridge starts. An `MQ_DESTINATION_UNAVAILABLE` rejection is logged and the bridge starts
   * anyway (sends retry); any other rejection fails `start()`.
   */
  start?(): Promise<void>;
  send(record: ProducerRecord): Promise<SendResult | undefined>;
  close(): Promise<void>;
}

/** One message taken from a queue, stream or subject, acknowledged when the handler resolves. */
export interface ConsumedMessage {
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** Queue message id (AMQP messageId, stream entry id, JetStream sequence). */
  readonly id: string;
  /** Where the message came from: queue, subject, stream key or remote MQTT topic. */
  readonly source: string;
  /** For forwarded MQTT messages: the local topic it maps to (the command template is not used). */
  readonly topic?: string;
  readonly correlationId?: string;
  /** The sender wants an answer: AMQP `replyTo`, a NATS `Reply-To` header, a Redis `replyTo` field. */
  readonly replyTo?: string;
  /** How many times the source delivered it (1 the first time), when it tracks that. */
  readonly deliveryCount?: number;
  /** Answer the sender on `replyTo`. Present only when `replyTo` is. */
  reply?(body: Uint8Array, headers: Readonly<Record<string, string>>): Promise<void>;
}

/** Resolve to acknowledge the message; reject to have it redelivered. */
export type ConsumerHandler = (message: ConsumedMessage) => Promise<void>;

/**
 * A source of downlink messages. The adapter bounds in-flight messages (prefetch, max ack
 * pending, COUNT) and acknowledges each one only when the handler resolved.
 */
export interface Consumer {
  readonly name: string;
  start(handler: ConsumerHandler): Promise<void>;
  /** Stop taking new messages, wait for handlers in flight, release the connection. */
  close(): Promise<void>;
}

type LogFn = {
  (obj: object, msg?: string): void;
  (msg: string): void;
};

/** The pino subset the bridge logs through: objects first, message second. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop = (): void => {};

/** Default logger: every level is an empty function. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
