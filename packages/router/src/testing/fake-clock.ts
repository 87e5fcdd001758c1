import type { Clock, TimerHandle } from '../clock.js';

interface FakeTimer {
  id: number;
  dueAt: number;
  callback: () => void;
}

/**
 * A clock that moves only when told: `advance(ms)` fires due timers in order. Its wall clock
 * (`epochNow`) starts at `epochStart` and moves with it.
 */
export class FakeClock implements Clock {
  private current = 0;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  constructor(private readonly epochStart = Date.UTC(2026, 0, 1)) {}

  epochNow(): number {
    return this.epochStart + this.current;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.nextId++, dueAt: this.current + Math.max(0, delayMs), callback };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  /** Moves time forward, firing every timer that falls due, including ones armed meanwhile. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.dueAt <= target)
        .sort((a, b) => a.dueAt - b.dueAt || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = due.dueAt;
      due.callback();
    }
    this.current = target;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}
