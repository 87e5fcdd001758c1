/** What a redacted value is replaced with in `--print-config`. */
export const REDACTED = '[redacted]';

/**
 * Keys whose values are secrets wherever they appear in the config. No key of today's schema
 * matches; TLS key passphrases and bridge credentials, as they are added, are caught by name.
 * The store URL (`store.url`) is caught by the URL rules below.
 */
const SECRET_KEY = /pass(word|phrase)?$|secret|token|credential|private[-_]?key/i;
/**
 * `scheme://user:password@host` in any string: the password part is a secret. The authority
 * ends at the first `/`, `?` or `#`, and its last `@` ends the user info (a password may hold
 * an unescaped `@`), hence the greedy `[^/?#\s]*`.
 */
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^/?#\s]*@/i;
/** `password=...` as a URL query parameter (`?password=`) or libpq keyword (`password=x host=y`). */
const PASSWORD_PARAMETER = /(^|[?&\s])((?:ssl)?password=)[^&\s]*/gi;

/**
 * A deep copy of `value` with secrets replaced by `[redacted]`: values of secret-named keys,
 * and passwords inside URLs. For `--print-config` and for logging a config.
 */
export function redactSecrets<T>(value: T): T {
  return redact(value, undefined) as T;
}

/**
 * Every occurrence in `text` of the password of `url` replaced by `[redacted]` (raw and
 * percent-decoded): for messages of drivers that might quote what they were given.
 */
export function scrubPassword(text: string, url: string | undefined): string {
  if (url === undefined || !URL.canParse(url)) return redactString(text);
  const parsed = new URL(url);
  const secrets = [parsed.password, safeDecode(parsed.password), parsed.searchParams.get('password') ?? ''];
  let out = text;
  for (const secret of secrets) if (secret !== '') out = out.split(secret).join(REDACTED);
  return redactString(out);
}

function redact(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && SECRET_KEY.test(key) && value !== undefined && value !== null && value !== '') {
    return REDACTED;
  }
  if (typeof value === 'string') return redactString(value);
  if (Array.isArray(value)) return value.map((item) => redact(item, undefined));
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(value)) copy[name] = redact(item, name);
    return copy;
  }
  return value;
}

function redactString(text: string): string {
  return text
    .replace(URL_PASSWORD, `$1${REDACTED}@`)
    .replace(PASSWORD_PARAMETER, (_match, before: string, name: string) => `${before}${name}${REDACTED}`);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A malformed percent-escape: the raw text is what there is to scrub.
    return text;
  }
}
