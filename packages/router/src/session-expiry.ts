import { type Clock, epochNow } from './clock.js';
import type { Session } from './session.js';

/** 5.0 Session Expiry Interval 0xFFFFFFFF: the session does not expire (MQTT 5.0 §3.1.2.11.2). */
export const NEVER_EXPIRES = 0xffff_ffff;

/** Timers hold at most 2^31 - 1 ms (about 24.8 days): a later deadline is re-armed on the way. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The Session Expiry Interval the broker grants for a CONNECT: 5.0 asks for one (absent = 0);
 * 3.x Clean Session 0 means never, Clean Session 1 means 0. Capped by `maxSessionExpirySeconds`.
 */
export function grantedSessionExpiry(
  protocolVersion: number,
  cleanStart: boolean,
  requested: number | undefined,
  maxSessionExpirySeconds: number,
): number {
  const asked = protocolVersion === 5 ? (requested ?? 0) : cleanStart ? 0 : NEVER_EXPIRES;
  return Math.min(asked, maxSessionExpirySeconds);
}

/**
 * Ends offline sessions when their Session Expiry Interval has passed (MQTT 5.0 §3.1.2.11.2):
 * one timer per offline session with a finite interval, none for the others. The deadline is
 * wall-clock (`Session.expiresAt`), so a stored session keeps it across restarts.
 */
export class SessionExpiry {
  constructor(
    private readonly clock: Clock,
    private readonly end: (session: Session) => void,
  ) {}

  /** The session's connection closed: it ends `session.expiryInterval` seconds from now. */
  start(session: Session): void {
    if (session.expiryInterval === NEVER_EXPIRES) return;
    this.arm(session, epochNow(this.clock) + session.expiryInterval * 1000);
  }

  /** A session restored offline from the store ends at `expiresAt` (epoch ms), maybe at once. */
  resume(session: Session, expiresAt: number): void {
    this.arm(session, expiresAt);
  }

  /** The client is back (or the session ended another way): no expiry while it is online. */
  cancel(session: Session): void {
    if (session.expiryTimer !== undefined) this.clock.clearTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    session.expiresAt = undefined;
  }

  private arm(session: Session, expiresAt: number): void {
    this.cancel(session);
    session.expiresAt = expiresAt;
    const remaining = Math.max(0, expiresAt - epochNow(this.clock));
    session.expiryTimer = this.clock.setTimeout(
      () => {
        session.expiryTimer = undefined;
        // Long deadlines take several timers; the wall clock decides when it is over.
        if (epochNow(this.clock) < expiresAt) this.arm(session, expiresAt);
        else this.end(session);
      },
      Math.min(remaining, MAX_TIMER_MS),
    );
  }
}
