import { describe, expect, it } from 'vitest';
import { BoundedLanes } from '../src/index.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('BoundedLanes', () => {
  it('runs one key in order and different keys in parallel', async () => {
    const lanes = new BoundedLanes({ maxInFlight: 100, concurrency: 4 });
    const log: string[] = [];
    let running = 0;
    let peak = 0;
    const work = [];
    for (let i = 0; i < 20; i++) {
      const key = `k${i % 4}`;
      work.push(
        lanes.run(key, async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, Math.random() * 5));
          log.push(`${key}:${i}`);
          running--;
        }),
      );
    }
    await Promise.all(work);
    for (const key of ['k0', 'k1', 'k2', 'k3']) {
      const order = log.filter((l) => l.startsWith(`${key}:`)).map((l) => Number(l.split(':')[1]));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(4);
  });

  it('accepts at most maxInFlight, makes the rest wait in order, and signals saturation', async () => {
    const events: string[] = [];
    const lanes = new BoundedLanes({
      maxInFlight: 3,
      concurrency: 3,
      lowWater: 1,
      onSaturated: () => events.push('saturated'),
      onDrained: () => events.push('drained'),
    });
    const gates = Array.from({ length: 6 }, deferred);
    const started: number[] = [];
    const runs = gates.map((gate, i) =>
      lanes.run(`k${i}`, async () => {
        started.push(i);
        await gate.promise;
      }),
    );
    await new Promise((r) => setTimeout(r, 5));
    expect(lanes.inFlight).toBe(3);
    expect(lanes.waiting).toBe(3);
    expect(started).toEqual([0, 1, 2]);
    expect(events).toEqual(['saturated']);
    gates[0]!.resolve();
    await new Promise((r) => setTimeout(r, 5));
    expect(started).toEqual([0, 1, 2, 3]);
    expect(lanes.inFlight).toBe(3);
    for (const gate of gates) gate.resolve();
    await Promise.all(runs);
    await lanes.onIdle();
    expect(events).toEqual(['saturated', 'drained']);
    expect(lanes.inFlight + lanes.waiting).toBe(0);
  });

  it('keeps a key in order even when its tasks fail', async () => {
    const lanes = new BoundedLanes({ maxInFlight: 10, concurrency: 2 });
    const log: number[] = [];
    const a = lanes.run('k', async () => {
      await new Promise((r) => setTimeout(r, 5));
      log.push(1);
      throw new Error('boom');
    });
    const b = lanes.run('k', async () => {
      log.push(2);
      return 'second';
    });
    await expect(a).rejects.toThrow('boom');
    await expect(b).resolves.toBe('second');
    expect(log).toEqual([1, 2]);
  });
});
