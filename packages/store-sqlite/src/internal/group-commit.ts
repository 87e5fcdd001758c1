import type { DeliveryRecord, Logger, StoredMessage } from '@mqtt-adapt/router';
import { StoreError } from '@mqtt-adapt/router';
import type Database from 'better-sqlite3';
import { DeliverySegment } from './delivery-segment.js';
import { InlineBodies } from './inline-bodies.js';
import { SegmentWriter } from './segment-writer.js';
import { STRIDE, WriteBatch, type WriteOp } from './write-batch.js';

export { STRIDE, type WriteOp } from './write-batch.js';

export interface GroupCommitStats {
  /** Transactions committed. */
  commits: number;
  /** Writes in those transactions. */
  writes: number;
  /** Transactions that failed and were rolled back. */
  failedCommits: number;
  /** Deliveries deleted before their save was committed: neither reached the database. */
  cancelled: number;
}

/** Turns a batch that saved deliveries waits, after its own, before it is committed. */
export const HELD_TURNS = 2;

/**
 * Group commit. Writes append to the current `WriteBatch`; each batch is committed in one
 * `BEGIN IMMEDIATE` transaction, in order, and its `flush()` promise settled.
 *
 * When: with `flushIntervalMs` > 0, that long after the batch's first write. With 0 (the
 * default), at the end of the event-loop turn (`setImmediate`); but a batch that saved
 * deliveries is held `HELD_TURNS` turns more while later turns' writes collect in new batches.
 * The acknowledgements read meanwhile (a subscriber's PUBACKs) cancel the deliveries they
 * complete, in whichever batch, before they are written: with an online subscriber most
 * deliveries never reach the database. A batch that saved none (a session, a subscription,
 * deletes) is committed at the end of its turn, with every batch held before it. At most one
 * commit per turn in steady state.
 */
export class GroupCommit {
  readonly stats: GroupCommitStats = { commits: 0, writes: 0, failedCommits: 0, cancelled: 0 };
  /** Bodies held inline by stored deliveries (see `InlineBodies`). */
  readonly inline = new InlineBodies();
  private current = new WriteBatch();
  /** Batches of earlier turns held for acknowledgements, oldest first. */
  private readonly held: WriteBatch[] = [];
  /** A failed commit nobody waited for: the next `flush()` reports it. */
  private unreported: StoreError | undefined = undefined;
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined = undefined;
  private readonly transaction: Database.Transaction<(batch: WriteBatch) => void>;
  private readonly writer: SegmentWriter;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.turnEnded();
  };

  constructor(
    db: Database.Database,
    private readonly flushIntervalMs: number,
    private readonly logger: Logger,
    private readonly path: string,
  ) {
    this.transaction = db.transaction((batch: WriteBatch) => this.runAll(batch));
    this.writer = new SegmentWriter(db);
  }

  /** Write calls not committed yet. */
  get pending(): number {
    let writes = this.current.writes;
    for (const batch of this.held) writes += batch.writes;
    return writes;
  }

  /** Queues one plain write; unused parameters are `undefined` and are not bound. */
  add(
    op: WriteOp,
    a: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
    e?: unknown,
    f?: unknown,
    g?: unknown,
  ): void {
    this.current.add(op, a, b, c, d, e, f, g);
    this.schedule();
  }

  saveMessage(message: StoredMessage): void {
    this.segment().saveMessage(message);
  }

  deleteMessage(id: number): void {
    const segment = this.segment();
    if (this.current.cancelMessage(id)) return;
    for (let i = this.held.length - 1; i >= 0; i--) if (this.held[i]!.cancelMessage(id)) return;
    segment.deleteMessage(id);
  }

  saveDelivery(clientId: string, delivery: DeliveryRecord): void {
    this.segment().saveDelivery(clientId, delivery);
  }

  updateDelivery(clientId: string, seq: number, packetId: number, released: boolean): void {
    const segment = this.segment();
    if (this.current.foldUpdate(clientId, seq, packetId, released)) return;
    for (let i = this.held.length - 1; i >= 0; i--) {
      if (this.held[i]!.foldUpdate(clientId, seq, packetId, released)) return;
    }
    segment.updateDelivery(clientId, seq, packetId, released);
  }

  deleteDelivery(clientId: string, seq: number): void {
    const segment = this.segment();
    if (this.cancelDelivery(clientId, seq)) {
      this.stats.cancelled++;
      return;
    }
    segment.deleteDelivery(clientId, seq);
  }

  /** The promise of the commit covering every write so far; `undefined` when nothing is pending. */
  flush(): Promise<void> | undefined {
    const failed = this.unreported;
    if (failed !== undefined) {
      this.unreported = undefined;
      return Promise.reject(failed);
    }
    if (this.current.writes > 0) return this.current.promise();
    // The newest held batch commits after every older one.
    return this.held[this.held.length - 1]?.promise();
  }

  /** The promise of the commit covering every write so far (there must be a pending write). */
  pendingCommit(): Promise<void> {
    return this.current.promise();
  }

  /** Commits everything pending now (reads, `close()`); returns the error if a commit failed. */
  commitPending(): StoreError | undefined {
    this.cancelTimer();
    let failed = this.commitHeld(0);
    const batch = this.current;
    if (batch.writes > 0) {
      this.current = new WriteBatch();
      failed ??= this.commit(batch);
    }
    return failed;
  }

  /** A failed commit nobody waited for, once. */
  takeUnreported(): StoreError | undefined {
    const failed = this.unreported;
    this.unreported = undefined;
    return failed;
  }

  /** Drops every pending write without committing (a simulated crash); waiters never settle. */
  discard(): void {
    this.cancelTimer();
    this.current = new WriteBatch();
    this.held.length = 0;
  }

  private inheritedFailure(batch: WriteBatch): StoreError {
    return new StoreError(
      'STORE_WRITE_FAILED',
      `sqlite commit of ${batch.writes} writes to ${this.path} succeeded, but the batch before it failed and may hold earlier writes`,
      { cause: batch.inherited },
    );
  }

  private cancelDelivery(clientId: string, seq: number): boolean {
    if (this.current.cancelDelivery(clientId, seq)) return true;
    for (let i = this.held.length - 1; i >= 0; i--)
      if (this.held[i]!.cancelDelivery(clientId, seq)) return true;
    return false;
  }

  private segment(): DeliverySegment {
    const segment = this.current.segment();
    this.schedule();
    return segment;
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer =
      this.flushIntervalMs === 0
        ? setImmediate(this.onTimer)
        : setTimeout(this.onTimer, this.flushIntervalMs);
  }

  /** The end of a turn (or of the window): commit what is due, hold batches of deliveries back. */
  private turnEnded(): void {
    for (const batch of this.held) batch.turnsHeld++;
    this.commitHeld(HELD_TURNS);
    const batch = this.current;
    if (batch.writes > 0) {
      if (this.flushIntervalMs === 0 && batch.savesDeliveries()) this.held.push(batch);
      else this.commitHeld(0); // everything before it first (a failure there reaches its waiters)
      this.current = new WriteBatch();
      if (this.held[this.held.length - 1] !== batch) this.commit(batch);
    }
    if (this.held.length > 0) this.schedule();
  }

  /** Commits, oldest first, the held batches held at least `turns` turns; the first error. */
  private commitHeld(turns: number): StoreError | undefined {
    let failed: StoreError | undefined;
    while (this.held.length > 0 && this.held[0]!.turnsHeld >= turns) {
      const error = this.commit(this.held.shift()!);
      failed ??= error;
    }
    return failed;
  }

  private commit(batch: WriteBatch): StoreError | undefined {
    const writes = batch.writes;
    try {
      // Everything cancelled out (deliveries acknowledged before the commit): nothing to write.
      if (!batch.isEmpty()) this.transaction.immediate(batch);
      this.inline.commit();
      this.stats.commits++;
      this.stats.writes += writes;
      batch.settle(batch.inherited === undefined ? undefined : this.inheritedFailure(batch));
      return undefined;
    } catch (cause) {
      this.inline.rollback();
      this.stats.failedCommits++;
      const detail = cause instanceof Error ? cause.message : String(cause);
      const error = new StoreError(
        'STORE_WRITE_FAILED',
        `sqlite commit of ${writes} writes to ${this.path} failed: ${detail}`,
        { cause },
      );
      this.logger.error({ err: error, path: this.path, writes }, 'sqlite group commit failed');
      if (!batch.settle(error)) this.unreported = error;
      // Waiters of later batches may have written into this one before calling flush() (their
      // flush() then returned the later batch's promise): they learn of the failure too.
      for (const later of this.held) if (later.hasWaiter) later.inherited ??= error;
      if (this.current.hasWaiter) this.current.inherited ??= error;
      return error;
    }
  }

  /** Runs inside the transaction; a throw rolls the whole batch back. */
  private runAll(batch: WriteBatch): void {
    const { ops, params } = batch;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op instanceof DeliverySegment) {
        // Its statements name the write they stand for when they fail.
        this.writer.write(op, this.inline);
        continue;
      }
      try {
        run(op, params, i * STRIDE);
      } catch (error) {
        throw new Error(`${op.name} failed: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
      }
    }
  }

  private cancelTimer(): void {
    const timer = this.timer;
    if (timer === undefined) return;
    this.timer = undefined;
    if (this.flushIntervalMs === 0) clearImmediate(timer as NodeJS.Immediate);
    else clearTimeout(timer as NodeJS.Timeout);
  }
}

// One call per arity instead of `stmt.run(...params.slice())`: no array per write.
function run(op: WriteOp, p: unknown[], i: number): void {
  const s = op.stmt;
  switch (op.arity) {
    case 1:
      s.run(p[i]);
      return;
    case 2:
      s.run(p[i], p[i + 1]);
      return;
    case 3:
      s.run(p[i], p[i + 1], p[i + 2]);
      return;
    case 4:
      s.run(p[i], p[i + 1], p[i + 2], p[i + 3]);
      return;
    case 5:
      s.run(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4]);
      return;
    case 6:
      s.run(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5]);
      return;
    case 7:
      s.run(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6]);
      return;
    default:
      throw new RangeError(`${op.name}: arity ${op.arity} is not between 1 and ${STRIDE}`);
  }
}
