// Redis Streams adapter against the real Redis at 127.0.0.1:6379.
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MqttClientLink } from '../src/adapters/mqtt.js';
import { createRedisStreamConsumer, createRedisStreamProducer } from '../src/adapters/redis.js';
import { Bridge, producerDeadLetters } from '../src/index.js';
import { MemoryBrokerLink } from './fixtures/memory-link.js';
import { CuttableProxy } from './fixtures/proxy.js';
import { answeringDevice, injectAcrossOutage } from './fixtures/scenarios.js';
import { checkOrder, mqttClient, REDIS_PORT, uniqueName, waitFor } from './fixtures/services.js';

const url = `redis://127.0.0.1:${REDIS_PORT}`;
let redis: Redis;
const keys: string[] = [];
const bridges: Bridge[] = [];
const clients: MqttClient[] = [];
const proxies: CuttableProxy[] = [];

beforeAll(async () => {
  redis = new Redis(url, { maxRetriesPerRequest: 1 });
  await redis.ping();
});
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close({ timeoutMs: 2000 });
  for (const c of clients.splice(0)) await c.endAsync(true);
  for (const p of proxies.splice(0)) await p.stop();
});
afterAll(async () => {
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

function key(prefix: string) {
  const name = uniqueName(prefix);
  keys.push(name);
  return name;
}

async function client(options: Parameters<typeof mqttClient>[0] = {}) {
  const c = await mqttClient({ protocolVersion: 5, ...options });
  clients.push(c);
  return c;
}

async function entries(stream: string) {
  const all = await redis.xrange(stream, '-', '+');
  return all.map(([id, fields]) => {
    const map = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
    let body: unknown = map.get('body');
    try {
      body = JSON.parse(String(body));
    } catch {
      // a reply body is the device's raw payload
    }
    // biome-ignore lint/suspicious/noExplicitAny: test data read back from JSON
    return { id, fields: map, body: body as any };
  });
}

describe('redis streams adapter', () => {
  it('appends envelopes in per-device order, trimmed by MAXLEN', async () => {
    const prefix = uniqueName('t');
    const stream = key('mq-stream');
    const bridge = new Bridge({
      link: new MqttClientLink(await client(), { publisher: await client() }),
      requestReply: false,
      uplinks: [
        {
          name: 'telemetry',
          template: `${prefix}/{node_id}/{device_id}/telemetry`,
          producer: createRedisStreamProducer({ url, maxLen: 1000 }),
          destination: () => stream,
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    const devices = await Promise.all([0, 1, 2].map(() => client()));
    await Promise.all(
      devices.map(async (device, d) => {
        for (let seq = 0; seq < 20; seq++)
          await device.publishAsync(`${prefix}/n1/d${d}/telemetry`, JSON.stringify({ seq }), { qos: 1 });
      }),
    );
    await waitFor(() => bridge.metrics().rules[0]!.forwarded === 60, 10_000, '60 forwarded');
    const got = await entries(stream);
    const { byDevice, duplicates } = checkOrder(
      got.map((e) => ({ device: e.body.deviceId, seq: e.body.payload.seq })),
    );
    expect(duplicates).toBe(0);
    for (let d = 0; d < 3; d++) expect(byDevice.get(`d${d}`)).toEqual([...Array(20).keys()]);
    expect(got[0]!.fields.get('contentType')).toBe('application/json');
    expect(got[0]!.fields.get('key')).toMatch(/^d[012]$/);
    expect(JSON.parse(got[0]!.fields.get('headers')!)).toMatchObject({ 'mq-node-id': 'n1' });

    const trimmed = key('mq-trim');
    const producer = createRedisStreamProducer({ url, maxLen: 5, exactMaxLen: true });
    await producer.start!();
    for (let i = 0; i < 12; i++) {
      await producer.send({
        destination: trimmed,
        partitionKey: 'k',
        messageId: `m${i}`,
        body: Buffer.from('{}'),
        contentType: 'x',
        headers: {},
      });
    }
    expect(await redis.xlen(trimmed)).toBe(5);
    await producer.close();
  });

  it('sends commands from a consumer group to a subscribed device, XACKs them, and answers replyTo', async () => {
    const prefix = uniqueName('t');
    const stream = key('mq-cmd');
    const replies = key('mq-replies');
    const bridge = new Bridge({
      link: new MqttClientLink(await client(), { publisher: await client() }),
      requestReply: {
        commandTemplate: `${prefix}/{node_id}/{device_id}/command`,
        responseTemplate: `${prefix}/{node_id}/{device_id}/response`,
      },
      downlinks: [
        {
          name: 'commands',
          consumer: createRedisStreamConsumer({ url, stream, group: 'bridge', consumer: 'b1', blockMs: 100 }),
          template: `${prefix}/{node_id}/{device_id}/command`,
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    const device = await client();
    const commands = answeringDevice(device);
    await device.subscribeAsync(`${prefix}/n1/d1/command`, { qos: 1 });
    for (let i = 0; i < 10; i++)
      await redis.xadd(stream, '*', 'body', JSON.stringify({ nodeId: 'n1', deviceId: 'd1', payload: { i } }));
    await waitFor(() => commands.length >= 10, 10_000, '10 commands');
    expect(commands).toEqual([...Array(10).keys()].map((i) => JSON.stringify({ i })));
    await waitFor(() => bridge.metrics().rules[0]!.forwarded === 10);
    await new Promise((r) => setTimeout(r, 50));
    expect(((await redis.xpending(stream, 'bridge')) as [number])[0]).toBe(0);

    await redis.xadd(
      stream,
      '*',
      'body',
      JSON.stringify({ nodeId: 'n1', deviceId: 'd1', payload: 'ping' }),
      'replyTo',
      replies,
      'correlationId',
      'corr-9',
    );
    let reply: Awaited<ReturnType<typeof entries>>[number] | undefined;
    const started = Date.now();
    while (!reply && Date.now() - started < 5000) {
      [reply] = await entries(replies);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(reply?.fields.get('correlationId')).toBe('corr-9');
    expect(reply?.body).toBe('done:ping');
    expect(await redis.xlen(replies)).toBe(1);
  });

  it('re-claims entries a dead consumer left pending (XAUTOCLAIM)', async () => {
    const prefix = uniqueName('t');
    const stream = key('mq-claim');
    await redis.xgroup('CREATE', stream, 'bridge', '0', 'MKSTREAM');
    for (let i = 0; i < 5; i++)
      await redis.xadd(stream, '*', 'body', JSON.stringify({ nodeId: 'n1', deviceId: 'd1', payload: i }));
    // Consumer "dead" reads everything and never acks.
    await redis.xreadgroup('GROUP', 'bridge', 'dead', 'COUNT', 10, 'STREAMS', stream, '>');
    expect(((await redis.xpending(stream, 'bridge')) as [number])[0]).toBe(5);
    const bridge = new Bridge({
      link: new MqttClientLink(await client(), { publisher: await client() }),
      requestReply: false,
      downlinks: [
        {
          name: 'commands',
          consumer: createRedisStreamConsumer({
            url,
            stream,
            group: 'bridge',
            consumer: 'alive',
            blockMs: 50,
            claimIdleMs: 100,
            claimIntervalMs: 100,
          }),
          template: `${prefix}/{node_id}/{device_id}/command`,
        },
      ],
    });
    bridges.push(bridge);
    const device = await client();
    const commands: string[] = [];
    device.on('message', (_topic, payload) => commands.push(payload.toString()));
    await device.subscribeAsync(`${prefix}/n1/d1/command`, { qos: 1 });
    await bridge.start();
    await waitFor(() => commands.length >= 5, 10_000, 're-claimed commands');
    expect(commands).toEqual(['0', '1', '2', '3', '4']);
    await new Promise((r) => setTimeout(r, 100));
    expect(((await redis.xpending(stream, 'bridge')) as [number])[0]).toBe(0);
  });

  it('holds within its bound while Redis is cut off, then appends everything', async () => {
    const stream = key('mq-outage');
    const proxy = await new CuttableProxy(REDIS_PORT).start();
    proxies.push(proxy);
    const link = new MemoryBrokerLink();
    const bridge = new Bridge({
      link,
      requestReply: false,
      uplinks: [
        {
          name: 'telemetry',
          template: '{node_id}/{device_id}/telemetry',
          producer: createRedisStreamProducer({
            url: `redis://${proxy.url}`,
            options: { retryStrategy: () => 50 },
          }),
          destination: () => stream,
          maxInFlight: 8,
          concurrency: 4,
          retry: { initialDelayMs: 20, maxDelayMs: 100 },
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    await injectAcrossOutage(link, bridge, proxy, 400);
    const got = await entries(stream);
    const { byDevice, duplicates } = checkOrder(
      got.map((e) => ({ device: e.body.deviceId, seq: e.body.payload.seq })),
    );
    expect(new Set(got.map((e) => e.body.payload.seq)).size).toBe(40);
    for (const seqs of byDevice.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(duplicates).toBeLessThanOrEqual(bridge.metrics().rules[0]!.retried);
    expect(bridge.metrics().rules[0]).toMatchObject({ forwarded: 40, deadLettered: 0 });
  });

  it('dead-letters an entry Redis refuses (WRONGTYPE) after its attempts', async () => {
    const wrong = key('mq-wrongtype');
    const dead = key('mq-dead');
    await redis.set(wrong, 'not a stream');
    const link = new MemoryBrokerLink();
    const dlProducer = createRedisStreamProducer({ url });
    const bridge = new Bridge({
      link,
      requestReply: false,
      uplinks: [
        {
          name: 'telemetry',
          template: '{node_id}/{device_id}/telemetry',
          producer: createRedisStreamProducer({ url }),
          destination: () => wrong,
          retry: { initialDelayMs: 5, maxAttempts: 3 },
          deadLetter: producerDeadLetters(dlProducer, dead),
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    await link.inject('n/d1/telemetry', '{"t":1}');
    const [letter] = await entries(dead);
    expect(letter!.body).toMatchObject({
      rule: 'telemetry',
      code: 'MQ_DESTINATION_REJECTED',
      attempts: 3,
      payload: { t: 1 },
    });
    expect(letter!.body.reason).toMatch(/^redis xadd to mq-wrongtype-\S+: WRONGTYPE/);
    await dlProducer.close();
  });
});
