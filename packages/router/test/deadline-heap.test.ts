import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DeadlineEntry, DeadlineHeap } from '../src/internal/deadline-heap.js';
import { FakeClock } from '../src/testing/index.js';

/** An entry that records when it fired and with which activity time. */
class Entry implements DeadlineEntry {
  deadlineIndex = -1;
  fired: Array<{ at: number; activity: number }> = [];
  constructor(
    readonly name: string,
    private readonly clock: FakeClock,
    private readonly log: string[],
  ) {}
  deadlinePassed(activity: number): void {
    this.fired.push({ at: this.clock.now(), activity });
    this.log.push(this.name);
  }
}

function setup() {
  const clock = new FakeClock();
  const heap = new DeadlineHeap<Entry>(clock);
  const log: string[] = [];
  const entry = (name: string) => new Entry(name, clock, log);
  return { clock, heap, log, entry };
}

describe('DeadlineHeap', () => {
  it('fires each entry at its deadline, on one clock timer', () => {
    const { clock, heap, log, entry } = setup();
    const a = entry('a');
    const b = entry('b');
    const c = entry('c');
    heap.schedule(a, 300, 0);
    heap.schedule(b, 100, 0);
    heap.schedule(c, 200, 0);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(99);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log).toEqual(['b']);
    clock.advance(200);
    expect(log).toEqual(['b', 'c', 'a']);
    expect(a.fired).toEqual([{ at: 300, activity: 0 }]);
    expect(heap.size).toBe(0);
    expect(a.deadlineIndex).toBe(-1);
  });

  it('fires entries due at the same time in the order they were scheduled', () => {
    const { clock, heap, log, entry } = setup();
    const entries = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6'].map(entry);
    for (const e of entries) heap.schedule(e, 50, 0);
    clock.advance(50);
    expect(log).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
  });

  it('moves a scheduled entry, cancels, and keeps its activity time with it', () => {
    const { clock, heap, log, entry } = setup();
    const a = entry('a');
    const b = entry('b');
    heap.schedule(a, 100, 5);
    heap.schedule(b, 200, 0);
    heap.touch(a, 42);
    expect(heap.activityOf(a, -1)).toBe(42);
    heap.schedule(a, 300, heap.activityOf(a, -1));
    heap.cancel(b);
    heap.cancel(b); // not scheduled any more: nothing
    expect(heap.activityOf(b, -1)).toBe(-1);
    clock.advance(299);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(a.fired).toEqual([{ at: 300, activity: 42 }]);
  });

  it('an entry may schedule itself again from deadlinePassed', () => {
    const { clock, heap } = setup();
    let fired = 0;
    const again: DeadlineEntry = {
      deadlineIndex: -1,
      deadlinePassed() {
        fired++;
        if (fired < 3) heap.schedule(again as Entry, clock.now() + 10, 0);
      },
    };
    heap.schedule(again as Entry, 10, 0);
    clock.advance(100);
    expect(fired).toBe(3);
  });

  it('agrees with a sorted list under random schedules, moves and cancels', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom('schedule', 'cancel', 'advance'),
            slot: fc.integer({ min: 0, max: 19 }),
            value: fc.integer({ min: 1, max: 500 }),
          }),
          { maxLength: 200 },
        ),
        (ops) => {
          const { clock, heap, log, entry } = setup();
          const entries = Array.from({ length: 20 }, (_, i) => entry(`e${i}`));
          // Model: name -> [deadline, order]
          const model = new Map<string, [number, number]>();
          let order = 0;
          const expected: string[] = [];
          for (const { op, slot, value } of ops) {
            const e = entries[slot]!;
            if (op === 'schedule') {
              heap.schedule(e, clock.now() + value, 0);
              model.set(e.name, [clock.now() + value, order++]);
            } else if (op === 'cancel') {
              heap.cancel(e);
              model.delete(e.name);
            } else {
              const target = clock.now() + value;
              const due = [...model]
                .filter(([, [deadline]]) => deadline <= target)
                .sort((x, y) => x[1][0] - y[1][0] || x[1][1] - y[1][1]);
              for (const [name] of due) {
                expected.push(name);
                model.delete(name);
              }
              clock.advance(value);
            }
            expect(heap.size).toBe(model.size);
          }
          expect(log).toEqual(expected);
        },
      ),
    );
  });
});
