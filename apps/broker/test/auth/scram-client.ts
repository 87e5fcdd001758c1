import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/*
 * The client side of SCRAM-SHA-256 (RFC 5802), written from the RFC for the tests: it shares no
 * code with the server under test.
 */

export interface ScramClient {
  /** client-first-message, for the CONNECT's Authentication Data. */
  readonly first: Buffer;
  /** client-final-message for the server-first-message (of the AUTH 0x18). */
  final(serverFirst: Buffer): Buffer;
  /** Whether a server-final-message (of the CONNACK / AUTH 0x00) proves the server knew the keys. */
  verifyServer(serverFinal: Buffer | undefined): boolean;
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();

export function scramClient(
  username: string,
  password: string,
  options: { nonce?: string; gs2Header?: string } = {},
): ScramClient {
  const nonce = options.nonce ?? randomBytes(18).toString('base64');
  const gs2Header = options.gs2Header ?? 'n,,';
  const name = username.replace(/=/g, '=3D').replace(/,/g, '=2C');
  const bare = `n=${name},r=${nonce}`;
  let serverSignature: string | undefined;
  return {
    first: Buffer.from(gs2Header + bare),
    final(serverFirst) {
      const text = serverFirst.toString();
      const fields = new Map(text.split(',').map((field) => [field[0], field.slice(2)] as const));
      const salted = pbkdf2Sync(
        Buffer.from(password),
        Buffer.from(fields.get('s') ?? '', 'base64'),
        Number(fields.get('i')),
        32,
        'sha256',
      );
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash('sha256').update(clientKey).digest();
      const withoutProof = `c=${Buffer.from(gs2Header).toString('base64')},r=${fields.get('r')}`;
      const authMessage = `${bare},${text},${withoutProof}`;
      const signature = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] ?? 0)));
      serverSignature = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
    },
    verifyServer(serverFinal) {
      return serverSignature !== undefined && serverFinal?.toString() === `v=${serverSignature}`;
    },
  };
}
