import type { DeliveryRecord, StoredMessage } from '@mqtt-adapt/router';

/** The delivery writes of one client in a segment, reduced to their net effect per `seq`. */
export interface ClientDeliveries {
  /** Deliveries saved in this segment, in call order, updates folded in; none of them stored yet. */
  readonly inserts: Map<number, DeliveryRecord>;
  /** `updateDelivery` of deliveries stored before the segment: seq -> packetId * 2 + released. */
  updates: Map<number, number> | undefined;
  /** Deliveries stored before the segment to delete, in call order. */
  deletes: number[] | undefined;
}

/**
 * The message and delivery writes of a batch between two session writes, kept as their net
 * effect per key instead of one statement per call, so that they can be written as a few
 * multi-row statements (see `SegmentWriter`).
 *
 * Keys are new when saved: the router never saves a message id or a `(clientId, seq)` that is
 * stored already (`Store` contract). So a delivery or message saved, then deleted before its
 * batch committed (a delivery the subscriber acknowledged in time), is cancelled: neither the
 * save nor the delete reaches the database. `GroupCommit` looks for the save in the segment
 * being written and in the batch waiting to commit (`cancel*`, `fold*`) before it records a
 * delete or update of a stored row here.
 *
 * Call order holds within the segment: per key, the net effect is what the calls in order
 * leave; between keys order does not matter (no statement of one key reads another's row).
 * Session writes close the segment (the batch starts a new one after them), because saving a
 * delivery depends on its session existing and `deleteSession` cascades to deliveries.
 */
export class DeliverySegment {
  readonly clients = new Map<string, ClientDeliveries>();
  /** Messages saved in this segment and not deleted since. */
  readonly messages = new Map<number, StoredMessage>();
  /** Messages stored before the segment to delete. */
  readonly messageDeletes: number[] = [];
  /** True once a delivery was saved: only then can waiting let an acknowledgement cancel it. */
  hasInserts = false;

  saveMessage(message: StoredMessage): void {
    this.messages.set(message.id, message);
  }

  /** Drops `id` if it was saved in this segment (it never reaches the database). */
  cancelMessage(id: number): boolean {
    return this.messages.delete(id);
  }

  /** A message stored before to delete (one `cancelMessage` found nowhere). */
  deleteMessage(id: number): void {
    this.messageDeletes.push(id);
  }

  saveDelivery(clientId: string, delivery: DeliveryRecord): void {
    const client = this.client(clientId);
    client.inserts.set(delivery.seq, delivery);
    client.updates?.delete(delivery.seq);
    this.hasInserts = true;
  }

  /** Folds the update into a delivery saved in this segment; false if there is none. */
  foldUpdate(clientId: string, seq: number, packetId: number, released: boolean): boolean {
    const client = this.clients.get(clientId);
    const saved = client?.inserts.get(seq);
    if (saved === undefined) return false;
    client!.inserts.set(seq, { ...saved, packetId, released });
    return true;
  }

  /** An update of a delivery stored before (one `foldUpdate` found nowhere). */
  updateDelivery(clientId: string, seq: number, packetId: number, released: boolean): void {
    const client = this.client(clientId);
    client.updates ??= new Map();
    client.updates.set(seq, packetId * 2 + (released ? 1 : 0));
  }

  /** Drops a delivery saved in this segment (it never reaches the database); false if none. */
  cancelDelivery(clientId: string, seq: number): boolean {
    return this.clients.get(clientId)?.inserts.delete(seq) === true;
  }

  /** A delivery stored before to delete (one `cancelDelivery` found nowhere). */
  deleteDelivery(clientId: string, seq: number): void {
    const client = this.client(clientId);
    client.updates?.delete(seq);
    client.deletes ??= [];
    client.deletes.push(seq);
  }

  isEmpty(): boolean {
    if (this.messages.size > 0 || this.messageDeletes.length > 0) return false;
    for (const client of this.clients.values()) {
      if (client.inserts.size > 0 || client.deletes !== undefined || (client.updates?.size ?? 0) > 0)
        return false;
    }
    return true;
  }

  private client(clientId: string): ClientDeliveries {
    let client = this.clients.get(clientId);
    if (client === undefined) {
      client = { inserts: new Map(), updates: undefined, deletes: undefined };
      this.clients.set(clientId, client);
    }
    return client;
  }
}
