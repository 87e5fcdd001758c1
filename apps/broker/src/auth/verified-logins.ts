import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

interface VerifiedLogin {
  /** The stored hash the password was checked against: a changed password misses. */
  readonly passwordHash: string;
  /** HMAC of the password under a key of this process only; never the password itself. */
  readonly mac: Buffer;
}

/**
 * Logins whose password already passed the slow hash, so a device that reconnects with the
 * same credentials costs an HMAC instead of 30-100 ms of scrypt. Only a success is remembered,
 * keyed by user and tied to the stored hash it was checked against: a wrong password still
 * pays the full price, and a changed or removed user misses. Bounded (oldest forgotten first);
 * the key is random per process, so nothing here outlives it or helps an attacker offline.
 */
export class VerifiedLogins {
  private readonly key = randomBytes(32);
  private readonly byUser = new Map<string, VerifiedLogin>();

  constructor(private readonly capacity = 10_000) {}

  /** True if `password` already passed for `username` against this very stored hash. */
  has(username: string, passwordHash: string, password: Buffer): boolean {
    const known = this.byUser.get(username);
    if (known === undefined || known.passwordHash !== passwordHash) return false;
    return timingSafeEqual(known.mac, this.mac(username, password));
  }

  remember(username: string, passwordHash: string, password: Buffer): void {
    this.byUser.delete(username);
    this.byUser.set(username, { passwordHash, mac: this.mac(username, password) });
    if (this.byUser.size > this.capacity) {
      const oldest = this.byUser.keys().next().value;
      if (oldest !== undefined) this.byUser.delete(oldest);
    }
  }

  forget(username: string): void {
    this.byUser.delete(username);
  }

  private mac(username: string, password: Buffer): Buffer {
    return createHmac('sha256', this.key).update(username).update('\0').update(password).digest();
  }
}
