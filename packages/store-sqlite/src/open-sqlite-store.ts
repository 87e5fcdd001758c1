import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from '@mqtt-adapt/router';
import type { SqliteStoreOptions } from './options.js';
import { SqliteStore } from './sqlite-store.js';

/** File name of the database inside a data directory. */
export const SQLITE_DATABASE_FILE = 'mqtt-adapt.db';

/**
 * A `SqliteStore` on `<dataDir>/mqtt-adapt.db`, creating `dataDir` if it is missing. The
 * store is not opened yet: `await store.open()` creates or migrates the database and returns
 * the snapshot to resume from. Throws `STORE_UNAVAILABLE` if the directory cannot be created.
 */
export function openSqliteStore(
  dataDir: string,
  options: Omit<SqliteStoreOptions, 'path'> = {},
): SqliteStore {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new StoreError('STORE_UNAVAILABLE', `cannot create data directory ${dataDir}: ${reason}`, {
      cause,
    });
  }
  return new SqliteStore({ ...options, path: join(dataDir, SQLITE_DATABASE_FILE) });
}
