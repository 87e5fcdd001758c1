import type { StoredMessage } from '@mqtt-adapt/router';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PgStore } from '../src/index.js';
import { admin, dropSchema, freshSchema, requirePostgres, testStore } from './helpers.js';

beforeEach(requirePostgres);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function node(schema: string): PgStore {
  const store = testStore(schema);
  cleanups.push(() => store.close());
  return store;
}

function message(id: number, text: string): StoredMessage {
  return {
    id,
    topicName: `t/${text}`,
    payload: Buffer.from(text),
    qos: 1,
    retain: false,
    properties: undefined,
  };
}

const session = (clientId: string) => ({
  clientId,
  protocolVersion: 5 as const,
  sessionExpiryInterval: 60,
  expiresAt: undefined,
  username: undefined,
});
const delivery = (seq: number, messageId: number) => ({
  seq,
  messageId,
  qos: 1 as const,
  retain: false,
  packetId: undefined,
  released: false,
});

describe('two broker nodes on one schema', () => {
  it('both allocate message id 1 for different messages: neither overwrites the other', async () => {
    const schema = freshSchema();
    cleanups.push(() => dropSchema(schema));
    const a = node(schema);
    const b = node(schema);
    const [snapshotA, snapshotB] = await Promise.all([a.open(), b.open()]);
    expect(snapshotA.maxMessageId).toBe(0);
    expect(snapshotB.maxMessageId).toBe(0);

    a.saveMessage(message(1, 'from a'));
    a.saveSession(session('client-a'));
    a.saveDelivery('client-a', delivery(1, 1));
    b.saveMessage(message(1, 'from b'));
    b.saveSession(session('client-b'));
    b.saveDelivery('client-b', delivery(1, 1));
    await Promise.all([a.flush(), b.flush()]);
    // One delivery each: both bodies are inline in their delivery rows, under their own keys.
    const rows = await admin<{ message_epoch: string; message_id: string; text: string }>(
      `SELECT message_epoch::text, message_id::text, convert_from(payload, 'UTF8') AS text
       FROM "${schema}".deliveries ORDER BY text`,
    );
    expect(rows.map((row) => [row.message_id, row.text])).toEqual([
      ['1', 'from a'],
      ['1', 'from b'],
    ]);
    expect(rows[0]?.message_epoch).not.toBe(rows[1]?.message_epoch);
    expect(await admin(`SELECT count(*)::int AS n FROM "${schema}".messages`)).toEqual([{ n: 0 }]);

    // A third node (or a restart) sees both, under distinct ids.
    const c = node(schema);
    const snapshot = await c.open();
    expect(snapshot.maxMessageId).toBe(2);
    const byClient = new Map(snapshot.sessions.map((entry) => [entry.session.clientId, entry]));
    const fromA = byClient.get('client-a')?.deliveries[0]?.message;
    const fromB = byClient.get('client-b')?.deliveries[0]?.message;
    expect(fromA?.payload.toString()).toBe('from a');
    expect(fromB?.payload.toString()).toBe('from b');
    expect(new Set([fromA?.id, fromB?.id])).toEqual(new Set([1, 2]));

    // Node c deletes b's message under the id it was given: a's stays.
    c.deleteDelivery('client-b', 1);
    c.deleteMessage(fromB?.id as number);
    await c.flush();
    const d = node(schema);
    const after = await d.open();
    expect(after.maxMessageId).toBe(1);
    const remaining = after.sessions.flatMap((entry) =>
      entry.deliveries.map((x) => x.message.payload.toString()),
    );
    expect(remaining).toEqual(['from a']);
  });

  it('writes of two nodes to the same retained topic: the later commit wins, no error', async () => {
    const schema = freshSchema();
    cleanups.push(() => dropSchema(schema));
    const a = node(schema);
    const b = node(schema);
    await Promise.all([a.open(), b.open()]);
    a.saveRetained({ topicName: 'shared', payload: Buffer.from('a'), qos: 0, properties: undefined });
    await a.flush();
    b.saveRetained({ topicName: 'shared', payload: Buffer.from('b'), qos: 1, properties: undefined });
    await b.flush();
    const [fromA] = await a.findRetained('shared');
    expect(fromA?.payload.toString()).toBe('b');
    expect(fromA?.qos).toBe(1);
  });

  it('users and ACL rules written by one node are read by the other at once', async () => {
    const schema = freshSchema();
    cleanups.push(() => dropSchema(schema));
    const a = node(schema);
    const b = node(schema);
    await Promise.all([a.open(), b.open()]);
    const before = await b.authVersion();
    const rule = {
      id: 'r',
      subject: 'user',
      username: 'u',
      topicFilter: 'x/%u/#',
      action: 'subscribe',
      permission: 'allow',
    } as const;
    await a.saveUser({ username: 'u', passwordHash: '$7$101$c2FsdA==$aGFzaA==' });
    await a.saveAclRule(rule);
    expect((await b.getUser('u'))?.passwordHash).toBe('$7$101$c2FsdA==$aGFzaA==');
    expect(await b.listAclRules()).toEqual([rule]);
    expect(await b.authVersion()).toBeGreaterThan(before);
  });
});
