import { randomUUID } from 'node:crypto';
import { describePayload } from './envelope.js';
import { MqError } from './errors.js';
import { compileTemplate, standardTemplates, type TemplateVars, type TopicTemplate } from './template.js';
import type { BrokerLink, BrokerMessage, MessageProperties, QoS } from './types.js';

export interface RequestReplyOptions {
  /** Where commands go. Default `{node_id}/{device_id}/command`. */
  readonly commandTemplate?: string;
  /** Where devices answer; the bridge subscribes to its filter. Default `{node_id}/{device_id}/response`. */
  readonly responseTemplate?: string;
  /** QoS of commands and of the response subscription. Default 1. */
  readonly qos?: QoS;
  /** Default for `request()` and for answering queue messages with a reply-to. Default 30000. */
  readonly timeoutMs?: number;
  /**
   * How a device learns the correlation id. `auto` (default): MQTT 5 Correlation Data and
   * Response Topic when the link carries properties, else the JSON wrapper. `envelope`: always
   * the JSON wrapper `{ correlationId, payload, encoding }` (properties too, where carried), for
   * fleets with MQTT 3.1.1 devices, which never see properties.
   */
  readonly correlation?: 'auto' | 'envelope';
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  readonly qos?: QoS;
  /** Use this correlation id instead of a new UUID (a queue message's own). */
  readonly correlationId?: string;
  /** Publish here instead of the command template. */
  readonly topic?: string;
}

/** A device's answer to a request. */
export interface DeviceResponse {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly correlationId: string;
  readonly properties?: MessageProperties;
}

/** A command on its way: `published` resolves when the broker has it, `response` when the device answered. */
export interface PendingCommand {
  readonly correlationId: string;
  readonly published: Promise<void>;
  readonly response: Promise<DeviceResponse>;
}

interface Waiter {
  resolve(response: DeviceResponse): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const utf8 = new TextDecoder();

/**
 * Publishes commands and matches responses by correlation id: MQTT 5 Correlation Data when the
 * link carries properties, else (or with `correlation: 'envelope'`) a `correlationId` field of a
 * JSON wrapper `{ correlationId, payload, encoding }` that the device echoes in its JSON response.
 */
export class RequestReply {
  readonly commandTemplate: TopicTemplate;
  readonly responseTemplate: TopicTemplate;
  readonly qos: QoS;
  readonly timeoutMs: number;
  readonly correlation: 'auto' | 'envelope';
  readonly #link: BrokerLink;
  readonly #waiters = new Map<string, Waiter>();

  constructor(link: BrokerLink, options: RequestReplyOptions = {}) {
    this.#link = link;
    this.commandTemplate = compileTemplate(options.commandTemplate ?? standardTemplates.command);
    this.responseTemplate = compileTemplate(options.responseTemplate ?? standardTemplates.response);
    this.qos = options.qos ?? 1;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.correlation = options.correlation ?? 'auto';
  }

  get pending(): number {
    return this.#waiters.size;
  }

  /** Publishes a command and starts waiting for its response (registered before the publish). */
  send(vars: TemplateVars, payload: Uint8Array, options: RequestOptions = {}): PendingCommand {
    const correlationId = options.correlationId ?? randomUUID();
    const topic = options.topic ?? this.commandTemplate.format(vars);
    const responseTopic = this.responseTemplate.format(vars);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const response = this.#wait(correlationId, topic, timeoutMs);
    const properties: MessageProperties | undefined = this.#link.supportsProperties
      ? { correlationData: Buffer.from(correlationId, 'utf8'), responseTopic }
      : undefined;
    const wrapped = properties === undefined || this.correlation === 'envelope';
    const body = wrapped ? wrapWithCorrelation(payload, correlationId) : payload;
    const published = this.#link.publish(topic, body, {
      qos: options.qos ?? this.qos,
      ...(properties ? { properties } : {}),
    });
    published.catch((error: unknown) => this.#fail(correlationId, error));
    return { correlationId, published, response };
  }

  /** Hands a message from the response filter to its waiter; false when nobody waits for it. */
  handleResponse(message: BrokerMessage): boolean {
    const correlationId = correlationIdOf(message);
    if (correlationId === undefined) return false;
    const waiter = this.#waiters.get(correlationId);
    if (!waiter) return false;
    this.#waiters.delete(correlationId);
    clearTimeout(waiter.timer);
    waiter.resolve({
      topic: message.topic,
      payload: message.payload,
      correlationId,
      ...(message.properties ? { properties: message.properties } : {}),
    });
    return true;
  }

  /** Rejects every waiter (on close). */
  rejectAll(error: Error): void {
    for (const [id, waiter] of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
      this.#waiters.delete(id);
    }
  }

  #wait(correlationId: string, topic: string, timeoutMs: number): Promise<DeviceResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(correlationId);
        reject(
          new MqError(
            'MQ_REQUEST_TIMEOUT',
            `no response to command on ${topic} within ${timeoutMs} ms (correlation id ${correlationId})`,
          ),
        );
      }, timeoutMs);
      this.#waiters.set(correlationId, { resolve, reject, timer });
    });
  }

  #fail(correlationId: string, error: unknown): void {
    const waiter = this.#waiters.get(correlationId);
    if (!waiter) return;
    this.#waiters.delete(correlationId);
    clearTimeout(waiter.timer);
    waiter.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** The JSON wrapper a v3 device gets: it echoes `correlationId` in its response. */
export function wrapWithCorrelation(payload: Uint8Array, correlationId: string): Uint8Array {
  const described = describePayload(payload);
  return Buffer.from(
    JSON.stringify({ correlationId, payload: described.payload, encoding: described.encoding }),
  );
}

/** The correlation id of a response: MQTT 5 Correlation Data, else a top-level JSON `correlationId`. */
export function correlationIdOf(message: BrokerMessage): string | undefined {
  const data = message.properties?.correlationData;
  if (data !== undefined && data.length > 0) return utf8.decode(data);
  if (message.payload.length === 0 || message.payload[0] !== 0x7b /* { */) return undefined;
  try {
    const parsed: unknown = JSON.parse(utf8.decode(message.payload));
    const id = (parsed as { correlationId?: unknown }).correlationId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    // A response that is not JSON carries no correlation id of ours.
    return undefined;
  }
}
