import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChildTable, levelHash } from '../src/internal/child-table.js';

function named(level: string) {
  return { level, levelHash: levelHash(level, 0, level.length) };
}

describe('ChildTable (internal)', () => {
  it('finds exactly the children added and not removed, through growth, shrinking and wrap-around', () => {
    const keys = fc.string({ maxLength: 3, unit: fc.constantFrom('a', 'b', 'c', 'd', '/', 'é') });
    const op = fc.tuple(fc.boolean(), keys);
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.array(keys, { maxLength: 20 }), (ops, probes) => {
        const table = new ChildTable<ReturnType<typeof named>>();
        const model = new Set<string>();
        for (const [add, key] of ops) {
          if (add && !model.has(key)) {
            table.add(named(key));
            model.add(key);
          } else if (!add) {
            expect(table.delete(key)).toBe(model.delete(key));
          }
          expect(table.size).toBe(model.size);
        }
        for (const key of [...model, ...probes]) {
          expect(table.get(key)?.level).toBe(model.has(key) ? key : undefined);
          // lookup straight from a range of a longer string, as match does
          const topic = `x/${key}/y`;
          const found = table.find(topic, 2, 2 + key.length, levelHash(topic, 2, 2 + key.length));
          expect(found?.level).toBe(model.has(key) ? key : undefined);
        }
        expect(
          table
            .values()
            .map((c) => c.level)
            .sort(),
        ).toEqual([...model].sort());
      }),
      { numRuns: 300 },
    );
  });

  it('keeps chains whole when they wrap around the end of the table', () => {
    // keys whose home slot (hash & 15, the initial capacity) is 15 or 0
    const home = (level: string) => levelHash(level, 0, level.length) & 15;
    const candidates = Array.from({ length: 2000 }, (_, i) => `w${i}`);
    const at15 = candidates.filter((k) => home(k) === 15).slice(0, 3);
    const at0 = candidates.filter((k) => home(k) === 0).slice(0, 2);
    // insertion orders that leave keys homed at 0 right after (and among) keys homed at 15
    const orders = [
      [...at15, ...at0],
      [at15[0]!, at0[0]!, at15[1]!, at0[1]!, at15[2]!],
      [...at0, ...at15],
    ];
    for (const order of orders) {
      for (const victim of order) {
        const table = new ChildTable<ReturnType<typeof named>>();
        for (const level of order) table.add(named(level));
        expect(table.delete(victim)).toBe(true);
        for (const level of order) expect(table.get(level)?.level).toBe(level === victim ? undefined : level);
      }
    }
  });

  it('keeps probe chains whole when entries sharing a home slot are deleted', () => {
    // many keys, few slots: long chains that wrap around the end of the table
    const table = new ChildTable<ReturnType<typeof named>>();
    const levels = Array.from({ length: 7 }, (_, i) => `k${i}`);
    for (const level of levels) table.add(named(level));
    for (const level of levels) {
      expect(table.delete(level)).toBe(true);
      expect(table.delete(level)).toBe(false);
      for (const other of levels.slice(levels.indexOf(level) + 1))
        expect(table.get(other)?.level).toBe(other);
    }
    expect(table.size).toBe(0);
  });
});
