import type { DeliveryRecord, RetainedRecord, StoredMessage, SubscriptionOptions } from '@mqtt-adapt/router';
import type { Batch, ClientWrites, DeliveryUpdate } from './batch.js';
import type { InlineBodies } from './inline-bodies.js';
import { encodeProperties } from './json.js';
import type { Sql } from './sql.js';

/** A named prepared statement with its parameters. */
export interface Statement {
  readonly name: string;
  readonly text: string;
  readonly values: unknown[];
}

/** Where a router message id lives in the `messages` table. */
export interface MessageKey {
  readonly epoch: number;
  readonly id: number;
}

/**
 * A body is kept inline in its delivery row up to this many bytes of payload and topic name;
 * larger ones get a `messages` row (TOAST would take them anyway; one copy per message).
 */
export const INLINE_MAX_BYTES = 512;

/** Message bodies of a batch: which go inline, which get a `messages` row. */
interface Bodies {
  /** Ids of messages saved in the batch whose body goes in their one delivery's row. */
  readonly inlined: Set<number>;
  /** `messages` rows to write: new messages not inlined, and promoted inline bodies. */
  readonly rows: StoredMessage[];
}

/**
 * The statements committing `batch`, in dependency order: session deletes (they cascade to
 * subscriptions, deliveries and inbound ids) and upserts first, then per table its deletes
 * before its upserts. Multi-row throughout: one statement per table and kind. A message saved
 * with exactly one delivery in the batch is written inline in that delivery's row; `inline` is
 * updated (staged) accordingly.
 */
export function planBatch(
  batch: Batch,
  sql: Sql,
  keyOf: (messageId: number) => MessageKey,
  inline: InlineBodies,
): Statement[] {
  const out: Statement[] = [];
  const bodies = planBodies(batch, inline);
  const rows: ClientRows = {
    resets: [],
    sessions: columns(5),
    subDeletes: columns(2),
    subUpserts: columns(7),
    deliveryDeletes: columns(2),
    deliveryUpserts: columns(13),
    deliveryUpdates: columns(4),
    inboundDeletes: columns(2),
    inboundInserts: columns(2),
  };
  for (const [clientId, writes] of batch.clients) addClient(rows, clientId, writes, keyOf, batch, bodies);

  if (rows.resets.length > 0) {
    out.push({ name: 'mqa_sessions_delete', text: sql.sessionsDelete, values: [rows.resets] });
  }
  add(out, 'mqa_sessions_upsert', sql.sessionsUpsert, rows.sessions);
  addMessages(out, batch, sql, keyOf, bodies, inline);
  add(out, 'mqa_subscriptions_delete', sql.subscriptionsDelete, rows.subDeletes);
  add(out, 'mqa_subscriptions_upsert', sql.subscriptionsUpsert, rows.subUpserts);
  add(out, 'mqa_deliveries_delete', sql.deliveriesDelete, rows.deliveryDeletes);
  add(out, 'mqa_deliveries_upsert', sql.deliveriesUpsert, rows.deliveryUpserts);
  add(out, 'mqa_deliveries_update', sql.deliveriesUpdate, rows.deliveryUpdates);
  add(out, 'mqa_inbound_delete', sql.inboundDelete, rows.inboundDeletes);
  add(out, 'mqa_inbound_insert', sql.inboundInsert, rows.inboundInserts);
  addRetained(out, batch, sql);
  return out;
}

/** Column arrays of the per-client statements. */
interface ClientRows {
  readonly resets: string[];
  readonly sessions: unknown[][];
  readonly subDeletes: unknown[][];
  readonly subUpserts: unknown[][];
  readonly deliveryDeletes: unknown[][];
  readonly deliveryUpserts: unknown[][];
  readonly deliveryUpdates: unknown[][];
  readonly inboundDeletes: unknown[][];
  readonly inboundInserts: unknown[][];
}

/**
 * Counts the deliveries saved in the batch per message saved in it: one, and small, goes inline.
 * A delivery of a message held inline by an earlier batch promotes that body to a row.
 */
function planBodies(batch: Batch, inline: InlineBodies): Bodies {
  const refs = new Map<number, number>();
  const rows: StoredMessage[] = [];
  for (const writes of batch.clients.values()) {
    for (const delivery of writes.deliveries?.values() ?? []) {
      if (delivery === null || isUpdate(delivery)) continue;
      const id = delivery.messageId;
      if (batch.messages.get(id) != null) refs.set(id, (refs.get(id) ?? 0) + 1);
      else if (inline.has(id)) {
        rows.push(inline.get(id) as StoredMessage);
        inline.remove(id);
      }
    }
  }
  const inlined = new Set<number>();
  for (const [id, message] of batch.messages) {
    if (message === null) continue;
    if (refs.get(id) === 1 && message.payload.length + message.topicName.length <= INLINE_MAX_BYTES) {
      inlined.add(id);
      inline.add(message);
    } else rows.push(message);
  }
  return { inlined, rows };
}

function addClient(
  rows: ClientRows,
  clientId: string,
  writes: ClientWrites,
  keyOf: (messageId: number) => MessageKey,
  batch: Batch,
  bodies: Bodies,
): void {
  if (writes.reset) rows.resets.push(clientId);
  const record = writes.record;
  if (record !== undefined) {
    push(
      rows.sessions,
      clientId,
      record.protocolVersion,
      record.sessionExpiryInterval ?? null,
      record.username ?? null,
      record.expiresAt ?? null,
    );
  }
  for (const topicFilter of writes.subscriptionDeletes ?? []) push(rows.subDeletes, clientId, topicFilter);
  for (const [topicFilter, options] of writes.subscriptions ?? []) {
    if (options !== null) pushSubscription(rows.subUpserts, clientId, topicFilter, options);
  }
  for (const seq of writes.deliveryDeletes ?? []) push(rows.deliveryDeletes, clientId, seq);
  for (const [seq, delivery] of writes.deliveries ?? []) {
    if (delivery === null) continue;
    if (isUpdate(delivery)) push(rows.deliveryUpdates, clientId, seq, delivery.packetId, delivery.released);
    else {
      const body = bodies.inlined.has(delivery.messageId) ? batch.messages.get(delivery.messageId) : null;
      pushDelivery(rows.deliveryUpserts, clientId, delivery, keyOf(delivery.messageId), body ?? null);
    }
  }
  for (const packetId of writes.inboundDeletes ?? []) push(rows.inboundDeletes, clientId, packetId);
  for (const [packetId, added] of writes.inbound ?? [])
    if (added) push(rows.inboundInserts, clientId, packetId);
}

function addMessages(
  out: Statement[],
  batch: Batch,
  sql: Sql,
  keyOf: (id: number) => MessageKey,
  bodies: Bodies,
  inline: InlineBodies,
): void {
  const deletes = columns(2);
  for (const id of batch.messageDeletes) {
    // A body held inline goes with its delivery row: nothing to delete in `messages`.
    if (inline.has(id)) {
      inline.remove(id);
      continue;
    }
    const key = keyOf(id);
    push(deletes, key.epoch, key.id);
  }
  const upserts = columns(7);
  for (const message of bodies.rows) pushMessage(upserts, keyOf(message.id), message);
  add(out, 'mqa_messages_delete', sql.messagesDelete, deletes);
  add(out, 'mqa_messages_upsert', sql.messagesUpsert, upserts);
}

function addRetained(out: Statement[], batch: Batch, sql: Sql): void {
  const deletes = [...batch.retainedDeletes];
  if (deletes.length > 0)
    out.push({ name: 'mqa_retained_delete', text: sql.retainedDelete, values: [deletes] });
  const upserts = columns(4);
  for (const record of batch.retained.values()) if (record !== null) pushRetained(upserts, record);
  add(out, 'mqa_retained_upsert', sql.retainedUpsert, upserts);
}

function pushSubscription(cols: unknown[][], clientId: string, filter: string, o: SubscriptionOptions): void {
  push(
    cols,
    clientId,
    filter,
    o.qos,
    o.noLocal,
    o.retainAsPublished,
    o.retainHandling,
    o.subscriptionIdentifier ?? null,
  );
}

function pushDelivery(
  cols: unknown[][],
  clientId: string,
  d: DeliveryRecord,
  key: MessageKey,
  body: StoredMessage | null,
): void {
  push(cols, clientId, d.seq, key.epoch, key.id, d.qos, d.retain, d.packetId ?? null, d.released);
  if (body === null) push5(cols, null, null, null, null, null);
  else push5(cols, body.topicName, body.payload, body.qos, body.retain, encodeProperties(body.properties));
}

/** The five inline body columns after the eight of a delivery. */
function push5(cols: unknown[][], a: unknown, b: unknown, c: unknown, d: unknown, e: unknown): void {
  (cols[8] as unknown[]).push(a);
  (cols[9] as unknown[]).push(b);
  (cols[10] as unknown[]).push(c);
  (cols[11] as unknown[]).push(d);
  (cols[12] as unknown[]).push(e);
}

function pushMessage(cols: unknown[][], key: MessageKey, m: StoredMessage): void {
  push(cols, key.epoch, key.id, m.topicName, m.payload, m.qos, m.retain, encodeProperties(m.properties));
}

function pushRetained(cols: unknown[][], r: RetainedRecord): void {
  push(cols, r.topicName, r.payload, r.qos, encodeProperties(r.properties));
}

function isUpdate(delivery: DeliveryRecord | DeliveryUpdate): delivery is DeliveryUpdate {
  return 'kind' in delivery;
}

function columns(count: number): unknown[][] {
  const cols: unknown[][] = [];
  for (let i = 0; i < count; i++) cols.push([]);
  return cols;
}

/** Appends one row's first `values.length` columns. */
function push(cols: unknown[][], ...values: unknown[]): void {
  for (let i = 0; i < values.length; i++) (cols[i] as unknown[]).push(values[i]);
}

function add(out: Statement[], name: string, text: string, cols: unknown[][]): void {
  if ((cols[0] as unknown[]).length > 0) out.push({ name, text, values: cols });
}
