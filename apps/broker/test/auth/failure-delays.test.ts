import { describe, expect, it } from 'vitest';
import { FailureDelays } from '../../src/auth/failure-delays.js';

describe('failed-login delays per address', () => {
  it('double per failure up to the maximum, per address, and reset on success or after a quiet spell', () => {
    let now = 0;
    const delays = new FailureDelays(100, 1000, () => now);
    expect(delays.delayFor('a')).toBe(0);
    for (const expected of [100, 200, 400, 800, 1000, 1000]) {
      delays.failed('a');
      expect(delays.delayFor('a')).toBe(expected);
    }
    expect(delays.delayFor('b')).toBe(0);
    delays.succeeded('a');
    expect(delays.delayFor('a')).toBe(0);
    delays.failed('a');
    now += 10_001;
    expect(delays.delayFor('a')).toBe(0);
  });
});
