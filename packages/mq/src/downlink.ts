import { BoundedLanes } from './bounded-lanes.js';
import { type DeadLetterSink, deadLetterFor } from './dead-letter.js';
import { type DeviceCommand, type EnvelopeCodec, envelopeHeaders, jsonCodec } from './envelope.js';
import { isMqError } from './errors.js';
import { RuleMetrics, type RuleMetricsSnapshot } from './metrics.js';
import type { RequestReply } from './request-reply.js';
import { type ResolvedRetryPolicy, type RetryPolicy, resolveRetryPolicy, retry } from './retry.js';
import { compileTemplate, standardTemplates, type TopicTemplate } from './template.js';
import type { BrokerLink, ConsumedMessage, Consumer, QoS } from './types.js';
import { errorMessage, type PipelineContext, storeDeadLetter } from './uplink.js';

/** Queue to device: messages from one consumer published to the command template. */
export interface DownlinkRule {
  readonly name: string;
  readonly consumer: Consumer;
  /** Default `{node_id}/{device_id}/command`. Ignored for messages that carry their own topic. */
  readonly template?: string | TopicTemplate;
  /** QoS of the PUBLISH to the device. Default 1. */
  readonly qos?: QoS;
  readonly retain?: boolean;
  /** Default `jsonCodec()`. */
  readonly codec?: EnvelopeCodec;
  readonly deadLetter?: DeadLetterSink;
  readonly retry?: RetryPolicy;
  readonly maxInFlight?: number;
  readonly concurrency?: number;
  /** How long to wait for the device before answering a reply-to with a timeout. Default: the bridge's request timeout. */
  readonly responseTimeoutMs?: number;
}

export interface DownlinkContext extends PipelineContext {
  readonly link: BrokerLink;
  /** Present when the bridge matches responses; queue messages with a reply-to need it. */
  readonly requests: RequestReply | undefined;
  /** Replies still waiting for a device, so `close()` can wait for them. */
  track(work: Promise<void>): void;
}

/** The running form of a downlink rule: decode, publish with retries, answer reply-to, dead-letter. */
export class DownlinkPipeline {
  readonly rule: DownlinkRule;
  readonly metrics: RuleMetrics;
  readonly lanes: BoundedLanes;
  readonly #template: TopicTemplate;
  readonly #codec: EnvelopeCodec;
  readonly #policy: ResolvedRetryPolicy;
  readonly #context: DownlinkContext;

  constructor(rule: DownlinkRule, context: DownlinkContext) {
    this.rule = rule;
    this.#context = context;
    this.#template =
      typeof rule.template === 'object'
        ? rule.template
        : compileTemplate(rule.template ?? standardTemplates.command);
    this.#codec = rule.codec ?? jsonCodec();
    this.#policy = resolveRetryPolicy(rule.retry);
    this.metrics = new RuleMetrics(rule.name, 'downlink');
    this.lanes = new BoundedLanes({
      ...(rule.maxInFlight === undefined ? {} : { maxInFlight: rule.maxInFlight }),
      ...(rule.concurrency === undefined ? {} : { concurrency: rule.concurrency }),
    });
  }

  /** The Consumer handler: resolves once the broker accepted the command (the source then acks). */
  readonly handle = (message: ConsumedMessage): Promise<void> => {
    let command: DeviceCommand;
    let topic: string;
    try {
      command = this.#codec.decode(message);
      topic = command.topic ?? this.#template.format(command.vars);
    } catch (error) {
      return this.lanes.run(message.source, () => this.#deadLetter(error, message, 0));
    }
    const key = command.vars.device_id ?? topic;
    return this.lanes.run(key, () => this.#deliver(message, command, topic));
  };

  snapshot(): RuleMetricsSnapshot {
    return this.metrics.snapshot(this.lanes.inFlight + this.lanes.waiting, this.lanes.isSaturated);
  }

  async #deliver(message: ConsumedMessage, command: DeviceCommand, topic: string): Promise<void> {
    const started = Date.now();
    const qos = this.rule.qos ?? 1;
    const requests = this.#context.requests;
    // A forwarded message (own topic, no template variables) has no response template to wait on.
    const wantsReply =
      message.replyTo !== undefined &&
      message.reply !== undefined &&
      requests !== undefined &&
      command.topic === undefined;
    let attempts = 1;
    try {
      await retry(
        async () => {
          if (wantsReply) return this.#publishRequest(message, command, topic, qos, requests);
          await this.#context.link.publish(topic, command.payload, {
            qos,
            retain: this.rule.retain ?? false,
            ...(command.correlationId === undefined || !this.#context.link.supportsProperties
              ? {}
              : { properties: { correlationData: Buffer.from(command.correlationId) } }),
          });
        },
        this.#policy,
        {
          signal: this.#context.signal,
          onRetry: (error, attempt, delayMs) => {
            attempts = attempt + 1;
            this.metrics.retried++;
            this.#context.logger.warn(
              { rule: this.rule.name, attempt, delayMs, err: errorMessage(error) },
              'downlink publish failed, retrying',
            );
          },
        },
      );
      this.metrics.forwarded++;
      this.metrics.recordLatency(Date.now() - started);
    } catch (error) {
      if (isMqError(error) && error.code === 'MQ_CLOSED') {
        this.metrics.failed++;
        throw error; // not acknowledged: the source redelivers it
      }
      return this.#deadLetter(error, message, attempts);
    }
  }

  /** Publishes and, in the background, answers the reply-to once the device responds or times out. */
  async #publishRequest(
    message: ConsumedMessage,
    command: DeviceCommand,
    topic: string,
    qos: QoS,
    requests: RequestReply,
  ): Promise<void> {
    const pending = requests.send(command.vars, command.payload, {
      topic,
      qos,
      ...(command.correlationId === undefined ? {} : { correlationId: command.correlationId }),
      ...(this.rule.responseTimeoutMs === undefined ? {} : { timeoutMs: this.rule.responseTimeoutMs }),
    });
    // A failed publish rejects the response too; the retry sends a fresh request.
    pending.response.catch(() => {});
    await pending.published;
    const answer = pending.response.then(
      (response) =>
        message.reply!(response.payload, {
          [envelopeHeaders.correlationId]: pending.correlationId,
          [envelopeHeaders.topic]: response.topic,
        }),
      (error: unknown) =>
        message.reply!(Buffer.from(JSON.stringify({ error: codeOf(error), reason: errorMessage(error) })), {
          [envelopeHeaders.correlationId]: pending.correlationId,
          'mq-error': codeOf(error),
        }),
    );
    this.#context.track(
      answer.catch((error: unknown) => {
        this.#context.logger.warn({ rule: this.rule.name, err: errorMessage(error) }, 'reply not sent');
      }),
    );
  }

  async #deadLetter(error: unknown, message: ConsumedMessage, attempts: number): Promise<void> {
    const entry = deadLetterFor(error, {
      rule: this.rule.name,
      direction: 'downlink',
      attempts,
      source: message.source,
      payload: message.body,
      headers: message.headers,
    });
    await storeDeadLetter(entry, this.rule.deadLetter, this.metrics, this.#policy, this.#context);
  }
}

function codeOf(error: unknown): string {
  return isMqError(error) ? error.code : 'MQ_REQUEST_FAILED';
}
