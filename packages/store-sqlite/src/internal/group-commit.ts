import type { Logger } from '@mqtt-adapt/router';
import { StoreError } from '@mqtt-adapt/router';
import type Database from 'better-sqlite3';

/** A prepared write and how many parameters it binds (at most `STRIDE`). */
export interface WriteOp {
  readonly stmt: Database.Statement;
  readonly arity: number;
  /** For error messages: `saveDelivery`. */
  readonly name: string;
}

/** Parameter slots per queued write: the widest statement binds 7. */
const STRIDE = 7;

export interface GroupCommitStats {
  /** Transactions committed. */
  commits: number;
  /** Writes in those transactions. */
  writes: number;
  /** Transactions that failed and were rolled back. */
  failedCommits: number;
}

interface Waiter {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: StoreError): void;
}

/**
 * Group commit. A write appends its statement and parameters to the current batch (two flat
 * arrays: no object, closure or promise per write); the first write of a batch schedules one
 * commit (`setImmediate`, or `flushIntervalMs` later) that runs the whole batch in one
 * `BEGIN IMMEDIATE` transaction. `flush()` shares one promise per batch, created only when
 * someone waits.
 */
export class GroupCommit {
  readonly stats: GroupCommitStats = { commits: 0, writes: 0, failedCommits: 0 };
  private readonly ops: WriteOp[] = [];
  private readonly params: unknown[] = [];
  private waiter: Waiter | undefined = undefined;
  /** A failed commit nobody waited for: the next `flush()` reports it. */
  private unreported: StoreError | undefined = undefined;
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined = undefined;
  private readonly transaction: Database.Transaction<() => void>;
  private readonly commitCallback = (): void => {
    this.timer = undefined;
    this.commit();
  };

  constructor(
    db: Database.Database,
    private readonly flushIntervalMs: number,
    private readonly logger: Logger,
    private readonly path: string,
  ) {
    this.transaction = db.transaction(() => this.runAll());
  }

  get pending(): number {
    return this.ops.length;
  }

  /** Queues one write; unused parameters are `undefined` and are not bound. */
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
    this.ops.push(op);
    this.params.push(a, b, c, d, e, f, g);
    if (this.timer === undefined) {
      this.timer =
        this.flushIntervalMs === 0
          ? setImmediate(this.commitCallback)
          : setTimeout(this.commitCallback, this.flushIntervalMs);
    }
  }

  /** The promise of the commit covering every write so far; `undefined` when nothing is pending. */
  flush(): Promise<void> | undefined {
    const failed = this.unreported;
    if (failed !== undefined) {
      this.unreported = undefined;
      return Promise.reject(failed);
    }
    if (this.ops.length === 0) return undefined;
    return this.wait().promise;
  }

  /** The promise of the commit covering every write so far (there must be a pending write). */
  pendingCommit(): Promise<void> {
    return this.wait().promise;
  }

  /** Commits the pending batch now (reads, `close()`); returns the error if it failed. */
  commitPending(): StoreError | undefined {
    if (this.ops.length === 0) return undefined;
    this.cancelTimer();
    return this.commit();
  }

  /** A failed commit nobody waited for, once. */
  takeUnreported(): StoreError | undefined {
    const failed = this.unreported;
    this.unreported = undefined;
    return failed;
  }

  /** Drops the pending batch without committing (a simulated crash); its waiters never settle. */
  discard(): void {
    this.cancelTimer();
    this.ops.length = 0;
    this.params.length = 0;
    this.waiter = undefined;
  }

  private commit(): StoreError | undefined {
    const waiter = this.waiter;
    const writes = this.ops.length;
    this.waiter = undefined;
    try {
      this.transaction.immediate();
      this.stats.commits++;
      this.stats.writes += writes;
      waiter?.resolve();
      return undefined;
    } catch (cause) {
      this.stats.failedCommits++;
      const detail = cause instanceof Error ? cause.message : String(cause);
      const error = new StoreError(
        'STORE_WRITE_FAILED',
        `sqlite commit of ${writes} writes to ${this.path} failed: ${detail}`,
        { cause },
      );
      this.logger.error({ err: error, path: this.path, writes }, 'sqlite group commit failed');
      if (waiter === undefined) this.unreported = error;
      else waiter.reject(error);
      return error;
    } finally {
      this.ops.length = 0;
      this.params.length = 0;
    }
  }

  /** Runs inside the transaction; a throw rolls the whole batch back. */
  private runAll(): void {
    const { ops, params } = this;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      try {
        run(op, params, i * STRIDE);
      } catch (error) {
        throw new Error(`${op.name} failed: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
      }
    }
  }

  private wait(): Waiter {
    if (this.waiter !== undefined) return this.waiter;
    let resolve!: () => void;
    let reject!: (error: StoreError) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.waiter = { promise, resolve, reject };
    return this.waiter;
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
