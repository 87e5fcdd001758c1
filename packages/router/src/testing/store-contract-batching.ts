import { describe, expect, it } from 'vitest';
import type { DeliveryRecord, SessionSnapshot, Store, StoredMessage, StoreSnapshot } from '../store.js';
import {
  deliveryRecord,
  normalizeSnapshot,
  pseudoRandomBytes,
  publishProperties,
  sessionOf,
  sessionRecord,
  sessionSnapshot,
  storedMessage,
} from './store-contract-fixtures.js';
import type { ContractRun } from './store-contract-run.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Seeds of the generated runs; `STORE_CONTRACT_SEEDS=n` runs n more, from a random start
 * (printed in the test names), to hunt longer locally.
 */
const generatedSeeds: number[] = [0x5eed1, 0xb0a7, 0x1234567, ...extraSeeds()];

function extraSeeds(): number[] {
  const count = Number(process.env.STORE_CONTRACT_SEEDS ?? 0);
  const start = Math.floor(Math.random() * 0x7fffffff);
  return Array.from({ length: Number.isFinite(count) ? count : 0 }, (_, i) => (start + i * 7919) | 1);
}

/**
 * What a store may do with a batch of delivery writes (see "Saved keys are new" in `Store`):
 * cancel a save by the delete that follows it before the commit, keep a body inline with its
 * only delivery, coalesce updates and deletes of many deliveries. Whatever it does, what comes
 * back after a restart is what the calls in order leave.
 */
export function describeBatchingContract(run: ContractRun): void {
  describe('batched delivery writes', () => {
    it('a delivery and its message saved and deleted before the flush leave nothing; the rest stays', async () => {
      const store = run.store;
      store.saveSession(sessionRecord('c'));
      store.saveSession(sessionRecord('d'));
      const kept = storedMessage(2, { properties: publishProperties() });
      store.saveMessage(storedMessage(1));
      store.saveDelivery('c', deliveryRecord(1, 1, { packetId: 1 }));
      store.saveMessage(kept);
      store.saveDelivery('c', deliveryRecord(2, 2, { packetId: 2 }));
      store.saveDelivery('d', deliveryRecord(1, 1));
      store.deleteDelivery('c', 1); // acknowledged before the commit
      store.deleteDelivery('d', 1);
      store.deleteMessage(1);
      store.updateDelivery('c', 2, 7, false);
      const { snapshot } = await run.restart(store);
      expect(sessionOf(snapshot, 'c').deliveries).toEqual([
        { ...deliveryRecord(2, 2, { packetId: 7 }), message: kept },
      ]);
      expect(sessionOf(snapshot, 'd').deliveries).toEqual([]);
      expect(snapshot.maxMessageId).toBeGreaterThanOrEqual(2);
    });

    it('a delivery deleted in the turn after its save, before that save was awaited, is gone', async () => {
      const store = run.store;
      store.saveSession(sessionRecord('c'));
      await store.flush();
      for (let seq = 1; seq <= 20; seq++) {
        store.saveMessage(storedMessage(seq));
        store.saveDelivery('c', deliveryRecord(seq, seq, { packetId: seq }));
      }
      const saved = store.flush();
      await nextTurn();
      // The subscriber acknowledged the odd ones while the save may still be waiting to commit.
      for (let seq = 1; seq <= 20; seq += 2) {
        store.deleteDelivery('c', seq);
        store.deleteMessage(seq);
      }
      store.updateDelivery('c', 2, 100, true);
      const deleted = store.flush();
      expect(await Promise.all([saved, deleted])).toEqual([undefined, undefined]);
      const { snapshot } = await run.restart(store);
      expect(sessionOf(snapshot, 'c').deliveries.map((d) => [d.seq, d.packetId, d.released])).toEqual([
        [2, 100, true],
        [4, 4, false],
        [6, 6, false],
        [8, 8, false],
        [10, 10, false],
        [12, 12, false],
        [14, 14, false],
        [16, 16, false],
        [18, 18, false],
        [20, 20, false],
      ]);
      for (const delivery of sessionOf(snapshot, 'c').deliveries)
        expect(delivery.message).toEqual(storedMessage(delivery.seq));
    });

    it('a message with one delivery keeps its body for a delivery saved later, after the first goes', async () => {
      const store = run.store;
      const message = storedMessage(1, { properties: publishProperties(), retain: true });
      const big = storedMessage(2, { payload: pseudoRandomBytes(64 * 1024, 3) });
      store.saveSession(sessionRecord('a'));
      store.saveSession(sessionRecord('b'));
      store.saveSession(sessionRecord('c'));
      store.saveMessage(message);
      store.saveDelivery('a', deliveryRecord(1, 1));
      store.saveMessage(big);
      store.saveDelivery('a', deliveryRecord(2, 2));
      await store.flush();
      // A retained message sent again, a shared-subscription redelivery: same message id.
      store.saveDelivery('b', deliveryRecord(1, 1, { qos: 2 }));
      store.saveDelivery('b', deliveryRecord(2, 2));
      await store.flush();
      store.deleteDelivery('a', 1);
      store.deleteDelivery('a', 2);
      const first = await run.restart(store);
      expect(sessionOf(first.snapshot, 'a').deliveries).toEqual([]);
      expect(sessionOf(first.snapshot, 'b').deliveries).toEqual([
        { ...deliveryRecord(1, 1, { qos: 2 }), message },
        { ...deliveryRecord(2, 2), message: big },
      ]);
      // The same after a restart: the reopened store hands the body to yet another delivery.
      first.store.saveDelivery('c', deliveryRecord(5, 1));
      await first.store.flush();
      first.store.deleteDelivery('b', 1);
      const second = await run.restart(first.store);
      expect(sessionOf(second.snapshot, 'b').deliveries).toEqual([{ ...deliveryRecord(2, 2), message: big }]);
      expect(sessionOf(second.snapshot, 'c').deliveries).toEqual([{ ...deliveryRecord(5, 1), message }]);
      expect(second.snapshot.maxMessageId).toBe(2);
      second.store.deleteDelivery('c', 5);
      second.store.deleteMessage(1);
      second.store.deleteDelivery('b', 2);
      second.store.deleteMessage(2);
      const third = await run.restart(second.store);
      expect(third.snapshot.sessions.flatMap((s) => s.deliveries)).toEqual([]);
      expect(third.snapshot.maxMessageId).toBe(0);
    });

    it('updates and deletes of many deliveries, in runs and not, packet ids wrapping, apply exactly', async () => {
      const store = run.store;
      store.saveSession(sessionRecord('c'));
      store.saveSession(sessionRecord('other'));
      for (let seq = 1; seq <= 300; seq++) {
        store.saveMessage(storedMessage(seq));
        store.saveDelivery('c', deliveryRecord(seq, seq));
      }
      store.saveMessage(storedMessage(1000));
      for (const seq of [5, 6, 7]) store.saveDelivery('other', deliveryRecord(seq, 1000, { packetId: seq }));
      await store.flush();
      const expected = new Map<number, DeliveryRecord>();
      for (let seq = 1; seq <= 300; seq++) expected.set(seq, deliveryRecord(seq, seq));
      const update = (seq: number, packetId: number, released: boolean): void => {
        store.updateDelivery('c', seq, packetId, released);
        expected.set(seq, deliveryRecord(seq, seq, { packetId, released }));
      };
      // In-flight window order: seq and packet id advance together, wrapping 65535 -> 1.
      for (let seq = 1; seq <= 120; seq++) update(seq, ((65500 + seq - 1) % 65535) + 1, false);
      update(60, 17, true); // out of step
      for (let seq = 200; seq >= 180; seq--) update(seq, seq, seq % 2 === 0); // reverse order
      store.updateDelivery('c', 301, 9, false); // unknown seq: ignored
      for (const seq of [1, 2, 3, 4, 10, 11, 12, 50, 52, 54, 119, 120, 121, 299, 300, 400]) {
        store.deleteDelivery('c', seq);
        expected.delete(seq);
      }
      const { snapshot } = await run.restart(store);
      expect(sessionOf(snapshot, 'c').deliveries).toEqual(
        [...expected.values()].map((d) => ({ ...d, message: storedMessage(d.messageId) })),
      );
      expect(sessionOf(snapshot, 'other').deliveries.map((d) => d.seq)).toEqual([5, 6, 7]);
    });

    it.each(generatedSeeds)(
      'a generated run of router-like writes, turns and flushes ends as the calls in order leave it (seed %i)',
      async (seed) => {
        const model = await generatedRun(run.store, seed);
        const { snapshot } = await run.restart(run.store);
        expectModel(snapshot, model);
      },
    );
  });
}

/** What a store must hold after `generatedRun`: sessions with their deliveries and messages. */
interface Model {
  readonly sessions: Map<string, Map<number, DeliveryRecord>>;
  readonly messages: Map<number, { message: StoredMessage; refs: number }>;
  allocated: number;
}

/**
 * Writes as the router makes them (fresh ids and seqs, messages deleted with their last
 * delivery, updates of packet ids, session resets), over many turns, flushing now and then
 * without always waiting: every path a store may take (cancelled saves in and across batches,
 * inline bodies, later deliveries of one message, coalesced updates and deletes) comes up.
 * Deterministic (xorshift32 from `seed`).
 */
async function generatedRun(store: Store, seed: number): Promise<Model> {
  let x = seed | 0;
  const random = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const clients = ['a', 'b', 'c', 'd'];
  const model: Model = { sessions: new Map(), messages: new Map(), allocated: 0 };
  const nextSeq = new Map<string, number>();
  const pendingFlushes: Array<Promise<void> | undefined> = [];
  for (const clientId of clients) {
    store.saveSession(sessionRecord(clientId));
    model.sessions.set(clientId, new Map());
    nextSeq.set(clientId, 1);
  }
  const addDelivery = (clientId: string, messageId: number): void => {
    const seq = nextSeq.get(clientId) as number;
    nextSeq.set(clientId, seq + 1);
    const delivery = deliveryRecord(seq, messageId, {
      packetId: random(3) === 0 ? undefined : random(65535) + 1,
    });
    store.saveDelivery(clientId, delivery);
    model.sessions.get(clientId)?.set(seq, delivery);
    (model.messages.get(messageId) as { refs: number }).refs++;
  };
  const removeDelivery = (clientId: string, seq: number): void => {
    const delivery = model.sessions.get(clientId)?.get(seq) as DeliveryRecord;
    store.deleteDelivery(clientId, seq);
    model.sessions.get(clientId)?.delete(seq);
    unref(delivery.messageId);
  };
  const unref = (messageId: number): void => {
    const entry = model.messages.get(messageId) as { refs: number };
    entry.refs--;
    if (entry.refs === 0) {
      store.deleteMessage(messageId);
      model.messages.delete(messageId);
    }
  };
  for (let turn = 0; turn < 60; turn++) {
    for (let op = random(40); op > 0; op--) {
      const clientId = clients[random(clients.length)] as string;
      const deliveries = model.sessions.get(clientId) as Map<number, DeliveryRecord>;
      const choice = random(100);
      if (choice < 40) {
        // A publish: one message to 1..3 sessions (mostly one), sometimes large.
        const id = ++model.allocated;
        const size = random(10) === 0 ? 2000 : random(100);
        const message = storedMessage(id, {
          payload: pseudoRandomBytes(size, id),
          properties: random(4) === 0 ? publishProperties() : undefined,
        });
        store.saveMessage(message);
        model.messages.set(id, { message, refs: 0 });
        const targets = random(4) === 0 ? clients.slice(0, 1 + random(3)) : [clientId];
        for (const target of targets) addDelivery(target, id);
      } else if (choice < 50 && model.messages.size > 0) {
        // A stored message delivered again (retained, shared redelivery).
        const ids = [...model.messages.keys()];
        addDelivery(clientId, ids[random(ids.length)] as number);
      } else if (choice < 80 && deliveries.size > 0) {
        const seqs = [...deliveries.keys()];
        removeDelivery(clientId, seqs[random(Math.min(seqs.length, 3))] as number); // mostly the oldest
      } else if (choice < 97 && deliveries.size > 0) {
        const seqs = [...deliveries.keys()];
        const seq = seqs[random(seqs.length)] as number;
        const updated = {
          ...(deliveries.get(seq) as DeliveryRecord),
          packetId: random(65535) + 1,
          released: random(2) === 0,
        };
        store.updateDelivery(clientId, seq, updated.packetId, updated.released);
        deliveries.set(seq, updated);
      } else {
        // Clean start: the session and everything under it go (the router then releases the
        // messages of its deliveries), a new one begins with seq 1.
        store.deleteSession(clientId);
        for (const delivery of [...deliveries.values()]) unref(delivery.messageId);
        store.saveSession(sessionRecord(clientId));
        deliveries.clear();
        nextSeq.set(clientId, 1);
      }
    }
    const flushKind = random(4);
    if (flushKind === 0) await store.flush();
    else if (flushKind === 1) pendingFlushes.push(store.flush());
    await nextTurn();
  }
  await Promise.all(pendingFlushes);
  return model;
}

function expectModel(snapshot: StoreSnapshot, model: Model): void {
  const expected: SessionSnapshot[] = [];
  let highest = 0;
  for (const [clientId, deliveries] of model.sessions) {
    const pairs: Array<[DeliveryRecord, StoredMessage]> = [...deliveries.values()]
      .sort((p, q) => p.seq - q.seq)
      .map((d) => {
        highest = Math.max(highest, d.messageId);
        return [d, model.messages.get(d.messageId)?.message as StoredMessage];
      });
    expected.push(sessionSnapshot(sessionRecord(clientId), { deliveries: pairs }));
  }
  const actual = normalizeSnapshot(snapshot);
  expect(actual.sessions).toEqual(
    normalizeSnapshot({ sessions: expected, retained: [], maxMessageId: 0 }).sessions,
  );
  expect(snapshot.maxMessageId).toBeGreaterThanOrEqual(highest);
  expect(snapshot.maxMessageId).toBeLessThanOrEqual(model.allocated);
}
