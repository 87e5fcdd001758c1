import { join } from 'node:path';
import type { DeliveryRecord, StoredMessage } from '@mqtt-adapt/router';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/index.js';
import { HELD_TURNS } from '../src/internal/group-commit.js';
import { InlineBodies } from '../src/internal/inline-bodies.js';
import { INLINE_MAX_BYTES } from '../src/internal/segment-writer.js';
import { migrations } from '../src/migrations/index.js';
import { newStore, recordingLogger, removeStoreDir, tempDir } from './helpers.js';

const opened: SqliteStore[] = [];
const observers: Database.Database[] = [];
afterEach(async () => {
  for (const db of observers.splice(0)) db.close();
  for (const store of opened.splice(0)) {
    await store.close().catch(() => undefined);
    removeStoreDir(store);
  }
});

async function open(...args: Parameters<typeof newStore>): Promise<SqliteStore> {
  const store = newStore(...args);
  opened.push(store);
  await store.open();
  store.saveSession({
    clientId: 'c',
    protocolVersion: 4,
    sessionExpiryInterval: undefined,
    expiresAt: undefined,
    username: undefined,
  });
  store.saveSession({
    clientId: 'd',
    protocolVersion: 4,
    sessionExpiryInterval: undefined,
    expiresAt: undefined,
    username: undefined,
  });
  await store.flush();
  return store;
}

/** A second connection on the store's file: sees only what is committed. */
function observer(store: SqliteStore): { count(sql: string): number; rows(sql: string): unknown[] } {
  const db = new Database(store.path, { readonly: true });
  observers.push(db);
  return {
    count: (sql) => db.prepare(`SELECT count(*) FROM ${sql}`).pluck().get() as number,
    rows: (sql) => db.prepare(sql).all(),
  };
}

const message = (id: number, payloadBytes = 10): StoredMessage => ({
  id,
  topicName: `t/${id}`,
  payload: Buffer.alloc(payloadBytes, id & 0xff),
  qos: 1,
  retain: false,
  properties: undefined,
});

const delivery = (seq: number, messageId: number, packetId?: number): DeliveryRecord => ({
  seq,
  messageId,
  qos: 1,
  retain: false,
  packetId,
  released: false,
});

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('message bodies', () => {
  it('a message with one delivery is stored inline in its row; one with two, or a large one, gets a messages row', async () => {
    const store = await open();
    const other = observer(store);
    store.saveMessage(message(1));
    store.saveDelivery('c', delivery(1, 1));
    store.saveMessage(message(2));
    store.saveDelivery('c', delivery(2, 2));
    store.saveDelivery('d', delivery(1, 2));
    store.saveMessage(message(3, INLINE_MAX_BYTES + 1));
    store.saveDelivery('c', delivery(3, 3));
    await store.flush();
    expect(other.rows('SELECT id FROM messages ORDER BY id')).toEqual([{ id: 2 }, { id: 3 }]);
    expect(
      other.rows(
        'SELECT client_id, seq, message_id, topic_name, length(payload) AS bytes FROM deliveries ORDER BY client_id, seq',
      ),
    ).toEqual([
      { client_id: 'c', seq: 1, message_id: 1, topic_name: 't/1', bytes: 10 },
      { client_id: 'c', seq: 2, message_id: 2, topic_name: null, bytes: null },
      { client_id: 'c', seq: 3, message_id: 3, topic_name: null, bytes: null },
      { client_id: 'd', seq: 1, message_id: 2, topic_name: null, bytes: null },
    ]);
  });

  it('a later delivery of an inline message writes its body to messages; deleting it then leaves no row', async () => {
    const store = await open();
    const other = observer(store);
    store.saveMessage(message(1));
    store.saveDelivery('c', delivery(1, 1));
    await store.flush();
    expect(other.count('messages')).toBe(0);
    store.saveDelivery('d', delivery(1, 1));
    await store.flush();
    expect(other.rows('SELECT id, topic_name FROM messages')).toEqual([{ id: 1, topic_name: 't/1' }]);
    store.deleteDelivery('c', 1);
    store.deleteDelivery('d', 1);
    store.deleteMessage(1);
    await store.flush();
    expect(other.count('messages')).toBe(0);
    expect(other.count('deliveries')).toBe(0);
  });
});

describe('failed commits', () => {
  it('rollback undoes what planning the batch changed, in reverse order', () => {
    const bodies = new InlineBodies();
    bodies.reset([message(1), message(2)]);
    bodies.add(message(3));
    bodies.remove(3); // added and deleted in the same batch
    bodies.remove(1); // promoted
    bodies.add(message(4));
    expect([1, 2, 3, 4].map((id) => bodies.has(id))).toEqual([false, true, false, true]);
    bodies.rollback();
    expect([1, 2, 3, 4].map((id) => bodies.has(id))).toEqual([true, true, false, false]);
    bodies.remove(2);
    bodies.commit();
    bodies.rollback();
    expect([1, 2].map((id) => bodies.has(id))).toEqual([true, false]);
  });

  it('a failed commit leaves the store able to promote the bodies it held inline', async () => {
    const store = await open();
    const db = (store as unknown as { conn: { db: Database.Database } }).conn.db;
    store.saveMessage(message(1));
    store.saveDelivery('c', delivery(1, 1));
    await store.flush();
    db.exec(`CREATE TEMP TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    store.saveDelivery('d', delivery(1, 1)); // promotes message 1: the INSERT fails
    await expect(store.flush()).rejects.toMatchObject({ code: 'STORE_WRITE_FAILED' });
    db.exec('DROP TRIGGER refuse');
    store.saveDelivery('d', delivery(2, 1)); // promotes it again
    await store.flush();
    store.deleteDelivery('c', 1);
    await store.close();
    const reopened = new SqliteStore({ path: store.path });
    opened.push(reopened);
    const snapshot = await reopened.open();
    expect(snapshot.sessions.find((s) => s.session.clientId === 'd')?.deliveries).toEqual([
      { ...delivery(2, 1), message: message(1) },
    ]);
  });
  it('a held batch that fails fails the flush() of a later batch with waiters too; its writes commit', async () => {
    const store = await open();
    const db = (store as unknown as { conn: { db: Database.Database } }).conn.db;
    const other = observer(store);
    store.saveMessage(message(1, INLINE_MAX_BYTES + 1)); // a messages row
    store.saveDelivery('c', delivery(1, 1));
    const held = store.flush()?.then(
      () => undefined,
      (e: unknown) => e,
    );
    await nextTurn();
    db.exec(`CREATE TEMP TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    store.saveSubscription('c', 'later/#', {
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
      subscriptionIdentifier: undefined,
    });
    const later = await store.flush()?.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(await held).toMatchObject({
      code: 'STORE_WRITE_FAILED',
      message: expect.stringContaining('refused'),
    });
    expect(later).toMatchObject({
      code: 'STORE_WRITE_FAILED',
      message: expect.stringContaining('the batch before it failed'),
    });
    expect(other.count('deliveries')).toBe(0);
    expect(other.count('subscriptions')).toBe(1);
    db.exec('DROP TRIGGER refuse');
    expect(store.flush()).toBeUndefined();
  });
});

describe('deliveries acknowledged before their commit', () => {
  it('saved and deleted in one turn: neither reaches the database', async () => {
    const store = await open();
    const other = observer(store);
    const { commits } = store.stats;
    for (let seq = 1; seq <= 100; seq++) {
      store.saveMessage(message(seq));
      store.saveDelivery('c', delivery(seq, seq, seq));
      store.updateDelivery('c', seq, seq, false);
      store.deleteDelivery('c', seq);
      store.deleteMessage(seq);
    }
    await store.flush();
    expect(store.stats).toMatchObject({ commits: commits + 1, cancelled: 100, pending: 0 });
    expect(other.count('deliveries')).toBe(0);
    expect(other.count('messages')).toBe(0);
  });

  it('a batch that saved deliveries is held HELD_TURNS turns more; those turns can still cancel them', async () => {
    const store = await open();
    const other = observer(store);
    const { commits } = store.stats;
    for (let seq = 1; seq <= 10; seq++) {
      store.saveMessage(message(seq));
      store.saveDelivery('c', delivery(seq, seq, seq));
    }
    let committed = false;
    const saved = store.flush()?.then(() => {
      committed = true;
    });
    expect(HELD_TURNS).toBeGreaterThanOrEqual(1);
    for (let turn = 0; turn < HELD_TURNS; turn++) {
      await nextTurn();
      // The end of this turn has passed, and the batch is still held.
      expect(committed).toBe(false);
      expect(other.count('deliveries')).toBe(0);
    }
    // PUBACKs read in the last turn it is held: seqs 1-6 complete.
    for (let seq = 1; seq <= 6; seq++) {
      store.deleteDelivery('c', seq);
      store.deleteMessage(seq);
    }
    store.updateDelivery('c', 7, 70, true);
    await nextTurn(); // committed at the end of the turn after the last held one
    expect(committed).toBe(true);
    await saved;
    expect(other.rows('SELECT seq, packet_id, released FROM deliveries ORDER BY seq')).toEqual([
      { seq: 7, packet_id: 70, released: 1 },
      { seq: 8, packet_id: 8, released: 0 },
      { seq: 9, packet_id: 9, released: 0 },
      { seq: 10, packet_id: 10, released: 0 },
    ]);
    await store.flush();
    expect(store.stats).toMatchObject({ commits: commits + 2, cancelled: 6, pending: 0 });
  });

  it('a batch without new deliveries (sessions, subscriptions, deletes) commits at the end of its turn', async () => {
    const store = await open();
    const other = observer(store);
    store.saveMessage(message(1));
    store.saveDelivery('c', delivery(1, 1));
    await store.flush();
    store.deleteDelivery('c', 1);
    store.deleteMessage(1);
    store.saveSubscription('c', 'x/#', {
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
      subscriptionIdentifier: undefined,
    });
    await nextTurn();
    expect(other.count('deliveries')).toBe(0);
    expect(other.count('subscriptions')).toBe(1);
  });

  it('with flushIntervalMs the window alone decides; writes cancelled inside it are never written', async () => {
    const store = await open({ flushIntervalMs: 30 });
    const other = observer(store);
    store.saveMessage(message(1));
    store.saveDelivery('c', delivery(1, 1, 1));
    store.saveMessage(message(2));
    store.saveDelivery('c', delivery(2, 2, 2));
    await nextTurn();
    await nextTurn();
    store.deleteDelivery('c', 1);
    store.deleteMessage(1);
    await store.flush();
    expect(other.rows('SELECT seq FROM deliveries')).toEqual([{ seq: 2 }]);
    expect(store.stats.cancelled).toBe(1);
  });
});

describe('coalesced statements', () => {
  it('deletes, updates and inserts of hundreds of deliveries of several clients come back exactly', async () => {
    const store = await open();
    const expected = new Map<string, Map<number, DeliveryRecord>>([
      ['c', new Map()],
      ['d', new Map()],
    ]);
    let id = 0;
    for (let seq = 1; seq <= 333; seq++) {
      for (const clientId of ['c', 'd']) {
        store.saveMessage(message(++id));
        const record = delivery(seq, id, seq % 4 === 0 ? undefined : seq);
        store.saveDelivery(clientId, record);
        expected.get(clientId)?.set(seq, record);
      }
    }
    await store.flush();
    for (let seq = 1; seq <= 333; seq += seq < 100 ? 1 : 3) {
      const record = expected.get('c')?.get(seq) as DeliveryRecord;
      const packetId = seq < 200 ? seq + 65400 : seq; // wraps past 65535 in the middle of a run
      const updated = { ...record, packetId: ((packetId - 1) % 65535) + 1, released: seq % 50 === 0 };
      store.updateDelivery('c', seq, updated.packetId, updated.released);
      expected.get('c')?.set(seq, updated);
    }
    for (let seq = 333; seq >= 1; seq -= seq % 7 === 0 ? 2 : 1) {
      if (seq % 5 === 0) continue;
      store.deleteDelivery('d', seq);
      expected.get('d')?.delete(seq);
    }
    await store.close();
    const reopened = new SqliteStore({ path: store.path });
    opened.push(reopened);
    const snapshot = await reopened.open();
    for (const clientId of ['c', 'd']) {
      const session = snapshot.sessions.find((s) => s.session.clientId === clientId);
      expect(
        session?.deliveries.map(({ message: _message, ...record }) => record),
        clientId,
      ).toEqual([...(expected.get(clientId)?.values() ?? [])]);
      for (const d of session?.deliveries ?? []) expect(d.message).toEqual(message(d.messageId));
    }
  });
});

describe('migration 4', () => {
  it('a database at version 3 with deliveries migrates: they keep their messages rows, new ones go inline', async () => {
    const path = join(tempDir(), 'v3.db');
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    for (const migration of migrations.slice(0, 3)) raw.exec(migration.sql);
    raw.pragma('user_version = 3');
    raw.pragma(`application_id = ${0x4d514144}`);
    raw.exec(`
      INSERT INTO sessions (client_id, protocol_version) VALUES ('old', 4);
      INSERT INTO messages VALUES (7, 'a/b', x'0102', 1, 0, NULL);
      INSERT INTO deliveries VALUES ('old', 1, 7, 1, 0, 12, 0);
    `);
    raw.close();
    const { logger, calls } = recordingLogger();
    const store = new SqliteStore({ path, logger });
    opened.push(store);
    const snapshot = await store.open();
    expect(snapshot.maxMessageId).toBe(7);
    expect(snapshot.sessions[0]?.deliveries).toEqual([
      {
        ...delivery(1, 7, 12),
        message: {
          id: 7,
          topicName: 'a/b',
          payload: Buffer.from([1, 2]),
          qos: 1,
          retain: false,
          properties: undefined,
        },
      },
    ]);
    expect(calls.filter((c) => c.level === 'warn')).toEqual([]);
    store.saveMessage(message(8));
    store.saveDelivery('old', delivery(2, 8));
    await store.flush();
    const other = observer(store);
    expect(other.rows('SELECT seq, payload IS NOT NULL AS inline FROM deliveries ORDER BY seq')).toEqual([
      { seq: 1, inline: 0 },
      { seq: 2, inline: 1 },
    ]);
  });
});
