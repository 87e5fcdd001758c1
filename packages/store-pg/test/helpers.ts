import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PgStoreOptions } from '../src/index.js';
import { PgStore } from '../src/index.js';

/** The test database; PG_TEST_URL overrides it (CI and this repo use the loopback server). */
export const testUrl = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<void> | undefined;

/**
 * Fails (never skips) when PostgreSQL is down: a skipped durability suite would pass CI while
 * proving nothing. CI starts the server with .ci/services.sh. Registered with `beforeEach`, so
 * every test fails with the message (a failing `beforeAll` would report them as skipped); the
 * check itself runs once per file.
 */
export function requirePostgres(): Promise<void> {
  reachable ??= checkPostgres();
  return reachable;
}

async function checkPostgres(): Promise<void> {
  const client = new pg.Client({ connectionString: testUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${testUrl} (${String(error)}). The store-pg tests need it: start it (bash .ci/services.sh) or set PG_TEST_URL.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A fresh schema name; tests create it through the store and drop it with `dropSchema`. */
export function freshSchema(): string {
  return `mqtt_adapt_test_${randomBytes(6).toString('hex')}`;
}

/** A fresh application_name, so a test can find (and kill) exactly its store's connections. */
export function freshApplicationName(): string {
  return `mqa-test-${randomBytes(4).toString('hex')}`;
}

/** Runs one statement on its own short-lived connection (not the store's). */
export async function admin<T extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: testUrl, application_name: 'mqa-test-admin' });
  await client.connect();
  try {
    const result = await client.query<T>(text, values);
    return result.rows;
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** A store on `schema` of the test database. */
export function testStore(schema: string, options: Partial<PgStoreOptions> = {}): PgStore {
  return new PgStore({ connectionString: testUrl, schema, ...options });
}

/** Terminates every backend of `applicationName`; returns how many. */
export async function killConnections(applicationName: string): Promise<number> {
  const rows = await admin<{ killed: boolean }>(
    'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
    [applicationName],
  );
  return rows.filter((row) => row.killed).length;
}

/** The error `promise` rejected with, or undefined if it resolved. */
export async function rejectionOf(promise: Promise<unknown> | undefined): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error;
  }
}

/** A logger recording every call, for asserting what was logged. */
export function recordingLogger(): {
  logger: PgStoreOptions['logger'] & object;
  lines: Array<{ level: string; msg: string; obj: object }>;
} {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      if (typeof obj === 'string') lines.push({ level, msg: obj, obj: {} });
      else lines.push({ level, msg: msg ?? '', obj });
    };
  return {
    lines,
    logger: {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
    },
  };
}

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;

/** The statement's name if it has one, else its text. */
export function statementOf(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  const config = arg as { name?: string; text?: string } | undefined;
  return config?.name ?? config?.text ?? '';
}

/**
 * Records every statement the connections of `applicationName` send (wrapping
 * `pg.Client.prototype.query`, which the store's pool uses); `hook` may replace a call.
 */
export function traceQueries(
  applicationName: string,
  hook?: (client: pg.Client, statement: string, run: () => Promise<unknown>) => Promise<unknown> | undefined,
): { statements: string[]; restore: () => void } {
  const prototype = pg.Client.prototype as unknown as { query: QueryFn };
  const original = prototype.query;
  const statements: string[] = [];
  prototype.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const parameters = (this as unknown as { connectionParameters?: { application_name?: string } })
      .connectionParameters;
    if (parameters?.application_name === applicationName) {
      const statement = statementOf(args[0]);
      statements.push(statement);
      const replaced = hook?.(this, statement, () => original.apply(this, args) as Promise<unknown>);
      if (replaced !== undefined) return replaced;
    }
    return original.apply(this, args);
  };
  return {
    statements,
    restore: () => {
      prototype.query = original;
    },
  };
}

/** Resolves after the current event-loop turn (and its setImmediate callbacks queued so far). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
