import type { Clock, TimerHandle } from '../clock.js';

/** What a `DeadlineHeap` schedules: an object that knows its own slot in the heap. */
export interface DeadlineEntry {
  /** The entry's index in its heap, -1 while not scheduled. Only the heap writes it. */
  deadlineIndex: number;
  /**
   * Called once the deadline passed, with the entry's last `activity`; the entry is no longer
   * scheduled by then (it may schedule itself again).
   */
  deadlinePassed(activity: number): void;
}

const INITIAL_CAPACITY = 16;

/**
 * Deadlines of many entries (every connection's connect timeout or keepalive check) on one
 * clock timer instead of one per entry: a binary min-heap ordered by deadline, then by the
 * order of scheduling, so that entries due at the same time fire in the order they were
 * scheduled, as separate timers would. The clock timer is armed for the earliest deadline.
 *
 * Beside its deadline each entry has an `activity` time (a connection's last input, for its
 * keepalive), kept here rather than in the entry: a number field of its own would cost the entry
 * a heap-allocated double. Per entry this costs one slot in four arrays and the entry's
 * `deadlineIndex`, instead of a timer object and a closure (about 250 bytes with Node's timers);
 * scheduling is O(log n), `touch` O(1), and cancelling the earliest entry leaves the clock timer
 * armed (it then finds nothing due and re-arms).
 */
export class DeadlineHeap<T extends DeadlineEntry> {
  private readonly entries: T[] = [];
  /** Deadline of `entries[i]`, in `clock.now()` milliseconds. */
  private deadlines = new Float64Array(INITIAL_CAPACITY);
  /** Scheduling order of `entries[i]`: ties fire first-scheduled first. */
  private order = new Float64Array(INITIAL_CAPACITY);
  /** Activity time of `entries[i]` (see `touch`). */
  private activity = new Float64Array(INITIAL_CAPACITY);
  private nextOrder = 0;
  private timer: TimerHandle | undefined = undefined;
  /** Deadline the clock timer is armed for; Infinity when none is. */
  private armedFor = Number.POSITIVE_INFINITY;
  private readonly fireBound = (): void => this.fire();

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.entries.length;
  }

  /**
   * Schedules `entry` at `deadline` (clock milliseconds), moving it if it was scheduled, with
   * `activity` as its activity time.
   */
  schedule(entry: T, deadline: number, activity: number): void {
    let index = entry.deadlineIndex;
    if (index < 0) {
      index = this.entries.length;
      if (index === this.deadlines.length) this.grow();
      this.entries.push(entry);
      entry.deadlineIndex = index;
    }
    this.deadlines[index] = deadline;
    this.order[index] = this.nextOrder++;
    this.activity[index] = activity;
    this.siftDown(this.siftUp(index));
    if (deadline < this.armedFor) this.arm(deadline);
  }

  /** Records activity of a scheduled entry (nothing for one not scheduled). */
  touch(entry: T, activity: number): void {
    const index = entry.deadlineIndex;
    if (index >= 0) this.activity[index] = activity;
  }

  /** The activity time of a scheduled entry; `fallback` for one not scheduled. */
  activityOf(entry: T, fallback: number): number {
    const index = entry.deadlineIndex;
    return index < 0 ? fallback : this.activity[index]!;
  }

  /** Unschedules `entry`; nothing when it is not scheduled. */
  cancel(entry: T): void {
    const index = entry.deadlineIndex;
    if (index < 0) return;
    entry.deadlineIndex = -1;
    const last = this.entries.length - 1;
    const moved = this.entries.pop()!;
    if (index === last) return;
    this.entries[index] = moved;
    moved.deadlineIndex = index;
    this.deadlines[index] = this.deadlines[last]!;
    this.order[index] = this.order[last]!;
    this.activity[index] = this.activity[last]!;
    this.siftDown(this.siftUp(index));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    // Entries a callback schedules again are due later; `limit` also guards against one that
    // schedules itself for `now`, which waits for the next turn of the clock.
    const limit = this.nextOrder;
    while (this.entries.length > 0 && this.deadlines[0]! <= now && this.order[0]! < limit) {
      const entry = this.entries[0]!;
      const activity = this.activity[0]!;
      this.cancel(entry);
      entry.deadlinePassed(activity);
    }
    if (this.entries.length > 0) this.arm(this.deadlines[0]!);
  }

  private arm(deadline: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.armedFor = deadline;
    // At least 1 ms: a clock whose timers may fire a little early re-arms for the rest.
    this.timer = this.clock.setTimeout(this.fireBound, Math.max(1, deadline - this.clock.now()));
  }

  /** Entry `a` is due before entry `b`. */
  private before(a: number, b: number): boolean {
    const deadlines = this.deadlines;
    return (
      deadlines[a]! < deadlines[b]! || (deadlines[a] === deadlines[b] && this.order[a]! < this.order[b]!)
    );
  }

  private siftUp(index: number): number {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(index, parent)) break;
      this.swap(index, parent);
      index = parent;
    }
    return index;
  }

  private siftDown(index: number): void {
    const count = this.entries.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= count) return;
      const right = left + 1;
      const child = right < count && this.before(right, left) ? right : left;
      if (!this.before(child, index)) return;
      this.swap(index, child);
      index = child;
    }
  }

  private swap(a: number, b: number): void {
    const entries = this.entries;
    const entryA = entries[a]!;
    const entryB = entries[b]!;
    entries[a] = entryB;
    entries[b] = entryA;
    entryB.deadlineIndex = a;
    entryA.deadlineIndex = b;
    swapIn(this.deadlines, a, b);
    swapIn(this.order, a, b);
    swapIn(this.activity, a, b);
  }

  private grow(): void {
    const capacity = this.deadlines.length * 2;
    this.deadlines = grown(this.deadlines, capacity);
    this.order = grown(this.order, capacity);
    this.activity = grown(this.activity, capacity);
  }
}

type Float64s = Float64Array<ArrayBuffer>;

function swapIn(values: Float64s, a: number, b: number): void {
  const value = values[a]!;
  values[a] = values[b]!;
  values[b] = value;
}

function grown(values: Float64s, capacity: number): Float64s {
  const next = new Float64Array(capacity);
  next.set(values);
  return next;
}
