import type {
  DeliveryRecord,
  Logger,
  SessionSnapshot,
  StoredMessage,
  StoredSubscription,
  StoreSnapshot,
  SubscriptionOptions,
} from '@mqtt-adapt/router';
import type Database from 'better-sqlite3';
import { type MessageRow, type RetainedRow, toRetainedRecord, toStoredMessage } from './rows.js';

interface SessionRow {
  client_id: string;
  protocol_version: 3 | 4 | 5;
  session_expiry_interval: number | null;
  username: string | null;
  expires_at: number | null;
}

interface SubscriptionRow {
  client_id: string;
  topic_filter: string;
  qos: SubscriptionOptions['qos'];
  no_local: number;
  retain_as_published: number;
  retain_handling: SubscriptionOptions['retainHandling'];
  subscription_identifier: number | null;
}

interface DeliveryRow {
  client_id: string;
  seq: number;
  message_id: number;
  qos: 1 | 2;
  retain: number;
  packet_id: number | null;
  released: number;
  /** The inline body (migration 4): set when the message has no `messages` row of its own. */
  topic_name: string | null;
  payload: Buffer | null;
  message_qos: number | null;
  message_retain: number | null;
  properties: string | null;
}

/** What `open()` reads: the snapshot, and the bodies held inline by one delivery each. */
export interface LoadedSnapshot {
  readonly snapshot: StoreSnapshot;
  readonly inline: StoredMessage[];
}

interface MutableSessionSnapshot extends SessionSnapshot {
  readonly subscriptions: StoredSubscription[];
  readonly deliveries: Array<DeliveryRecord & { readonly message: StoredMessage }>;
  readonly inboundQos2: number[];
}

type Sessions = Map<string, MutableSessionSnapshot>;

/**
 * Everything the router needs to resume, read in one transaction so that it is consistent:
 * sessions, subscriptions and inbound QoS 2 ids in insertion order, deliveries in `seq` order
 * sharing one `StoredMessage` per message id (from its `messages` row, or the body inline in
 * its delivery), retained messages by topic.
 */
export function loadSnapshot(db: Database.Database, logger: Logger): LoadedSnapshot {
  return db.transaction((): LoadedSnapshot => {
    const sessions = loadSessions(db);
    loadSubscriptions(db, sessions);
    const inline = loadDeliveries(db, sessions, logger);
    const inbound = db
      .prepare('SELECT client_id, packet_id FROM inbound_qos2 ORDER BY rowid')
      .all() as Array<{
      client_id: string;
      packet_id: number;
    }>;
    for (const row of inbound) sessions.get(row.client_id)?.inboundQos2.push(row.packet_id);
    const retained = db
      .prepare('SELECT topic_name, payload, qos, properties FROM retained ORDER BY topic_name')
      .all() as RetainedRow[];
    // Inline bodies have no `messages` row: their ids count too.
    const maxMessageId = db
      .prepare(
        `SELECT max(coalesce((SELECT max(id) FROM messages), 0),
                    coalesce((SELECT max(message_id) FROM deliveries), 0))`,
      )
      .pluck()
      .get() as number;
    const snapshot = {
      sessions: [...sessions.values()],
      retained: retained.map(toRetainedRecord),
      maxMessageId,
    };
    return { snapshot, inline };
  })();
}

function loadSessions(db: Database.Database): Sessions {
  const sessions: Sessions = new Map();
  const rows = db
    .prepare(`SELECT client_id, protocol_version, session_expiry_interval, username, expires_at FROM sessions
       ORDER BY rowid`)
    .all() as SessionRow[];
  for (const row of rows) {
    sessions.set(row.client_id, {
      session: {
        clientId: row.client_id,
        protocolVersion: row.protocol_version,
        sessionExpiryInterval: row.session_expiry_interval ?? undefined,
        username: row.username ?? undefined,
        expiresAt: row.expires_at ?? undefined,
      },
      subscriptions: [],
      deliveries: [],
      inboundQos2: [],
    });
  }
  return sessions;
}

function loadSubscriptions(db: Database.Database, sessions: Sessions): void {
  for (const row of db.prepare('SELECT * FROM subscriptions ORDER BY rowid').all() as SubscriptionRow[]) {
    sessions.get(row.client_id)?.subscriptions.push({
      topicFilter: row.topic_filter,
      options: {
        qos: row.qos,
        noLocal: row.no_local !== 0,
        retainAsPublished: row.retain_as_published !== 0,
        retainHandling: row.retain_handling,
        subscriptionIdentifier: row.subscription_identifier ?? undefined,
      },
    });
  }
}

/** Fills in every session's deliveries; returns the bodies found inline only. */
function loadDeliveries(db: Database.Database, sessions: Sessions, logger: Logger): StoredMessage[] {
  const messages = new Map<number, StoredMessage>();
  const messageRows = db
    .prepare('SELECT * FROM messages WHERE id IN (SELECT message_id FROM deliveries)')
    .all() as MessageRow[];
  for (const row of messageRows) messages.set(row.id, toStoredMessage(row));
  const inline: StoredMessage[] = [];
  for (const row of db.prepare('SELECT * FROM deliveries ORDER BY client_id, seq').all() as DeliveryRow[]) {
    let message = messages.get(row.message_id);
    if (message === undefined && row.payload !== null) {
      message = inlineMessage(row, row.payload);
      messages.set(message.id, message);
      inline.push(message);
    }
    if (message === undefined) {
      logger.warn(
        { clientId: row.client_id, seq: row.seq, messageId: row.message_id },
        'skipping stored delivery whose message is gone',
      );
      continue;
    }
    sessions.get(row.client_id)?.deliveries.push({
      seq: row.seq,
      messageId: row.message_id,
      qos: row.qos,
      retain: row.retain !== 0,
      packetId: row.packet_id ?? undefined,
      released: row.released !== 0,
      message,
    });
  }
  return inline;
}

function inlineMessage(row: DeliveryRow, payload: Buffer): StoredMessage {
  return toStoredMessage({
    id: row.message_id,
    topic_name: row.topic_name ?? '',
    payload,
    qos: row.message_qos ?? row.qos,
    retain: row.message_retain ?? 0,
    properties: row.properties,
  });
}
