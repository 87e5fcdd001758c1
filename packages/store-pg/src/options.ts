import type { Logger } from '@mqtt-adapt/router';
import { silentLogger } from '@mqtt-adapt/router';

/** Options of `new PgStore(options)`. */
export interface PgStoreOptions {
  /**
   * Where the database is, in node-postgres syntax:
   * `postgres://user:password@host:5432/database?sslmode=require`. Required: this package
   * reads no environment variable (the broker passes what its config resolved).
   */
  connectionString: string;
  /**
   * Schema holding the store's tables, created and migrated by `open()`. Lowercase letters,
   * digits and `_`, at most 63 characters. Default `mqtt_adapt`. Nodes of one cluster share it.
   */
  schema?: string;
  pool?: {
    /** Connections at most: one commits batches, the others serve reads. Default 4. */
    max?: number;
    /** Give up a connection attempt after this long. Default 5000. */
    connectTimeoutMs?: number;
  };
  /**
   * Group-commit window. 0 (default): the writes of one event-loop turn go in one transaction,
   * committed at the end of the turn. More: a batch waits this long after its first write,
   * fewer transactions for more latency per acknowledgement.
   */
  flushIntervalMs?: number;
  /** `application_name` of the connections, as `pg_stat_activity` shows it. Default `mqtt-adapt`. */
  applicationName?: string;
  /** pino-compatible logger (reconnects, migrations, failed batches). Default: silent. */
  logger?: Logger;
  /**
   * Cluster mode: this store serves only the sessions it claimed (`experimental_claimSession`), and every
   * session write of a batch is checked against `session_owners` in the database; writes for a
   * client id another node claimed since (a newer epoch) are refused. Unset (default): no
   * ownership, no check, every session in the schema is restored by `open()`.
   */
  experimental_fencing?: PgStoreFencing;
}

/** `PgStoreOptions.experimental_fencing`: who this node is, and what to do when it was fenced off. */
export interface PgStoreFencing {
  /** This node's id, written as `session_owners.owner_node` by its claims. Non-empty. */
  nodeId: string;
  /**
   * Writes for `clientId` were refused (dropped from their batch, nothing of them committed)
   * because `ownerNode` claimed it since: close that session here without writing more. Called
   * synchronously before the batch's `flush()` settles, so a connection closed here sends no
   * acknowledgement that depended on them. Must not throw.
   */
  onFenced?: (clientId: string, ownerNode: string | undefined) => void;
}

export interface ResolvedPgStoreOptions {
  readonly connectionString: string;
  readonly schema: string;
  readonly maxConnections: number;
  readonly connectTimeoutMs: number;
  readonly flushIntervalMs: number;
  readonly applicationName: string;
  readonly logger: Logger;
  readonly fencing: Readonly<PgStoreFencing> | undefined;
}

const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/;

/** Defaults applied and every value checked; a bad value is the caller's bug and throws. */
export function resolveOptions(options: PgStoreOptions): ResolvedPgStoreOptions {
  if (typeof options?.connectionString !== 'string' || options.connectionString === '') {
    throw new TypeError(
      'PgStore needs options.connectionString, e.g. postgres://user:password@127.0.0.1:5432/mqtt',
    );
  }
  const schema = options.schema ?? 'mqtt_adapt';
  if (!schemaPattern.test(schema)) {
    throw new RangeError(
      `schema ${JSON.stringify(schema)} is not a plain identifier: use lowercase letters, digits and _ (at most 63, not starting with a digit)`,
    );
  }
  const maxConnections = options.pool?.max ?? 4;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new RangeError(`pool.max ${maxConnections} must be an integer of at least 1`);
  }
  const connectTimeoutMs = options.pool?.connectTimeoutMs ?? 5000;
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 0) {
    throw new RangeError(`pool.connectTimeoutMs ${connectTimeoutMs} must be an integer of at least 0`);
  }
  const flushIntervalMs = options.flushIntervalMs ?? 0;
  if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 0 || flushIntervalMs > 60_000) {
    throw new RangeError(`flushIntervalMs ${flushIntervalMs} must be between 0 and 60000`);
  }
  const applicationName = options.applicationName ?? 'mqtt-adapt';
  if (applicationName.length > 63) {
    throw new RangeError(`applicationName of ${applicationName.length} characters exceeds 63`);
  }
  const fencing = options.experimental_fencing;
  if (fencing !== undefined && (typeof fencing.nodeId !== 'string' || fencing.nodeId === '')) {
    throw new TypeError(
      "experimental_fencing.nodeId must be a non-empty string (this node's id in the cluster)",
    );
  }
  return {
    fencing: fencing === undefined ? undefined : { ...fencing },
    connectionString: options.connectionString,
    schema,
    maxConnections,
    connectTimeoutMs,
    flushIntervalMs,
    applicationName,
    logger: options.logger ?? silentLogger,
  };
}
