import { encode, type Packet } from '@mqtt-adapt/codec';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, targetOf } from './conformance-harness.js';
import {
  ack,
  type Client5,
  Clients5,
  type Connect5Options,
  connectPacket,
  disconnectPacket,
  PacketType,
  type PublishPacket,
  publishes,
  publishPacket,
  subscription,
  uid,
} from './conformance5-harness.js';
import type { TestBroker } from './helpers.js';

// MQTT 5.0 statements of the features that landed after the rest of the 5.0 suite: Reason
// Strings on acknowledgements and the client's Maximum Packet Size (§3.4 … §3.11), Retain
// Available 0 (§3.2.2.3.5), outbound Topic Aliases (§3.1.2.11.5) and shared-subscription
// deliveries whose member leaves (§4.8.2). Two brokers: the defaults (`--store memory`) and
// `--retain-available false`.

let broker: TestBroker;
let noRetain: TestBroker;
const clients = new Clients5(() => targetOf(broker));
const noRetainClients = new Clients5(() => targetOf(noRetain));

beforeAll(async () => {
  [broker, noRetain] = await Promise.all([
    startBroker(['--store', 'memory']),
    startBroker(['--store', 'memory', '--retain-available', 'false']),
  ]);
});

afterEach(() => {
  clients.closeAll();
  noRetainClients.closeAll();
});

afterAll(async () => {
  await Promise.all([broker?.stop(), noRetain?.stop()]);
});

/** What the broker sends `client` within `ms`, PUBLISH packets only. */
async function publishesWithin(client: Client5, ms: number): Promise<PublishPacket[]> {
  return publishes(await client.collectFor(ms));
}

describe('Retain Available 0 (--retain-available false)', () => {
  it('[MQTT-3.2.2-13] a will with RETAIN 1: CONNACK 0x9A, closed, and the will is never published', async () => {
    const topic = `${uid()}/will`;
    const watcher = await noRetainClients.subscriber({ clientId: uid('watch') }, [
      subscription(topic, { qos: 1 }),
    ]);
    const client = await noRetainClients.open();
    client.send(connectPacket({ clientId: uid(), will: { topicName: topic, qos: 1, retain: true } }));
    const packets = await client.packetsUntilClosed();
    expect(packets).toHaveLength(1);
    expect(packets[0]).toMatchObject({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0x9a });
    expect(await publishesWithin(watcher, 300)).toEqual([]);
  });
});

/*
 * Each refusing acknowledgement the broker explains, first to a client without a Maximum Packet
 * Size (which gets the Reason String), then to one whose Maximum Packet Size is one byte short of
 * that packet: the same acknowledgement must come, without its Reason String and within the limit.
 */
interface AckCase {
  name: string;
  type: number;
  /** Whether the broker explains this acknowledgement at all. */
  explained: boolean;
  /** Sends what makes the broker answer with the acknowledgement. */
  provoke(client: Client5, topic: string): void;
}

const ACK_CASES: AckCase[] = [
  {
    name: '[MQTT-3.4.2-2] PUBACK 0x87 (a QoS 1 PUBLISH to a $ topic)',
    type: PacketType.Puback,
    explained: true,
    provoke: (client, topic) => client.send(publishPacket(`$${topic}`, 'x', { qos: 1, packetId: 7 })),
  },
  {
    name: '[MQTT-3.5.2-2] PUBREC 0x87 (a QoS 2 PUBLISH to a $ topic)',
    type: PacketType.Pubrec,
    explained: true,
    provoke: (client, topic) => client.send(publishPacket(`$${topic}`, 'x', { qos: 2, packetId: 7 })),
  },
  {
    name: '[MQTT-3.6.2-2] PUBREL 0x92 (a PUBREC for an unknown packet id)',
    type: PacketType.Pubrel,
    explained: true,
    provoke: (client) => client.send(ack(PacketType.Pubrec, 7)),
  },
  {
    name: '[MQTT-3.7.2-2] PUBCOMP 0x92 (a PUBREL for an unknown packet id)',
    type: PacketType.Pubcomp,
    explained: true,
    provoke: (client) => client.send(ack(PacketType.Pubrel, 7)),
  },
  {
    name: '[MQTT-3.9.2-1] SUBACK 0x8F (an invalid filter)',
    type: PacketType.Suback,
    explained: true,
    provoke: (client) =>
      client.send({
        type: PacketType.Subscribe,
        packetId: 7,
        subscriptions: [subscription('a/#/b')],
        properties: undefined,
      }),
  },
  {
    // The broker explains no UNSUBACK; it must still fit.
    name: '[MQTT-3.11.2-1] UNSUBACK 0x11 (a filter without subscription)',
    type: PacketType.Unsuback,
    explained: false,
    provoke: (client, topic) =>
      client.send({
        type: PacketType.Unsubscribe,
        packetId: 7,
        topicFilters: [topic],
        properties: undefined,
      }),
  },
];

describe('Reason Strings and the Maximum Packet Size of the client', () => {
  it.each(ACK_CASES.map((c) => [c.name, c] as const))(
    '%s: the Reason String is left out where it would exceed the Maximum Packet Size',
    async (_name, c) => {
      const topic = `${uid()}/why`;
      const open = await clients.connect({ clientId: uid() });
      c.provoke(open, topic);
      const { packet: full, frame } = await open.nextReceived();
      expect(full.type).toBe(c.type);
      const reasonString = 'properties' in full ? full.properties?.reasonString : undefined;
      if (!c.explained) {
        expect(reasonString).toBeUndefined();
      } else {
        expect(reasonString).toBeTruthy();
        // The same packet without its Reason String is shorter: that is what must come instead.
        expect(encode({ ...full, properties: undefined } as Packet, 5).length).toBeLessThan(
          frame.bytes.length,
        );
      }
      // One byte short of the explained packet; an unexplained one gets 8, the size of the
      // CONNACK (with its Topic Alias Maximum), below which the broker would not connect.
      const maximumPacketSize = c.explained ? frame.bytes.length - 1 : Math.max(8, frame.bytes.length);
      const limited = await clients.connect({ clientId: uid(), properties: { maximumPacketSize } });
      c.provoke(limited, topic);
      const { packet: short, frame: shortFrame } = await limited.nextReceived();
      expect(short).toMatchObject({ type: c.type });
      expect(shortFrame.bytes.length).toBeLessThanOrEqual(maximumPacketSize);
      expect('properties' in short ? short.properties?.reasonString : undefined).toBeUndefined();
      // Nothing else is owed: the connection stays open and quiet.
      expect(await limited.collectFor(100)).toEqual([]);
      expect(limited.isClosed).toBe(false);
    },
  );
});

describe('outbound Topic Aliases (§3.1.2.11.5, §3.3.2.3.4)', () => {
  it('[MQTT-3.1.2-27] a client whose Topic Alias Maximum is 0 or absent gets no Topic Alias', async () => {
    const base = `${uid()}/a-topic-long-enough-for-an-alias-to-pay`;
    const noAliases = await clients.subscriber({ clientId: uid(), properties: { topicAliasMaximum: 0 } }, [
      subscription(`${base}/#`, { qos: 1 }),
    ]);
    const absent = await clients.subscriber({ clientId: uid() }, [subscription(`${base}/#`, { qos: 1 })]);
    // The control: a client that allows 2 gets aliases for the same messages.
    const allowing = await clients.subscriber({ clientId: uid(), properties: { topicAliasMaximum: 2 } }, [
      subscription(`${base}/#`, { qos: 1 }),
    ]);
    const pub = await clients.connect({ clientId: uid() });
    const topics = [`${base}/1`, `${base}/2`, `${base}/1`, `${base}/1`, `${base}/2`];
    for (const [i, topic] of topics.entries())
      pub.send(publishPacket(topic, `m${i}`, { qos: i % 2 ? 1 : 0, packetId: i + 1 }));
    for (const client of [noAliases, absent]) {
      const got = await client.publishes(topics.length);
      for (const p of got) if (p.qos > 0) client.send(ack(PacketType.Puback, p.packetId!));
      expect(got.map((p) => [p.topicName, p.properties?.topicAlias])).toEqual(
        topics.map((topic) => [topic, undefined]),
      );
    }
    const aliased = await allowing.publishes(topics.length);
    expect(aliased.map((p) => p.properties?.topicAlias)).toEqual([1, 2, 1, 1, 2]);
    expect(aliased.filter((p) => p.topicName === '')).toHaveLength(3);
  });
});

/*
 * Shared subscriptions (§4.8.2): a message is handed to one member; what happens to it when that
 * member refuses it or leaves. The member `a` is alone in its group when the message is
 * published, so it is the one chosen; `b` joins afterwards and must not get the message.
 */
async function sharedGroup(aOptions: Connect5Options, qos: 1 | 2) {
  const base = uid();
  const group = `$share/g${base}/${base}/t`;
  const a = await clients.subscriber(aOptions, [subscription(group, { qos })]);
  const pub = await clients.connect({ clientId: uid('pub') });
  pub.send(publishPacket(`${base}/t`, 'once', { qos, packetId: 1 }));
  const first = await a.expect(PacketType.Publish);
  expect(first).toMatchObject({ qos, dup: false });
  const b = await clients.subscriber({ clientId: uid('b') }, [subscription(group, { qos })]);
  return { a, b, first, pub };
}

describe('shared subscriptions: deliveries of a member that refuses or leaves (§4.8.2)', () => {
  it('[MQTT-4.8.2-6] a PUBACK or PUBREC of 0x80 or more to a shared delivery: discarded, no other member gets it', async () => {
    for (const qos of [1, 2] as const) {
      const { a, b, first } = await sharedGroup({ clientId: uid('a') }, qos);
      a.send(ack(qos === 1 ? PacketType.Puback : PacketType.Pubrec, first.packetId!, 0x80));
      // Not re-offered: neither to b, nor to a, nor to b once a has gone.
      expect(await publishesWithin(b, 300)).toEqual([]);
      expect(await publishesWithin(a, 100)).toEqual([]);
      a.send(disconnectPacket());
      await a.closed();
      expect(await publishesWithin(b, 300)).toEqual([]);
    }
  });

  it('[MQTT-4.8.2-4] a QoS 2 shared delivery whose connection breaks before its PUBREC is completed on reconnect, to that client only', async () => {
    const id = uid('a');
    const persistent = { clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 60 } };
    const { a, b, first } = await sharedGroup(persistent, 2);
    a.destroy();
    await a.closed();
    // Must not go to b: a may already have it.
    expect(await publishesWithin(b, 300)).toEqual([]);
    const back = await clients.connect(persistent);
    const resent = await back.publishes(1, 150);
    expect(resent).toEqual([expect.objectContaining({ packetId: first.packetId, dup: true, qos: 2 })]);
    back.send(ack(PacketType.Pubrec, first.packetId!));
    expect(await back.expect(PacketType.Pubrel)).toMatchObject({ packetId: first.packetId });
  });

  it('[MQTT-4.8.2-4] a QoS 2 shared delivery whose PUBREC came: the PUBREL is re-sent on reconnect, to that client only', async () => {
    const id = uid('a');
    const persistent = { clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 60 } };
    const { a, b, first } = await sharedGroup(persistent, 2);
    a.send(ack(PacketType.Pubrec, first.packetId!));
    await a.expect(PacketType.Pubrel);
    a.destroy();
    await a.closed();
    expect(await publishesWithin(b, 300)).toEqual([]);
    const back = await clients.connect(persistent);
    expect(await back.expect(PacketType.Pubrel)).toMatchObject({ packetId: first.packetId });
    back.send(ack(PacketType.Pubcomp, first.packetId!));
    expect(await publishesWithin(back, 200)).toEqual([]);
  });

  it('[MQTT-4.8.2-5] a QoS 2 shared delivery whose member session ends before it reconnects goes to no other member', async () => {
    // Session Expiry Interval 0: the session ends with the connection.
    const { a, b } = await sharedGroup({ clientId: uid('a') }, 2);
    a.destroy();
    await a.closed();
    expect(await publishesWithin(b, 500)).toEqual([]);
  });
});
