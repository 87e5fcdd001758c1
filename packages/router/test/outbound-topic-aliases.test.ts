import { type Packet, PacketType, type PublishPacket, type QoS } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import type { Broker } from '../src/index.js';
import { OutboundTopicAliases } from '../src/outbound-topic-aliases.js';
import {
  ack,
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishes,
  publishPacket,
  subscribe,
  type TestClient,
} from './helpers.js';

const LONG = 'site/berlin/building-7/floor-3/room-12/sensor/temperature';

/** A 5.0 client whose CONNECT sets Topic Alias Maximum `maximum` (undefined: no property). */
function connectWithAliases(
  broker: Broker,
  clientId: string,
  maximum: number | undefined,
  extra: { cleanStart?: boolean; maximumPacketSize?: number } = {},
): TestClient {
  const client = openClient(broker, 5);
  const properties: {
    topicAliasMaximum?: number;
    maximumPacketSize?: number;
    sessionExpiryInterval?: number;
  } = {};
  if (maximum !== undefined) properties.topicAliasMaximum = maximum;
  if (extra.maximumPacketSize !== undefined) properties.maximumPacketSize = extra.maximumPacketSize;
  // A 5.0 session outlives its connection only with a Session Expiry Interval.
  if (extra.cleanStart === false) properties.sessionExpiryInterval = 3600;
  client.send({
    ...connectPacket({ clientId, version: 5, cleanStart: extra.cleanStart ?? true }),
    properties: Object.keys(properties).length > 0 ? properties : undefined,
  });
  const [connack, ...rest] = client.take();
  if (connack?.type !== PacketType.Connack || connack.reasonCode !== 0)
    throw new Error(`expected an accepting CONNACK, got ${JSON.stringify(connack)}`);
  // Re-sent in-flight messages follow the CONNACK: leave them for the test to take.
  client.transport.received.push(...rest);
  return client;
}

/** What the subscriber saw of each PUBLISH: [topic name, Topic Alias]. */
const wire = (packets: Packet[]) =>
  publishes(packets).map((p) => [p.topicName, p.properties?.topicAlias] as const);

function publishAll(pub: TestClient, topics: string[], qos: QoS = 0): void {
  let packetId = 1;
  for (const topic of topics) pub.send(publishPacket(topic, topic, qos, { packetId: packetId++ }));
}

/** Resolves each received PUBLISH against the aliases as a client must, checking the rules. */
function resolveAliases(packets: PublishPacket[], maximum: number): string[] {
  const aliases = new Map<number, string>();
  return packets.map((p) => {
    const alias = p.properties?.topicAlias;
    if (alias === undefined) return p.topicName;
    expect(alias).toBeGreaterThanOrEqual(1);
    expect(alias).toBeLessThanOrEqual(maximum);
    if (p.topicName.length > 0) aliases.set(alias, p.topicName);
    const topic = aliases.get(alias);
    expect(topic).toBeDefined();
    return topic as string;
  });
}

describe('OutboundTopicAliases (the table)', () => {
  it('exists only when both the client and the broker allow aliases, at the smaller maximum', () => {
    expect(OutboundTopicAliases.forClient(undefined, 16)).toBeUndefined();
    expect(OutboundTopicAliases.forClient(0, 16)).toBeUndefined();
    expect(OutboundTopicAliases.forClient(10, 0)).toBeUndefined();
    expect(OutboundTopicAliases.forClient(10, 16)?.maximum).toBe(10);
    expect(OutboundTopicAliases.forClient(65_535, 16)?.maximum).toBe(16);
    expect(() => new OutboundTopicAliases(0)).toThrow(RangeError);
  });

  it('assigns 1..maximum, then takes the alias of the least recently used topic', () => {
    const table = new OutboundTopicAliases(2);
    expect(table.size).toBe(0);
    expect(table.get('a')).toBe(0);
    expect(table.peek()).toBe(1);
    expect(table.assign('a')).toBe(1);
    expect(table.peek()).toBe(2);
    expect(table.assign('b')).toBe(2);
    expect(table.get('a')).toBe(1); // a is now the most recently used: b goes first
    expect(table.peek()).toBe(2);
    expect(table.assign('c')).toBe(2);
    expect(table.get('b')).toBe(0);
    expect(table.peek()).toBe(1);
    expect(table.assign('b')).toBe(1);
    expect([table.get('a'), table.get('b'), table.get('c'), table.size]).toEqual([0, 1, 2, 2]);
  });

  it('a maximum of 1 reuses alias 1', () => {
    const table = new OutboundTopicAliases(1);
    expect(table.assign('a')).toBe(1);
    expect(table.get('a')).toBe(1);
    expect(table.assign('b')).toBe(1);
    expect([table.get('a'), table.get('b')]).toEqual([0, 1]);
  });
});

describe('5.0 outbound Topic Aliases (MQTT 5.0 §3.3.2.3.4)', () => {
  it('QoS 0: the first delivery of a topic carries topic and a new alias, later ones the alias alone', async () => {
    const { broker } = await createBroker();
    const sub = connectWithAliases(broker, 'sub', 10);
    subscribe(sub, 'site/#');
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    const other = `${LONG}/2`;
    publishAll(pub, [LONG, LONG, other, LONG, other]);
    expect(wire(sub.take())).toEqual([
      [LONG, 1],
      ['', 1],
      [other, 2],
      ['', 1],
      ['', 2],
    ]);
  });

  it('when every alias is taken, the least recently used one is reassigned with its new topic', async () => {
    const { broker } = await createBroker();
    const sub = connectWithAliases(broker, 'sub', 2);
    subscribe(sub, 'site/#');
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    const [a, b, c] = ['site/aaaa', 'site/bbbb', 'site/cccc'];
    publishAll(pub, [a, b, a, c, b, a]);
    const got = publishes(sub.take());
    expect(wire(got)).toEqual([
      [a, 1],
      [b, 2],
      ['', 1],
      [c, 2], // b was the least recently used
      [b, 1], // then a
      [a, 2], // then c
    ]);
    expect(resolveAliases(got, 2)).toEqual([a, b, a, c, b, a]);
  });

  it('never above the client maximum, nor above maxOutboundTopicAliases', async () => {
    const topics = Array.from({ length: 40 }, (_, i) => `site/topic-${i % 25}`);
    for (const [clientMaximum, brokerMaximum, expected] of [
      [3, 16, 3],
      [1000, 5, 5],
    ] as const) {
      const { broker } = await createBroker({ maxOutboundTopicAliases: brokerMaximum });
      const sub = connectWithAliases(broker, 'sub', clientMaximum);
      subscribe(sub, 'site/#');
      publishAll(connect(broker, { clientId: 'pub', version: 5 }), topics);
      const got = publishes(sub.take());
      const used = new Set(got.map((p) => p.properties?.topicAlias));
      expect([...used].sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(
        Array.from({ length: expected }, (_, i) => i + 1),
      );
      expect(resolveAliases(got, expected)).toEqual(topics);
    }
  });

  it('none for 3.1.1, for a 5.0 client with maximum 0 or none, or with maxOutboundTopicAliases 0', async () => {
    const { broker } = await createBroker();
    const old = connect(broker, { clientId: 'old' });
    subscribe(old, 'site/#');
    const zero = connectWithAliases(broker, 'zero', 0);
    subscribe(zero, 'site/#');
    const absent = connectWithAliases(broker, 'absent', undefined);
    subscribe(absent, 'site/#');
    const off = await createBroker({ maxOutboundTopicAliases: 0 });
    const offSub = connectWithAliases(off.broker, 'sub', 10);
    subscribe(offSub, 'site/#');
    for (const b of [broker, off.broker])
      publishAll(connect(b, { clientId: 'pub', version: 5 }), [LONG, LONG]);
    for (const client of [old, zero, absent, offSub]) {
      expect(wire(client.take())).toEqual([
        [LONG, undefined],
        [LONG, undefined],
      ]);
    }
  });

  it('subscribers without aliases still share one encoded PUBLISH; the aliased one gets its own', async () => {
    const { broker } = await createBroker();
    const plain = [connectWithAliases(broker, 'p1', 0), connectWithAliases(broker, 'p2', undefined)];
    for (const client of plain) subscribe(client, 'site/#');
    const aliased = connectWithAliases(broker, 'a', 4);
    subscribe(aliased, 'site/#');
    for (const client of [...plain, aliased]) client.transport.written.length = 0;
    publishAll(connect(broker, { clientId: 'pub', version: 5 }), [LONG]);
    const [first, second] = plain.map((client) => client.transport.written[0]);
    expect(first).toBeDefined();
    expect(second).toBe(first);
    expect(aliased.transport.written[0]).not.toBe(first);
  });

  it('QoS 1 and 2 deliveries use aliases too, with their packet ids', async () => {
    for (const qos of [1, 2] as const) {
      const { broker } = await createBroker();
      const sub = connectWithAliases(broker, 'sub', 10);
      subscribe(sub, 'site/#', qos);
      const pub = connect(broker, { clientId: 'pub', version: 5 });
      publishAll(pub, [LONG, LONG], qos);
      const got = publishes(sub.take());
      expect(got.map((p) => [p.topicName, p.properties?.topicAlias, p.qos, p.packetId])).toEqual([
        [LONG, 1, qos, 1],
        ['', 1, qos, 2],
      ]);
    }
  });

  it('a QoS 1 message re-sent on reconnect carries its full topic; the new connection starts with no aliases', async () => {
    const { broker } = await createBroker();
    let sub = connectWithAliases(broker, 'sub', 10, { cleanStart: false });
    subscribe(sub, 'site/#', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    publishAll(pub, [LONG, LONG], 1);
    expect(wire(sub.take())).toEqual([
      [LONG, 1],
      ['', 1],
    ]);
    sub.connection.transportClosed(); // neither is acknowledged
    sub = connectWithAliases(broker, 'sub', 10, { cleanStart: false });
    const resent = publishes(sub.take());
    expect(resent.map((p) => [p.topicName, p.properties?.topicAlias, p.dup, p.packetId])).toEqual([
      [LONG, undefined, true, 1],
      [LONG, undefined, true, 2],
    ]);
    pub.send(publishPacket(LONG, 'after', 1, { packetId: 9 }));
    expect(wire(sub.take())).toEqual([[LONG, 1]]);
    // 3.1.1 on reconnect to the same session: never an alias.
    sub.connection.transportClosed();
    const old = openClient(broker, 4);
    old.send(connectPacket({ clientId: 'sub', cleanStart: false }));
    expect(wire(old.take())).toEqual([
      [LONG, undefined],
      [LONG, undefined],
      [LONG, undefined],
    ]);
    old.send(ack(PacketType.Puback, 1));
  });

  it("respects the client's Maximum Packet Size: no alias when its 3 bytes do not fit, too large is still dropped", async () => {
    const { broker } = await createBroker();
    const payload = 'x'.repeat(20);
    // Plain: 1 + 1 + 2 + topic + 1 (property length) + 20; with topic and alias 3 bytes more.
    const plainSize = 2 + 2 + Buffer.byteLength(LONG) + 1 + payload.length;
    const sub = connectWithAliases(broker, 'sub', 10, { maximumPacketSize: plainSize + 2 });
    subscribe(sub, 'site/#');
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket(LONG, payload, 0));
    pub.send(publishPacket(LONG, payload, 0));
    const sent = sub.transport.written.slice(-2).map((bytes) => bytes.length);
    expect(sent).toEqual([plainSize, plainSize]);
    expect(wire(sub.take())).toEqual([
      [LONG, undefined],
      [LONG, undefined],
    ]);
    // A shorter topic fits with its alias; one too large even without is dropped, assigning nothing.
    const short = 'site/b';
    pub.send(publishPacket(short, 'x'.repeat(plainSize), 0));
    pub.send(publishPacket(short, payload, 0));
    pub.send(publishPacket(short, payload, 0));
    expect(wire(sub.take())).toEqual([
      [short, 1],
      ['', 1],
    ]);
    expect(broker.stats.messagesDropped).toBe(1);
  });

  it('topics of 3 characters or fewer get no alias (the property would cost what it saves)', async () => {
    const { broker } = await createBroker();
    const sub = connectWithAliases(broker, 'sub', 10);
    subscribe(sub, '#');
    publishAll(connect(broker, { clientId: 'pub', version: 5 }), ['a/b', 'a/b', 'a/bc', 'a/bc']);
    expect(wire(sub.take())).toEqual([
      ['a/b', undefined],
      ['a/b', undefined],
      ['a/bc', 1],
      ['', 1],
    ]);
  });

  it('a retained message sent on subscribe and a delivery with Subscription Identifiers take aliases too', async () => {
    const { broker } = await createBroker();
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket(LONG, 'kept', 0, { retain: true }));
    const sub = connectWithAliases(broker, 'sub', 10);
    sub.send({
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [
        { topicFilter: 'site/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
      properties: { subscriptionIdentifiers: [7] },
    });
    pub.send(publishPacket(LONG, 'live', 0));
    const got = publishes(sub.take());
    expect(
      got.map((p) => [
        p.topicName,
        p.properties?.topicAlias,
        p.properties?.subscriptionIdentifiers,
        p.retain,
      ]),
    ).toEqual([
      [LONG, 1, [7], true],
      ['', 1, [7], false],
    ]);
  });
});
