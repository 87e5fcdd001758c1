import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '@mqtt-adapt/router';
import type Database from 'better-sqlite3';
import { SqliteStore, type SqliteStoreOptions } from '../src/index.js';

const tempDirs: string[] = [];

/** A fresh directory; removed by `removeStoreDir` (its store's) or `removeTempDirs` (all). */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-sqlite-'));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function newStore(options: Partial<SqliteStoreOptions> = {}): SqliteStore {
  return new SqliteStore({ path: join(tempDir(), 'store.db'), ...options });
}

export function removeStoreDir(store: SqliteStore): void {
  rmSync(dirname(store.path), { recursive: true, force: true });
}

/** The private connection of a store: tests reach into it to simulate a crash. */
interface StoreInternals {
  conn: { db: Database.Database; batch: { discard(): void } } | undefined;
}

/**
 * A crash as far as this process can simulate one: the pending batch is discarded (never
 * committed) and the raw better-sqlite3 handle closed, without `flush()` or `close()`.
 * `test/crash.test.ts` covers a real `kill -9` in a child process.
 */
export function crashStore(store: SqliteStore): void {
  const internals = store as unknown as StoreInternals;
  const conn = internals.conn;
  if (conn === undefined) return;
  conn.batch.discard();
  conn.db.close();
  internals.conn = undefined;
}

/** The raw database of an open store (for pragmas the store does not expose). */
export function rawDb(store: SqliteStore): Database.Database {
  const conn = (store as unknown as StoreInternals).conn;
  if (conn === undefined) throw new Error('store is not open');
  return conn.db;
}

export interface LogCall {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  obj: unknown;
  msg: string | undefined;
}

/** A logger that records every call. */
export function recordingLogger(): { logger: Logger; calls: LogCall[] } {
  const calls: LogCall[] = [];
  const at =
    (level: LogCall['level']) =>
    (obj: object | string, msg?: string): void => {
      calls.push(typeof obj === 'string' ? { level, obj: undefined, msg: obj } : { level, obj, msg });
    };
  return {
    calls,
    logger: {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
    },
  };
}
