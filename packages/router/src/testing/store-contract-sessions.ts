import { describe, expect, it } from 'vitest';
import type { StoredSubscription } from '../store.js';
import {
  clientIds,
  deliveryRecord,
  normalizeSession,
  normalizeSnapshot,
  sessionOf,
  sessionRecord,
  sessionSnapshot,
  storedMessage,
  subscriptionOptions,
} from './store-contract-fixtures.js';
import type { ContractRun } from './store-contract-run.js';

/** open() of an empty store, sessions, subscriptions and inbound QoS 2 ids. */
export function describeSessionsContract(run: ContractRun): void {
  it('open() of a new store returns no sessions, no retained messages and maxMessageId 0', () => {
    expect(run.initialSnapshot).toEqual({ sessions: [], retained: [], maxMessageId: 0 });
  });

  it('name is set and durable matches the harness', () => {
    expect(typeof run.store.name).toBe('string');
    expect(run.store.name.length).toBeGreaterThan(0);
    expect(run.store.durable).toBe(run.harness.durable);
  });

  describe('sessions', () => {
    it('saves sessions of every protocol version and expiry, with odd client ids', async () => {
      const records = [
        sessionRecord('v3', { protocolVersion: 3, sessionExpiryInterval: undefined }),
        sessionRecord('v4', { protocolVersion: 4, sessionExpiryInterval: undefined }),
        sessionRecord('v5-zero', { protocolVersion: 5, sessionExpiryInterval: 0 }),
        sessionRecord('v5-hour', { protocolVersion: 5, sessionExpiryInterval: 3600 }),
        sessionRecord('v5-max', { protocolVersion: 5, sessionExpiryInterval: 4294967295 }),
        // Offline with a deadline: epoch milliseconds, far above 2^32.
        sessionRecord('v5-offline', {
          protocolVersion: 5,
          sessionExpiryInterval: 4294967294,
          expiresAt: Date.UTC(2026, 11, 5, 6, 7, 8, 9) + 4294967294 * 1000,
        }),
        sessionRecord('client/with/slashes+#'),
        sessionRecord(`it's "quoted" \\ %_`),
        sessionRecord('客户端-🙂'),
        sessionRecord('x'.repeat(1000)),
        sessionRecord('with-user', { username: 'alice' }),
        sessionRecord('with-empty-user', { protocolVersion: 5, username: '' }),
        sessionRecord('with-unicode-user', { username: `Мария 🙂 it's "quoted" \\ %_` }),
      ];
      for (const record of records) run.store.saveSession(record);
      const { snapshot } = await run.restart(run.store);
      expect(normalizeSnapshot(snapshot)).toEqual(
        normalizeSnapshot({
          sessions: records.map((r) => sessionSnapshot(r)),
          retained: [],
          maxMessageId: 0,
        }),
      );
    });

    it('saving a session again replaces its record and keeps its subscriptions, deliveries and inbound ids', async () => {
      const store = run.store;
      const message = storedMessage(1);
      const delivery = deliveryRecord(1, 1);
      store.saveSession(sessionRecord('c', { protocolVersion: 4 }));
      store.saveSubscription('c', 'a/#', subscriptionOptions());
      store.saveMessage(message);
      store.saveDelivery('c', delivery);
      store.addInboundQos2('c', 5);
      await store.flush();
      // Resumed by a 5.0 CONNECT: the record changes, the session state stays.
      store.saveSession(sessionRecord('c', { protocolVersion: 5, sessionExpiryInterval: 60 }));
      store.saveSession(sessionRecord('c', { protocolVersion: 5, sessionExpiryInterval: 120 }));
      const { snapshot } = await run.restart(store);
      expect(clientIds(snapshot)).toEqual(['c']);
      expect(sessionOf(snapshot, 'c')).toEqual(
        sessionSnapshot(sessionRecord('c', { protocolVersion: 5, sessionExpiryInterval: 120 }), {
          subscriptions: [{ topicFilter: 'a/#', options: subscriptionOptions() }],
          deliveries: [[delivery, message]],
          inboundQos2: [5],
        }),
      );
    });

    it('expiresAt is set, replaced and cleared with the record, and survives restarts', async () => {
      const store = run.store;
      const offline = sessionRecord('c', {
        protocolVersion: 5,
        sessionExpiryInterval: 60,
        expiresAt: 1_800_000_000_123,
      });
      store.saveSession(offline);
      store.saveSubscription('c', 'a', subscriptionOptions());
      let { snapshot, store: reopened } = await run.restart(store);
      expect(sessionOf(snapshot, 'c').session).toEqual(offline);
      // Back online: the deadline is cleared, the subscription stays.
      const online = { ...offline, expiresAt: undefined };
      reopened.saveSession(online);
      ({ snapshot, store: reopened } = await run.restart(reopened));
      expect(sessionOf(snapshot, 'c').session).toEqual(online);
      expect(sessionOf(snapshot, 'c').subscriptions.map((s) => s.topicFilter)).toEqual(['a']);
      const later = { ...offline, expiresAt: 1_800_000_060_456 };
      reopened.saveSession(later);
      ({ snapshot } = await run.restart(reopened));
      expect(sessionOf(snapshot, 'c').session).toEqual(later);
    });

    it('username round-trips (undefined included), is replaced with the record and survives restarts', async () => {
      const store = run.store;
      store.saveSession(sessionRecord('anonymous-then-user'));
      store.saveSession(sessionRecord('user-then-other', { username: 'alice' }));
      store.saveSession(sessionRecord('user-then-anonymous', { username: 'bob' }));
      store.saveSession(sessionRecord('kept', { username: 'Мария 🙂' }));
      store.saveSubscription('user-then-other', 'a/#', subscriptionOptions());
      const first = await run.restart(store);
      expect(sessionOf(first.snapshot, 'anonymous-then-user').session.username).toBeUndefined();
      expect(sessionOf(first.snapshot, 'user-then-other').session.username).toBe('alice');
      expect(sessionOf(first.snapshot, 'kept').session.username).toBe('Мария 🙂');
      // A persistent session resumed by a connection with another user name is saved again.
      first.store.saveSession(sessionRecord('anonymous-then-user', { username: 'carol' }));
      first.store.saveSession(sessionRecord('user-then-other', { username: 'ALICE' }));
      first.store.saveSession(sessionRecord('user-then-anonymous', { username: undefined }));
      const second = await run.restart(first.store);
      expect(normalizeSnapshot(second.snapshot)).toEqual(
        normalizeSnapshot({
          sessions: [
            sessionSnapshot(sessionRecord('anonymous-then-user', { username: 'carol' })),
            sessionSnapshot(sessionRecord('user-then-other', { username: 'ALICE' }), {
              subscriptions: [{ topicFilter: 'a/#', options: subscriptionOptions() }],
            }),
            sessionSnapshot(sessionRecord('user-then-anonymous')),
            sessionSnapshot(sessionRecord('kept', { username: 'Мария 🙂' })),
          ],
          retained: [],
          maxMessageId: 0,
        }),
      );
      const anonymous = sessionOf(second.snapshot, 'user-then-anonymous').session;
      expect(anonymous.username, 'username of a session saved without one').toBeUndefined();
    });

    it('deleteSession removes the session with its subscriptions, deliveries and inbound ids, and only its own', async () => {
      const store = run.store;
      const message = storedMessage(1);
      store.saveMessage(message);
      for (const clientId of ['a', 'b']) {
        store.saveSession(sessionRecord(clientId));
        store.saveSubscription(clientId, 'same/filter', subscriptionOptions());
        store.saveDelivery(clientId, deliveryRecord(1, 1, { packetId: 1 }));
        store.saveDelivery(clientId, deliveryRecord(2, 1));
        store.addInboundQos2(clientId, 1);
      }
      await store.flush();
      store.deleteSession('a');
      store.deleteSession('nobody');
      const first = await run.restart(store);
      expect(clientIds(first.snapshot)).toEqual(['b']);
      expect(sessionOf(first.snapshot, 'b')).toEqual(
        sessionSnapshot(sessionRecord('b'), {
          subscriptions: [{ topicFilter: 'same/filter', options: subscriptionOptions() }],
          deliveries: [
            [deliveryRecord(1, 1, { packetId: 1 }), message],
            [deliveryRecord(2, 1), message],
          ],
          inboundQos2: [1],
        }),
      );
      // A session saved again under the deleted client id starts empty.
      first.store.saveSession(sessionRecord('a', { protocolVersion: 5 }));
      const second = await run.restart(first.store);
      expect(sessionOf(second.snapshot, 'a')).toEqual(
        sessionSnapshot(sessionRecord('a', { protocolVersion: 5 })),
      );
    });

    it('deleteSession then saveSession in one batch (clean start) leaves only what came after', async () => {
      const store = run.store;
      store.saveSession(sessionRecord('c'));
      store.saveSubscription('c', 'old', subscriptionOptions());
      store.saveMessage(storedMessage(1));
      store.saveDelivery('c', deliveryRecord(1, 1));
      store.addInboundQos2('c', 9);
      await store.flush();
      store.deleteSession('c');
      store.saveSession(sessionRecord('c', { protocolVersion: 5, sessionExpiryInterval: 30 }));
      store.saveSubscription('c', 'new', subscriptionOptions({ qos: 2 }));
      const { snapshot } = await run.restart(store);
      expect(sessionOf(snapshot, 'c')).toEqual(
        sessionSnapshot(sessionRecord('c', { protocolVersion: 5, sessionExpiryInterval: 30 }), {
          subscriptions: [{ topicFilter: 'new', options: subscriptionOptions({ qos: 2 }) }],
        }),
      );
    });
  });

  describe('subscriptions', () => {
    it('every option field round-trips, subscriptionIdentifier undefined included', async () => {
      const subscriptions: StoredSubscription[] = [
        { topicFilter: 'o/0', options: subscriptionOptions({ qos: 0 }) },
        { topicFilter: 'o/1', options: subscriptionOptions({ qos: 1, noLocal: true }) },
        { topicFilter: 'o/2', options: subscriptionOptions({ qos: 2, retainAsPublished: true }) },
        {
          topicFilter: 'o/3',
          options: subscriptionOptions({ retainHandling: 1, subscriptionIdentifier: 1 }),
        },
        {
          topicFilter: 'o/4',
          options: subscriptionOptions({ retainHandling: 2, subscriptionIdentifier: 268435455 }),
        },
        {
          topicFilter: 'o/5',
          options: {
            qos: 2,
            noLocal: true,
            retainAsPublished: true,
            retainHandling: 2,
            subscriptionIdentifier: 42,
          },
        },
        { topicFilter: 'o/6', options: subscriptionOptions({ qos: 0, subscriptionIdentifier: undefined }) },
      ];
      run.store.saveSession(sessionRecord('c', { protocolVersion: 5 }));
      for (const { topicFilter, options } of subscriptions)
        run.store.saveSubscription('c', topicFilter, options);
      const { snapshot } = await run.restart(run.store);
      expect(sessionOf(snapshot, 'c').subscriptions).toEqual(subscriptions);
      for (const { options } of sessionOf(snapshot, 'c').subscriptions) {
        expect(typeof options.noLocal).toBe('boolean');
        expect(typeof options.retainAsPublished).toBe('boolean');
      }
    });

    it('keeps many filters per session: wildcards, shared, $, empty levels, case, unicode, SQL metacharacters', async () => {
      const filters = [
        '#',
        '+',
        'a/+/c',
        'a/#',
        '+/+/#',
        '$share/g/a/+',
        '$share/group-2/#',
        '$SYS/#',
        '/',
        'a//b',
        '/leading',
        'trailing/',
        'Sport/Tennis',
        'sport/tennis',
        'température/🙂/+',
        `quote'/"double"/back\\slash`,
        'percent%/under_score',
        'with space/and more',
      ];
      for (let i = 0; i < 150; i++) filters.push(`generated/${i}/+/level`);
      run.store.saveSession(sessionRecord('c'));
      run.store.saveSession(sessionRecord('other'));
      filters.forEach((filter, i) => {
        run.store.saveSubscription('c', filter, subscriptionOptions({ qos: (i % 3) as 0 | 1 | 2 }));
      });
      run.store.saveSubscription('other', '#', subscriptionOptions({ qos: 0 }));
      const { snapshot } = await run.restart(run.store);
      const expected = filters.map((filter, i) => ({
        topicFilter: filter,
        options: subscriptionOptions({ qos: (i % 3) as 0 | 1 | 2 }),
      }));
      expect(sessionOf(snapshot, 'c')).toEqual(
        normalizeSession(sessionSnapshot(sessionRecord('c'), { subscriptions: expected })),
      );
      expect(sessionOf(snapshot, 'other').subscriptions).toEqual([
        { topicFilter: '#', options: subscriptionOptions({ qos: 0 }) },
      ]);
    });

    it('saving a subscription again replaces its options (one entry per filter)', async () => {
      const store = run.store;
      store.saveSession(sessionRecord('c'));
      store.saveSubscription('c', 'x/+', subscriptionOptions({ qos: 0 }));
      await store.flush();
      store.saveSubscription('c', 'x/+', subscriptionOptions({ qos: 2, subscriptionIdentifier: 3 }));
      store.saveSubscription('c', 'y', subscriptionOptions({ qos: 0 }));
      store.saveSubscription('c', 'y', subscriptionOptions({ qos: 1, noLocal: true }));
      const { snapshot } = await run.restart(store);
      expect(sessionOf(snapshot, 'c').subscriptions).toEqual([
        { topicFilter: 'x/+', options: subscriptionOptions({ qos: 2, subscriptionIdentifier: 3 }) },
        { topicFilter: 'y', options: subscriptionOptions({ qos: 1, noLocal: true }) },
      ]);
    });

    it("deleteSubscription removes one filter of one session and leaves other sessions' alone", async () => {
      const store = run.store;
      for (const clientId of ['a', 'b']) {
        store.saveSession(sessionRecord(clientId));
        store.saveSubscription(clientId, 'x/#', subscriptionOptions());
        store.saveSubscription(clientId, 'y', subscriptionOptions());
      }
      await store.flush();
      store.deleteSubscription('a', 'x/#');
      store.deleteSubscription('a', 'never/subscribed');
      const { snapshot } = await run.restart(store);
      expect(sessionOf(snapshot, 'a').subscriptions).toEqual([
        { topicFilter: 'y', options: subscriptionOptions() },
      ]);
      expect(sessionOf(snapshot, 'b').subscriptions).toEqual([
        { topicFilter: 'x/#', options: subscriptionOptions() },
        { topicFilter: 'y', options: subscriptionOptions() },
      ]);
    });
  });

  describe('inbound QoS 2 ids', () => {
    it('are added and deleted per session and survive restarts', async () => {
      const store = run.store;
      store.saveSession(sessionRecord('a'));
      store.saveSession(sessionRecord('b'));
      for (const packetId of [1, 65535, 42, 7]) store.addInboundQos2('a', packetId);
      store.addInboundQos2('b', 42);
      await store.flush();
      store.deleteInboundQos2('a', 42);
      store.deleteInboundQos2('a', 1000);
      const first = await run.restart(store);
      expect(sessionOf(first.snapshot, 'a').inboundQos2).toEqual([1, 7, 65535]);
      expect(sessionOf(first.snapshot, 'b').inboundQos2).toEqual([42]);
      first.store.deleteInboundQos2('a', 1);
      first.store.addInboundQos2('b', 43);
      const second = await run.restart(first.store);
      expect(sessionOf(second.snapshot, 'a').inboundQos2).toEqual([7, 65535]);
      expect(sessionOf(second.snapshot, 'b').inboundQos2).toEqual([42, 43]);
    });
  });
}
