/** Connection-string helpers and driver-error classification; no I/O. */

/** `host:port` of a connection string, for messages (never the user or password). */
export function describeTarget(connectionString: string): string {
  const url = parseUrl(connectionString);
  if (url === undefined) return 'the configured server';
  const host = url.hostname !== '' ? url.hostname : (url.searchParams.get('host') ?? 'localhost');
  const port = url.port !== '' ? url.port : (url.searchParams.get('port') ?? '5432');
  return host.startsWith('/') ? host : `${host}:${port}`;
}

/** The connection string with its password replaced by `***` (for logs and printed config). */
export function redactConnectionString(connectionString: string): string {
  const url = parseUrl(connectionString);
  if (url === undefined) return redactSecrets(connectionString, connectionString);
  if (url.password !== '') url.password = '***';
  if (url.searchParams.has('password')) url.searchParams.set('password', '***');
  return url.toString();
}

/** `text` with every occurrence of the connection string's password replaced by `***`. */
export function redactSecrets(text: string, connectionString: string): string {
  const url = parseUrl(connectionString);
  if (url === undefined) return text;
  let out = text;
  for (const secret of [url.password, safeDecode(url.password), url.searchParams.get('password') ?? '']) {
    if (secret.length > 0) out = out.split(secret).join('***');
  }
  return out;
}

/** The message of an unknown thrown value, one line. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    if (error.message !== '') return error.message;
    // AggregateError (e.g. ECONNREFUSED on both ::1 and 127.0.0.1) may have an empty message.
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    return error.name;
  }
  return String(error);
}

const connectionErrorCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * True when `error` means the connection is gone (or never came up): SQLSTATE class 08
 * (connection exception), 57P01..57P03 (server shutting down, backend terminated), socket
 * errors, and node-postgres' own "connection terminated" errors. Such a client is destroyed.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
    if (connectionErrorCodes.has(code)) return true;
  }
  const message = error.message;
  return (
    message.includes('Connection terminated') ||
    message.includes('connection error') ||
    message.includes('not queryable') ||
    message.includes('timeout exceeded when trying to connect')
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseUrl(connectionString: string): URL | undefined {
  try {
    return new URL(connectionString);
  } catch {
    // Not a URL (pg also accepts a bare socket path): describe it without details.
    return undefined;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A malformed percent-escape: the raw text is all there is to redact.
    return text;
  }
}
