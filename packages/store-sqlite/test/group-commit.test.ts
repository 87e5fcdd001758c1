import { isStoreError, type StoredMessage } from '@mqtt-adapt/router';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { SqliteStore } from '../src/index.js';
import { newStore, recordingLogger, removeStoreDir } from './helpers.js';

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
  return store;
}

/** A second, independent connection on the store's file: sees only what is committed. */
function observer(store: SqliteStore): { count(table: string): number } {
  const db = new Database(store.path, { readonly: true });
  observers.push(db);
  return { count: (table) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number };
}

const message = (id: number): StoredMessage => ({
  id,
  topicName: `t/${id}`,
  payload: Buffer.from([id & 0xff]),
  qos: 1,
  retain: false,
  properties: undefined,
});

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('group commit', () => {
  it('commits N writes of one turn in one transaction, visible only once committed', async () => {
    const store = await open();
    const other = observer(store);
    store.saveSession({
      clientId: 'c',
      protocolVersion: 5,
      sessionExpiryInterval: 10,
      expiresAt: undefined,
      username: undefined,
    });
    for (let i = 1; i <= 200; i++) {
      store.saveMessage(message(i));
      store.saveDelivery('c', {
        seq: i,
        messageId: i,
        qos: 1,
        retain: false,
        packetId: undefined,
        released: false,
      });
    }
    // Nothing is committed while the turn runs: a store committing per write fails here.
    expect(other.count('messages')).toBe(0);
    expect(other.count('deliveries')).toBe(0);
    expect(store.stats).toEqual({ commits: 0, writes: 0, failedCommits: 0, cancelled: 0, pending: 401 });
    await store.flush();
    // One delivery per message: each body is inline in its delivery row, no messages row.
    expect(other.count('deliveries')).toBe(200);
    expect(other.count('messages')).toBe(0);
    expect(store.stats).toEqual({ commits: 1, writes: 401, failedCommits: 0, cancelled: 0, pending: 0 });
  });

  it('commits at the end of the turn even when nobody calls flush()', async () => {
    const store = await open();
    const other = observer(store);
    store.saveRetained({ topicName: 'r', payload: Buffer.from('x'), qos: 0, properties: undefined });
    expect(other.count('retained')).toBe(0);
    await nextTurn();
    await nextTurn();
    expect(other.count('retained')).toBe(1);
    expect(store.stats.commits).toBe(1);
  });

  it('flush() shares one promise per batch and returns undefined when nothing is pending', async () => {
    const store = await open();
    expect(store.flush()).toBeUndefined();
    store.saveSession({
      clientId: 'a',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    const first = store.flush();
    store.saveSession({
      clientId: 'b',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    expect(store.flush()).toBe(first);
    await first;
    expect(store.flush()).toBeUndefined();
    store.saveSession({
      clientId: 'c',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    const second = store.flush();
    expect(second).not.toBe(first);
    await second;
    expect(store.stats.commits).toBe(2);
  });

  it('with flushIntervalMs, writes of several turns inside the window share one commit', async () => {
    const store = await open({ flushIntervalMs: 40 });
    const other = observer(store);
    store.saveSession({
      clientId: 'a',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    await nextTurn();
    store.saveSession({
      clientId: 'b',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    await nextTurn();
    expect(other.count('sessions')).toBe(0);
    store.saveSession({
      clientId: 'c',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    await store.flush();
    expect(other.count('sessions')).toBe(3);
    expect(store.stats).toMatchObject({ commits: 1, writes: 3 });
  });

  it('reads commit what is pending first, so they see earlier writes', async () => {
    const store = await open({ flushIntervalMs: 10_000 });
    store.saveRetained({ topicName: 'a/b', payload: Buffer.from('x'), qos: 1, properties: undefined });
    expect((await store.findRetained('a/+')).map((r) => r.topicName)).toEqual(['a/b']);
    expect(store.stats).toMatchObject({ commits: 1, pending: 0 });
  });

  it('a failed commit rolls the whole batch back and rejects its flush() with STORE_WRITE_FAILED', async () => {
    const { logger, calls } = recordingLogger();
    const store = await open({ logger });
    const other = observer(store);
    store.saveSession({
      clientId: 'lost',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    // A user write joins the batch (with its auth_version increment) and shares its fate.
    const savedUser = store.saveUser({ username: 'u', passwordHash: '$7$101$c2FsdA==$aGFzaA==' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The schema refuses a NULL payload; the write itself must not throw.
    const broken = { ...message(1), payload: null } as unknown as StoredMessage;
    expect(() => store.saveMessage(broken)).not.toThrow();
    const error = await store.flush()?.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStoreError(error) && error.code).toBe('STORE_WRITE_FAILED');
    expect((error as Error).message).toMatch(
      /^sqlite commit of 4 writes to .* failed: saveMessage failed: NOT NULL constraint failed: messages\.payload/,
    );
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(await savedUser).toBe(error);
    expect(other.count('sessions')).toBe(0);
    expect(other.count('users')).toBe(0);
    expect(await store.authVersion()).toBe(0);
    expect(calls.filter((c) => c.level === 'error').map((c) => c.msg)).toEqual([
      'sqlite group commit failed',
    ]);
    expect(store.stats).toMatchObject({ commits: 0, failedCommits: 1 });
    // The store goes on.
    store.saveSession({
      clientId: 'next',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    await store.flush();
    expect(other.count('sessions')).toBe(1);
  });

  it('a failed commit nobody waited for rejects the next flush() once', async () => {
    const store = await open();
    const db = (store as unknown as { conn: { db: Database.Database } }).conn.db;
    db.exec(`CREATE TEMP TRIGGER refuse BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    store.saveSession({
      clientId: 'c',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    await nextTurn();
    await nextTurn();
    expect(store.stats).toMatchObject({ commits: 0, failedCommits: 1, pending: 0 });
    const error = await store.flush()?.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStoreError(error) && error.code).toBe('STORE_WRITE_FAILED');
    expect((error as Error).message).toContain('saveSession failed: refused');
    expect(store.flush()).toBeUndefined();
  });

  it('writes after close() do not throw and are dropped; flush() rejects with STORE_CLOSED', async () => {
    const { logger, calls } = recordingLogger();
    const store = await open({ logger });
    await store.close();
    expect(() => {
      store.saveSession({
        clientId: 'c',
        protocolVersion: 4,
        sessionExpiryInterval: undefined,
        expiresAt: undefined,
        username: undefined,
      });
      store.deleteSession('c');
    }).not.toThrow();
    const error = await store.flush()?.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStoreError(error) && error.code).toBe('STORE_CLOSED');
    expect(calls.filter((c) => c.level === 'warn').map((c) => c.msg)).toEqual([
      'sqlite store is not open; dropping writes',
    ]);
  });

  it('close() commits what is pending before closing', async () => {
    const store = await open({ flushIntervalMs: 10_000 });
    store.saveSession({
      clientId: 'c',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    await store.close();
    const db = new Database(store.path, { readonly: true });
    observers.push(db);
    expect(db.prepare('SELECT client_id FROM sessions').pluck().all()).toEqual(['c']);
  });
});
