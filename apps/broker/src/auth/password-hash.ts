import { createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { deriveScramCredentials, type ScramCredentials } from './scram.js';

const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  keyLength: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

/** scrypt cost: N = 2^logN, block size r, parallelism p. */
export interface ScryptParams {
  readonly logN: number;
  readonly r: number;
  readonly p: number;
}

/**
 * 2^15 x 8 x 1: 32 MiB and tens of milliseconds per hash on one core — slow for brute force,
 * affordable for a connect storm (hashes run on libuv's thread pool, not the event loop).
 * Stored per user, so raising it later rehashes each user at the next login.
 */
export const defaultScryptParams: ScryptParams = Object.freeze({ logN: 15, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** PBKDF2 rounds of new SCRAM-SHA-256 credentials: RFC 7677's minimum, which clients also pay. */
export const defaultScramIterations = 4096;

/** The hash schemes `user add --hash` can create. */
export const HASH_SCHEMES = ['scrypt', 'scram-sha-256'] as const;
export type NewHashScheme = (typeof HASH_SCHEMES)[number];

/** Result of checking a password against a stored hash. */
export interface PasswordCheck {
  readonly valid: boolean;
  /** Valid, but hashed with another scheme or weaker parameters than `params`: store a new hash. */
  readonly needsRehash: boolean;
}

/** A new salted scrypt hash as a PHC string: `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64, no padding). */
export async function hashPassword(
  password: Buffer,
  params: ScryptParams = defaultScryptParams,
): Promise<string> {
  checkParams(params);
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, KEY_BYTES, scryptOptions(params));
  return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/**
 * New SCRAM-SHA-256 credentials (RFC 5802 §3) as `$scram-sha-256$i=4096$<salt>$<StoredKey>:<ServerKey>`
 * (base64 with padding, as SCRAM sends the salt): the user can log in with SCRAM-SHA-256
 * enhanced authentication and with a plain CONNECT password alike.
 */
export async function hashScramPassword(
  password: Buffer,
  iterations = defaultScramIterations,
  salt: Buffer = randomBytes(SALT_BYTES),
): Promise<string> {
  if (!Number.isInteger(iterations) || iterations < defaultScramIterations || iterations > 10_000_000) {
    throw new RangeError(
      `scram iterations ${iterations} are out of range ${defaultScramIterations}-10000000`,
    );
  }
  const credentials = await deriveScramCredentials(password, salt, iterations);
  return `$scram-sha-256$i=${iterations}$${salt.toString('base64')}$${credentials.storedKey.toString('base64')}:${credentials.serverKey.toString('base64')}`;
}

/** The SCRAM-SHA-256 credentials of a stored hash; `undefined` for other schemes or a damaged one. */
export function scramCredentials(stored: string): ScramCredentials | undefined {
  const parts = stored.split('$');
  // ['', 'scram-sha-256', 'i=4096', salt, 'storedKey:serverKey']
  if (parts.length !== 5 || parts[1] !== 'scram-sha-256' || !parts[2]!.startsWith('i=')) return undefined;
  const iterations = Number(parts[2]!.slice(2));
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000) return undefined;
  const salt = Buffer.from(parts[3]!, 'base64');
  const [stored64, server64, ...rest] = parts[4]!.split(':');
  const storedKey = Buffer.from(stored64 ?? '', 'base64');
  const serverKey = Buffer.from(server64 ?? '', 'base64');
  if (salt.length === 0 || storedKey.length !== 32 || serverKey.length !== 32 || rest.length > 0)
    return undefined;
  return { iterations, salt, storedKey, serverKey };
}

/** A new hash of `scheme` (`user add --hash`). */
export function hashWith(scheme: NewHashScheme, password: Buffer): Promise<string> {
  return scheme === 'scram-sha-256' ? hashScramPassword(password) : hashPassword(password);
}

/**
 * Checks `password` against a stored hash, in constant time for a given hash. Understands our
 * scrypt and SCRAM-SHA-256 strings and Mosquitto's `mosquitto_passwd` formats (`$7$` PBKDF2-SHA512 and the
 * older `$6$` salted SHA-512), so imported users log in as they are and are rehashed then. An
 * unknown or damaged format never matches.
 */
export async function verifyPassword(
  stored: string,
  password: Buffer,
  params: ScryptParams = defaultScryptParams,
): Promise<PasswordCheck> {
  const parts = stored.split('$');
  // '', scheme, ...fields
  switch (parts[1]) {
    case 'scrypt':
      return verifyScrypt(parts, password, params);
    case 'scram-sha-256':
      return verifyScram(stored, password);
    case '7':
      return verifyMosquittoPbkdf2(parts, password);
    case '6':
      return verifyMosquittoSha512(parts, password);
    default:
      return { valid: false, needsRehash: false };
  }
}

/** The scheme of a stored hash, for `user list` and import checks; `undefined` when unknown. */
export function hashScheme(
  stored: string,
): 'scrypt' | 'scram-sha-256' | 'mosquitto-pbkdf2-sha512' | 'mosquitto-sha512' | undefined {
  const scheme = stored.split('$')[1];
  if (scheme === 'scrypt') return 'scrypt';
  if (scheme === 'scram-sha-256') return 'scram-sha-256';
  if (scheme === '7') return 'mosquitto-pbkdf2-sha512';
  if (scheme === '6') return 'mosquitto-sha512';
  return undefined;
}

async function verifyScrypt(parts: string[], password: Buffer, params: ScryptParams): Promise<PasswordCheck> {
  // ['', 'scrypt', 'ln=15,r=8,p=1', salt, hash]
  if (parts.length !== 5) return { valid: false, needsRehash: false };
  const stored = parseScryptParams(parts[2]!);
  if (stored === undefined) return { valid: false, needsRehash: false };
  const salt = Buffer.from(parts[3]!, 'base64');
  const expected = Buffer.from(parts[4]!, 'base64');
  if (salt.length === 0 || expected.length === 0) return { valid: false, needsRehash: false };
  const key = await scryptAsync(password, salt, expected.length, scryptOptions(stored));
  const valid = timingSafeEqual(key, expected);
  const weaker = stored.logN < params.logN || stored.r < params.r || stored.p < params.p;
  return { valid, needsRehash: valid && weaker };
}

/**
 * A plain password against SCRAM credentials: SaltedPassword, then StoredKey, compared. Never
 * a rehash: the user chose SCRAM, and a scrypt hash could not serve it.
 */
async function verifyScram(stored: string, password: Buffer): Promise<PasswordCheck> {
  const credentials = scramCredentials(stored);
  if (credentials === undefined) return { valid: false, needsRehash: false };
  const derived = await deriveScramCredentials(password, credentials.salt, credentials.iterations);
  return { valid: timingSafeEqual(derived.storedKey, credentials.storedKey), needsRehash: false };
}

async function verifyMosquittoPbkdf2(parts: string[], password: Buffer): Promise<PasswordCheck> {
  // ['', '7', iterations, salt, hash]: PBKDF2-HMAC-SHA512 over the base64-decoded salt.
  if (parts.length !== 5) return { valid: false, needsRehash: false };
  const iterations = Number(parts[2]);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000)
    return { valid: false, needsRehash: false };
  const salt = Buffer.from(parts[3]!, 'base64');
  const expected = Buffer.from(parts[4]!, 'base64');
  if (salt.length === 0 || expected.length === 0) return { valid: false, needsRehash: false };
  const key = await pbkdf2Async(password, salt, iterations, expected.length, 'sha512');
  const valid = timingSafeEqual(key, expected);
  return { valid, needsRehash: valid };
}

function verifyMosquittoSha512(parts: string[], password: Buffer): PasswordCheck {
  // ['', '6', salt, hash]: SHA-512(password || salt), Mosquitto before 2.0.
  if (parts.length !== 4) return { valid: false, needsRehash: false };
  const salt = Buffer.from(parts[2]!, 'base64');
  const expected = Buffer.from(parts[3]!, 'base64');
  if (salt.length === 0 || expected.length !== 64) return { valid: false, needsRehash: false };
  const key = createHash('sha512').update(password).update(salt).digest();
  const valid = timingSafeEqual(key, expected);
  return { valid, needsRehash: valid };
}

function parseScryptParams(text: string): ScryptParams | undefined {
  const fields = new Map(text.split(',').map((field) => field.split('=') as [string, string]));
  const logN = Number(fields.get('ln'));
  const r = Number(fields.get('r'));
  const p = Number(fields.get('p'));
  const params = { logN, r, p };
  return isValidParams(params) ? params : undefined;
}

function isValidParams({ logN, r, p }: ScryptParams): boolean {
  return (
    Number.isInteger(logN) &&
    logN >= 1 &&
    logN <= 24 &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= 64 &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= 16
  );
}

function checkParams(params: ScryptParams): void {
  if (!isValidParams(params)) {
    throw new RangeError(`scrypt parameters ln=${params.logN},r=${params.r},p=${params.p} are out of range`);
  }
}

function scryptOptions({ logN, r, p }: ScryptParams): { N: number; r: number; p: number; maxmem: number } {
  const N = 2 ** logN;
  // Node refuses more than 32 MiB by default; scrypt needs about 128 * N * r * p bytes.
  return { N, r, p, maxmem: 128 * N * r * p + 16 * 1024 * 1024 };
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
