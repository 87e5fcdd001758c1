import type { DeliveryRecord, StoredMessage } from '@mqtt-adapt/router';
import type Database from 'better-sqlite3';
import type { ClientDeliveries, DeliverySegment } from './delivery-segment.js';
import type { InlineBodies } from './inline-bodies.js';
import { propertiesToJson } from './properties-json.js';

/**
 * A body is kept inline in its delivery row up to this many bytes of payload and topic name;
 * larger ones get a `messages` row. Deliveries live in a WITHOUT ROWID table, which works best
 * with small rows (SQLite's advice: under about a twentieth of a page).
 */
export const INLINE_MAX_BYTES = 512;

/** Rows per multi-row statement, largest first; a batch uses as few statements as these allow. */
const CHUNKS = [64, 16, 4, 1] as const;

const MESSAGE_COLUMNS = 6;
const DELIVERY_COLUMNS = 11;

/** A statement failing inside the batch names the write it stands for. */
function runNamed(name: string, stmt: Database.Statement, params: unknown[]): void {
  try {
    stmt.run(params);
  } catch (error) {
    throw new Error(`${name} failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

/**
 * Writes a `DeliverySegment` inside the batch's transaction, with few statements whatever its
 * size: message rows and deliveries as multi-row INSERTs (64 rows a statement), deletes as
 * `seq BETWEEN` / `id BETWEEN` ranges of consecutive keys, packet id updates as ranges where
 * seq and packet id advance together (what the in-flight window does). A message saved with
 * exactly one delivery in the segment is written inline in that delivery's row.
 *
 * Order: message rows (new and promoted), then per client its deletes, inserts (upserts, so a
 * delivery deleted then saved again ends saved) and updates, then message deletes.
 */
export class SegmentWriter {
  private readonly messageInserts = new Map<number, Database.Statement>();
  private readonly deliveryInserts = new Map<number, Database.Statement>();
  private readonly deleteDeliveries: Database.Statement;
  private readonly updateDeliveries: Database.Statement;
  private readonly deleteMessages: Database.Statement;
  /** Per message id saved in the segment: deliveries referring to it, or -1 once inlined. */
  private readonly refs = new Map<number, number>();
  private readonly rows: StoredMessage[] = [];
  private readonly params: unknown[] = [];
  private readonly keys: number[] = [];
  /** The messages of the segment being written. */
  private messages: Map<number, StoredMessage> | undefined = undefined;

  constructor(private readonly db: Database.Database) {
    this.deleteDeliveries = db.prepare('DELETE FROM deliveries WHERE client_id = ? AND seq BETWEEN ? AND ?');
    // packet_id = seq + offset over a run where both advance by one.
    this.updateDeliveries = db.prepare(
      'UPDATE deliveries SET packet_id = seq + ?, released = ? WHERE client_id = ? AND seq BETWEEN ? AND ?',
    );
    this.deleteMessages = db.prepare('DELETE FROM messages WHERE id BETWEEN ? AND ?');
  }

  write(segment: DeliverySegment, inline: InlineBodies): void {
    const { refs, rows } = this;
    refs.clear();
    rows.length = 0;
    this.messages = segment.messages;
    for (const client of segment.clients.values()) {
      for (const delivery of client.inserts.values()) {
        const id = delivery.messageId;
        if (segment.messages.has(id)) refs.set(id, (refs.get(id) ?? 0) + 1);
        else if (inline.has(id)) {
          // Another delivery of a message held inline by one stored delivery: give it a row.
          rows.push(inline.get(id) as StoredMessage);
          inline.remove(id);
        }
      }
    }
    for (const message of segment.messages.values()) {
      if (refs.get(message.id) === 1 && isSmall(message)) {
        refs.set(message.id, -1);
        inline.add(message);
      } else rows.push(message);
    }
    this.insertMessages(rows);
    for (const [clientId, client] of segment.clients) this.writeClient(clientId, client);
    this.removeMessages(segment.messageDeletes, inline);
    this.messages = undefined;
  }

  private writeClient(clientId: string, client: ClientDeliveries): void {
    if (client.deletes !== undefined) this.deleteRanges(clientId, client.deletes);
    if (client.inserts.size > 0) this.insertDeliveries(clientId, client.inserts);
    if (client.updates !== undefined && client.updates.size > 0) this.updateRanges(clientId, client.updates);
  }

  private insertMessages(messages: StoredMessage[]): void {
    const params = this.params;
    let i = 0;
    while (i < messages.length) {
      const size = chunkFor(messages.length - i);
      params.length = 0;
      for (const end = i + size; i < end; i++) {
        const m = messages[i] as StoredMessage;
        params.push(m.id, m.topicName, m.payload, m.qos, m.retain ? 1 : 0, propertiesToJson(m.properties));
      }
      runNamed('saveMessage', this.messageInsert(size), params);
    }
  }

  private insertDeliveries(clientId: string, inserts: Map<number, DeliveryRecord>): void {
    const { params, refs } = this;
    let left = inserts.size;
    let size = chunkFor(left);
    params.length = 0;
    for (const d of inserts.values()) {
      params.push(d.seq, d.messageId, d.qos, d.retain ? 1 : 0, d.packetId ?? null, d.released ? 1 : 0);
      if (refs.get(d.messageId) === -1) {
        const m = this.inlined(d.messageId);
        params.push(m.topicName, m.payload, m.qos, m.retain ? 1 : 0, propertiesToJson(m.properties));
      } else params.push(null, null, null, null, null);
      if (params.length === size * DELIVERY_COLUMNS) {
        params.push(clientId);
        runNamed('saveDelivery', this.deliveryInsert(size), params);
        left -= size;
        size = chunkFor(left);
        params.length = 0;
      }
    }
  }

  /** Deletes in `seq BETWEEN` runs of consecutive seqs. */
  private deleteRanges(clientId: string, seqs: number[]): void {
    const sorted = sortedUnique(seqs, this.keys);
    let first = sorted[0] as number;
    for (let i = 1; i <= sorted.length; i++) {
      const seq = sorted[i];
      if (seq === (sorted[i - 1] as number) + 1) continue;
      runNamed('deleteDelivery', this.deleteDeliveries, [clientId, first, sorted[i - 1]]);
      if (seq !== undefined) first = seq;
    }
  }

  /** Updates in runs where seq and packet id both go up by one and `released` stays. */
  private updateRanges(clientId: string, updates: Map<number, number>): void {
    const seqs = sortedUnique([...updates.keys()], this.keys);
    let first = seqs[0] as number;
    let value = updates.get(first) as number;
    for (let i = 1; i <= seqs.length; i++) {
      const seq = seqs[i];
      const previous = seqs[i - 1] as number;
      const next = seq === undefined ? undefined : updates.get(seq);
      if (seq === previous + 1 && next === (updates.get(previous) as number) + 2) continue;
      const released = value & 1;
      const offset = (value - released) / 2 - first;
      runNamed('updateDelivery', this.updateDeliveries, [offset, released, clientId, first, previous]);
      if (seq !== undefined) {
        first = seq;
        value = next as number;
      }
    }
  }

  /** Message rows by `id BETWEEN` runs; a body held inline goes with its delivery, no statement. */
  private removeMessages(ids: number[], inline: InlineBodies): void {
    if (ids.length === 0) return;
    const rowIds: number[] = [];
    for (const id of ids) {
      if (inline.has(id)) inline.remove(id);
      else rowIds.push(id);
    }
    if (rowIds.length === 0) return;
    const sorted = sortedUnique(rowIds, this.keys);
    let first = sorted[0] as number;
    for (let i = 1; i <= sorted.length; i++) {
      const id = sorted[i];
      if (id === (sorted[i - 1] as number) + 1) continue;
      runNamed('deleteMessage', this.deleteMessages, [first, sorted[i - 1]]);
      if (id !== undefined) first = id;
    }
  }

  private inlined(id: number): StoredMessage {
    const message = this.messages?.get(id);
    if (message === undefined) throw new Error(`message ${id} was planned inline but is not in the segment`);
    return message;
  }

  private messageInsert(rows: number): Database.Statement {
    let stmt = this.messageInserts.get(rows);
    if (stmt === undefined) {
      const values = Array.from({ length: rows }, () => placeholders(MESSAGE_COLUMNS)).join(', ');
      stmt = this.db.prepare(
        `INSERT OR REPLACE INTO messages (id, topic_name, payload, qos, retain, properties) VALUES ${values}`,
      );
      this.messageInserts.set(rows, stmt);
    }
    return stmt;
  }

  /**
   * `SELECT ... FROM sessions WHERE client_id = ?`: deliveries of a client without a session are
   * ignored instead of failing the batch on the foreign key (the WHERE also keeps SQLite's parser
   * from reading ON CONFLICT as a join constraint).
   */
  private deliveryInsert(rows: number): Database.Statement {
    let stmt = this.deliveryInserts.get(rows);
    if (stmt === undefined) {
      const values = Array.from({ length: rows }, () => placeholders(DELIVERY_COLUMNS)).join(', ');
      stmt = this.db.prepare(
        `INSERT INTO deliveries (client_id, seq, message_id, qos, retain, packet_id, released,
                                 topic_name, payload, message_qos, message_retain, properties)
         SELECT s.client_id, v.* FROM sessions s, (VALUES ${values}) v WHERE s.client_id = ?
         ON CONFLICT (client_id, seq) DO UPDATE SET
           message_id = excluded.message_id, qos = excluded.qos, retain = excluded.retain,
           packet_id = excluded.packet_id, released = excluded.released,
           topic_name = excluded.topic_name, payload = excluded.payload,
           message_qos = excluded.message_qos, message_retain = excluded.message_retain,
           properties = excluded.properties`,
      );
      this.deliveryInserts.set(rows, stmt);
    }
    return stmt;
  }
}

function isSmall(message: StoredMessage): boolean {
  return message.payload.length + message.topicName.length <= INLINE_MAX_BYTES;
}

function chunkFor(left: number): number {
  for (const size of CHUNKS) if (left >= size) return size;
  return 1;
}

function placeholders(count: number): string {
  return `(${Array.from({ length: count }, () => '?').join(', ')})`;
}

/** `values` sorted ascending without duplicates, in `scratch` (reused) unless already so. */
function sortedUnique(values: number[], scratch: number[]): number[] {
  let ordered = true;
  for (let i = 1; i < values.length; i++) {
    if ((values[i] as number) <= (values[i - 1] as number)) {
      ordered = false;
      break;
    }
  }
  if (ordered) return values;
  scratch.length = 0;
  for (const value of values) scratch.push(value);
  scratch.sort((a, b) => a - b);
  let kept = 0;
  for (let i = 0; i < scratch.length; i++) {
    if (i === 0 || scratch[i] !== scratch[i - 1]) scratch[kept++] = scratch[i] as number;
  }
  scratch.length = kept;
  return scratch;
}
