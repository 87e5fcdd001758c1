import { expect } from 'vitest';
import type { AclRule, Store, StoredMessage, StoreSnapshot, UserRecord } from '../store.js';
import {
  deliveryRecord,
  everyByteValue,
  expectBytes,
  normalizeSnapshot,
  publishProperties,
  retainedRecord,
  sessionRecord,
  sessionSnapshot,
  storedMessage,
  subscriptionOptions,
} from './store-contract-fixtures.js';

/** What `writeEverything` wrote, as a restarted store must return it. */
export interface EverythingExpected {
  snapshot: StoreSnapshot;
  users: UserRecord[];
  aclRules: AclRule[];
  /** `authVersion()` once everything was written. */
  authVersion: number;
}

/**
 * Writes one of each kind of record, with updates and deletes on top, and awaits the async
 * calls (users, ACL). Does not flush: callers decide.
 */
export async function writeEverything(store: Store): Promise<EverythingExpected> {
  const m1 = storedMessage(1, { qos: 2, payload: everyByteValue(), properties: publishProperties() });
  const m2 = storedMessage(2, { qos: 2, retain: true, topicName: 'status/1' });
  const m3: StoredMessage = storedMessage(3);
  for (const message of [m1, m2, m3]) store.saveMessage(message);

  const alpha = sessionRecord('alpha', { protocolVersion: 5, sessionExpiryInterval: 300, username: 'alice' });
  const beta = sessionRecord('beta', { protocolVersion: 3 });
  store.saveSession(alpha);
  store.saveSession(beta);
  store.saveSubscription('alpha', 'a/#', subscriptionOptions({ qos: 2, subscriptionIdentifier: 5 }));
  store.saveSubscription('alpha', '$share/g/x', subscriptionOptions({ noLocal: true, retainHandling: 2 }));
  store.saveSubscription('alpha', 'dropped', subscriptionOptions());
  store.deleteSubscription('alpha', 'dropped');
  store.saveSubscription('beta', '+/status', subscriptionOptions({ qos: 0, retainAsPublished: true }));

  store.saveDelivery('alpha', deliveryRecord(1, 1, { qos: 2 }));
  store.saveDelivery('alpha', deliveryRecord(2, 2, { qos: 2 }));
  store.saveDelivery('alpha', deliveryRecord(3, 1, { qos: 1 }));
  store.saveDelivery('alpha', deliveryRecord(4, 3));
  store.updateDelivery('alpha', 1, 3, false);
  store.updateDelivery('alpha', 2, 4, true);
  store.deleteDelivery('alpha', 4);
  store.deleteMessage(3);
  store.saveDelivery('beta', deliveryRecord(1, 2, { retain: true }));
  store.addInboundQos2('alpha', 300);
  store.addInboundQos2('alpha', 2);
  store.addInboundQos2('alpha', 77);
  store.deleteInboundQos2('alpha', 77);

  const retained = [
    retainedRecord('status/1', { qos: 1, payload: Buffer.from([0, 1, 2, 0]) }),
    retainedRecord('$SYS/uptime', { properties: publishProperties() }),
  ];
  for (const record of retained) store.saveRetained(record);
  store.saveRetained(retainedRecord('gone'));
  store.deleteRetained('gone');

  const users: UserRecord[] = [
    { username: 'alice', passwordHash: '$scrypt$ln=17,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA' },
    { username: 'bob', passwordHash: '$7$101$YWJjZGVmZ2hpamtsbW5vcA==$MTIzNDU2Nzg5MA==' },
  ];
  for (const user of users) await store.saveUser(user);
  const aclRules: AclRule[] = [
    {
      id: 'r2',
      subject: 'user',
      username: 'alice',
      topicFilter: 'a/%u/#',
      action: 'all',
      permission: 'allow',
    },
    {
      id: 'r1',
      subject: 'anonymous',
      username: undefined,
      topicFilter: '#',
      action: 'publish',
      permission: 'deny',
    },
  ];
  for (const rule of aclRules) await store.saveAclRule(rule);
  const authVersion = await store.authVersion();

  const snapshot = normalizeSnapshot({
    sessions: [
      sessionSnapshot(alpha, {
        subscriptions: [
          { topicFilter: 'a/#', options: subscriptionOptions({ qos: 2, subscriptionIdentifier: 5 }) },
          { topicFilter: '$share/g/x', options: subscriptionOptions({ noLocal: true, retainHandling: 2 }) },
        ],
        deliveries: [
          [deliveryRecord(1, 1, { qos: 2, packetId: 3 }), m1],
          [deliveryRecord(2, 2, { qos: 2, packetId: 4, released: true }), m2],
          [deliveryRecord(3, 1, { qos: 1 }), m1],
        ],
        inboundQos2: [2, 300],
      }),
      sessionSnapshot(beta, {
        subscriptions: [
          { topicFilter: '+/status', options: subscriptionOptions({ qos: 0, retainAsPublished: true }) },
        ],
        deliveries: [[deliveryRecord(1, 2, { retain: true }), m2]],
      }),
    ],
    retained,
    maxMessageId: 2,
  });
  return { snapshot, users, aclRules, authVersion };
}

/** Asserts `store` (opened, `snapshot` from its open()) holds exactly what `writeEverything` wrote. */
export async function expectEverything(
  store: Store,
  snapshot: StoreSnapshot,
  expected: EverythingExpected,
): Promise<void> {
  expect(normalizeSnapshot(snapshot)).toEqual(expected.snapshot);
  const alpha = snapshot.sessions.find((entry) => entry.session.clientId === 'alpha');
  expectBytes(alpha?.deliveries[0]?.message.payload, everyByteValue(), 'payload of message 1');
  expect((await store.findRetained('status/+')).map((record) => record.topicName)).toEqual(['status/1']);
  for (const user of expected.users) expect(await store.getUser(user.username)).toEqual(user);
  expect(await store.listUsers()).toEqual(expected.users);
  expect(await store.listAclRules()).toEqual(expected.aclRules);
  expect(await store.authVersion()).toBe(expected.authVersion);
}
