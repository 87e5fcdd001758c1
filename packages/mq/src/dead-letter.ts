import { randomUUID } from 'node:crypto';
import { describePayload, type JsonValue, type PayloadEncoding } from './envelope.js';
import { isMqError } from './errors.js';
import type { Producer } from './types.js';

/** A message a rule gave up on, with the reason. */
export interface DeadLetter {
  readonly rule: string;
  readonly direction: 'uplink' | 'downlink';
  /** The error message that ended it (lowercase, specific). */
  readonly reason: string;
  /** The error's `code` when it has one (`MQ_MAPPING_FAILED`, `MQ_DESTINATION_REJECTED`, ...). */
  readonly code: string | undefined;
  /** Send attempts made; 0 for a message that could not be mapped at all. */
  readonly attempts: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** The MQTT topic (uplink) or queue/subject/stream (downlink) it came from. */
  readonly source: string;
  readonly payload: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
}

/** Where dead letters go. A rejection is treated as an outage: the message is held and retried. */
export interface DeadLetterSink {
  deadLetter(entry: DeadLetter): Promise<void>;
}

/** The JSON document `producerDeadLetters` writes. */
export interface DeadLetterDocument {
  readonly rule: string;
  readonly direction: 'uplink' | 'downlink';
  readonly reason: string;
  readonly code: string | null;
  readonly attempts: number;
  readonly at: string;
  readonly source: string;
  readonly payload: JsonValue;
  readonly encoding: PayloadEncoding;
  readonly headers: Readonly<Record<string, string>>;
}

export function toDeadLetterDocument(entry: DeadLetter): DeadLetterDocument {
  const { payload, encoding } = describePayload(entry.payload);
  return {
    rule: entry.rule,
    direction: entry.direction,
    reason: entry.reason,
    code: entry.code ?? null,
    attempts: entry.attempts,
    at: new Date(entry.at).toISOString(),
    source: entry.source,
    payload,
    encoding,
    headers: entry.headers,
  };
}

/** Sends dead letters as JSON documents through any producer, to one destination. */
export function producerDeadLetters(producer: Producer, destination: string): DeadLetterSink {
  return {
    async deadLetter(entry) {
      await producer.send({
        destination,
        partitionKey: entry.source,
        messageId: randomUUID(),
        body: Buffer.from(JSON.stringify(toDeadLetterDocument(entry)), 'utf8'),
        contentType: 'application/json',
        headers: { 'mq-dead-letter-rule': entry.rule, 'mq-dead-letter-code': entry.code ?? 'unknown' },
      });
    },
  };
}

/** Builds a dead letter from the error that ended a message. */
export function deadLetterFor(
  error: unknown,
  fields: Omit<DeadLetter, 'reason' | 'code' | 'at'>,
): DeadLetter {
  return {
    ...fields,
    reason: error instanceof Error ? error.message : String(error),
    code: isMqError(error) ? error.code : errorCode(error),
    at: Date.now(),
  };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
