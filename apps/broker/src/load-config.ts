import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { ParsedArgs } from './cli-options.js';
import { type BrokerConfig, fieldChecks, resolveConfig } from './config.js';
import { BrokerAppError } from './errors.js';
import { isPlainObject } from './internal/checks.js';
import { applyOverride, readEnv } from './option-table.js';

export interface LoadedConfig {
  readonly config: BrokerConfig;
  /** Absolute path of the config file read, if any. */
  readonly configFile: string | undefined;
}

/**
 * Merges defaults, the config file (`--config` or `MQTT_ADAPT_CONFIG`), the environment and
 * the flags, in that order of increasing precedence, and validates the result.
 */
export function loadConfig(args: ParsedArgs, env: NodeJS.ProcessEnv, cwd = process.cwd()): LoadedConfig {
  const fromEnv = readEnv(env);
  const fileArg = args.configFile ?? fromEnv.configFile;
  const configFile = fileArg === undefined ? undefined : resolve(cwd, fileArg);
  const raw = configFile === undefined ? {} : readConfigFile(configFile);
  for (const override of fromEnv.overrides) applyOverride(raw, override);
  for (const override of args.overrides) applyOverride(raw, override);
  applyDatabaseUrl(raw, env);
  return { config: resolveConfig(raw), configFile };
}

/** The standard variable of a database URL, read when nothing of ours names one. */
export const DATABASE_URL_ENV = 'DATABASE_URL';

/**
 * `DATABASE_URL` is the postgres store's URL when no flag, `MQTT_ADAPT_DATABASE_URL` or
 * `store.url` gave one: the lowest precedence, below the config file. Read only for the
 * postgres store, so that a `DATABASE_URL` meant for another program never fails a sqlite start.
 */
function applyDatabaseUrl(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const fallback = env[DATABASE_URL_ENV];
  const store = raw.store;
  if (fallback === undefined || fallback === '' || !isPlainObject(store)) return;
  if (store.type !== 'postgres' || store.url !== undefined) return;
  store.url = fieldChecks.storeUrl(fallback, DATABASE_URL_ENV);
}

/** Reads a YAML or JSON config file into a plain object; one `BROKER_CONFIG_FILE` line on failure. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new BrokerAppError('BROKER_CONFIG_FILE', `config: cannot read ${path} (${code}); check --config`, {
      cause: error,
    });
  }
  const isJson = extname(path).toLowerCase() === '.json';
  let parsed: unknown;
  try {
    parsed = isJson ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new BrokerAppError(
      'BROKER_CONFIG_FILE',
      `config: ${path} is not valid ${isJson ? 'JSON' : 'YAML'}: ${parseProblem(error)}`,
      { cause: error },
    );
  }
  // An empty YAML file is null: the same as no keys at all.
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) {
    throw new BrokerAppError(
      'BROKER_CONFIG_FILE',
      `config: ${path} holds ${Array.isArray(parsed) ? 'a list' : typeof parsed}; write a mapping of keys such as listeners, limits, log`,
    );
  }
  return parsed;
}

function parseProblem(error: unknown): string {
  if (error instanceof YAMLParseError) {
    const where = error.linePos?.[0];
    const first = error.message.split('\n')[0] ?? error.message;
    // The yaml message already ends with "at line L, column C"; add it only if missing.
    return where && !first.includes('line') ? `${first} at line ${where.line}, column ${where.col}` : first;
  }
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
}
