import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { configError } from './internal/checks.js';
import type { TlsFilesConfig } from './listener-config.js';

/** The PEM contents of a tls/wss listener's files, checked to make a working secure context. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

const FLAGS = { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' } as const;

/**
 * Reads `cert`, `key` and `ca` of a listener and checks that they make a secure context.
 * Throws one `BROKER_CONFIG_INVALID` line naming the key (`listeners[1].cert`), the file and
 * the fix: at startup that stops the broker (exit 2); on SIGHUP the caller logs it and keeps
 * the old certificate.
 */
export function readTlsFiles(config: TlsFilesConfig, key: string): TlsMaterial {
  const cert = readPem(config, key, 'cert');
  const privateKey = readPem(config, key, 'key');
  const ca = config.ca === undefined ? undefined : readPem(config, key, 'ca');
  check(config, key, 'cert', () => new X509Certificate(cert), 'is not a PEM certificate');
  check(config, key, 'key', () => createPrivateKey(privateKey), 'is not an unencrypted PEM private key');
  if (ca !== undefined) check(config, key, 'ca', () => new X509Certificate(ca), 'is not a PEM certificate');
  check(
    config,
    key,
    'key',
    () => createSecureContext(secureContextOptions({ cert, key: privateKey, ca })),
    `does not make a secure context with ${key}.cert = ${JSON.stringify(config.cert)}`,
  );
  return { cert, key: privateKey, ca };
}

export function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return material.ca === undefined
    ? { cert: material.cert, key: material.key }
    : { cert: material.cert, key: material.key, ca: material.ca };
}

function readPem(config: TlsFilesConfig, key: string, field: keyof typeof FLAGS): Buffer {
  const path = config[field]!;
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw fileError(key, field, path, `cannot be read (${code})`);
  }
}

function check(
  config: TlsFilesConfig,
  key: string,
  field: keyof typeof FLAGS,
  attempt: () => unknown,
  problem: string,
): void {
  try {
    attempt();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw fileError(key, field, config[field]!, `${problem} (${reason})`);
  }
}

function fileError(key: string, field: keyof typeof FLAGS, path: string, problem: string): Error {
  return configError(
    `${key}.${field} = ${JSON.stringify(path)} ${problem}; check the file or pass ${FLAGS[field]}`,
  );
}

/** The subject CN of the client's verified certificate, if it sent one. */
export function certificateName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const name: unknown = socket.getPeerCertificate()?.subject?.CN;
  return typeof name === 'string' && name.length > 0 ? name : undefined;
}
