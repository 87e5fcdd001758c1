import type { Logger } from '@mqtt-adapt/router';
import { isStoreError, StoreError } from '@mqtt-adapt/router';
import type { PoolClient } from 'pg';
import type { Migration } from '../migrations/index.js';
import { errorMessage } from './connection.js';

/** First key of the advisory lock guarding migrations ('mqat'); the second is the schema's hash. */
const migrationLockKey = 0x6d716174;

/**
 * Brings `schema` to the latest version in one transaction. A transaction-level advisory lock
 * per schema makes broker nodes that start together migrate one after the other: the first
 * applies the missing steps, the others find them applied. A schema newer than `migrations`
 * fails with `STORE_SCHEMA_TOO_NEW` and changes nothing. Returns the version now in place.
 */
export async function migrate(
  client: PoolClient,
  schema: string,
  migrations: readonly Migration[],
  logger: Logger,
): Promise<number> {
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [migrationLockKey, schema]);
    // Look before creating: CREATE SCHEMA needs a database privilege a deployment may withhold
    // once a DBA has created the schema for us.
    const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (found.rowCount === 0) await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`SET LOCAL search_path TO "${schema}"`);
    const table = await client.query(
      `SELECT to_regclass('"${schema}".schema_version') IS NOT NULL AS present`,
    );
    if (table.rows[0]?.present !== true) {
      await client.query(`CREATE TABLE schema_version (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`);
    }
    const result = await client.query('SELECT coalesce(max(version), 0)::int AS version FROM schema_version');
    const current = Number(result.rows[0]?.version ?? 0);
    if (current > latest) {
      throw new StoreError(
        'STORE_SCHEMA_TOO_NEW',
        `postgres schema "${schema}" is at version ${current}, newer than version ${latest} this @mqtt-adapt/store-pg knows; upgrade the package on every node`,
      );
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_version (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      logger.info({ schema, version: migration.version, name: migration.name }, 'postgres schema migrated');
    }
    await client.query('COMMIT');
    return Math.max(current, latest);
  } catch (error) {
    await rollback(client, logger);
    if (isStoreError(error)) throw error;
    throw new StoreError(
      'STORE_UNAVAILABLE',
      `cannot migrate postgres schema "${schema}" to version ${latest}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

async function rollback(client: PoolClient, logger: Logger): Promise<void> {
  try {
    await client.query('ROLLBACK');
  } catch (error) {
    // The connection is gone; the server rolls the transaction back itself.
    logger.debug({ err: error }, 'rollback after failed migration failed');
  }
}
