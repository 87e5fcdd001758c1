import { isUtf8 } from 'node:buffer';
import { createHash, createHmac, pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

/*
 * SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, without channel binding: the messages, the
 * keys a server keeps instead of a password, and the proof check. No I/O and no store here.
 */

const pbkdf2Async = promisify(pbkdf2);

/** What a server keeps for a SCRAM user (RFC 5802 §3): enough to verify, not to log in. */
export interface ScramCredentials {
  readonly iterations: number;
  readonly salt: Buffer;
  /** H(ClientKey): checks a client's proof. */
  readonly storedKey: Buffer;
  /** HMAC(SaltedPassword, "Server Key"): signs the server's final message. */
  readonly serverKey: Buffer;
}

/** The client-first-message (RFC 5802 §7), parsed. */
export interface ClientFirst {
  /** `n,,`, `y,,` or with an authzid `n,a=...,`: echoed in the final message's `c=`. */
  readonly gs2Header: string;
  readonly username: string;
  readonly clientNonce: string;
  /** client-first-message-bare, part of the AuthMessage. */
  readonly bare: string;
}

/** The client-final-message (RFC 5802 §7), parsed. */
export interface ClientFinal {
  readonly channelBinding: string;
  readonly nonce: string;
  readonly proof: Buffer;
  /** client-final-message-without-proof, part of the AuthMessage. */
  readonly withoutProof: string;
}

/** A message the server cannot take, with the `e=` error of RFC 5802 §7 it amounts to. */
export class ScramError extends Error {
  override readonly name = 'ScramError';
}

const HASH_BYTES = 32;

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** Non-ASCII space characters (RFC 3454 C.1.2): mapped to SPACE by SASLprep. */
function isNonAsciiSpace(code: number): boolean {
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200b) ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** Commonly mapped to nothing (RFC 3454 B.1). */
function isMappedToNothing(code: number): boolean {
  return (
    code === 0xad ||
    code === 0x34f ||
    code === 0x1806 ||
    (code >= 0x180b && code <= 0x180d) ||
    code === 0x200c ||
    code === 0x200d ||
    code === 0x2060 ||
    (code >= 0xfe00 && code <= 0xfe0f) ||
    code === 0xfeff
  );
}

/**
 * The password as SCRAM hashes it (RFC 5802 `Normalize`): SASLprep's mapping and NFKC (RFC 4013
 * §2.1, §2.2) when it is UTF-8; its prohibited characters are not refused. Bytes that are not
 * UTF-8 are taken as they are.
 */
export function normalizePassword(password: Buffer): Buffer {
  if (!isUtf8(password)) return password;
  const text = password.toString('utf8');
  // ASCII (nearly every password) is its own SASLprep.
  if (/^[\x20-\x7e]*$/.test(text)) return password;
  let mapped = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (isNonAsciiSpace(code)) mapped += ' ';
    else if (!isMappedToNothing(code)) mapped += char;
  }
  return Buffer.from(mapped.normalize('NFKC'), 'utf8');
}

/** SaltedPassword = Hi(Normalize(password), salt, i), then the two keys a server keeps. */
export async function deriveScramCredentials(
  password: Buffer,
  salt: Buffer,
  iterations: number,
): Promise<ScramCredentials> {
  const salted = await pbkdf2Async(normalizePassword(password), salt, iterations, HASH_BYTES, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return { iterations, salt, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

/** The client-first-message; throws `ScramError` for what this server does not accept. */
export function parseClientFirst(data: Buffer | undefined): ClientFirst {
  const text = utf8(data, 'client-first-message');
  const flag = text[0];
  if (flag === 'p')
    throw new ScramError('channel binding is not supported (use SCRAM-SHA-256 with gs2 header n,,)');
  if ((flag !== 'n' && flag !== 'y') || text[1] !== ',') throw new ScramError('bad gs2 header');
  const authzidEnd = text.indexOf(',', 2);
  if (authzidEnd === -1) throw new ScramError('bad gs2 header');
  const authzid = text.slice(2, authzidEnd);
  if (authzid !== '' && !authzid.startsWith('a=')) throw new ScramError('bad gs2 header');
  const gs2Header = text.slice(0, authzidEnd + 1);
  const bare = text.slice(authzidEnd + 1);
  const fields = bare.split(',');
  if (fields[0]?.startsWith('m=')) throw new ScramError('extensions are not supported');
  const username = saslname(attribute(fields[0], 'n'));
  const clientNonce = attribute(fields[1], 'r');
  if (!isPrintable(clientNonce)) throw new ScramError('bad nonce');
  if (authzid !== '' && saslname(authzid.slice(2)) !== username) {
    throw new ScramError('an authorization identity other than the user is not supported');
  }
  return { gs2Header, username, clientNonce, bare };
}

/** The server-first-message: the combined nonce, the user's salt and iteration count. */
export function serverFirstMessage(nonce: string, salt: Buffer, iterations: number): string {
  return `r=${nonce},s=${salt.toString('base64')},i=${iterations}`;
}

/** The client-final-message; throws `ScramError` when it is not well formed. */
export function parseClientFinal(data: Buffer | undefined): ClientFinal {
  const text = utf8(data, 'client-final-message');
  const proofAt = text.lastIndexOf(',p=');
  if (proofAt === -1) throw new ScramError('no proof');
  const withoutProof = text.slice(0, proofAt);
  const fields = withoutProof.split(',');
  const channelBinding = attribute(fields[0], 'c');
  const nonce = attribute(fields[1], 'r');
  const proof = base64(text.slice(proofAt + 3), 'proof');
  if (proof.length !== HASH_BYTES) throw new ScramError('bad proof');
  return { channelBinding, nonce, proof, withoutProof };
}

/** The `c=` a client without channel binding sends: its gs2 header in base64 [RFC 5802 §7]. */
export function expectedChannelBinding(gs2Header: string): string {
  return Buffer.from(gs2Header, 'utf8').toString('base64');
}

/**
 * Checks a client's proof against the stored key, in constant time, and returns the
 * server-final-message (`v=` ServerSignature) when it holds, `undefined` when it does not.
 */
export function verifyClientProof(
  credentials: ScramCredentials,
  authMessage: string,
  proof: Buffer,
): string | undefined {
  const clientSignature = hmac(credentials.storedKey, authMessage);
  const clientKey = Buffer.alloc(HASH_BYTES);
  for (let i = 0; i < HASH_BYTES; i++) clientKey[i] = (proof[i] ?? 0) ^ (clientSignature[i] ?? 0);
  const storedKey = credentials.storedKey;
  const valid = storedKey.length === HASH_BYTES && timingSafeEqual(sha256(clientKey), storedKey);
  return valid ? `v=${hmac(credentials.serverKey, authMessage).toString('base64')}` : undefined;
}

function utf8(data: Buffer | undefined, what: string): string {
  if (data === undefined || data.length === 0) throw new ScramError(`no ${what}`);
  if (!isUtf8(data)) throw new ScramError(`${what} is not UTF-8`);
  return data.toString('utf8');
}

function attribute(field: string | undefined, name: string): string {
  if (field === undefined || !field.startsWith(`${name}=`) || field.length === 2) {
    throw new ScramError(`expected attribute ${name}=`);
  }
  return field.slice(2);
}

/** A saslname: `=2C` is `,` and `=3D` is `=`; any other `=` is invalid encoding. */
function saslname(text: string): string {
  const name = text.replace(/=2C|=3D/g, (escaped) => (escaped === '=2C' ? ',' : '='));
  if (/=(?!2C|3D)/.test(text) || name === '') throw new ScramError('invalid user name encoding');
  return name;
}

/** Printable ASCII except `,` (RFC 5802 `printable`). */
function isPrintable(text: string): boolean {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(text);
}

function base64(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new ScramError(`bad ${what}`);
  return Buffer.from(text, 'base64');
}
