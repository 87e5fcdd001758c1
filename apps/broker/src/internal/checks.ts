import { BrokerAppError } from '../errors.js';
import { redactSecrets } from '../redact.js';

/**
 * Small hand-written validators for config values. Each takes the value and the name it had
 * where the user wrote it (`listeners[0].port`, `MQTT_ADAPT_PORT`, `--port`) and either returns
 * the typed value or throws one `BrokerAppError` whose message is the line the CLI prints.
 */
export type Check<T> = (value: unknown, key: string) => T;

/** The one-line config error: `config: <key> = <value> <problem>`. */
export function configError(message: string): BrokerAppError {
  return new BrokerAppError('BROKER_CONFIG_INVALID', `config: ${message}`);
}

/** Renders a value for an error line: strings quoted, long values cut. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function integerIn(min: number, max: number, what: string): Check<number> {
  return (value, key) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw configError(`${key} = ${show(value)} is not ${what} (${min}-${max})`);
    }
    return value;
  };
}

export function oneOf<const T extends string | number>(choices: readonly T[], what: string): Check<T> {
  return (value, key) => {
    if (!(choices as readonly unknown[]).includes(value)) {
      throw configError(`${key} = ${show(value)} is not ${what} (${choices.join(', ')})`);
    }
    return value as T;
  };
}

export function booleanValue(): Check<boolean> {
  return (value, key) => {
    if (typeof value !== 'boolean')
      throw configError(`${key} = ${show(value)} is not a boolean (true, false)`);
    return value;
  };
}

/** `true` or `false`: a boolean in a config file, the words from a flag or a variable. */
export function booleanText(): Check<boolean> {
  return (value, key) => {
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw configError(`${key} = ${show(value)} is not true or false`);
  };
}

/** A non-empty MQTT UTF-8 string: no U+0000, at most 65535 bytes. */
export function mqttString(what: string): Check<string> {
  return (value, key) => {
    if (typeof value !== 'string' || value === '' || value.includes('\u0000')) {
      throw configError(`${key} = ${show(value)} is not ${what} (a non-empty string without U+0000)`);
    }
    if (Buffer.byteLength(value, 'utf8') > 65_535) {
      throw configError(`${key} = ${show(value)} is not ${what} (at most 65535 UTF-8 bytes)`);
    }
    return value;
  };
}

export function nonEmptyString(what: string): Check<string> {
  return (value, key) => {
    if (typeof value !== 'string' || value.trim() === '') {
      throw configError(`${key} = ${show(value)} is not ${what} (a non-empty string)`);
    }
    return value;
  };
}

/**
 * A PostgreSQL connection URL (`postgres://` or `postgresql://`). A secret: an error shows it
 * with its password redacted.
 */
export function postgresUrl(): Check<string> {
  return (value, key) => {
    const text = typeof value === 'string' ? value.trim() : '';
    if (!/^postgres(ql)?:\/\/./i.test(text) || !URL.canParse(text)) {
      throw configError(
        `${key} = ${show(redactSecrets(value))} is not a postgres URL (postgres://user:password@host:5432/database)`,
      );
    }
    return text;
  };
}

/** A PostgreSQL schema name as `@mqtt-adapt/store-pg` accepts it: a plain, unquoted identifier. */
export function schemaName(): Check<string> {
  return (value, key) => {
    if (typeof value !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
      throw configError(
        `${key} = ${show(value)} is not a schema name (lowercase letters, digits and _, at most 63, not starting with a digit)`,
      );
    }
    return value;
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a mapping; rejects anything else and unknown keys (with a suggestion for typos). */
export function mapping(value: unknown, key: string, known: readonly string[]): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    throw configError(`${key} = ${show(value)} is not a mapping (expected keys: ${known.join(', ')})`);
  }
  for (const name of Object.keys(value)) {
    if (!known.includes(name)) {
      const prefix = key === '' ? '' : `${key}.`;
      const near = closest(name, known);
      const fix = near ? `did you mean ${prefix}${near}?` : `known keys: ${known.join(', ')}`;
      throw configError(`${prefix}${name} is not a known key; ${fix}`);
    }
  }
  return value;
}

/** The candidate within edit distance 2 (case-insensitive) of `word`, if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}
