/** Opaque timer handle returned by `Clock.setTimeout`. */
export type TimerHandle = unknown;

/**
 * Time as the router sees it: injectable so keepalive, connect timeouts and expiry are tested
 * without sleeping (see `FakeClock` in `@mqtt-adapt/router/testing`).
 */
export interface Clock {
  /** Milliseconds, monotonic enough for timeouts. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Wall-clock milliseconds since the Unix epoch, for deadlines kept across restarts (a stored
   * session's expiry). `Date.now()` when a clock does not have it.
   */
  epochNow?(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, delayMs) => {
    const timer = setTimeout(callback, delayMs);
    // Timers must not keep a process alive that is otherwise done (e.g. after close()).
    timer.unref?.();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  epochNow: () => Date.now(),
};

/** `clock.epochNow()`, or `Date.now()` for a clock without it. */
export function epochNow(clock: Clock): number {
  return clock.epochNow === undefined ? Date.now() : clock.epochNow();
}
