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
};
