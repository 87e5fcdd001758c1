import { encode, type Packet, PacketType } from '@mqtt-adapt/codec';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, targetOf, until } from './conformance-harness.js';
import { FlowClient, publishBytes } from './flow-client.js';
import type { TestBroker } from './helpers.js';

// MQTT 5.0 Receive Maximum of the broker, the four "Available" flags and the Reason Strings of
// refusing acks, end to end: the built CLI with its flags, MQTT.js 5 and raw sockets.

/** The broker under test: sqlite (the default store), so that acks wait for its group commit. */
let limited: TestBroker;
/** The same CLI with the defaults: nothing of the above advertised. */
let plain: TestBroker;
const clients: MqttClient[] = [];
const raws: FlowClient[] = [];

const LIMITED_ARGS = [
  '--receive-maximum',
  '2',
  '--retain-available',
  'false',
  '--wildcard-subscription-available',
  'false',
  '--subscription-identifiers-available',
  'false',
  '--shared-subscription-available',
  'false',
  '--server-keep-alive',
  '30',
  '--response-information',
  'responses/',
  '--max-topic-levels',
  '3',
];

beforeAll(async () => {
  [limited, plain] = await Promise.all([startBroker(LIMITED_ARGS), startBroker(['--store', 'memory'])]);
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  for (const r of raws) r.destroy();
  await Promise.all([limited?.stop('SIGTERM'), plain?.stop('SIGTERM')]);
});

/** An MQTT.js 5.0 client, with the CONNACK it got. */
function connect5(
  broker: TestBroker,
  clientId: string,
  options: IClientOptions = {},
): Promise<{ client: MqttClient; connack: mqtt.IConnackPacket }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(broker.url, {
      clientId,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    clients.push(client);
    client.once('connect', (connack) => resolve({ client, connack }));
    client.once('error', reject);
  });
}

/** The DISCONNECT the broker sends `client`, once it has closed the connection. */
function disconnectOf(client: MqttClient): Promise<mqtt.IDisconnectPacket | undefined> {
  return new Promise((resolve) => {
    let packet: mqtt.IDisconnectPacket | undefined;
    const timer = setTimeout(() => resolve(packet), 5000);
    client.once('disconnect', (received) => {
      packet = received;
    });
    client.once('close', () => {
      clearTimeout(timer);
      resolve(packet);
    });
  });
}

/** An acknowledgement as mqtt-packet decodes it: SUBACK and UNSUBACK codes are in `granted`. */
interface Ack {
  cmd: string;
  reasonCode?: number;
  granted?: number[];
  properties?: { reasonString?: string };
}

/** Every packet `client` receives from now on, raw (as mqtt-packet decodes it). */
function record(client: MqttClient): mqtt.Packet[] {
  const packets: mqtt.Packet[] = [];
  client.on('packetreceive', (packet) => packets.push(packet));
  return packets;
}

async function raw(
  broker: TestBroker,
  clientId: string,
  options: { protocolVersion?: 4 | 5; cleanStart?: boolean } = {},
): Promise<FlowClient> {
  const client = await FlowClient.connect(targetOf(broker), clientId, {
    protocolVersion: options.protocolVersion ?? 5,
    cleanStart: options.cleanStart ?? true,
  });
  raws.push(client);
  return client;
}

/** Packets of a raw client, collected from now on. */
function collect(client: FlowClient): Packet[] {
  const packets: Packet[] = [];
  client.onPacket = (packet) => packets.push(packet);
  return packets;
}

/**
 * A persistent 3.1.1 session subscribed to `filter` (no wildcard: they are off) at QoS 1 and
 * gone offline: every QoS 1 PUBLISH matching it is written to the store, so its PUBACK waits for
 * the commit.
 */
async function offlineSubscriber(broker: TestBroker, clientId: string, filter: string): Promise<void> {
  const sub = await raw(broker, clientId, { protocolVersion: 4, cleanStart: false });
  await sub.subscribe(1, filter, 1);
  sub.destroy();
  await sub.closed;
}

describe('CONNACK of a broker with --receive-maximum, --server-keep-alive, --response-information and the Available flags off', () => {
  it('advertises each of them to an MQTT.js 5 client; the defaults advertise none', async () => {
    const { connack } = await connect5(limited, 'rm-connack', {
      properties: { requestResponseInformation: true },
    });
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties).toMatchObject({
      receiveMaximum: 2,
      retainAvailable: false,
      wildcardSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: false,
      serverKeepAlive: 30,
      responseInformation: 'responses/',
    });
    const { connack: defaults } = await connect5(plain, 'plain-connack', {
      properties: { requestResponseInformation: true },
    });
    for (const key of [
      'receiveMaximum',
      'retainAvailable',
      'wildcardSubscriptionAvailable',
      'subscriptionIdentifiersAvailable',
      'sharedSubscriptionAvailable',
      'serverKeepAlive',
      'responseInformation',
    ]) {
      expect(defaults.properties ?? {}).not.toHaveProperty(key);
    }
  });
});

describe('5.0 Receive Maximum (--receive-maximum 2), acks waiting for the sqlite commit', () => {
  it('[MQTT-3.3.4-7] 20 QoS 1 PUBLISH in one write, none acknowledged yet: DISCONNECT 0x93 saying why', async () => {
    await offlineSubscriber(limited, 'rm-sub-flood', 'rm/flood');
    const pub = await raw(limited, 'rm-pub-flood');
    const packets = collect(pub);
    const burst: Buffer[] = [];
    for (let id = 1; id <= 20; id++) burst.push(publishBytes('rm/flood', String(id), 1, id, 5));
    pub.socket.write(Buffer.concat(burst));
    expect(await pub.closedWithin(5000)).toBe(true);
    const disconnect = packets.find((packet) => packet.type === PacketType.Disconnect);
    expect(disconnect).toEqual({
      type: PacketType.Disconnect,
      reasonCode: 0x93,
      properties: { reasonString: 'more than Receive Maximum 2 QoS 1 and 2 PUBLISH packets unacknowledged' },
    });
    // The DISCONNECT is the last packet; at most the two PUBLISHes within the maximum were acked.
    expect(packets.at(-1)).toBe(disconnect);
    expect(packets.filter((packet) => packet.type === PacketType.Puback).length).toBeLessThanOrEqual(2);
  });

  it('[MQTT-3.3.4-7] a raw client that keeps 2 unacknowledged at most is never disconnected (QoS 1 and 2)', async () => {
    await offlineSubscriber(limited, 'rm-sub-polite', 'rm/polite');
    const pub = await raw(limited, 'rm-pub-polite');
    const total = 60;
    let sent = 0;
    let completed = 0;
    pub.onPacket = (packet) => {
      if (packet.type === PacketType.Puback || packet.type === PacketType.Pubcomp) completed++;
      if (packet.type === PacketType.Pubrec)
        pub.reply(
          encode(
            { type: PacketType.Pubrel, packetId: packet.packetId, reasonCode: 0, properties: undefined },
            5,
          ),
        );
    };
    while (completed < total && !pub.isClosed) {
      while (sent < total && sent - completed < 2) {
        sent++;
        pub.socket.write(publishBytes('rm/polite', String(sent), sent % 2 === 0 ? 2 : 1, sent, 5));
      }
      // Wait for room to send more, or for the last acks: a condition already true would spin
      // on microtasks and starve the socket.
      await until(
        () => (sent < total && sent - completed < 2) || completed === total || pub.isClosed,
        'an ack',
      );
    }
    expect(pub.isClosed).toBe(false);
    expect(completed).toBe(total);
    expect(pub.control.filter((packet) => packet.type === PacketType.Disconnect)).toEqual([]);
  });
});

describe('features switched off, with MQTT.js 5', () => {
  it('[MQTT-3.2.2-14] a retained PUBLISH: DISCONNECT 0x9A, and nothing retained', async () => {
    const { client } = await connect5(limited, 'retain-off');
    const closed = disconnectOf(client);
    client.publish('retain/off', 'kept?', { qos: 1, retain: true });
    expect(await closed).toMatchObject({
      reasonCode: 0x9a,
      properties: { reasonString: 'PUBLISH with RETAIN 1 while Retain Available is 0' },
    });
    const { client: later } = await connect5(limited, 'retain-off-later');
    const received = record(later);
    await later.subscribeAsync('retain/off', { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received.filter((packet) => packet.cmd === 'publish')).toEqual([]);
  });

  it('[MQTT-3.2.2-13] a will with RETAIN 1: CONNACK 0x9A', async () => {
    const refused = await new Promise<mqtt.IConnackPacket | Error>((resolve) => {
      const client = mqtt.connect(limited.url, {
        clientId: 'retained-will',
        protocolVersion: 5,
        reconnectPeriod: 0,
        will: { topic: 'w', payload: Buffer.from('bye'), qos: 0, retain: true },
      });
      clients.push(client);
      client.on('packetreceive', (packet) => {
        if (packet.cmd === 'connack') resolve(packet);
      });
      client.once('error', (error) => resolve(error));
    });
    expect(refused).toMatchObject({
      reasonCode: 0x9a,
      properties: { reasonString: 'will: retain is not available' },
    });
  });

  it.each([
    ['§3.2.2.3.11 a wildcard filter: DISCONNECT 0xA2', 'a/+', {}, 0xa2],
    ['§3.2.2.3.13 a shared subscription: DISCONNECT 0x9E', '$share/g/a', {}, 0x9e],
    [
      '§3.2.2.3.12 a Subscription Identifier: DISCONNECT 0xA1',
      'a',
      { properties: { subscriptionIdentifier: 7 } },
      0xa1,
    ],
  ] as const)('%s', async (_name, filter, options, reasonCode) => {
    const { client } = await connect5(limited, `off-${reasonCode}`);
    const closed = disconnectOf(client);
    client.subscribe(filter, { qos: 1, ...options });
    expect((await closed)?.reasonCode).toBe(reasonCode);
  });

  it('a 3.1.1 client (told nothing) gets SUBACK 0x80 for a wildcard or shared filter, the others granted', async () => {
    const old = await raw(limited, 'old-filters', { protocolVersion: 4 });
    old.socket.write(
      encode(
        {
          type: PacketType.Subscribe,
          packetId: 3,
          subscriptions: ['plain/x', 'a/#', '$share/g/y'].map((topicFilter) => ({
            topicFilter,
            qos: 1 as const,
            noLocal: false,
            retainAsPublished: false,
            retainHandling: 0 as const,
          })),
          properties: undefined,
        },
        4,
      ),
    );
    await until(() => old.control.some((packet) => packet.type === PacketType.Suback), 'SUBACK');
    expect(old.control.find((packet) => packet.type === PacketType.Suback)).toEqual({
      type: PacketType.Suback,
      packetId: 3,
      reasonCodes: [1, 0x80, 0x80],
      properties: undefined,
    });
  });
});

describe('Reason Strings on refusing acknowledgements', () => {
  it('[MQTT-3.1.2-29] PUBACK 0x87 and SUBACK 0x8F say why, unless Request Problem Information is 0', async () => {
    const { client } = await connect5(limited, 'why');
    const received = record(client);
    await client.publishAsync('$SYS/mine', 'x', { qos: 1 }).catch(() => undefined);
    await client.subscribeAsync('one/two/three/four', { qos: 1 }).catch(() => undefined);
    await until(() => received.some((packet) => packet.cmd === 'suback'), 'SUBACK');
    expect(received.find((packet) => packet.cmd === 'puback')).toMatchObject({
      reasonCode: 0x87,
      properties: { reasonString: 'clients may not publish to topics starting with $' },
    });
    expect(received.find((packet) => packet.cmd === 'suback')).toMatchObject({
      granted: [0x8f],
      properties: { reasonString: 'filter 1: topic filter invalid' },
    });

    const { client: quiet } = await connect5(limited, 'why-not', {
      properties: { requestProblemInformation: false },
    });
    const quietReceived = record(quiet);
    await quiet.publishAsync('$SYS/mine', 'x', { qos: 1 }).catch(() => undefined);
    await quiet.subscribeAsync('one/two/three/four', { qos: 1 }).catch(() => undefined);
    await until(() => quietReceived.some((packet) => packet.cmd === 'suback'), 'SUBACK');
    const acks = quietReceived.filter(
      (packet) => packet.cmd === 'puback' || packet.cmd === 'suback',
    ) as Ack[];
    expect(acks.map((packet) => packet.reasonCode ?? packet.granted)).toEqual([0x87, [0x8f]]);
    for (const packet of acks) expect(packet.properties?.reasonString).toBeUndefined();
  });

  it('[MQTT-3.11.3-2] UNSUBACK says 0x11 No subscription existed, 0x00 for one that did', async () => {
    const { client } = await connect5(plain, 'unsub');
    await client.subscribeAsync('u/a', { qos: 0 });
    // mqtt-packet names the UNSUBACK reason codes `granted`.
    const unsuback = await new Promise<Ack>((resolve) => {
      client.on('packetreceive', (packet) => {
        if (packet.cmd === 'unsuback') resolve(packet as Ack);
      });
      client.unsubscribe(['u/none', 'u/a']);
    });
    expect(unsuback.granted).toEqual([0x11, 0x00]);
  });
});

describe('with the defaults', () => {
  it('retained messages, wildcards, shared subscriptions and identifiers work; many QoS 1 in one write are all acknowledged', async () => {
    const { client } = await connect5(plain, 'defaults');
    const granted = await client.subscribeAsync(['d/+', '$share/g/d/x'], {
      qos: 1,
      properties: { subscriptionIdentifier: 4 },
    });
    expect(granted.map((grant) => grant.qos)).toEqual([1, 1]);
    await client.publishAsync('d/r', 'kept', { qos: 1, retain: true });
    const pub = await raw(plain, 'defaults-flood');
    const burst: Buffer[] = [];
    for (let id = 1; id <= 200; id++) burst.push(publishBytes('d/flood', String(id), 1, id, 5));
    let acked = 0;
    pub.onPacket = (packet) => {
      if (packet.type === PacketType.Puback) acked++;
    };
    pub.socket.write(Buffer.concat(burst));
    await until(() => acked === 200 || pub.isClosed, '200 PUBACKs');
    expect(pub.isClosed).toBe(false);
    expect(acked).toBe(200);
  });
});
