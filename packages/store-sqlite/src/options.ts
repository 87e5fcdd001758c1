import type { Logger } from '@mqtt-adapt/router';
import { silentLogger } from '@mqtt-adapt/router';

/**
 * `PRAGMA synchronous` in WAL mode.
 * - `normal` (default): a commit is written to the WAL with `write()`, without `fsync`. It
 *   survives a crash of the process (`kill -9`, an uncaught exception, OOM kill): the data is
 *   in the OS page cache. After a power loss or kernel panic the last commits may be rolled
 *   back; the database stays consistent. This is the broker's durability contract.
 * - `full`: every commit is also `fsync`ed: survives power loss too, at the cost of one
 *   `fsync` per group commit (a few ms on SSDs, much more on network disks).
 */
export type SqliteSynchronous = 'normal' | 'full';

export interface SqliteStoreOptions {
  /** Database file; created with the schema when missing (its directory must exist). */
  readonly path: string;
  /** How long a write waits for another connection's lock before failing. Default 5000. */
  readonly busyTimeoutMs?: number;
  /**
   * Group-commit window: writes are collected for this long after the first write of a batch,
   * then committed in one transaction. Default 0: the end of the current event-loop turn
   * (`setImmediate`).
   */
  readonly flushIntervalMs?: number;
  /** See `SqliteSynchronous`. Default `normal`. */
  readonly synchronous?: SqliteSynchronous;
  /** pino-compatible logger; default: silent. */
  readonly logger?: Logger;
}

export interface ResolvedSqliteStoreOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly flushIntervalMs: number;
  readonly synchronous: SqliteSynchronous;
  readonly logger: Logger;
}

/** Fills in defaults; throws `TypeError`/`RangeError` for values that are a caller's bug. */
export function resolveOptions(options: SqliteStoreOptions): ResolvedSqliteStoreOptions {
  if (typeof options?.path !== 'string' || options.path === '') {
    throw new TypeError('SqliteStore: options.path must be a non-empty string');
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const flushIntervalMs = options.flushIntervalMs ?? 0;
  const synchronous = options.synchronous ?? 'normal';
  checkMs('busyTimeoutMs', busyTimeoutMs);
  checkMs('flushIntervalMs', flushIntervalMs);
  if (synchronous !== 'normal' && synchronous !== 'full') {
    throw new RangeError(`SqliteStore: synchronous must be 'normal' or 'full', got ${String(synchronous)}`);
  }
  return {
    path: options.path,
    busyTimeoutMs,
    flushIntervalMs,
    synchronous,
    logger: options.logger ?? silentLogger,
  };
}

function checkMs(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 2_147_483_647) {
    throw new RangeError(`SqliteStore: ${name} must be an integer from 0 to 2147483647, got ${value}`);
  }
}
