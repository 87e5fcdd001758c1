import { StoreError } from '@mqtt-adapt/router';
import type Database from 'better-sqlite3';
import { initialSchema } from './001-initial.js';
import { authRecords } from './002-auth-records.js';
import { sessionExpiry } from './003-session-expiry.js';
import { inlineBodies } from './004-inline-bodies.js';
import type { Migration } from './migration.js';

/**
 * Every migration, in order. Append only: a released migration is never edited; a change is
 * a new file `NNN-what.ts` with the next version.
 */
export const migrations: readonly Migration[] = [initialSchema, authRecords, sessionExpiry, inlineBodies];

/** The schema version this store writes and reads. */
export const SCHEMA_VERSION: number = migrations[migrations.length - 1]!.version;

/** `PRAGMA application_id` of our databases ("MQAD"), so a foreign SQLite file is refused. */
export const APPLICATION_ID = 0x4d514144;

/**
 * Brings the database to `SCHEMA_VERSION` in one `BEGIN IMMEDIATE` transaction (so two
 * processes opening the same new file do not both migrate) and returns the version it found.
 * Throws `STORE_SCHEMA_TOO_NEW` for a database from a newer store.
 */
export function migrate(db: Database.Database, path: string): number {
  const run = db.transaction((): number => {
    const found = db.pragma('user_version', { simple: true }) as number;
    if (found > SCHEMA_VERSION) {
      throw new StoreError(
        'STORE_SCHEMA_TOO_NEW',
        `database schema version ${found} is newer than this store supports (${SCHEMA_VERSION}); upgrade @mqtt-adapt/store-sqlite`,
      );
    }
    const applicationId = db.pragma('application_id', { simple: true }) as number;
    if (applicationId !== 0 && applicationId !== APPLICATION_ID) {
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `cannot open ${path}: it is a sqlite database of another application (application_id ${applicationId})`,
      );
    }
    for (const migration of migrations) {
      if (migration.version <= found) continue;
      db.exec(migration.sql);
      // PRAGMA takes no bound parameters; both values are our own integers.
      db.pragma(`user_version = ${migration.version}`);
    }
    if (applicationId === 0) db.pragma(`application_id = ${APPLICATION_ID}`);
    return found;
  });
  return run.immediate();
}
