import { setTimeout as sleep } from 'node:timers/promises';

interface Failures {
  count: number;
  lastAt: number;
}

/** Addresses remembered at most; the oldest are forgotten first. */
const MAX_ADDRESSES = 100_000;

/**
 * Growing delays for failed logins per source address: the n-th failure in a row makes the
 * next attempt from that address wait `baseMs * 2^(n-1)`, at most `maxMs`. Only that address's
 * own logins wait (a timer, not the event loop), so brute force is slow and nobody else is.
 * A success, or quiet for ten times `maxMs`, forgets the address.
 */
export class FailureDelays {
  private readonly byAddress = new Map<string, Failures>();

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The delay the next login from `address` waits, in ms. */
  delayFor(address: string): number {
    const failures = this.byAddress.get(address);
    if (failures === undefined || this.baseMs === 0) return 0;
    if (this.now() - failures.lastAt > this.maxMs * 10) {
      this.byAddress.delete(address);
      return 0;
    }
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(30, failures.count - 1));
  }

  async wait(address: string): Promise<void> {
    const delay = this.delayFor(address);
    if (delay > 0) await sleep(delay, undefined, { ref: false });
  }

  failed(address: string): void {
    const failures = this.byAddress.get(address);
    // Re-inserted so the map stays in order of last failure, oldest first.
    this.byAddress.delete(address);
    this.byAddress.set(address, { count: (failures?.count ?? 0) + 1, lastAt: this.now() });
    if (this.byAddress.size > MAX_ADDRESSES) {
      const oldest = this.byAddress.keys().next().value;
      if (oldest !== undefined) this.byAddress.delete(oldest);
    }
  }

  succeeded(address: string): void {
    this.byAddress.delete(address);
  }
}
