import type { QoS, RetainHandling } from '@mqtt-adapt/codec';
import type {
  DeliveryRecord,
  Logger,
  RetainedRecord,
  SessionSnapshot,
  StoredMessage,
  StoredSubscription,
  StoreSnapshot,
} from '@mqtt-adapt/router';
import type { PoolClient } from 'pg';
import { decodeProperties } from './json.js';
import type { MessageKey } from './plan.js';
import type { Sql } from './sql.js';

/** What `open()` loaded: the snapshot, and where each router message id lives in the table. */
export interface LoadedSnapshot {
  readonly snapshot: StoreSnapshot;
  /** Router message id -> table key, for every message stored before this open. */
  readonly messageKeys: Map<number, MessageKey>;
  /** Bodies stored only inline in their delivery row (no `messages` row), under router ids. */
  readonly inline: StoredMessage[];
}

interface MutableSession {
  session: SessionSnapshot['session'];
  subscriptions: StoredSubscription[];
  deliveries: Array<DeliveryRecord & { readonly message: StoredMessage }>;
  inboundQos2: number[];
}

/**
 * Reads everything in one REPEATABLE READ transaction, so a node writing meanwhile cannot tear
 * the snapshot. Message ids: rows are keyed (epoch, id), the router knows only ids. Each row
 * keeps its id unless another epoch's row already took it (two nodes allocated the same id);
 * such rows get fresh ids above every stored one, so the router sees unique ids.
 */
export async function loadSnapshot(client: PoolClient, sql: Sql, logger: Logger): Promise<LoadedSnapshot> {
  const rows = await readRows(client, sql, logger);
  const sessions = sessionsFrom(rows.sessions, rows.subscriptions, rows.inbound);
  const messageRows = withInlineBodies(rows.messages as unknown as MessageRow[], rows.deliveries);
  const { messageKeys, bodies, maxMessageId, inline } = assignMessageIds(messageRows);
  let missing = 0;
  for (const row of rows.deliveries) {
    const message = bodies.get(keyString(row.message_epoch as number, row.message_id as number));
    if (message === undefined) {
      missing++;
      continue;
    }
    sessions.get(row.client_id as string)?.deliveries.push({
      seq: row.seq as number,
      messageId: message.id,
      qos: row.qos as 1 | 2,
      retain: row.retain as boolean,
      packetId: nullable(row.packet_id as number | null),
      released: row.released as boolean,
      message,
    });
  }
  if (missing > 0) logger.warn({ deliveries: missing }, 'deliveries refer to missing messages; skipped');
  const retained: RetainedRecord[] = rows.retained.map((row) => ({
    topicName: row.topic_name as string,
    payload: row.payload as Buffer,
    qos: row.qos as QoS,
    properties: decodeProperties(row.properties),
  }));
  return { snapshot: { sessions: [...sessions.values()], retained, maxMessageId }, messageKeys, inline };
}

/**
 * `open()` of a fenced store (cluster mode): retained messages only. It serves no session until
 * it claims one (`claimSession`), and its message ids cannot collide with stored rows (they are
 * stored under its own new epoch), so `maxMessageId` is 0.
 */
export async function loadRetainedOnly(client: PoolClient, sql: Sql): Promise<LoadedSnapshot> {
  const rows = (await client.query(sql.snapshotRetained)).rows;
  const retained: RetainedRecord[] = rows.map((row) => ({
    topicName: row.topic_name as string,
    payload: row.payload as Buffer,
    qos: row.qos as QoS,
    properties: decodeProperties(row.properties),
  }));
  return { snapshot: { sessions: [], retained, maxMessageId: 0 }, messageKeys: new Map(), inline: [] };
}

/**
 * The `messages` rows plus one row per body held inline by a delivery (migration 4) whose key
 * has no `messages` row (a promoted body has one, and it wins), in (epoch, id) order, so that
 * inline bodies take part in id assignment like the others.
 */
function withInlineBodies(messages: MessageRow[], deliveries: Rows): MessageRow[] {
  const known = new Set(messages.map((row) => keyString(row.epoch, row.id)));
  let added = false;
  for (const row of deliveries) {
    if (row.payload === null || row.payload === undefined) continue;
    const epoch = row.message_epoch as number;
    const id = row.message_id as number;
    const key = keyString(epoch, id);
    if (known.has(key)) continue;
    known.add(key);
    added = true;
    messages.push({
      epoch,
      id,
      topic_name: row.topic_name as string,
      qos: row.message_qos as QoS,
      retain: row.message_retain as boolean,
      properties: row.properties,
      payload: row.payload as Buffer,
      inline: true,
    });
  }
  if (added) messages.sort((a, b) => a.epoch - b.epoch || a.id - b.id);
  return messages;
}

type Rows = Array<Record<string, unknown>>;

/** Every table's rows, read in one REPEATABLE READ READ ONLY transaction. */
async function readRows(client: PoolClient, sql: Sql, logger: Logger) {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const read = async (text: string): Promise<Rows> => (await client.query(text)).rows;
    const rows = {
      sessions: await read(sql.snapshotSessions),
      subscriptions: await read(sql.snapshotSubscriptions),
      messages: await read(sql.snapshotMessages),
      deliveries: await read(sql.snapshotDeliveries),
      inbound: await read(sql.snapshotInbound),
      retained: await read(sql.snapshotRetained),
    };
    await client.query('COMMIT');
    return rows;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      logger.debug({ err: rollbackError }, 'rollback after failed snapshot read failed');
    });
    throw error;
  }
}

function sessionsFrom(
  sessionRows: Rows,
  subscriptionRows: Rows,
  inboundRows: Rows,
): Map<string, MutableSession> {
  const sessions = new Map<string, MutableSession>();
  for (const row of sessionRows) {
    const clientId = row.client_id as string;
    sessions.set(clientId, {
      session: {
        clientId,
        protocolVersion: row.protocol_version as 3 | 4 | 5,
        sessionExpiryInterval: nullable(row.session_expiry_interval as number | null),
        username: nullable(row.username as string | null),
        expiresAt: nullable(row.expires_at as number | null),
      },
      subscriptions: [],
      deliveries: [],
      inboundQos2: [],
    });
  }
  for (const row of subscriptionRows) {
    sessions.get(row.client_id as string)?.subscriptions.push({
      topicFilter: row.topic_filter as string,
      options: {
        qos: row.qos as QoS,
        noLocal: row.no_local as boolean,
        retainAsPublished: row.retain_as_published as boolean,
        retainHandling: row.retain_handling as RetainHandling,
        subscriptionIdentifier: nullable(row.subscription_identifier as number | null),
      },
    });
  }
  for (const row of inboundRows) {
    sessions.get(row.client_id as string)?.inboundQos2.push(row.packet_id as number);
  }
  return sessions;
}

interface MessageRow {
  epoch: number;
  id: number;
  topic_name: string;
  qos: QoS;
  retain: boolean;
  properties: unknown;
  payload: Buffer | null;
  /** True for a body read from its delivery row. */
  inline?: boolean;
}

function assignMessageIds(rows: MessageRow[]): {
  messageKeys: Map<number, MessageKey>;
  bodies: Map<string, StoredMessage>;
  maxMessageId: number;
  inline: StoredMessage[];
} {
  const messageKeys = new Map<number, MessageKey>();
  const bodies = new Map<string, StoredMessage>();
  const inline: StoredMessage[] = [];
  const collisions: MessageRow[] = [];
  let maxMessageId = 0;
  for (const row of rows) {
    if (row.id > maxMessageId) maxMessageId = row.id;
    if (messageKeys.has(row.id)) collisions.push(row);
    else register(row, row.id);
  }
  for (const row of collisions) register(row, ++maxMessageId);
  return { messageKeys, bodies, maxMessageId, inline };

  function register(row: MessageRow, routerId: number): void {
    messageKeys.set(routerId, { epoch: row.epoch, id: row.id });
    if (row.payload === null) return; // no delivery needs the body
    const message: StoredMessage = {
      id: routerId,
      topicName: row.topic_name,
      payload: row.payload,
      qos: row.qos,
      retain: row.retain,
      properties: decodeProperties(row.properties),
    };
    bodies.set(keyString(row.epoch, row.id), message);
    if (row.inline === true) inline.push(message);
  }
}

function keyString(epoch: number, id: number): string {
  return `${epoch}:${id}`;
}

function nullable<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}
