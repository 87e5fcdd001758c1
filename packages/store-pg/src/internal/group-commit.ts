import type { Logger } from '@mqtt-adapt/router';
import { isStoreError, StoreError } from '@mqtt-adapt/router';
import type { PoolClient } from 'pg';
import { Batch } from './batch.js';
import { isConnectionError, sleep } from './connection.js';
import type { Database } from './database.js';
import type { Fence } from './fence.js';
import { InlineBodies } from './inline-bodies.js';
import type { MessageKey } from './plan.js';
import { planBatch, type Statement } from './plan.js';
import type { Sql } from './sql.js';

/** Starts the transaction and names its id, in one round trip, for the in-doubt check. */
const beginAndXid = 'BEGIN; SELECT txid_current()::text AS xid';
/** How long an in-doubt COMMIT is polled while its transaction is still `in progress`. */
const inDoubtPolls = 40;
const inDoubtPollMs = 50;

const resolved: Promise<void> = Promise.resolve();

/** Turns a batch that saved deliveries waits, after its own, before its commit may start. */
export const HELD_TURNS = 2;
/** At most this long a batch waits for acknowledgements with no commit to wait behind. */
export const MAX_HOLD_MS = 5;
/** Weight of the latest batch in the running averages below. */
const EWMA = 0.2;

/**
 * Group commit: writes append to the current `Batch`; at the end of the event-loop turn (or
 * after `flushIntervalMs`) the batch is taken and committed in one transaction, then its
 * waiters are settled together. One commit is in flight at a time; the batch collected
 * meanwhile starts as soon as it ends.
 *
 * The acknowledgements read while a batch waits (a subscriber's PUBACKs) cancel deliveries
 * before they are sent to the server (see `Batch`): the commit in flight is the window. With
 * `flushIntervalMs` 0, a batch that saved deliveries and found no commit in flight to wait
 * behind (none running, or the one before sent nothing because everything in it cancelled out)
 * waits `HELD_TURNS` turns after its own instead; and while acknowledgements have been
 * cancelling most deliveries (an online subscriber keeping up), as long as a commit takes (at
 * most `MAX_HOLD_MS` from its first write), the window it would have had behind one. Otherwise
 * (an offline subscriber: nothing to cancel) it does not wait longer.
 */
export class GroupCommit {
  /** Bodies held inline by stored deliveries (see `InlineBodies`). */
  readonly inline = new InlineBodies();
  private batch = new Batch();
  private inFlight: Batch | undefined = undefined;
  private inFlightDone: Promise<void> | undefined = undefined;
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined = undefined;
  /** Ends the hold of a batch waiting for acknowledgements (see `startWhenRipe`). */
  private holdTimer: NodeJS.Timeout | undefined = undefined;
  /** Running average of how long a commit that sent statements took, in ms. */
  private commitMs = 0;
  /** Running average of the share of saved deliveries a batch cancelled. */
  private cancelledShare = 0;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    const batch = this.batch;
    if (batch.size === 0 || this.inFlight !== undefined) return; // finish() starts it
    batch.turnsSeen++;
    this.startWhenRipe(batch);
  };

  constructor(
    private readonly db: Database,
    private readonly sql: Sql,
    private readonly keyOf: (messageId: number) => MessageKey,
    private readonly flushIntervalMs: number,
    private readonly logger: Logger,
    /** Cluster mode: session writes checked against `session_owners`; undefined otherwise. */
    private readonly fence: Fence | undefined = undefined,
  ) {}

  /** The batch writes go to; schedules its commit. */
  current(): Batch {
    if (this.batch.size === 0) this.batch.firstWriteAt = performance.now();
    if (this.inFlight === undefined) this.schedule();
    return this.batch;
  }

  /**
   * Resolves once every write made so far is committed: the current batch's promise, or the
   * in-flight one's when nothing new was written. A batch collected while an earlier one was
   * in flight also rejects if that earlier one fails (its waiters may have written into it).
   */
  flush(): Promise<void> {
    if (this.batch.size > 0) return this.batch.wait();
    if (this.inFlight !== undefined) return this.inFlight.wait();
    return resolved;
  }

  /** `flush()`, starting the commit now instead of at the end of the window (for close). */
  flushNow(): Promise<void> {
    const done = this.flush();
    if (this.inFlight === undefined && this.batch.size > 0) {
      this.cancelTimer();
      this.start();
    }
    return done;
  }

  /** True while writes wait in a batch or a commit is in flight. */
  /** Whether a write for `clientId` is waiting or committing now (or was just refused by the fence). */
  hasWritesFor(clientId: string): boolean {
    const inFlight = this.inFlight;
    if (this.batch.clients.has(clientId)) return true;
    if (inFlight === undefined) return false;
    return (
      inFlight.clients.has(clientId) ||
      inFlight.fenced?.some((fenced) => fenced.clientId === clientId) === true
    );
  }

  get pending(): boolean {
    return this.batch.size > 0 || this.inFlight !== undefined;
  }

  /** Waits until nothing is in flight (used after `flushNow` failed, before ending the pool). */
  async idle(): Promise<void> {
    while (this.inFlightDone !== undefined) await this.inFlightDone;
  }

  /** Drops the pending batch uncommitted (a simulated crash); its waiters get `error`. */
  discard(error: StoreError): number {
    this.cancelTimer();
    const dropped = this.batch;
    this.batch = new Batch();
    dropped.settle(error);
    return dropped.size;
  }

  private cancelTimer(): void {
    if (this.holdTimer !== undefined) {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
    }
    if (this.timer === undefined) return;
    if (this.flushIntervalMs === 0) clearImmediate(this.timer as NodeJS.Immediate);
    else clearTimeout(this.timer as NodeJS.Timeout);
    this.timer = undefined;
  }

  private start(): void {
    const batch = this.batch;
    if (batch.size === 0) return;
    this.batch = new Batch();
    this.inFlight = batch;
    this.inFlightDone = this.commit(batch).then(
      () => this.finish(batch, undefined),
      (error: unknown) => this.finish(batch, error),
    );
  }

  /** Settles `batch` after its commit (`failure` undefined) or its failure. */
  private finish(batch: Batch, failure: unknown): void {
    this.inFlight = undefined;
    this.inFlightDone = undefined;
    // Before any waiter: a session fenced off is closed before an ack that needed its writes.
    if (batch.fenced !== undefined) this.fence?.report(batch);
    if (failure === undefined) this.inline.commit();
    else this.inline.failed();
    if (failure !== undefined) {
      // Waiters of the next batch may have written into this one before calling flush().
      // Only a batch that failed itself passes this on: one that committed holds their writes.
      if (this.batch.hasWaiters) this.batch.inheritedError ??= failure;
      if (!batch.settle(failure)) {
        this.logger.error(
          { err: failure, writes: batch.size },
          'postgres batch failed with nobody waiting on it',
        );
      }
    } else {
      batch.settle(batch.inheritedError === undefined ? undefined : this.inherited(batch));
    }
    if (batch.deliverySaves > 0) {
      const share = batch.cancelled / batch.deliverySaves;
      this.cancelledShare += EWMA * (share - this.cancelledShare);
    }
    const next = this.batch;
    if (next.size === 0) return;
    // It collected while that commit ran: that was its window, unless nothing was sent.
    if (!batch.sentNothing) next.waitedForCommit = true;
    this.cancelTimer();
    this.startWhenRipe(next);
  }

  /**
   * Starts `batch` (nothing in flight) once it may: at once with a window of `flushIntervalMs`,
   * without deliveries, or after a commit it waited behind; else after `HELD_TURNS` turns (the
   * timer counts them) and, while holding pays, `holdMs()` from its first write.
   */
  private startWhenRipe(batch: Batch): void {
    if (this.flushIntervalMs > 0 || batch.deliverySaves === 0 || batch.waitedForCommit) {
      this.start();
      return;
    }
    if (batch.turnsSeen <= HELD_TURNS) {
      this.schedule();
      return;
    }
    const left = batch.firstWriteAt + this.holdMs() - performance.now();
    if (left <= 0) this.start();
    else this.holdTimer ??= setTimeout(this.onHoldEnd, left);
  }

  private readonly onHoldEnd = (): void => {
    this.holdTimer = undefined;
    if (this.inFlight === undefined && this.batch.size > 0) this.start();
  };

  /** How long a batch without a commit to wait behind holds: worth it only if most cancel. */
  private holdMs(): number {
    return this.cancelledShare >= 0.5 ? Math.min(this.commitMs, MAX_HOLD_MS) : 0;
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer =
      this.flushIntervalMs === 0
        ? setImmediate(this.onTimer)
        : setTimeout(this.onTimer, this.flushIntervalMs);
  }

  private inherited(batch: Batch): StoreError {
    return new StoreError(
      'STORE_WRITE_FAILED',
      `batch of ${batch.size} writes committed, but the batch before it failed and may hold earlier writes`,
      { cause: batch.inheritedError },
    );
  }

  /** Commits `batch` in one transaction; rejects with `STORE_WRITE_FAILED` when it could not. */
  private async commit(batch: Batch): Promise<void> {
    if (this.fence !== undefined && batch.clients.size > 0) return this.commitFenced(batch, this.fence);
    const statements = planBatch(batch, this.sql, this.keyOf, this.inline);
    // Everything cancelled out (deliveries acknowledged before the commit): nothing to send.
    if (statements.length === 0) {
      batch.sentNothing = true;
      return;
    }
    const startedAt = performance.now();
    const { client, xid } = await this.begin(batch);
    try {
      for (const statement of statements) await client.query(statement);
    } catch (error) {
      await this.rollback(client, error);
      throw this.writeFailed(batch, error, 'nothing of it was committed');
    }
    await this.commitBegun(batch, client, xid);
    this.commitMs += EWMA * (performance.now() - startedAt - this.commitMs);
  }

  /**
   * `commit` in cluster mode for a batch with session writes: the transaction begins first, the
   * fence drops the writes of client ids this store no longer owns (share-locking the owner
   * rows until COMMIT), then the rest is planned and sent as usual.
   */
  private async commitFenced(batch: Batch, fence: Fence): Promise<void> {
    const startedAt = performance.now();
    const { client, xid } = await this.begin(batch);
    let statements: Statement[];
    try {
      await fence.check(client, this.sql, batch);
      statements = planBatch(batch, this.sql, this.keyOf, this.inline);
      for (const statement of statements) await client.query(statement);
    } catch (error) {
      await this.rollback(client, error);
      throw this.writeFailed(batch, error, 'nothing of it was committed');
    }
    await this.commitBegun(batch, client, xid);
    if (statements.length > 0) this.commitMs += EWMA * (performance.now() - startedAt - this.commitMs);
  }

  /** COMMIT of a transaction whose statements were sent; asks `txid_status` if the link dropped. */
  private async commitBegun(batch: Batch, client: PoolClient, xid: string): Promise<void> {
    try {
      await client.query('COMMIT');
    } catch (error) {
      this.db.release(client, error);
      if (!isConnectionError(error)) throw this.writeFailed(batch, error, 'nothing of it was committed');
      const status = await this.outcome(xid);
      if (status === 'committed') {
        this.logger.warn({ xid, writes: batch.size }, 'postgres connection lost during COMMIT; it committed');
        return;
      }
      throw this.writeFailed(
        batch,
        error,
        status === 'aborted' ? 'nothing of it was committed' : 'the outcome of its COMMIT is unknown',
      );
    }
    this.db.release(client);
  }

  /**
   * A connection with a transaction begun on it. A connection found dead at BEGIN is replaced
   * (nothing of the batch was sent, so this is safe); other failures fail the batch.
   */
  private async begin(batch: Batch): Promise<{ client: PoolClient; xid: string }> {
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient;
      try {
        client = await this.db.acquire();
      } catch (error) {
        throw this.writeFailed(batch, error, 'nothing of it was committed');
      }
      try {
        const results = (await client.query(beginAndXid)) as unknown as Array<{
          rows: Array<{ xid: string }>;
        }>;
        const xid = results[1]?.rows[0]?.xid ?? '';
        return { client, xid };
      } catch (error) {
        this.db.release(client, error);
        if (attempt >= 3 || !isConnectionError(error)) {
          throw this.writeFailed(batch, error, 'nothing of it was committed');
        }
      }
    }
  }

  private async rollback(client: PoolClient, cause: unknown): Promise<void> {
    if (isConnectionError(cause)) {
      this.db.release(client, cause);
      return;
    }
    try {
      await client.query('ROLLBACK');
      this.db.release(client);
    } catch (error) {
      this.db.release(client, error);
      this.logger.debug({ err: this.db.describe(error) }, 'rollback after failed batch failed');
    }
  }

  /** Whether transaction `xid` committed, asked on a fresh connection (`txid_status`). */
  private async outcome(xid: string): Promise<'committed' | 'aborted' | 'unknown'> {
    if (xid === '') return 'unknown';
    for (let poll = 0; poll < inDoubtPolls; poll++) {
      try {
        const result = await this.db.query({
          text: 'SELECT txid_status($1::bigint) AS status',
          values: [xid],
        });
        const status = result.rows[0]?.status as string | null | undefined;
        if (status === 'committed' || status === 'aborted') return status;
        if (status !== 'in progress') return 'unknown';
      } catch (error) {
        this.logger.warn({ xid, err: this.db.describe(error) }, 'cannot check the outcome of a COMMIT');
        return 'unknown';
      }
      await sleep(inDoubtPollMs);
    }
    return 'unknown';
  }

  private writeFailed(batch: Batch, error: unknown, outcome: string): StoreError {
    if (isStoreError(error) && error.code === 'STORE_CLOSED') return error;
    return new StoreError(
      'STORE_WRITE_FAILED',
      `cannot commit batch of ${batch.size} writes to postgres (${outcome}): ${this.db.describe(error)}`,
      { cause: error },
    );
  }
}
