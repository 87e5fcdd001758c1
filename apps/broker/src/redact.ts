/** What a redacted value is replaced with in `--print-config`. */
export const REDACTED = '[redacted]';

/**
 * Keys whose values are secrets wherever they appear in the config. No key of today's schema
 * matches (it has no secrets yet); TLS key passphrases, store URLs and bridge credentials, as
 * they are added, are caught by name and by the URL rule below.
 */
const SECRET_KEY = /pass(word|phrase)?$|secret|token|credential|private[-_]?key/i;
/** `scheme://user:password@host` in any string: the password part is a secret. */
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/i;

/**
 * A deep copy of `value` with secrets replaced by `[redacted]`: values of secret-named keys,
 * and passwords inside URLs. For `--print-config` and for logging a config.
 */
export function redactSecrets<T>(value: T): T {
  return redact(value, undefined) as T;
}

function redact(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && SECRET_KEY.test(key) && value !== undefined && value !== null && value !== '') {
    return REDACTED;
  }
  if (typeof value === 'string') return value.replace(URL_PASSWORD, `$1${REDACTED}@`);
  if (Array.isArray(value)) return value.map((item) => redact(item, undefined));
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(value)) copy[name] = redact(item, name);
    return copy;
  }
  return value;
}
