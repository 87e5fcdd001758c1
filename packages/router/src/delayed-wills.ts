import type { Clock, TimerHandle } from './clock.js';
import type { RoutedMessage } from './message.js';
import type { Session } from './session.js';

const MAX_TIMER_MS = 2_147_483_647;

/** A will waiting for its 5.0 Will Delay Interval. */
export interface DelayedWill {
  readonly message: RoutedMessage;
  readonly timer: TimerHandle;
}

/**
 * 5.0 Will Delay Interval (MQTT 5.0 §3.1.3.2.2): the will of a session that lives on after its
 * connection closed is published when the delay has passed or the session ends, whichever comes
 * first, and not at all if the client reconnects to that session in time [MQTT-3.1.3-9].
 */
export class DelayedWills {
  constructor(
    private readonly clock: Clock,
    private readonly publish: (will: RoutedMessage) => void,
  ) {}

  /** Holds `will` for `delayMs` (the session outlives its connection). */
  schedule(session: Session, will: RoutedMessage, delayMs: number): void {
    this.cancel(session);
    // Timers hold at most 2^31 - 1 ms (about 24.8 days); a longer delay waits that long.
    const timer = this.clock.setTimeout(
      () => {
        session.delayedWill = undefined;
        this.publish(will);
      },
      Math.min(delayMs, MAX_TIMER_MS),
    );
    session.delayedWill = { message: will, timer };
  }

  /** The client is back on this session in time: the will is never sent. */
  cancel(session: Session): void {
    const pending = session.delayedWill;
    if (pending === undefined) return;
    this.clock.clearTimeout(pending.timer);
    session.delayedWill = undefined;
  }

  /** The session ends before the delay passed: its will goes now. */
  sessionEnded(session: Session): void {
    const pending = session.delayedWill;
    if (pending === undefined) return;
    this.cancel(session);
    this.publish(pending.message);
  }
}
