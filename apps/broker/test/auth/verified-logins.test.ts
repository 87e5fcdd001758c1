import { describe, expect, it } from 'vitest';
import { VerifiedLogins } from '../../src/auth/verified-logins.js';

const pw = (text: string) => Buffer.from(text);

describe('verified logins', () => {
  it('match only the same user, password and stored hash', () => {
    const logins = new VerifiedLogins();
    logins.remember('alice', '$scrypt$h1', pw('pw'));
    expect(logins.has('alice', '$scrypt$h1', pw('pw'))).toBe(true);
    expect(logins.has('alice', '$scrypt$h1', pw('pw2'))).toBe(false);
    expect(logins.has('alice', '$scrypt$h2', pw('pw'))).toBe(false);
    expect(logins.has('bob', '$scrypt$h1', pw('pw'))).toBe(false);
    logins.forget('alice');
    expect(logins.has('alice', '$scrypt$h1', pw('pw'))).toBe(false);
  });

  it('forget the oldest past their capacity', () => {
    const logins = new VerifiedLogins(2);
    logins.remember('a', 'h', pw('1'));
    logins.remember('b', 'h', pw('1'));
    logins.remember('c', 'h', pw('1'));
    expect([
      logins.has('a', 'h', pw('1')),
      logins.has('b', 'h', pw('1')),
      logins.has('c', 'h', pw('1')),
    ]).toEqual([false, true, true]);
  });
});
