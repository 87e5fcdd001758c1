import type { StoreError } from '@mqtt-adapt/router';
import type Database from 'better-sqlite3';
import { DeliverySegment } from './delivery-segment.js';

/** A prepared write and how many parameters it binds (at most `STRIDE`). */
export interface WriteOp {
  readonly stmt: Database.Statement;
  readonly arity: number;
  /** For error messages: `saveSession`. */
  readonly name: string;
  /** Session writes: the delivery writes after it go to a new segment (see `DeliverySegment`). */
  readonly closesSegment: boolean;
}

/** Parameter slots per queued write: the widest statement binds 7. */
export const STRIDE = 7;

interface Waiter {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: StoreError): void;
}

/**
 * The writes of one transaction, in call order: plain writes (a statement and its parameters,
 * in two flat arrays: no object, closure or promise per write) and delivery segments (message
 * and delivery writes, kept as their net effect). Waiters share one promise, created on the
 * first `flush()` that needs it.
 */
export class WriteBatch {
  readonly ops: Array<WriteOp | DeliverySegment> = [];
  readonly params: unknown[] = [];
  /** Write calls in the batch (a segment holds many). */
  writes = 0;
  /** Turns ended since this batch was taken off the current one (see `GroupCommit`). */
  turnsHeld = 0;
  /**
   * Set when an earlier batch failed while this one had waiters: they may have written into
   * that one too, so they are told even though this one commits.
   */
  inherited: StoreError | undefined = undefined;
  private segmentOpen: DeliverySegment | undefined = undefined;
  private waiter: Waiter | undefined = undefined;

  get hasWaiter(): boolean {
    return this.waiter !== undefined;
  }

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
    if (op.closesSegment) this.segmentOpen = undefined;
    this.writes++;
  }

  /** The segment for one message or delivery write. */
  segment(): DeliverySegment {
    this.writes++;
    let segment = this.segmentOpen;
    if (segment === undefined) {
      segment = new DeliverySegment();
      this.segmentOpen = segment;
      this.ops.push(segment);
      for (let i = 0; i < STRIDE; i++) this.params.push(undefined);
    }
    return segment;
  }

  /** Cancels a delivery saved in this batch, latest segment first; false if none. */
  cancelDelivery(clientId: string, seq: number): boolean {
    for (let i = this.ops.length - 1; i >= 0; i--) {
      const op = this.ops[i];
      if (op instanceof DeliverySegment && op.cancelDelivery(clientId, seq)) return true;
    }
    return false;
  }

  foldUpdate(clientId: string, seq: number, packetId: number, released: boolean): boolean {
    for (let i = this.ops.length - 1; i >= 0; i--) {
      const op = this.ops[i];
      if (op instanceof DeliverySegment && op.foldUpdate(clientId, seq, packetId, released)) return true;
    }
    return false;
  }

  cancelMessage(id: number): boolean {
    for (let i = this.ops.length - 1; i >= 0; i--) {
      const op = this.ops[i];
      if (op instanceof DeliverySegment && op.cancelMessage(id)) return true;
    }
    return false;
  }

  /** True once a delivery was saved: waiting then lets acknowledgements cancel it. */
  savesDeliveries(): boolean {
    for (const op of this.ops) if (op instanceof DeliverySegment && op.hasInserts) return true;
    return false;
  }

  /** Nothing left to write (no write, or every one cancelled out). */
  isEmpty(): boolean {
    for (const op of this.ops) if (!(op instanceof DeliverySegment) || !op.isEmpty()) return false;
    return true;
  }

  promise(): Promise<void> {
    if (this.waiter === undefined) {
      let resolve!: () => void;
      let reject!: (error: StoreError) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.waiter = { promise, resolve, reject };
    }
    return this.waiter.promise;
  }

  /** Settles the waiters, if any; false when an error had nobody to receive it. */
  settle(error: StoreError | undefined): boolean {
    const waiter = this.waiter;
    if (waiter === undefined) return error === undefined;
    if (error === undefined) waiter.resolve();
    else waiter.reject(error);
    return true;
  }
}
