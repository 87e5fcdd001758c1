import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, startTestBroker, type TestBroker } from './helpers.js';

// 5.0 outbound Topic Aliases against MQTT.js, which resolves them (and errors on an alias
// above its Topic Alias Maximum or one never set): the topics must arrive as published.

let broker: TestBroker;
const clients: MqttClient[] = [];

async function client(clientId: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const created = await mqtt.connectAsync(broker.url, {
    clientId,
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  clients.push(created);
  return created;
}

interface Received {
  /** The topic MQTT.js resolved. */
  topic: string;
  /** The topic name on the wire ('' when the alias stood for it) and the Topic Alias. */
  wireTopic: string;
  alias: number | undefined;
  payload: string;
}

/** The next `count` messages of `subscriber`; fails on a client error (a bad alias is one). */
function collect(subscriber: MqttClient, count: number): Promise<Received[]> {
  return new Promise((resolve, reject) => {
    const received: Received[] = [];
    const done = (error?: Error) => {
      clearTimeout(timer);
      subscriber.off('message', onMessage);
      subscriber.off('error', onError);
      if (error === undefined) resolve(received);
      else reject(error);
    };
    const timer = setTimeout(
      () => done(new Error(`got ${JSON.stringify(received)} of ${count} messages`)),
      5000,
    );
    const onMessage = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket) => {
      received.push({
        topic,
        wireTopic: packet.topic.toString(),
        alias: packet.properties?.topicAlias,
        payload: payload.toString(),
      });
      if (received.length === count) done();
    };
    const onError = (error: Error) => done(error);
    subscriber.on('message', onMessage);
    subscriber.on('error', onError);
  });
}

beforeAll(async () => {
  assertBuilt();
  broker = await startTestBroker({ args: ['--store', 'memory'] });
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await broker.stop('SIGTERM');
});

const base = 'v5/outbound-alias/a-rather-long-topic-prefix-so-that-the-alias-saves-bytes';

describe('5.0 outbound Topic Aliases with MQTT.js', () => {
  it('messages arrive with their topics; after the first, the topic is sent as an alias alone', async () => {
    const subscriber = await client('oa-sub', { properties: { topicAliasMaximum: 10 } });
    await subscriber.subscribeAsync('v5/outbound-alias/#', { qos: 1 });
    const plain = await client('oa-plain');
    await plain.subscribeAsync('v5/outbound-alias/#', { qos: 1 });
    const publisher = await client('oa-pub');
    const topics = [`${base}/1`, `${base}/2`, `${base}/1`, `${base}/3`, `${base}/2`, `${base}/1`];
    const arriving = collect(subscriber, topics.length);
    const arrivingPlain = collect(plain, topics.length);
    for (const [i, topic] of topics.entries())
      await publisher.publishAsync(topic, `m${i}`, { qos: i % 2 ? 1 : 0 });
    const got = await arriving;
    expect(got.map((m) => [m.topic, m.payload])).toEqual(topics.map((topic, i) => [topic, `m${i}`]));
    expect(got.map((m) => [m.wireTopic, m.alias])).toEqual([
      [`${base}/1`, 1],
      [`${base}/2`, 2],
      ['', 1],
      [`${base}/3`, 3],
      ['', 2],
      ['', 1],
    ]);
    // A client that set no Topic Alias Maximum gets every topic name in full.
    const gotPlain = await arrivingPlain;
    expect(gotPlain.map((m) => [m.topic, m.wireTopic, m.alias])).toEqual(
      topics.map((topic) => [topic, topic, undefined]),
    );
  });

  it('never above the client maximum: the least recently used alias is reassigned', async () => {
    const subscriber = await client('oa-sub-2', { properties: { topicAliasMaximum: 2 } });
    await subscriber.subscribeAsync('v5/outbound-alias/#', { qos: 0 });
    const publisher = await client('oa-pub-2');
    const topics = Array.from({ length: 30 }, (_, i) => `${base}/lru-${(i * 7) % 5}`);
    const arriving = collect(subscriber, topics.length);
    for (const topic of topics) await publisher.publishAsync(topic, 'x', { qos: 0 });
    const got = await arriving;
    expect(got.map((m) => m.topic)).toEqual(topics);
    expect(new Set(got.map((m) => m.alias))).toEqual(new Set([1, 2]));
  });

  it('a QoS 1 message re-sent on reconnect carries its full topic name', async () => {
    const options: mqtt.IClientOptions = {
      clean: false,
      properties: { topicAliasMaximum: 10, sessionExpiryInterval: 300 },
    };
    // Never acknowledges (MQTT.js then stops reading too): what the broker sent stays in flight.
    const holding = await client('oa-resend', { ...options, customHandleAcks: () => {} });
    await holding.subscribeAsync('v5/outbound-alias/resend/#', { qos: 1 });
    const publisher = await client('oa-pub-3');
    const topic = `v5/outbound-alias/resend/${'x'.repeat(80)}`;
    const first = new Promise<string>((resolve) => {
      holding.on('packetreceive', (packet) => {
        if (packet.cmd === 'publish') resolve(`${packet.topic.toString()}|${packet.properties?.topicAlias}`);
      });
    });
    await publisher.publishAsync(topic, 'a', { qos: 1 });
    await publisher.publishAsync(topic, 'b', { qos: 1 });
    expect(await first).toBe(`${topic}|1`);
    holding.end(true);
    // Listening before the CONNACK: the re-sent messages follow it at once.
    const back = mqtt.connect(broker.url, {
      clientId: 'oa-resend',
      protocolVersion: 5,
      reconnectPeriod: 0,
      ...options,
    });
    clients.push(back);
    const resent = await collect(back, 2);
    expect(resent.map((m) => [m.topic, m.wireTopic, m.alias, m.payload])).toEqual([
      [topic, topic, undefined, 'a'],
      [topic, topic, undefined, 'b'],
    ]);
  });
});
