import type {
  DeliveryRecord,
  RetainedRecord,
  SessionRecord,
  StoredMessage,
  SubscriptionOptions,
} from '@mqtt-adapt/router';
import type { Fenced } from './fence.js';

/** A pending `updateDelivery` for a delivery not saved in the same batch. */
export interface DeliveryUpdate {
  readonly kind: 'update';
  readonly packetId: number;
  readonly released: boolean;
}

/** Writes of one client id in a batch, coalesced per key in call order. */
export interface ClientWrites {
  /** `deleteSession` was called: the stored session and everything under it goes first. */
  reset: boolean;
  /** The latest `saveSession` after the last reset. */
  record: SessionRecord | undefined;
  /**
   * Per kind: keys deleted (run before the upserts) and the final value per key (null =
   * deleted). Created on first use: most clients touch one kind per batch.
   */
  subscriptionDeletes: Set<string> | undefined;
  subscriptions: Map<string, SubscriptionOptions | null> | undefined;
  deliveryDeletes: Set<number> | undefined;
  deliveries: Map<number, DeliveryRecord | DeliveryUpdate | null> | undefined;
  inboundDeletes: Set<number> | undefined;
  /** true = added, false = deleted. */
  inbound: Map<number, boolean> | undefined;
}

/**
 * The writes collected for one transaction. Every write method is O(1) and keeps only the
 * net effect per key; the order that matters between keys is kept by running, per table,
 * the deletes before the upserts, and the session deletes (which cascade) before all:
 * - a delivery saved then deleted ends deleted, deleted then saved ends saved; saved then
 *   deleted is dropped from the batch altogether (a delivery or message saved in a batch was not
 *   stored before: the router never saves a stored key again), so a delivery acknowledged
 *   before its batch commits costs no statement;
 * - a session deleted then saved exists without what it had before the delete;
 * - a subscription deleted then saved is re-inserted (it moves to the end, as in a Map).
 * Waiters share one promise, created on the first `flush()` that needs it.
 */
export class Batch {
  /** Number of write calls, for logs and messages. */
  size = 0;
  /** Deliveries saved and deleted in this batch: neither write reaches the database. */
  cancelled = 0;
  /** Deliveries saved: the batch may wait for acknowledgements (see `GroupCommit`). */
  deliverySaves = 0;
  /** Turn ends seen since its first write, while no commit was in flight. */
  turnsSeen = 0;
  /** It collected while a commit that sent statements was in flight. */
  waitedForCommit = false;
  /** Everything in it cancelled out: its commit sent no statement. */
  sentNothing = false;
  /** `performance.now()` of its first write. */
  firstWriteAt = 0;
  readonly clients = new Map<string, ClientWrites>();
  readonly messageDeletes = new Set<number>();
  readonly messages = new Map<number, StoredMessage | null>();
  readonly retainedDeletes = new Set<string>();
  readonly retained = new Map<string, RetainedRecord | null>();
  /** Client ids whose writes the fence dropped from this batch (cluster mode only). */
  fenced: Fenced[] | undefined = undefined;
  /** Set when the batch before this one failed while this one already had waiters. */
  inheritedError: unknown = undefined;
  private promise: Promise<void> | undefined = undefined;
  private resolveWaiters: (() => void) | undefined = undefined;
  private rejectWaiters: ((error: unknown) => void) | undefined = undefined;

  get hasWaiters(): boolean {
    return this.promise !== undefined;
  }

  /** The promise every waiter of this batch shares. */
  wait(): Promise<void> {
    if (this.promise === undefined) {
      this.promise = new Promise<void>((resolve, reject) => {
        this.resolveWaiters = resolve;
        this.rejectWaiters = reject;
      });
    }
    return this.promise;
  }

  /** Settles the waiters, if any; returns false when an error had nobody to receive it. */
  settle(error: unknown): boolean {
    if (this.promise === undefined) return error === undefined;
    if (error === undefined) this.resolveWaiters?.();
    else this.rejectWaiters?.(error);
    return true;
  }

  saveSession(record: SessionRecord): void {
    this.size++;
    this.client(record.clientId).record = record;
  }

  deleteSession(clientId: string): void {
    this.size++;
    const writes = this.client(clientId);
    writes.reset = true;
    writes.record = undefined;
    // The cascading delete removes what was written before it; later writes come after it.
    writes.subscriptionDeletes = undefined;
    writes.subscriptions = undefined;
    writes.deliveryDeletes = undefined;
    writes.deliveries = undefined;
    writes.inboundDeletes = undefined;
    writes.inbound = undefined;
  }

  saveSubscription(clientId: string, topicFilter: string, options: SubscriptionOptions): void {
    this.size++;
    const writes = this.client(clientId);
    writes.subscriptions ??= new Map();
    writes.subscriptions.set(topicFilter, options);
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.size++;
    const writes = this.client(clientId);
    writes.subscriptionDeletes ??= new Set();
    writes.subscriptionDeletes.add(topicFilter);
    writes.subscriptions ??= new Map();
    // Re-inserting after a delete must land at the end: drop the key so `set` appends it.
    writes.subscriptions.delete(topicFilter);
    writes.subscriptions.set(topicFilter, null);
  }

  saveDelivery(clientId: string, delivery: DeliveryRecord): void {
    this.size++;
    this.deliverySaves++;
    const writes = this.client(clientId);
    writes.deliveries ??= new Map();
    writes.deliveries.set(delivery.seq, delivery);
  }

  updateDelivery(clientId: string, seq: number, packetId: number, released: boolean): void {
    this.size++;
    const writes = this.client(clientId);
    writes.deliveries ??= new Map();
    const deliveries = writes.deliveries;
    const current = deliveries.get(seq);
    if (current === null) return; // deleted earlier in this batch: nothing to update
    if (current === undefined || 'kind' in current) {
      deliveries.set(seq, { kind: 'update', packetId, released });
    } else {
      deliveries.set(seq, { ...current, packetId, released });
    }
  }

  deleteDelivery(clientId: string, seq: number): void {
    this.size++;
    const writes = this.client(clientId);
    const current = writes.deliveries?.get(seq);
    if (current !== undefined && current !== null && !('kind' in current)) {
      // Saved in this batch, so not stored before (the router never saves a stored key again):
      // acknowledged before its commit, it needs neither an insert nor a delete.
      writes.deliveries!.delete(seq);
      this.cancelled++;
      return;
    }
    writes.deliveryDeletes ??= new Set();
    writes.deliveryDeletes.add(seq);
    writes.deliveries ??= new Map();
    writes.deliveries.set(seq, null);
  }

  addInboundQos2(clientId: string, packetId: number): void {
    this.size++;
    const writes = this.client(clientId);
    writes.inbound ??= new Map();
    writes.inbound.set(packetId, true);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.size++;
    const writes = this.client(clientId);
    writes.inboundDeletes ??= new Set();
    writes.inboundDeletes.add(packetId);
    writes.inbound ??= new Map();
    writes.inbound.delete(packetId);
    writes.inbound.set(packetId, false);
  }

  saveMessage(message: StoredMessage): void {
    this.size++;
    this.messages.set(message.id, message);
  }

  deleteMessage(messageId: number): void {
    this.size++;
    const current = this.messages.get(messageId);
    if (current !== undefined && current !== null) {
      this.messages.delete(messageId); // saved in this batch: never stored, nothing to delete
      return;
    }
    this.messageDeletes.add(messageId);
    this.messages.set(messageId, null);
  }

  saveRetained(record: RetainedRecord): void {
    this.size++;
    this.retained.set(record.topicName, record);
  }

  deleteRetained(topicName: string): void {
    this.size++;
    this.retainedDeletes.add(topicName);
    this.retained.set(topicName, null);
  }

  private client(clientId: string): ClientWrites {
    let writes = this.clients.get(clientId);
    if (writes === undefined) {
      writes = {
        reset: false,
        record: undefined,
        subscriptionDeletes: undefined,
        subscriptions: undefined,
        deliveryDeletes: undefined,
        deliveries: undefined,
        inboundDeletes: undefined,
        inbound: undefined,
      };
      this.clients.set(clientId, writes);
    }
    return writes;
  }
}
