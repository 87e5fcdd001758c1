import type { StoredMessage } from '@mqtt-adapt/router';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PgStore } from '../src/index.js';
import {
  admin,
  dropSchema,
  freshApplicationName,
  freshSchema,
  requirePostgres,
  testStore,
  traceQueries,
} from './helpers.js';

beforeEach(requirePostgres);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Node {
  readonly store: PgStore;
  /** `[clientId, ownerNode]` per `onFenced` call, in order. */
  readonly fenced: Array<[string, string | undefined]>;
}

function node(schema: string, nodeId: string, applicationName?: string): Node {
  const fenced: Array<[string, string | undefined]> = [];
  const store = testStore(schema, {
    applicationName,
    experimental_fencing: { nodeId, onFenced: (clientId, ownerNode) => fenced.push([clientId, ownerNode]) },
  });
  cleanups.push(() => store.close());
  return { store, fenced };
}

function schemaForTest(): string {
  const schema = freshSchema();
  cleanups.push(() => dropSchema(schema));
  return schema;
}

const message = (id: number, text: string): StoredMessage => ({
  id,
  topicName: `t/${text}`,
  payload: Buffer.from(text),
  qos: 1,
  retain: false,
  properties: { userProperties: [['k', text]] },
});
const session = (clientId: string) => ({
  clientId,
  protocolVersion: 5 as const,
  sessionExpiryInterval: 3600,
  expiresAt: undefined,
  username: 'u',
});
const delivery = (seq: number, messageId: number) => ({
  seq,
  messageId,
  qos: 1 as const,
  retain: false,
  packetId: undefined,
  released: false,
});
const subscription = {
  qos: 1 as const,
  noLocal: false,
  retainAsPublished: false,
  retainHandling: 0 as const,
  subscriptionIdentifier: undefined,
};

async function count(schema: string, table: string, clientId: string): Promise<number> {
  const rows = await admin<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${schema}".${table} WHERE client_id = $1`,
    [clientId],
  );
  return rows[0]?.n ?? -1;
}

async function owner(schema: string, clientId: string): Promise<{ owner_node: string; owner_epoch: number }> {
  const rows = await admin<{ owner_node: string; owner_epoch: number }>(
    `SELECT owner_node, owner_epoch::int FROM "${schema}".session_owners WHERE client_id = $1`,
    [clientId],
  );
  return rows[0]!;
}

describe('fencing (cluster mode): one owner per client id', () => {
  it('without the option: no ownership query is ever sent, experimental_claimSession is refused', async () => {
    const schema = schemaForTest();
    const applicationName = freshApplicationName();
    const trace = traceQueries(applicationName);
    cleanups.push(trace.restore);
    const store = testStore(schema, { applicationName });
    cleanups.push(() => store.close());
    await store.open();
    trace.statements.length = 0; // the migration creates the table; what matters comes after
    store.saveSession(session('c'));
    store.saveSubscription('c', 'a/#', subscription);
    await store.flush();
    expect(trace.statements.some((s) => s.includes('session_owners') || s === 'mqa_owners_check')).toBe(
      false,
    );
    await expect(store.experimental_claimSession('c')).rejects.toThrow(TypeError);
    // And open() still restores every stored session.
    const again = testStore(schema);
    cleanups.push(() => again.close());
    expect((await again.open()).sessions.map((s) => s.session.clientId)).toEqual(['c']);
  });

  it('a fenced open() serves no session until it claims one; retained messages as usual', async () => {
    const schema = schemaForTest();
    const plain = testStore(schema);
    await plain.open();
    plain.saveSession(session('c'));
    plain.saveRetained({ topicName: 'r', payload: Buffer.from('x'), qos: 0, properties: undefined });
    await plain.close();
    const a = node(schema, 'node-a');
    const snapshot = await a.store.open();
    expect(snapshot.sessions).toEqual([]);
    expect(snapshot.retained.map((r) => r.topicName)).toEqual(['r']);
    expect(snapshot.maxMessageId).toBe(0);
    const claim = await a.store.experimental_claimSession('c');
    expect(claim).toMatchObject({ clientId: 'c', epoch: 1, previousOwner: undefined });
    expect(claim.session?.session).toEqual(session('c'));
  });

  it("B takes the session over: it gets what A committed, A's later writes are refused and A is told", async () => {
    const schema = schemaForTest();
    const a = node(schema, 'node-a');
    const b = node(schema, 'node-b');
    await Promise.all([a.store.open(), b.store.open()]);

    expect(await a.store.experimental_claimSession('c')).toMatchObject({
      epoch: 1,
      previousOwner: undefined,
      session: undefined,
    });
    await a.store.experimental_claimSession('other');
    a.store.saveSession(session('c'));
    a.store.saveSubscription('c', 'a/#', subscription);
    a.store.saveMessage(message(1, 'one'));
    a.store.saveDelivery('c', delivery(1, 1));
    a.store.saveMessage(message(2, 'two'));
    a.store.saveDelivery('c', delivery(2, 2));
    a.store.saveSession(session('other'));
    a.store.saveDelivery('other', delivery(1, 2)); // message 2 is shared: a messages row
    await a.store.flush();
    expect(a.fenced).toEqual([]);

    const claim = await b.store.experimental_claimSession('c');
    expect(claim.epoch).toBe(2);
    expect(claim.previousOwner).toBe('node-a');
    expect(claim.session?.subscriptions).toEqual([{ topicFilter: 'a/#', options: subscription }]);
    const deliveries = claim.session?.deliveries ?? [];
    expect(deliveries.map((d) => [d.seq, d.message.payload.toString(), d.message.properties])).toEqual([
      [1, 'one', { userProperties: [['k', 'one']] }],
      [2, 'two', { userProperties: [['k', 'two']] }],
    ]);
    // Claimed messages get ids below 0: the router allocates above 0, so they never collide.
    expect(deliveries.every((d) => d.messageId < 0 && d.message.id === d.messageId)).toBe(true);
    expect(await owner(schema, 'c')).toEqual({ owner_node: 'node-b', owner_epoch: 2 });

    // A, slow, still believes it owns c: every session write for c is refused, the ones for
    // `other` (still A's) in the same batch commit; A hears of it before flush() resolves.
    let fencedBeforeFlush: unknown;
    a.store.deleteDelivery('c', 1);
    a.store.saveDelivery('c', delivery(3, 1));
    a.store.saveSubscription('c', 'b/#', subscription);
    a.store.deleteSubscription('c', 'a/#');
    a.store.deleteDelivery('other', 1);
    await a.store.flush().then(() => {
      fencedBeforeFlush = [...a.fenced];
    });
    expect(fencedBeforeFlush).toEqual([['c', 'node-b']]);
    expect(await count(schema, 'deliveries', 'c')).toBe(2);
    expect(await count(schema, 'subscriptions', 'c')).toBe(1);
    expect(await count(schema, 'deliveries', 'other')).toBe(0);
    // Even a delete of the whole session is refused.
    a.store.deleteSession('c');
    await a.store.flush();
    expect(await count(schema, 'sessions', 'c')).toBe(1);
    expect(a.fenced).toEqual([
      ['c', 'node-b'],
      ['c', 'node-b'],
    ]);

    // A drops its copy and releases the message bodies it wrote: B's deliveries keep theirs.
    a.store.deleteMessage(1);
    a.store.deleteMessage(2);
    await a.store.flush();

    // B's writes pass, under its ids.
    b.store.deleteDelivery('c', 1);
    b.store.deleteMessage(deliveries[0]!.messageId);
    await b.store.flush();
    expect(b.fenced).toEqual([]);
    expect(await count(schema, 'deliveries', 'c')).toBe(1);

    // A third node claiming now finds exactly B's state, bodies included.
    const c = node(schema, 'node-c');
    await c.store.open();
    const third = await c.store.experimental_claimSession('c');
    expect(third).toMatchObject({ epoch: 3, previousOwner: 'node-b' });
    expect(third.session?.deliveries.map((d) => [d.seq, d.message.payload.toString()])).toEqual([[2, 'two']]);
  });

  it('a batch racing a claim either committed before it (the claim sees it) or is refused: never both, never lost silently', async () => {
    const schema = schemaForTest();
    const a = node(schema, 'node-a');
    const b = node(schema, 'node-b');
    await Promise.all([a.store.open(), b.store.open()]);
    for (let round = 0; round < 12; round++) {
      const clientId = `race-${round}`;
      await a.store.experimental_claimSession(clientId);
      a.store.saveSession(session(clientId));
      await a.store.flush();
      // A's write and B's claim at the same time.
      a.store.saveSubscription(clientId, `r/${round}`, subscription);
      const written = a.store.flush();
      const claimed = b.store.experimental_claimSession(clientId);
      const [, claim] = await Promise.all([written, claimed]);
      const seenByClaim = (claim.session?.subscriptions.length ?? 0) === 1;
      const refused = a.fenced.some(([id]) => id === clientId);
      expect({ round, seenByClaim, refused }).toEqual({ round, seenByClaim: !refused, refused });
      expect(await count(schema, 'subscriptions', clientId)).toBe(seenByClaim ? 1 : 0);
    }
  });

  it('claiming again from the same node bumps the epoch and keeps its writes passing', async () => {
    const schema = schemaForTest();
    const a = node(schema, 'node-a');
    await a.store.open();
    expect((await a.store.experimental_claimSession('c')).epoch).toBe(1);
    a.store.saveSession(session('c'));
    a.store.saveSubscription('c', 'x', subscription);
    const again = await a.store.experimental_claimSession('c'); // commits the pending writes first
    expect(again).toMatchObject({ epoch: 2, previousOwner: undefined });
    expect(again.session?.subscriptions.map((s) => s.topicFilter)).toEqual(['x']);
    a.store.deleteSubscription('c', 'x');
    await a.store.flush();
    expect(a.fenced).toEqual([]);
    expect(await count(schema, 'subscriptions', 'c')).toBe(0);
  });

  it('writes for a client id never claimed here are refused', async () => {
    const schema = schemaForTest();
    const a = node(schema, 'node-a');
    await a.store.open();
    a.store.saveSession(session('stranger'));
    await a.store.flush();
    expect(a.fenced).toEqual([['stranger', undefined]]);
    expect(await count(schema, 'sessions', 'stranger')).toBe(0);
  });

  it('adoption: orphaned sessions are listed, one survivor adopts each, later adopters and claims see the new owner', async () => {
    const schema = schemaForTest();
    const dead = node(schema, 'node-dead');
    const b = node(schema, 'node-b');
    const c = node(schema, 'node-c');
    await Promise.all([dead.store.open(), b.store.open(), c.store.open()]);
    for (const id of ['p1', 'p2']) {
      await dead.store.experimental_claimSession(id);
      dead.store.saveSession(session(id));
      dead.store.saveSubscription(id, `t/${id}`, subscription);
    }
    dead.store.saveMessage(message(1, 'queued'));
    dead.store.saveDelivery('p1', delivery(1, 1));
    // A clean client: owned by the dead node, but no session row: nothing to adopt.
    await dead.store.experimental_claimSession('clean');
    await dead.store.flush();

    expect(await b.store.experimental_orphanedSessions(['node-dead', 'node-b', 'node-c'])).toEqual([]);
    const orphans = await b.store.experimental_orphanedSessions(['node-b', 'node-c']);
    expect(orphans).toEqual([
      { clientId: 'p1', ownerNode: 'node-dead' },
      { clientId: 'p2', ownerNode: 'node-dead' },
    ]);
    const [fromB, fromC] = await Promise.all([
      b.store.experimental_adoptSession('p1', ['node-dead']),
      c.store.experimental_adoptSession('p1', ['node-dead']),
    ]);
    // Exactly one of them adopted it, with its queued delivery.
    const adopted = [fromB, fromC].filter((claim) => claim !== undefined);
    expect(adopted).toHaveLength(1);
    expect(adopted[0]).toMatchObject({ clientId: 'p1', epoch: 2, previousOwner: 'node-dead' });
    expect(adopted[0]!.session?.deliveries.map((d) => d.message.payload.toString())).toEqual(['queued']);
    const winner = fromB !== undefined ? 'node-b' : 'node-c';
    expect(await owner(schema, 'p1')).toEqual({ owner_node: winner, owner_epoch: 2 });
    // Adopting from the dead node again is refused: it is not the owner any more.
    expect(await b.store.experimental_adoptSession('p1', ['node-dead'])).toBeUndefined();
    expect(await c.store.experimental_adoptSession('p1', ['node-dead'])).toBeUndefined();
    // The owners as the audit reads them.
    const owners = await b.store.experimental_sessionOwners(['p1', 'p2', 'clean', 'never']);
    expect(Object.fromEntries(owners)).toEqual({
      p1: { ownerNode: winner, epoch: 2 },
      p2: { ownerNode: 'node-dead', epoch: 1 },
      clean: { ownerNode: 'node-dead', epoch: 1 },
    });
    // The dead node's late write is refused.
    dead.store.saveSubscription('p1', 'late', subscription);
    await dead.store.flush();
    expect(dead.fenced).toEqual([['p1', winner]]);
    expect(await b.store.experimental_orphanedSessions(['node-b', 'node-c'])).toEqual([
      { clientId: 'p2', ownerNode: 'node-dead' },
    ]);
  });
});
