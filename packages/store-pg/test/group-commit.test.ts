import type { DeliveryRecord, StoredMessage } from '@mqtt-adapt/router';
import { isStoreError } from '@mqtt-adapt/router';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PgStore } from '../src/index.js';
import { HELD_TURNS } from '../src/internal/group-commit.js';
import {
  admin,
  dropSchema,
  freshApplicationName,
  freshSchema,
  nextTurn,
  rejectionOf,
  requirePostgres,
  testStore,
  traceQueries,
} from './helpers.js';

beforeEach(requirePostgres);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An opened store on a fresh schema, with its own application_name; closed and dropped after. */
async function openStore(options: Parameters<typeof testStore>[1] = {}): Promise<{
  store: PgStore;
  schema: string;
  applicationName: string;
}> {
  const schema = freshSchema();
  const applicationName = freshApplicationName();
  const store = testStore(schema, { applicationName, ...options });
  cleanups.push(() => dropSchema(schema));
  cleanups.push(() => store.close());
  await store.open();
  return { store, schema, applicationName };
}

function message(id: number, overrides: Partial<StoredMessage> = {}): StoredMessage {
  return {
    id,
    topicName: `t/${id}`,
    payload: Buffer.from([id & 0xff, 0]),
    qos: 1,
    retain: false,
    properties: undefined,
    ...overrides,
  };
}

function delivery(seq: number, messageId: number): DeliveryRecord {
  return { seq, messageId, qos: 1, retain: false, packetId: undefined, released: false };
}

const session = (clientId: string) => ({
  clientId,
  protocolVersion: 4 as const,
  sessionExpiryInterval: undefined,
  expiresAt: undefined,
  username: undefined,
});
const options = {
  qos: 1 as const,
  noLocal: false,
  retainAsPublished: false,
  retainHandling: 0 as const,
  subscriptionIdentifier: undefined,
};

describe('group commit', () => {
  it('commits a batch of every kind of write in ONE transaction of multi-row statements', async () => {
    const { store, schema, applicationName } = await openStore();
    const trace = traceQueries(applicationName);
    cleanups.push(trace.restore);
    // Message 100 goes to every client (a row in messages); the others to one each (inline).
    store.saveMessage(message(100));
    for (let i = 0; i < 50; i++) {
      store.saveMessage(message(i + 1));
      store.saveSession(session(`c${i}`));
      store.saveSubscription(`c${i}`, `f/${i}/#`, options);
      store.saveDelivery(`c${i}`, delivery(1, i + 1));
      store.saveDelivery(`c${i}`, delivery(2, 100));
      store.addInboundQos2(`c${i}`, i + 1);
      store.saveRetained({ topicName: `r/${i}`, payload: Buffer.from('x'), qos: 0, properties: undefined });
    }
    await store.flush();
    trace.restore();

    expect(trace.statements).toEqual([
      'BEGIN; SELECT txid_current()::text AS xid',
      'mqa_sessions_upsert',
      'mqa_messages_upsert',
      'mqa_subscriptions_upsert',
      'mqa_deliveries_upsert',
      'mqa_inbound_insert',
      'mqa_retained_upsert',
      'COMMIT',
    ]);
    // Every row carries the id of the transaction that wrote it: one id for all 351 rows.
    const xmins = await admin<{ xmin: string }>(
      ['sessions', 'messages', 'subscriptions', 'deliveries', 'inbound_qos2', 'retained']
        .map((table) => `SELECT xmin::text FROM "${schema}".${table}`)
        .join(' UNION '),
    );
    expect(xmins).toHaveLength(1);
    const counts = await admin<{ messages: number; deliveries: number; inline: number }>(
      `SELECT (SELECT count(*)::int FROM "${schema}".messages) AS messages,
              (SELECT count(*)::int FROM "${schema}".deliveries) AS deliveries,
              (SELECT count(payload)::int FROM "${schema}".deliveries) AS inline`,
    );
    expect(counts).toEqual([{ messages: 1, deliveries: 100, inline: 50 }]);
  });

  it('writes of one turn share one batch: every flush() of the turn returns the same promise', async () => {
    const { store } = await openStore();
    store.saveSession(session('a'));
    const first = store.flush();
    store.saveSession(session('b'));
    expect(store.flush()).toBe(first);
    await first;
    // Nothing pending: resolves at once.
    await expect(store.flush()).resolves.toBeUndefined();
  });

  it('keeps one commit in flight: batches of later turns wait and follow in order', async () => {
    const { store, schema, applicationName } = await openStore();
    let open = 0;
    let maxOpen = 0;
    const trace = traceQueries(applicationName, (_client, statement, run) => {
      if (statement.startsWith('BEGIN')) maxOpen = Math.max(maxOpen, ++open);
      if (statement === 'COMMIT' || statement === 'ROLLBACK') return run().finally(() => open--);
      return undefined;
    });
    cleanups.push(trace.restore);
    const flushes: Array<Promise<void>> = [];
    for (let i = 0; i < 40; i++) {
      store.saveSession(session(`s${i}`));
      if (i > 0) store.deleteSession(`s${i - 1}`);
      flushes.push(store.flush());
      await nextTurn();
    }
    await Promise.all(flushes);
    trace.restore();
    expect(maxOpen).toBe(1);
    // Later batches landed after earlier ones: only the last session is left.
    const rows = await admin<{ client_id: string }>(`SELECT client_id FROM "${schema}".sessions`);
    expect(rows).toEqual([{ client_id: 's39' }]);
    const commits = trace.statements.filter((statement) => statement === 'COMMIT').length;
    expect(commits).toBeGreaterThan(1);
    expect(commits).toBeLessThanOrEqual(40);
  });

  it('deliveries acknowledged before their batch commits cost no statement; the others go inline', async () => {
    const { store, schema, applicationName } = await openStore();
    store.saveSession(session('c'));
    await store.flush();
    const trace = traceQueries(applicationName);
    cleanups.push(trace.restore);
    // A batch without deliveries starts at the end of its turn; the next one collects meanwhile.
    store.saveSession(session('d'));
    const first = store.flush();
    await nextTurn();
    store.saveMessage(message(1));
    store.saveDelivery('c', delivery(1, 1));
    const second = store.flush();
    for (let turn = 0; turn < HELD_TURNS; turn++) {
      await nextTurn();
      // Held: turns later, the subscriber's PUBACKs still cancel what it saved.
      for (let i = 0; i < 10; i++) {
        const id = 2 + turn * 10 + i;
        store.saveMessage(message(id));
        store.saveDelivery('c', delivery(id, id));
        if (i < 7) {
          store.deleteDelivery('c', id);
          store.deleteMessage(id);
        }
      }
    }
    await Promise.all([first, second, store.flush()]);
    trace.restore();
    expect(trace.statements).toEqual([
      'BEGIN; SELECT txid_current()::text AS xid',
      'mqa_sessions_upsert',
      'COMMIT',
      'BEGIN; SELECT txid_current()::text AS xid',
      'mqa_deliveries_upsert',
      'COMMIT',
    ]);
    const rows = await admin<{ seq: number; inline: boolean }>(
      `SELECT seq::int AS seq, payload IS NOT NULL AS inline FROM "${schema}".deliveries ORDER BY 1`,
    );
    const kept = [1, 9, 10, 11, 19, 20, 21].slice(0, 1 + 3 * HELD_TURNS);
    expect(rows).toEqual(kept.map((seq) => ({ seq, inline: true })));
    expect(await admin(`SELECT count(*)::int AS n FROM "${schema}".messages`)).toEqual([{ n: 0 }]);
    // A batch of nothing but cancelled writes sends nothing at all.
    const idle = traceQueries(applicationName);
    cleanups.push(idle.restore);
    store.saveMessage(message(30));
    store.saveDelivery('c', delivery(30, 30));
    store.deleteDelivery('c', 30);
    store.deleteMessage(30);
    await store.flush();
    idle.restore();
    expect(idle.statements).toEqual([]);
  });

  it('flushIntervalMs groups the writes of several turns into one transaction', async () => {
    const { store, applicationName } = await openStore({ flushIntervalMs: 200 });
    const trace = traceQueries(applicationName);
    cleanups.push(trace.restore);
    const flushes: Array<Promise<void>> = [];
    for (let i = 0; i < 5; i++) {
      store.saveSession(session(`s${i}`));
      flushes.push(store.flush());
      await nextTurn();
    }
    await Promise.all(flushes);
    trace.restore();
    expect(trace.statements.filter((statement) => statement === 'COMMIT')).toHaveLength(1);
  });

  it('a batch that fails commits nothing of it and rejects with STORE_WRITE_FAILED; the next one commits', async () => {
    const { store, schema } = await openStore();
    store.saveSession(session('good'));
    store.saveRetained({ topicName: 'good', payload: Buffer.from('x'), qos: 0, properties: undefined });
    // 1.5 is no smallint: the messages statement fails after the sessions statement succeeded.
    store.saveMessage(message(1, { qos: 1.5 as 1 }));
    const error = await rejectionOf(store.flush());
    expect(isStoreError(error) ? error.code : error).toBe('STORE_WRITE_FAILED');
    expect((error as Error).message).toMatch(
      /^cannot commit batch of 3 writes to postgres \(nothing of it was committed\): invalid input syntax/,
    );
    expect(await admin(`SELECT client_id FROM "${schema}".sessions`)).toEqual([]);
    expect(await admin(`SELECT topic_name FROM "${schema}".retained`)).toEqual([]);

    store.saveSession(session('next'));
    await store.flush();
    expect(await admin(`SELECT client_id FROM "${schema}".sessions`)).toEqual([{ client_id: 'next' }]);
  });

  it('a write made before an in-flight batch failed is not reported durable by the next flush', async () => {
    const { store, schema } = await openStore();
    store.saveMessage(message(1, { qos: 1.5 as 1 }));
    const failing = store.flush();
    await nextTurn(); // the failing batch is now in flight
    store.saveSession(session('later'));
    const next = store.flush(); // collected while it was in flight: may hold a waiter's writes
    expect(isStoreError(await rejectionOf(failing))).toBe(true);
    // The next batch is in flight now; a batch collected meanwhile is not tainted by it.
    store.saveSession(session('clean'));
    const clean = store.flush();
    const error = await rejectionOf(next);
    expect(isStoreError(error) ? error.code : error).toBe('STORE_WRITE_FAILED');
    expect((error as Error).message).toBe(
      'batch of 1 writes committed, but the batch before it failed and may hold earlier writes',
    );
    await expect(clean).resolves.toBeUndefined();
    const rows = await admin(`SELECT client_id FROM "${schema}".sessions ORDER BY client_id`);
    expect(rows).toEqual([{ client_id: 'clean' }, { client_id: 'later' }]);
  });

  it('applies writes in call order within a batch, across kinds', async () => {
    const { store } = await openStore();
    store.saveSession(session('c'));
    store.saveSubscription('c', 'first', options);
    store.saveSubscription('c', 'second', options);
    store.saveMessage(message(1));
    store.saveDelivery('c', delivery(1, 1));
    await store.flush();
    // Clean start in one batch: the old state goes, what follows the delete stays.
    store.deleteSession('c');
    store.saveSession(session('c'));
    store.saveSubscription('c', 'after', options);
    store.saveDelivery('c', delivery(2, 1));
    store.deleteDelivery('c', 2);
    store.saveDelivery('c', delivery(3, 1));
    store.updateDelivery('c', 3, 7, false);
    // Writes for a session that does not exist are ignored, as by the memory store.
    store.saveSubscription('ghost', 'x', options);
    store.saveDelivery('ghost', delivery(1, 1));
    store.addInboundQos2('ghost', 1);
    await store.flush();
    const reopened = testStore(store.schema);
    cleanups.push(() => reopened.close());
    const snapshot = await reopened.open();
    expect(snapshot.sessions).toEqual([
      {
        session: session('c'),
        subscriptions: [{ topicFilter: 'after', options }],
        deliveries: [{ ...delivery(3, 1), packetId: 7, message: message(1) }],
        inboundQos2: [],
      },
    ]);
  });

  it('findRetained reads the writes still pending', async () => {
    const { store } = await openStore();
    store.saveRetained({ topicName: 'a/b', payload: Buffer.from('v'), qos: 1, properties: undefined });
    const found = await store.findRetained('a/+');
    expect(found.map((record) => record.topicName)).toEqual(['a/b']);
  });
});
