import type { Properties } from '@mqtt-adapt/codec';
import { expect, it } from 'vitest';
import type { SubscriptionOptions } from '../session.js';
import type {
  DeliveryRecord,
  RetainedRecord,
  SessionRecord,
  SessionSnapshot,
  StoredMessage,
  StoredSubscription,
  StoreSnapshot,
} from '../store.js';

/** Records with every field set, so each test states only what it is about. */
export function sessionRecord(clientId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    clientId,
    protocolVersion: 4,
    sessionExpiryInterval: undefined,
    expiresAt: undefined,
    username: undefined,
    ...overrides,
  };
}

type TestBody = () => Promise<void>;

/**
 * `it`, or `it.skip` with the reason in the test name so the report shows why. Justified skips
 * only: crash and concurrent-writer cases cannot mean anything for a store that is neither
 * durable nor shared (MemoryStore: a crash ends it, a "second instance" is the same object);
 * every durable store (SQLite, PostgreSQL) provides `crash` and runs all of them.
 */
export function itIf(enabled: boolean, reason: string): (name: string, body: TestBody) => void {
  return enabled
    ? (name, body) => it(name, body)
    : (name, body) => it.skip(`${name} [skipped: ${reason}]`, body);
}

export function subscriptionOptions(overrides: Partial<SubscriptionOptions> = {}): SubscriptionOptions {
  return {
    qos: 1,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionIdentifier: undefined,
    ...overrides,
  };
}

export function storedMessage(id: number, overrides: Partial<StoredMessage> = {}): StoredMessage {
  return {
    id,
    topicName: `m/${id}`,
    payload: Buffer.from(`payload of message ${id}`),
    qos: 1,
    retain: false,
    properties: undefined,
    ...overrides,
  };
}

export function deliveryRecord(
  seq: number,
  messageId: number,
  overrides: Partial<DeliveryRecord> = {},
): DeliveryRecord {
  return { seq, messageId, qos: 1, retain: false, packetId: undefined, released: false, ...overrides };
}

export function retainedRecord(topicName: string, overrides: Partial<RetainedRecord> = {}): RetainedRecord {
  return {
    topicName,
    payload: Buffer.from(`retained on ${topicName}`),
    qos: 0,
    properties: undefined,
    ...overrides,
  };
}

/** Every PUBLISH property a stored message can carry, with duplicates and bytes a codec would. */
export function publishProperties(): Properties {
  return {
    payloadFormatIndicator: 1,
    messageExpiryInterval: 4294967295,
    contentType: 'application/json; charset=utf-8',
    responseTopic: 'réponse/🙂/+',
    correlationData: Buffer.from([0x00, 0xff, 0x00, 0x7f, 0x80, 0x00]),
    subscriptionIdentifiers: [268435455, 1, 7],
    userProperties: [
      ['b', '2'],
      ['a', '1'],
      ['a', '1'],
      ['a', 'another'],
      ['', ''],
      // No U+0000: MQTT strings never carry it [MQTT-1.5.4-2] (and PostgreSQL text cannot).
      ['ключ 🙂', 'значение ✓'],
    ],
  };
}

/** `length` deterministic pseudo-random bytes (xorshift32), zeros included. */
export function pseudoRandomBytes(length: number, seed = 0x2545f491): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = i % 97 === 0 ? 0 : x & 0xff;
  }
  return out;
}

/** Bytes 0x00..0xff in order, then reversed: every byte value, NULs at both ends. */
export function everyByteValue(): Buffer {
  const out = Buffer.alloc(512);
  for (let i = 0; i < 256; i++) {
    out[i] = i;
    out[511 - i] = i;
  }
  return out;
}

/** The expected snapshot of one session; deliveries as `[delivery, message]` pairs in seq order. */
export function sessionSnapshot(
  session: SessionRecord,
  parts: {
    subscriptions?: StoredSubscription[];
    deliveries?: Array<[DeliveryRecord, StoredMessage]>;
    inboundQos2?: number[];
  } = {},
): SessionSnapshot {
  return {
    session,
    subscriptions: parts.subscriptions ?? [],
    deliveries: (parts.deliveries ?? []).map(([delivery, message]) => ({ ...delivery, message })),
    inboundQos2: parts.inboundQos2 ?? [],
  };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Code-unit order, the same on every machine (no locale). */
export function byTopicName<T extends { topicName: string }>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => compareStrings(a.topicName, b.topicName));
}

/**
 * The snapshot with what the contract leaves unordered put in a fixed order: sessions by
 * client id, subscriptions by filter, inbound ids numerically, retained by topic. Deliveries
 * keep their order, which the contract fixes (`seq`).
 */
export function normalizeSnapshot(snapshot: StoreSnapshot): StoreSnapshot {
  return {
    sessions: [...snapshot.sessions]
      .sort((a, b) => compareStrings(a.session.clientId, b.session.clientId))
      .map(normalizeSession),
    retained: byTopicName(snapshot.retained),
    maxMessageId: snapshot.maxMessageId,
  };
}

export function normalizeSession(snapshot: SessionSnapshot): SessionSnapshot {
  return {
    session: snapshot.session,
    subscriptions: [...snapshot.subscriptions].sort((a, b) => compareStrings(a.topicFilter, b.topicFilter)),
    deliveries: snapshot.deliveries,
    inboundQos2: [...snapshot.inboundQos2].sort((a, b) => a - b),
  };
}

/** The session of `clientId` in `snapshot`, normalized; fails the test when it is absent. */
export function sessionOf(snapshot: StoreSnapshot, clientId: string): SessionSnapshot {
  const found = snapshot.sessions.filter((entry) => entry.session.clientId === clientId);
  expect(found.length, `sessions with client id ${JSON.stringify(clientId)}`).toBe(1);
  return normalizeSession(found[0] as SessionSnapshot);
}

export function clientIds(snapshot: StoreSnapshot): string[] {
  return snapshot.sessions.map((entry) => entry.session.clientId).sort(compareStrings);
}

/** Asserts `actual` is a `Buffer` (not only a `Uint8Array`) with exactly the bytes of `expected`. */
export function expectBytes(actual: unknown, expected: Buffer, what: string): void {
  expect(Buffer.isBuffer(actual), `${what} is a Buffer`).toBe(true);
  const bytes = actual as Buffer;
  expect(bytes.length, `${what} length`).toBe(expected.length);
  let firstDifference = -1;
  for (let i = 0; i < expected.length; i++) {
    if (bytes[i] !== expected[i]) {
      firstDifference = i;
      break;
    }
  }
  expect(firstDifference, `${what}: index of the first differing byte`).toBe(-1);
}
