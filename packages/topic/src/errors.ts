/** Every code a topic error can carry: detect errors by `code`, not only `instanceof`. */
export type TopicErrorCode =
  /** A topic name or filter of zero length (MQTT-4.7.3-1). */
  | 'TOPIC_EMPTY'
  /** More than 65535 bytes of UTF-8 (MQTT-4.7.3-3 / 1.5.4). */
  | 'TOPIC_TOO_LONG'
  /** U+0000 somewhere in the string (MQTT-4.7.3-2). */
  | 'TOPIC_NULL_CHARACTER'
  /** `+` or `#` in a topic name (MQTT-3.3.2-2). */
  | 'TOPIC_WILDCARD_IN_NAME'
  /** `+` not alone in its level, or `#` not alone in the last level (MQTT-4.7.1-1, 4.7.1-2). */
  | 'TOPIC_INVALID_WILDCARD'
  /** `$share/{ShareName}/{filter}` with an empty or wildcarded share name or no filter (MQTT 5 §4.8.2). */
  | 'TOPIC_INVALID_SHARE'
  /** More levels than the configured `maxLevels`. */
  | 'TOPIC_TOO_DEEP';

/**
 * A topic name or topic filter that breaks the MQTT rules (or a configured limit). The
 * non-throwing validators return it; `SubscriptionTrie.add` throws it.
 */
export class TopicError extends Error {
  override readonly name = 'TopicError';
  readonly code: TopicErrorCode;
  /** The topic name or filter that failed, exactly as given. */
  readonly topic: string;
  /** UTF-16 index in `topic` of the offending character, when one is at fault. */
  readonly index: number | undefined;
  /** For `TOPIC_TOO_LONG` the byte length, for `TOPIC_TOO_DEEP` the number of levels. */
  readonly actual: number | undefined;
  /** The limit `actual` broke (65535 bytes, or `maxLevels`). */
  readonly limit: number | undefined;

  constructor(
    code: TopicErrorCode,
    message: string,
    topic: string,
    details?: { index?: number; actual?: number; limit?: number },
  ) {
    super(message);
    this.code = code;
    this.topic = topic;
    this.index = details?.index;
    this.actual = details?.actual;
    this.limit = details?.limit;
  }
}

/** True for any error raised by this package, even from another copy of it. */
export function isTopicError(error: unknown): error is TopicError {
  if (!(error instanceof Error) || error.name !== 'TopicError') return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('TOPIC_');
}
