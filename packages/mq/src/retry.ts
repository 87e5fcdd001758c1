import { isMqError, MqError } from './errors.js';

export interface RetryPolicy {
  /** Delay before the first retry. Default 100. */
  readonly initialDelayMs?: number;
  /** Cap on any one delay. Default 10000. */
  readonly maxDelayMs?: number;
  /** Growth per retry. Default 2. */
  readonly multiplier?: number;
  /** Fraction of each delay that is random, 0..1, so retries of many messages spread out. Default 0.5. */
  readonly jitter?: number;
  /**
   * Attempts at a message the destination refused (or that failed with an unknown error) before
   * it is dead-lettered. Outages (`MQ_DESTINATION_UNAVAILABLE`) never count: those retry until
   * the destination is back or the bridge closes. Default 5.
   */
  readonly maxAttempts?: number;
}

export type ResolvedRetryPolicy = Required<RetryPolicy>;

export function resolveRetryPolicy(policy: RetryPolicy = {}): ResolvedRetryPolicy {
  const resolved = {
    initialDelayMs: policy.initialDelayMs ?? 100,
    maxDelayMs: policy.maxDelayMs ?? 10_000,
    multiplier: policy.multiplier ?? 2,
    jitter: policy.jitter ?? 0.5,
    maxAttempts: policy.maxAttempts ?? 5,
  };
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1))
    throw new RangeError(`jitter ${resolved.jitter} is not in 0..1`);
  if (!(resolved.maxAttempts >= 1))
    throw new RangeError(`maxAttempts ${resolved.maxAttempts} must be at least 1`);
  return resolved;
}

/** Delay before retry number `retry` (1 for the first): exponential, capped, the jittered part random. */
export function backoffDelayMs(
  retry: number,
  policy: ResolvedRetryPolicy,
  random: () => number = Math.random,
): number {
  const exponential = policy.initialDelayMs * policy.multiplier ** Math.max(0, retry - 1);
  const base = Math.min(policy.maxDelayMs, exponential);
  return Math.round(base * (1 - policy.jitter) + base * policy.jitter * random());
}

/** Resolves after `ms`, or rejects with `MQ_CLOSED` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(closedError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(closedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function closedError(): MqError {
  return new MqError('MQ_CLOSED', 'bridge closed while the message waited for a retry');
}

/** True for an outage: retried without limit and not counted towards `maxAttempts`. */
export function isUnavailable(error: unknown): boolean {
  return isMqError(error) && error.code === 'MQ_DESTINATION_UNAVAILABLE';
}

/** True for a message that can never be mapped: dead-lettered without a retry. */
export function isMappingFailure(error: unknown): boolean {
  return isMqError(error) && (error.code === 'MQ_MAPPING_FAILED' || error.code.startsWith('MQ_TEMPLATE_'));
}

export interface RetryHooks {
  readonly signal?: AbortSignal;
  /** Called before each wait; `attempt` counts every failure so far. */
  onRetry?(error: unknown, attempt: number, delayMs: number): void;
}

/**
 * Runs `attempt` until it resolves. Outages retry forever (until `signal` aborts); refusals and
 * unknown errors retry until `maxAttempts` and then reject with the last error; mapping
 * failures reject at once.
 */
export async function retry<T>(
  attempt: () => Promise<T>,
  policy: ResolvedRetryPolicy,
  hooks: RetryHooks = {},
): Promise<T> {
  let failures = 0;
  let refusals = 0;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (isMappingFailure(error)) throw error;
      failures++;
      if (!isUnavailable(error)) {
        refusals++;
        if (refusals >= policy.maxAttempts) throw error;
      }
      if (hooks.signal?.aborted) throw closedError();
      const delayMs = backoffDelayMs(failures, policy);
      hooks.onRetry?.(error, failures, delayMs);
      await sleep(delayMs, hooks.signal);
    }
  }
}
