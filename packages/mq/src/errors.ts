/** Every code an mq error can carry: detect errors by `code`, not only `instanceof`. */
export type MqErrorCode =
  /** A topic template that cannot be compiled (bad placeholder, wildcard, duplicate name). */
  | 'MQ_TEMPLATE_INVALID'
  /** `format()` was not given a value for a placeholder. */
  | 'MQ_TEMPLATE_MISSING_VALUE'
  /** A value that would change the topic's shape: empty, or holding a separator, `+`, `#` or NUL. */
  | 'MQ_TEMPLATE_INVALID_VALUE'
  /** A message a rule cannot map to its destination (payload, template, codec); dead-lettered at once. */
  | 'MQ_MAPPING_FAILED'
  /** The destination cannot be reached right now (connection down, timeout); retried without limit. */
  | 'MQ_DESTINATION_UNAVAILABLE'
  /** The destination refused this one message (nack, wrong type); retried, then dead-lettered. */
  | 'MQ_DESTINATION_REJECTED'
  /** `bridge.request()` got no response in time. */
  | 'MQ_REQUEST_TIMEOUT'
  /** The bridge (or an adapter) was closed while work was waiting. */
  | 'MQ_CLOSED';

/** An error raised by `@mqtt-adapt/mq` or one of its adapters. */
export class MqError extends Error {
  override readonly name = 'MqError';
  readonly code: MqErrorCode;
  /** The rule the error happened in, when there is one. */
  readonly rule: string | undefined;

  constructor(code: MqErrorCode, message: string, options?: { cause?: unknown; rule?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.rule = options?.rule;
  }
}

/** True for any error raised by this package, even from another copy of it. */
export function isMqError(error: unknown): error is MqError {
  if (!(error instanceof Error) || error.name !== 'MqError') return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('MQ_');
}

/** Wraps a client library's connection-level failure so the engine retries it without limit. */
export function unavailable(what: string, cause: unknown): MqError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new MqError('MQ_DESTINATION_UNAVAILABLE', `${what}: ${detail}`, { cause });
}

/** Wraps a refusal of one message so the engine retries it a few times, then dead-letters it. */
export function rejected(what: string, cause: unknown): MqError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new MqError('MQ_DESTINATION_REJECTED', `${what}: ${detail}`, { cause });
}
