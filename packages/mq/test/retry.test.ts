import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelayMs, MqError, resolveRetryPolicy } from '../src/index.js';
import { retry, sleep } from '../src/retry.js';

describe('backoffDelayMs', () => {
  const policy = resolveRetryPolicy({ initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0.5 });

  it('grows exponentially, caps, and jitters within its fraction', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, policy, () => 1))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, policy, () => 0))).toEqual([50, 100, 200, 400, 500]);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelayMs(3, policy);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });

  it('refuses nonsense policies', () => {
    expect(() => resolveRetryPolicy({ jitter: 2 })).toThrow(RangeError);
    expect(() => resolveRetryPolicy({ maxAttempts: 0 })).toThrow(RangeError);
  });
});

describe('retry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const policy = resolveRetryPolicy({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0, maxAttempts: 3 });

  it('retries outages without limit, waiting the backoff between tries', async () => {
    let calls = 0;
    const delays: number[] = [];
    const work = retry(
      async () => {
        calls++;
        if (calls < 8) throw new MqError('MQ_DESTINATION_UNAVAILABLE', 'down');
        return 'ok';
      },
      policy,
      { onRetry: (_e, _n, delayMs) => delays.push(delayMs) },
    );
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    await vi.runAllTimersAsync();
    await expect(work).resolves.toBe('ok');
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('gives up on refusals after maxAttempts, and at once on mapping failures', async () => {
    let calls = 0;
    const refused = retry(async () => {
      calls++;
      throw new MqError('MQ_DESTINATION_REJECTED', 'no');
    }, policy);
    const check = expect(refused).rejects.toMatchObject({ code: 'MQ_DESTINATION_REJECTED' });
    await vi.runAllTimersAsync();
    await check;
    expect(calls).toBe(3);
    let mapped = 0;
    await expect(
      retry(async () => {
        mapped++;
        throw new MqError('MQ_MAPPING_FAILED', 'bad');
      }, policy),
    ).rejects.toMatchObject({ code: 'MQ_MAPPING_FAILED' });
    expect(mapped).toBe(1);
  });

  it('stops waiting when aborted', async () => {
    const abort = new AbortController();
    const work = retry(
      async () => Promise.reject(new MqError('MQ_DESTINATION_UNAVAILABLE', 'down')),
      policy,
      {
        signal: abort.signal,
      },
    );
    const check = expect(work).rejects.toMatchObject({ code: 'MQ_CLOSED' });
    await vi.advanceTimersByTimeAsync(50);
    abort.abort();
    await check;
    await expect(sleep(10, abort.signal)).rejects.toMatchObject({ code: 'MQ_CLOSED' });
  });
});
