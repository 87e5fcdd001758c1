import type { Logger } from '@mqtt-adapt/router';
import { StoreError } from '@mqtt-adapt/router';
import type { PoolClient, QueryConfig, QueryResult } from 'pg';
import pg from 'pg';
import { errorMessage, isConnectionError, redactSecrets, sleep } from './connection.js';

export interface DatabaseOptions {
  readonly connectionString: string;
  /** `host:port` for messages. */
  readonly target: string;
  readonly applicationName: string;
  readonly maxConnections: number;
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
}

/** Connection attempts per acquisition before giving up, and the backoff between them. */
const connectAttempts = 6;
const backoffBaseMs = 50;
const backoffMaxMs = 2000;

/** OID of int8: parsed as a number (ids, seqs and expiries stay below 2^53). */
const int8Oid = 20;

/**
 * The pool with what the store needs around it: int8 as numbers, `application_name` set,
 * acquisition with exponential backoff while the server is unreachable (logged), and errors
 * of idle connections logged instead of crashing the process.
 */
export class Database {
  private readonly pool: pg.Pool;
  /** Set after a lost connection or failed connect; cleared (and logged) once one succeeds. */
  private reconnecting = false;
  private ended = false;
  /** Clients given an error listener: a checked-out client has none from the pool. */
  private readonly guarded = new WeakSet<PoolClient>();
  private readonly onClientError = (error: Error): void => {
    this.connectionLost(error);
  };

  constructor(private readonly options: DatabaseOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      application_name: options.applicationName,
      max: options.maxConnections,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === int8Oid ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // An idle connection that dies (server restart, pg_terminate_backend) emits here; the pool
    // drops it and the next acquisition opens a new one.
    this.pool.on('error', (error) => {
      this.connectionLost(error);
    });
  }

  /** The message of `error` with the connection string's password removed. */
  describe(error: unknown): string {
    return redactSecrets(errorMessage(error), this.options.connectionString);
  }

  /** `STORE_UNAVAILABLE` for a failed connect. */
  unavailable(error: unknown): StoreError {
    return new StoreError(
      'STORE_UNAVAILABLE',
      `cannot connect to postgres at ${this.options.target}: ${this.describe(error)}`,
      { cause: error },
    );
  }

  /** One connection, no retries: `open()` reports an unreachable server at once. */
  async connectOnce(): Promise<PoolClient> {
    try {
      return this.guard(await this.pool.connect());
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  /** A connection, retrying with exponential backoff while the server is unreachable. */
  async acquire(): Promise<PoolClient> {
    for (let attempt = 1; ; attempt++) {
      if (this.ended) throw new StoreError('STORE_CLOSED', 'postgres store is closed');
      try {
        const client = this.guard(await this.pool.connect());
        if (this.reconnecting) {
          this.reconnecting = false;
          this.options.logger.info({ target: this.options.target, attempt }, 'postgres connection restored');
        }
        return client;
      } catch (error) {
        this.reconnecting = true;
        if (attempt >= connectAttempts) throw this.unavailable(error);
        const delayMs = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (attempt - 1));
        this.options.logger.warn(
          { target: this.options.target, attempt, delayMs, err: this.describe(error) },
          'cannot connect to postgres; retrying',
        );
        await sleep(delayMs);
      }
    }
  }

  /**
   * A connection dying while checked out emits 'error' on its client, which the pool only
   * listens to while the client is idle: without a listener the process would crash.
   */
  private guard(client: PoolClient): PoolClient {
    if (!this.guarded.has(client)) {
      this.guarded.add(client);
      client.on('error', this.onClientError);
    }
    return client;
  }

  /** Returns `client` to the pool, or destroys it when its connection is unusable. */
  release(client: PoolClient, error?: unknown): void {
    if (error !== undefined && isConnectionError(error)) {
      this.connectionLost(error);
      client.release(true);
    } else {
      client.release();
    }
  }

  /**
   * Runs one statement on a pooled connection. It is retried once on a fresh connection when
   * the first one turns out dead: every caller's statement is idempotent (reads, upserts,
   * deletes by key), so running it twice is harmless.
   */
  async query(config: QueryConfig): Promise<QueryResult> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.acquire();
      try {
        const result = await client.query(config);
        client.release();
        return result;
      } catch (error) {
        this.release(client, error);
        if (attempt >= 2 || !isConnectionError(error)) throw error;
      }
    }
  }

  /** Notes (and logs, once per outage) that a connection was lost. */
  connectionLost(error: unknown): void {
    if (this.reconnecting || this.ended) return;
    this.reconnecting = true;
    this.options.logger.warn(
      { target: this.options.target, err: this.describe(error) },
      'postgres connection lost; reconnecting',
    );
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.pool.end();
  }
}
