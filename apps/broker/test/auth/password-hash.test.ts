import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashPassword, hashScheme, verifyPassword } from '../../src/auth/password-hash.js';

// Small cost: the tests check the scheme, not its strength.
const fast = { logN: 10, r: 8, p: 1 };
const pw = (text: string) => Buffer.from(text, 'utf8');

describe('scrypt password hashes', () => {
  it('verify the right password only, with a fresh salt per hash', async () => {
    const hash = await hashPassword(pw('s3cret ü'), fast);
    expect(hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword(hash, pw('s3cret ü'), fast)).toEqual({ valid: true, needsRehash: false });
    expect(await verifyPassword(hash, pw('s3cret u'), fast)).toEqual({ valid: false, needsRehash: false });
    expect(await hashPassword(pw('s3cret ü'), fast)).not.toBe(hash);
    expect(hashScheme(hash)).toBe('scrypt');
  });

  it('ask for a rehash when the configured cost was raised', async () => {
    const hash = await hashPassword(pw('x'), fast);
    expect(await verifyPassword(hash, pw('x'), { ...fast, logN: 11 })).toEqual({
      valid: true,
      needsRehash: true,
    });
  });

  it('never match a damaged or unknown hash', async () => {
    for (const stored of [
      '',
      'plain',
      '$scrypt$ln=99,r=8,p=1$AAAA$BBBB',
      '$scrypt$ln=10$x',
      '$argon2id$v=19$x$y',
      '$7$0$AA$BB',
    ]) {
      expect((await verifyPassword(stored, pw('x'), fast)).valid).toBe(false);
    }
  });
});

describe("Mosquitto's password file formats", () => {
  it('$7$ (PBKDF2-SHA512) hashes made by the real mosquitto_passwd verify as they are, then ask for a rehash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-pw-'));
    const file = join(dir, 'passwd');
    execFileSync('mosquitto_passwd', ['-b', '-c', file, 'alice', 'secret1']);
    execFileSync('mosquitto_passwd', ['-b', file, 'bob', 'pä ss:word']);
    const lines = new Map(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)] as const),
    );
    expect(hashScheme(lines.get('alice')!)).toBe('mosquitto-pbkdf2-sha512');
    expect(await verifyPassword(lines.get('alice')!, pw('secret1'))).toEqual({
      valid: true,
      needsRehash: true,
    });
    expect(await verifyPassword(lines.get('bob')!, pw('pä ss:word'))).toEqual({
      valid: true,
      needsRehash: true,
    });
    expect((await verifyPassword(lines.get('alice')!, pw('secret2'))).valid).toBe(false);
  });

  it('$6$ (salted SHA-512 of Mosquitto 1.x) verifies', async () => {
    const salt = Buffer.from('0123456789abcdef');
    const digest = createHash('sha512').update('old').update(salt).digest();
    const stored = `$6$${salt.toString('base64')}$${digest.toString('base64')}`;
    expect(await verifyPassword(stored, pw('old'))).toEqual({ valid: true, needsRehash: true });
    expect((await verifyPassword(stored, pw('new'))).valid).toBe(false);
  });
});
