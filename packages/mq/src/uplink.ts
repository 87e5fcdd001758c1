import { randomUUID } from 'node:crypto';
import { BoundedLanes } from './bounded-lanes.js';
import { type DeadLetter, type DeadLetterSink, deadLetterFor } from './dead-letter.js';
import { type DeviceMessage, type EnvelopeCodec, jsonCodec } from './envelope.js';
import { isMqError, MqError } from './errors.js';
import { RuleMetrics, type RuleMetricsSnapshot } from './metrics.js';
import { type ResolvedRetryPolicy, type RetryPolicy, resolveRetryPolicy, retry } from './retry.js';
import { compileTemplate, type TopicTemplate } from './template.js';
import type { BrokerMessage, Logger, Producer, ProducerRecord, QoS } from './types.js';

/** Device to destination: one MQTT template (or plain filter) to one producer. */
export interface UplinkRule {
  readonly name: string;
  /** `{node_id}/{device_id}/telemetry` style template; the rule subscribes to its filter. */
  readonly template?: string | TopicTemplate;
  /** A plain MQTT filter instead of a template (`site-1/#`): no variables, ordered by topic. */
  readonly filter?: string;
  /** The envelope's `kind`. Default: the template's last literal level, else the rule name. */
  readonly kind?: string;
  /** Subscription QoS. Default 1. */
  readonly qos?: QoS;
  readonly producer: Producer;
  /**
   * Routing key, subject, stream key or remote topic. A string is a template over the topic's
   * variables plus `{kind}`, split by the producer's `keySeparator`.
   */
  readonly destination: string | ((message: DeviceMessage) => string);
  /** Messages with one key stay in order. Default: `device_id`, else the topic. */
  readonly partitionKey?: (message: DeviceMessage) => string;
  /**
   * De-duplication id, stable across this bridge's retries. Default: a UUID per received message.
   * Derive it from the payload (a device sequence number) to also de-duplicate a redelivery after
   * a bridge crash.
   */
  readonly messageId?: (message: DeviceMessage) => string;
  /** Default `jsonCodec()`. */
  readonly codec?: EnvelopeCodec;
  /** Default: dead letters are logged at error level and counted, then acknowledged. */
  readonly deadLetter?: DeadLetterSink;
  readonly retry?: RetryPolicy;
  /** Messages accepted at once; past it the broker is asked to pause. Default 256. */
  readonly maxInFlight?: number;
  /** Sends in parallel (different partition keys). Default 16. */
  readonly concurrency?: number;
}

export interface PipelineContext {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  onPressure(rule: string, saturated: boolean): void;
}

/** The running form of an uplink rule: parse, encode, send with retries, dead-letter. */
export class UplinkPipeline {
  readonly rule: UplinkRule;
  readonly filter: string;
  readonly metrics: RuleMetrics;
  readonly lanes: BoundedLanes;
  readonly #template: TopicTemplate | undefined;
  readonly #destination: (message: DeviceMessage) => string;
  readonly #codec: EnvelopeCodec;
  readonly #kind: string;
  readonly #policy: ResolvedRetryPolicy;
  readonly #context: PipelineContext;

  constructor(rule: UplinkRule, context: PipelineContext) {
    if ((rule.template === undefined) === (rule.filter === undefined)) {
      throw new RangeError(`uplink rule ${rule.name} needs exactly one of template or filter`);
    }
    this.rule = rule;
    this.#context = context;
    this.#template = typeof rule.template === 'string' ? compileTemplate(rule.template) : rule.template;
    this.filter = this.#template?.filter ?? rule.filter!;
    this.#kind = rule.kind ?? lastLiteral(this.#template) ?? rule.name;
    this.#codec = rule.codec ?? jsonCodec();
    this.#policy = resolveRetryPolicy(rule.retry);
    this.#destination = destinationOf(rule);
    this.metrics = new RuleMetrics(rule.name, 'uplink');
    this.lanes = new BoundedLanes({
      ...(rule.maxInFlight === undefined ? {} : { maxInFlight: rule.maxInFlight }),
      ...(rule.concurrency === undefined ? {} : { concurrency: rule.concurrency }),
      onSaturated: () => context.onPressure(rule.name, true),
      onDrained: () => context.onPressure(rule.name, false),
    });
  }

  /** The BrokerLink handler: resolves once the destination confirmed (or the dead letter is stored). */
  readonly handle = (message: BrokerMessage): Promise<void> => {
    const receivedAt = Date.now();
    const vars = this.#template ? this.#template.parse(message.topic) : {};
    if (vars === null) {
      const error = new MqError(
        'MQ_MAPPING_FAILED',
        `topic ${message.topic} does not fit ${this.#template!.source}`,
      );
      return this.lanes.run(message.topic, () => this.#deadLetter(error, message, {}, 0));
    }
    const device: DeviceMessage = {
      vars,
      kind: this.#kind,
      payload: message.payload,
      receivedAt,
      topic: message.topic,
      qos: message.qos,
      ...(message.properties?.contentType === undefined
        ? {}
        : { contentType: message.properties.contentType }),
      ...correlation(message),
    };
    const key = this.rule.partitionKey?.(device) ?? vars.device_id ?? message.topic;
    return this.lanes.run(key, () => this.#deliver(device, message, key));
  };

  snapshot(): RuleMetricsSnapshot {
    return this.metrics.snapshot(this.lanes.inFlight + this.lanes.waiting, this.lanes.isSaturated);
  }

  async #deliver(device: DeviceMessage, message: BrokerMessage, partitionKey: string): Promise<void> {
    let record: ProducerRecord;
    try {
      const encoded = this.#codec.encode(device);
      record = {
        destination: this.#destination(device),
        partitionKey,
        messageId: this.rule.messageId?.(device) ?? randomUUID(),
        ...encoded,
      };
    } catch (error) {
      return this.#deadLetter(error, message, {}, 0);
    }
    let attempts = 1;
    try {
      const result = await retry(() => this.rule.producer.send(record), this.#policy, {
        signal: this.#context.signal,
        onRetry: (error, attempt, delayMs) => {
          attempts = attempt + 1;
          this.metrics.retried++;
          this.#context.logger.warn(
            { rule: this.rule.name, attempt, delayMs, err: errorMessage(error) },
            'uplink send failed, retrying',
          );
        },
      });
      this.metrics.forwarded++;
      if (result?.duplicate) this.metrics.duplicates++;
      this.metrics.recordLatency(Date.now() - device.receivedAt);
    } catch (error) {
      if (isMqError(error) && error.code === 'MQ_CLOSED') {
        this.metrics.failed++;
        throw error; // not acknowledged: the broker keeps it for redelivery
      }
      return this.#deadLetter(error, message, record.headers, attempts);
    }
  }

  async #deadLetter(
    error: unknown,
    message: BrokerMessage,
    headers: Readonly<Record<string, string>>,
    attempts: number,
  ): Promise<void> {
    const entry: DeadLetter = deadLetterFor(error, {
      rule: this.rule.name,
      direction: 'uplink',
      attempts,
      source: message.topic,
      payload: message.payload,
      headers,
    });
    await storeDeadLetter(entry, this.rule.deadLetter, this.metrics, this.#policy, this.#context);
  }
}

/** Stores a dead letter, holding the message (retrying as an outage) until the sink took it. */
export async function storeDeadLetter(
  entry: DeadLetter,
  sink: DeadLetterSink | undefined,
  metrics: RuleMetrics,
  policy: ResolvedRetryPolicy,
  context: PipelineContext,
): Promise<void> {
  context.logger.error(
    {
      rule: entry.rule,
      code: entry.code,
      reason: entry.reason,
      source: entry.source,
      attempts: entry.attempts,
    },
    'dead letter',
  );
  if (sink) {
    const outagePolicy = { ...policy, maxAttempts: Number.POSITIVE_INFINITY };
    try {
      await retry(() => sink.deadLetter(entry).catch(asOutage), outagePolicy, { signal: context.signal });
    } catch (error) {
      metrics.failed++;
      throw error;
    }
  }
  metrics.deadLettered++;
  metrics.failed++;
}

function asOutage(error: unknown): never {
  throw new MqError('MQ_DESTINATION_UNAVAILABLE', `dead letter not stored: ${errorMessage(error)}`, {
    cause: error,
  });
}

function destinationOf(rule: UplinkRule): (message: DeviceMessage) => string {
  if (typeof rule.destination === 'function') return rule.destination;
  const separator = rule.producer.keySeparator ?? '.';
  const template = compileTemplate(rule.destination, { separator });
  return (message) => template.format({ ...message.vars, kind: message.kind });
}

function lastLiteral(template: TopicTemplate | undefined): string | undefined {
  if (!template) return undefined;
  const levels = template.source.split(template.separator);
  for (let i = levels.length - 1; i >= 0; i--)
    if (!levels[i]!.startsWith('{') && levels[i] !== '') return levels[i];
  return undefined;
}

function correlation(message: BrokerMessage): { correlationId?: string } {
  const data = message.properties?.correlationData;
  return data === undefined ? {} : { correlationId: Buffer.from(data).toString('utf8') };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
