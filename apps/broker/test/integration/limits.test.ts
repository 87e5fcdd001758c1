import { PacketType } from '@mqtt-adapt/codec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttJsClients, sleep, targetOf, until } from './conformance-harness.js';
import {
  connectBytes,
  FlowClient,
  publishBytes,
  startBrokers,
  subscribeBytes,
  waitForCount,
} from './flow-client.js';
import { type LogLine, openSocket, readUntilClosed, type TestBroker } from './helpers.js';
import { runId } from './mqtt-wire.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

// The limits of the "deployable broker" issue against the built CLI: --max-connections,
// --max-connect-rate-per-address, --max-publish-rate-per-client, --max-topic-length and the
// retained limits. Time appears only as lower bounds (a throttled publisher takes at least so
// long), never as upper bounds, so a slow machine cannot fail these tests.

const run = runId();
const COMMON = ['--store', 'memory', '--sys-interval', '0'];
const RATE = 500;
/** maxConnections 3. */
let connections: TestBroker;
/** maxConnectRatePerAddress 2: every test client comes from 127.0.0.1. */
let connectRate: TestBroker;
/** Publish rate, topic and retained limits, with /metrics. */
let limited: TestBroker;
const flowClients: FlowClient[] = [];
const mqttjs = new MqttJsClients(() => limited.url);

beforeAll(async () => {
  [connections, connectRate, limited] = (await startBrokers([
    [...COMMON, '--max-connections', '3'],
    [...COMMON, '--max-connect-rate-per-address', '2'],
    [
      ...COMMON,
      '--max-publish-rate-per-client',
      String(RATE),
      '--max-topic-length',
      '64',
      '--max-retained-messages',
      '2',
      '--max-retained-payload-bytes',
      '16',
      '--metrics-port',
      '0',
    ],
  ])) as [TestBroker, TestBroker, TestBroker];
});

afterAll(async () => {
  for (const client of flowClients) client.destroy();
  await mqttjs.closeAll();
  await Promise.all([connections?.stop(), connectRate?.stop(), limited?.stop()]);
});

async function flowClient(at: TestBroker, clientId: string, protocolVersion: 4 | 5 = 4): Promise<FlowClient> {
  const client = await FlowClient.connect(targetOf(at), clientId, { protocolVersion });
  flowClients.push(client);
  return client;
}

function limitWarning(limit: string, clientId?: string): (line: LogLine) => boolean {
  return (line) =>
    line.level === 40 && line.limit === limit && (clientId === undefined || line.clientId === clientId);
}

async function scrapeLimitHits(limit: string): Promise<number | undefined> {
  const metricsLine = await limited.waitForLine(
    (line) => line.msg === 'listening' && line.listener === 'metrics',
  );
  const response = await fetch(`http://127.0.0.1:${Number(metricsLine.port)}/metrics`);
  return sampleValue(parsePrometheusText(await response.text()), 'mqtt_adapt_limit_hits_total', { limit });
}

describe('--max-connections', () => {
  it('closes a connection past the limit at once, without CONNACK; the others are served', async () => {
    const clients = [
      await flowClient(connections, `${run}-c1`),
      await flowClient(connections, `${run}-c2`),
      await flowClient(connections, `${run}-c3`),
    ];
    const refused = await openSocket(connections.port);
    const bytes = readUntilClosed(refused);
    refused.write(connectBytes(`${run}-c4`));
    expect((await bytes).length).toBe(0);
    const line = await connections.waitForLine(limitWarning('maxConnections'));
    expect(line).toMatchObject({ maxConnections: 3 });
    // The three connected clients are untouched.
    await clients[0]!.subscribe(1, `${run}/conn`, 1);
    for (const client of clients) expect(client.isClosed).toBe(false);
    // Room again once one leaves.
    clients[2]!.destroy();
    await clients[2]!.closed;
    let again: FlowClient | undefined;
    for (let attempt = 0; attempt < 50 && again === undefined; attempt++) {
      again = await flowClient(connections, `${run}-c5`).catch(() => undefined);
      if (again === undefined) await sleep(50);
    }
    expect(again?.isClosed).toBe(false);
  });
});

describe('--max-connect-rate-per-address', () => {
  it('refuses CONNECTs past the rate (3.1.1: 3, 5.0: 0x9F) and accepts again once it refilled', async () => {
    const target = targetOf(connectRate);
    await flowClient(connectRate, `${run}-r1`);
    await flowClient(connectRate, `${run}-r2`);
    for (const [protocolVersion, code] of [
      [4, 3],
      [5, 0x9f],
    ] as const) {
      const refused = await FlowClient.open(target, protocolVersion);
      flowClients.push(refused);
      refused.socket.write(connectBytes(`${run}-refused-${protocolVersion}`, { protocolVersion }));
      expect(await refused.closedWithin(10_000)).toBe(true);
      expect(refused.control).toEqual([
        expect.objectContaining({ type: PacketType.Connack, reasonCode: code }),
      ]);
    }
    const line = await connectRate.waitForLine(limitWarning('maxConnectRatePerAddress'));
    expect(line).toMatchObject({ clientId: `${run}-refused-4`, maxConnectRatePerAddress: 2 });
    // Logged once per address, not per refusal.
    expect(connectRate.lines.filter(limitWarning('maxConnectRatePerAddress'))).toHaveLength(1);
    // A second is a lower bound: by then the bucket holds two tokens again.
    await sleep(1100);
    const later = await flowClient(connectRate, `${run}-r3`);
    expect(later.isClosed).toBe(false);
  });
});

describe('--max-publish-rate-per-client', () => {
  it(`2 000 QoS 1 at ${RATE}/s: every PUBACK, after at least ~3 s, never disconnected; another client is served meanwhile`, async () => {
    const count = 2000;
    const publisher = await flowClient(limited, `${run}-fast`);
    const acked = new Set<number>();
    let lastAckAt = 0;
    publisher.onPacket = (packet) => {
      if (packet.type !== PacketType.Puback) return;
      acked.add(packet.packetId);
      lastAckAt = performance.now();
    };
    const startedAt = performance.now();
    const burst = Buffer.concat(
      Array.from({ length: count }, (_, i) => publishBytes(`${run}/rate`, String(i), 1, i + 1)),
    );
    await publisher.send(burst);

    // Another client, from the same address, is served while the fast one is held back.
    const other = await mqttjs.connect({ clientId: `${run}-other` });
    await other.client.publishAsync(`${run}/other`, 'hello', { qos: 1 });
    expect(acked.size).toBeLessThan(count);

    expect(await waitForCount(() => acked.size, count, { stallMs: 5000, maxMs: 60_000 })).toBe(count);
    // 500 at once (the burst), then 1 500 at 500/s: at least 3 s (a little slack for rounding).
    expect(lastAckAt - startedAt).toBeGreaterThanOrEqual(2900);
    expect(publisher.isClosed).toBe(false);
    // Nothing but its CONNACK: no DISCONNECT.
    expect(publisher.control.map((p) => p.type)).toEqual([PacketType.Connack]);
    const line = await limited.waitForLine(limitWarning('maxPublishRatePerClient', `${run}-fast`));
    expect(line).toMatchObject({ maxPublishRatePerClient: RATE });
    expect(limited.lines.filter(limitWarning('maxPublishRatePerClient', `${run}-fast`))).toHaveLength(1);
    expect(await scrapeLimitHits('maxPublishRatePerClient')).toBeGreaterThanOrEqual(1);
  }, 90_000);
});

describe('--max-topic-length', () => {
  const long = (prefix: string) => `${prefix}/${'x'.repeat(64)}`;

  it('5.0: a PUBLISH to a longer topic gets DISCONNECT 0x90; 3.1.1: the connection is closed', async () => {
    const v5 = await flowClient(limited, `${run}-long5`, 5);
    await v5.send(publishBytes(long(run), 'x', 1, 1, 5));
    expect(await v5.closedWithin(10_000)).toBe(true);
    expect(v5.control.slice(1)).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x90 }),
    ]);
    const v4 = await flowClient(limited, `${run}-long4`);
    await v4.send(publishBytes(long(run), 'x', 1, 1));
    expect(await v4.closedWithin(10_000)).toBe(true);
    expect(v4.counts[PacketType.Puback]).toBe(0);
    await limited.waitForLine(limitWarning('maxTopicLength', `${run}-long5`));
    expect(await scrapeLimitHits('maxTopicLength')).toBeGreaterThanOrEqual(2);
  });

  it('a longer filter gets SUBACK 0x80 for that filter only, and the client stays', async () => {
    const client = await flowClient(limited, `${run}-longsub`);
    const suback = new Promise<number[]>((resolve) => {
      client.onPacket = () => {};
      const poll = setInterval(() => {
        const packet = client.control.find((p) => p.type === PacketType.Suback);
        if (packet?.type === PacketType.Suback) {
          clearInterval(poll);
          resolve(packet.reasonCodes);
        }
      }, 10);
    });
    await client.send(subscribeBytes(1, long(run), 1));
    expect(await suback).toEqual([0x80]);
    await client.subscribe(2, `${run}/short`, 1);
    expect(client.isClosed).toBe(false);
  });
});

describe('retained limits', () => {
  it('past --max-retained-messages or --max-retained-payload-bytes a message is delivered but not retained', async () => {
    const topic = (name: string) => `${run}/retained/${name}`;
    const live = await mqttjs.connect({ clientId: `${run}-live` });
    await live.client.subscribeAsync(`${run}/retained/#`, { qos: 1 });
    const publisher = await mqttjs.connect({ clientId: `${run}-retainer` });
    for (const [name, payload] of [
      ['a', 'one'],
      ['b', 'two'],
      ['c', 'three'], // a third retained message: over --max-retained-messages 2
      ['a', 'x'.repeat(17)], // over --max-retained-payload-bytes 16: 'a' stays 'one'
      ['b', 'TWO'], // replacing fits
    ] as const) {
      await publisher.client.publishAsync(topic(name), payload, { qos: 1, retain: true });
    }
    await until(() => live.messages.length === 5, 'live subscriber got all five');
    expect(live.messages.map((m) => m.payload.toString())).toEqual([
      'one',
      'two',
      'three',
      'x'.repeat(17),
      'TWO',
    ]);

    const later = await mqttjs.connect({ clientId: `${run}-later` });
    await later.client.subscribeAsync(`${run}/retained/#`, { qos: 1 });
    await until(() => later.messages.length >= 2, 'retained messages on subscribe');
    await sleep(200); // nothing more may come; a lower bound, so a slow machine only waits longer
    expect(later.messages.map((m) => `${m.topic}=${m.payload.toString()}`).sort()).toEqual([
      `${topic('a')}=one`,
      `${topic('b')}=TWO`,
    ]);
    expect(later.messages.every((m) => m.retain)).toBe(true);
    await limited.waitForLine(limitWarning('maxRetainedMessages', `${run}-retainer`));
    await limited.waitForLine(limitWarning('maxRetainedPayloadBytes', `${run}-retainer`));
    expect(await scrapeLimitHits('maxRetainedMessages')).toBe(1);
    expect(await scrapeLimitHits('maxRetainedPayloadBytes')).toBe(1);
  });
});
