import { isStoreError, StoreError } from '@mqtt-adapt/router';
import Database from 'better-sqlite3';
import { migrate } from '../migrations/index.js';
import type { ResolvedSqliteStoreOptions } from '../options.js';

export interface OpenedDatabase {
  readonly db: Database.Database;
  /** `user_version` found before migrating (0 for a new file). */
  readonly foundVersion: number;
}

/**
 * Opens the file, sets the pragmas and migrates. Every failure is one `StoreError`:
 * `STORE_SCHEMA_TOO_NEW`, or `STORE_UNAVAILABLE` naming the path and the cause (missing or
 * unwritable directory, a file that is not a database, a lock held too long).
 */
export function openDatabase(options: ResolvedSqliteStoreOptions): OpenedDatabase {
  let db: Database.Database | undefined;
  try {
    db = new Database(options.path, { timeout: options.busyTimeoutMs });
    // WAL: readers never block the writer, and a commit appends to one file.
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL is required`);
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    const foundVersion = migrate(db, options.path);
    return { db, foundVersion };
  } catch (error) {
    try {
      db?.close();
    } catch (closeError) {
      options.logger.warn(
        { err: closeError, path: options.path },
        'closing sqlite database after failed open',
      );
    }
    if (isStoreError(error)) throw error;
    throw new StoreError(
      'STORE_UNAVAILABLE',
      `cannot open sqlite database ${options.path}: ${describe(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** One line: the driver's message, its SQLite code when there is one. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message.charAt(0).toLowerCase() + error.message.slice(1);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}
