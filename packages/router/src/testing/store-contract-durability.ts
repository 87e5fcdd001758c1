import { describe, expect, it } from 'vitest';
import { isStoreError } from '../errors.js';
import type { SessionSnapshot, Store } from '../store.js';
import {
  clientIds,
  deliveryRecord,
  itIf,
  normalizeSnapshot,
  retainedRecord,
  sessionOf,
  sessionRecord,
  sessionSnapshot,
  storedMessage,
  subscriptionOptions,
} from './store-contract-fixtures.js';
import type { ContractRun } from './store-contract-run.js';
import { expectEverything, writeEverything } from './store-contract-scenario.js';

/** The error `call` threw or rejected with; `undefined` if it succeeded. */
async function failureOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The async methods a closed store must reject with `STORE_CLOSED`. */
const closedCalls: Array<{ method: string; call: (store: Store) => unknown }> = [
  { method: 'findRetained', call: (store) => store.findRetained('#') },
  { method: 'getUser', call: (store) => store.getUser('alice') },
  { method: 'listUsers', call: (store) => store.listUsers() },
  {
    method: 'saveUser',
    call: (store) => store.saveUser({ username: 'u', passwordHash: '$7$101$c2FsdA==$aGFzaA==' }),
  },
  { method: 'deleteUser', call: (store) => store.deleteUser('alice') },
  { method: 'listAclRules', call: (store) => store.listAclRules() },
  {
    method: 'saveAclRule',
    call: (store) =>
      store.saveAclRule({
        id: 'r',
        subject: 'all',
        username: undefined,
        topicFilter: '#',
        action: 'subscribe',
        permission: 'allow',
      }),
  },
  { method: 'deleteAclRule', call: (store) => store.deleteAclRule('r') },
  { method: 'authVersion', call: (store) => store.authVersion() },
];

/** Group commit, restart, crash, concurrent instances, closed store. */
export function describeDurabilityContract(run: ContractRun): void {
  const { harness } = run;
  const itCrash = itIf(harness.crash !== undefined, 'the harness has no crash()');
  const itConcurrent = itIf(harness.durable, 'durable is false: a second instance is the same store');

  describe('group commit', () => {
    it('many writes then one flush: all of them are durable', async () => {
      const store = run.store;
      const messages = Array.from({ length: 10 }, (_, i) => storedMessage(i + 1, { qos: 2 }));
      for (const message of messages) store.saveMessage(message);
      const expected: SessionSnapshot[] = [];
      for (let i = 0; i < 60; i++) {
        const clientId = `client-${i}`;
        const record = sessionRecord(clientId, { protocolVersion: 5, sessionExpiryInterval: i });
        store.saveSession(record);
        const subscriptions = [`t/${i}/+`, `all/#`].map((topicFilter) => {
          store.saveSubscription(clientId, topicFilter, subscriptionOptions({ qos: 2 }));
          return { topicFilter, options: subscriptionOptions({ qos: 2 }) };
        });
        const deliveries = [1, 2, 3].map((seq) => {
          const message = messages[(i + seq) % messages.length] as (typeof messages)[number];
          const delivery = deliveryRecord(seq, message.id, {
            qos: 2,
            packetId: seq === 1 ? i + 1 : undefined,
          });
          store.saveDelivery(clientId, delivery);
          return [delivery, message] as [typeof delivery, typeof message];
        });
        store.addInboundQos2(clientId, i + 1);
        expected.push(sessionSnapshot(record, { subscriptions, deliveries, inboundQos2: [i + 1] }));
      }
      const retained = Array.from({ length: 40 }, (_, i) => retainedRecord(`r/${i}`));
      for (const record of retained) store.saveRetained(record);
      await store.flush();
      const { snapshot } = await run.observeDurable(store);
      expect(normalizeSnapshot(snapshot)).toEqual(
        normalizeSnapshot({ sessions: expected, retained, maxMessageId: 10 }),
      );
    });

    it('flush() with nothing pending resolves to undefined (or returns undefined)', async () => {
      const store = run.store;
      const first = store.flush();
      expect(first === undefined || typeof first.then === 'function').toBe(true);
      expect(await first).toBeUndefined();
      store.saveSession(sessionRecord('c'));
      expect(await store.flush()).toBeUndefined();
      expect(await store.flush()).toBeUndefined();
      expect(await Promise.all([store.flush(), store.flush()])).toEqual([undefined, undefined]);
      const { snapshot } = await run.observeDurable(store);
      expect(clientIds(snapshot)).toEqual(['c']);
    });

    it('a flush covers the writes made while an earlier flush was in progress', async () => {
      const store = run.store;
      store.saveSession(sessionRecord('first'));
      const p1 = store.flush();
      store.saveSession(sessionRecord('second'));
      store.saveSubscription('first', 'added/while/flushing', subscriptionOptions());
      const p2 = store.flush();
      store.saveSession(sessionRecord('third'));
      const p3 = store.flush();
      expect(await Promise.all([p1, p2, p3])).toEqual([undefined, undefined, undefined]);
      const { snapshot } = await run.observeDurable(store);
      expect(clientIds(snapshot)).toEqual(['first', 'second', 'third']);
      expect(sessionOf(snapshot, 'first').subscriptions).toEqual([
        { topicFilter: 'added/while/flushing', options: subscriptionOptions() },
      ]);
    });

    it('writes to the same record within one batch apply in call order', async () => {
      const store = run.store;
      const message = storedMessage(1, { qos: 2 });
      store.saveMessage(message);
      store.saveSession(sessionRecord('c'));
      store.addInboundQos2('c', 10);
      store.saveRetained(retainedRecord('kept'));
      await store.flush();

      store.saveDelivery('c', deliveryRecord(1, 1, { qos: 2 }));
      store.deleteDelivery('c', 1);
      store.saveDelivery('c', deliveryRecord(2, 1, { qos: 2 }));
      store.updateDelivery('c', 2, 5, false);
      store.updateDelivery('c', 2, 5, true);
      store.saveSubscription('c', 'f', subscriptionOptions({ qos: 0 }));
      store.deleteSubscription('c', 'f');
      store.saveSubscription('c', 'f', subscriptionOptions({ qos: 2 }));
      store.saveSubscription('c', 'g', subscriptionOptions());
      store.deleteSubscription('c', 'g');
      store.addInboundQos2('c', 9);
      store.deleteInboundQos2('c', 9);
      store.deleteInboundQos2('c', 10);
      store.addInboundQos2('c', 10);
      store.saveRetained(retainedRecord('x'));
      store.deleteRetained('x');
      store.deleteRetained('kept');
      store.saveRetained(retainedRecord('kept', { qos: 2 }));
      store.saveSession(sessionRecord('short-lived'));
      store.deleteSession('short-lived');
      await store.flush();

      const { snapshot } = await run.observeDurable(store);
      expect(normalizeSnapshot(snapshot)).toEqual({
        sessions: [
          sessionSnapshot(sessionRecord('c'), {
            subscriptions: [{ topicFilter: 'f', options: subscriptionOptions({ qos: 2 }) }],
            deliveries: [[deliveryRecord(2, 1, { qos: 2, packetId: 5, released: true }), message]],
            inboundQos2: [10],
          }),
        ],
        retained: [retainedRecord('kept', { qos: 2 })],
        maxMessageId: 1,
      });
    });

    it('close() flushes what is pending', async () => {
      const store = run.store;
      store.saveSession(sessionRecord('c'));
      store.saveSubscription('c', 'f', subscriptionOptions());
      store.saveRetained(retainedRecord('r'));
      await run.close(store);
      const reopened = await run.reopen(store);
      const snapshot = await reopened.open();
      expect(normalizeSnapshot(snapshot)).toEqual({
        sessions: [
          sessionSnapshot(sessionRecord('c'), {
            subscriptions: [{ topicFilter: 'f', options: subscriptionOptions() }],
          }),
        ],
        retained: [retainedRecord('r')],
        maxMessageId: 0,
      });
    });
  });

  describe('restart', () => {
    it('after close and reopen everything flushed is there; a second restart changes nothing', async () => {
      const expected = await writeEverything(run.store);
      const first = await run.restart(run.store);
      await expectEverything(first.store, first.snapshot, expected);
      const second = await run.restart(first.store);
      await expectEverything(second.store, second.snapshot, expected);
    });

    it('a reopened store takes new writes on top of what it loaded', async () => {
      const expected = await writeEverything(run.store);
      const first = await run.restart(run.store);
      const store = first.store;
      const message = storedMessage(first.snapshot.maxMessageId + 1, { topicName: 'new' });
      store.saveMessage(message);
      store.saveDelivery('alpha', deliveryRecord(10, message.id));
      store.deleteDelivery('alpha', 1);
      store.saveSubscription('beta', 'new/+', subscriptionOptions());
      const second = await run.restart(store);
      expect(second.snapshot.maxMessageId).toBe(3);
      expect(sessionOf(second.snapshot, 'alpha').deliveries.map((d) => [d.seq, d.message.id])).toEqual([
        [2, 2],
        [3, 1],
        [10, 3],
      ]);
      expect(sessionOf(second.snapshot, 'beta').subscriptions.map((s) => s.topicFilter)).toEqual([
        '+/status',
        'new/+',
      ]);
      expect(normalizeSnapshot(second.snapshot).retained).toEqual(expected.snapshot.retained);
    });
  });

  describe('crash', () => {
    itCrash('flushed writes survive a crash; unflushed ones may or may not', async () => {
      const store = run.store;
      const expected = await writeEverything(store);
      await store.flush();
      // Never flushed: confined to records of their own, so only they may differ after the crash.
      store.saveMessage(storedMessage(100));
      store.saveSession(sessionRecord('unflushed'));
      store.saveDelivery('unflushed', deliveryRecord(1, 100));
      store.saveRetained(retainedRecord('unflushed/topic'));
      const { store: reopened, snapshot } = await run.crashAndReopen(store);
      expect([2, 100]).toContain(snapshot.maxMessageId);
      const flushedPart = {
        sessions: snapshot.sessions.filter((entry) => entry.session.clientId !== 'unflushed'),
        retained: snapshot.retained.filter((record) => record.topicName !== 'unflushed/topic'),
        maxMessageId: 2,
      };
      await expectEverything(reopened, flushedPart, expected);
    });

    itCrash('a store reopened after a crash takes writes and keeps them through another crash', async () => {
      run.store.saveSession(sessionRecord('before'));
      await run.store.flush();
      const first = await run.crashAndReopen(run.store);
      expect(clientIds(first.snapshot)).toEqual(['before']);
      first.store.saveSession(sessionRecord('after'));
      first.store.deleteSession('before');
      await first.store.flush();
      const second = await run.crashAndReopen(first.store);
      expect(clientIds(second.snapshot)).toEqual(['after']);
    });
  });

  describe('concurrent writers', () => {
    itConcurrent('two instances on one database write different sessions; a third sees both', async () => {
      const a = run.store;
      const b = await run.reopen(a);
      await b.open();
      a.saveMessage(storedMessage(1));
      a.saveSession(sessionRecord('from-a'));
      a.saveSubscription('from-a', 'a/#', subscriptionOptions());
      a.saveDelivery('from-a', deliveryRecord(1, 1));
      b.saveMessage(storedMessage(2));
      b.saveSession(sessionRecord('from-b', { protocolVersion: 5 }));
      b.saveSubscription('from-b', 'b/#', subscriptionOptions({ qos: 2 }));
      b.saveDelivery('from-b', deliveryRecord(1, 2));
      b.saveRetained(retainedRecord('from/b'));
      await Promise.all([a.flush(), b.flush()]);
      const c = await run.reopen(a);
      const snapshot = await c.open();
      expect(normalizeSnapshot(snapshot)).toEqual({
        sessions: [
          sessionSnapshot(sessionRecord('from-a'), {
            subscriptions: [{ topicFilter: 'a/#', options: subscriptionOptions() }],
            deliveries: [[deliveryRecord(1, 1), storedMessage(1)]],
          }),
          sessionSnapshot(sessionRecord('from-b', { protocolVersion: 5 }), {
            subscriptions: [{ topicFilter: 'b/#', options: subscriptionOptions({ qos: 2 }) }],
            deliveries: [[deliveryRecord(1, 2), storedMessage(2)]],
          }),
        ],
        retained: [retainedRecord('from/b')],
        maxMessageId: 2,
      });
    });
  });

  describe('closed store', () => {
    it.each(closedCalls)('$method after close() rejects with a StoreError STORE_CLOSED', async ({ call }) => {
      const store = run.store;
      await run.close(store);
      const error = await failureOf(() => call(store));
      expect(error, 'the call should reject').toBeInstanceOf(Error);
      expect(isStoreError(error) ? error.code : error).toBe('STORE_CLOSED');
    });
  });
}
