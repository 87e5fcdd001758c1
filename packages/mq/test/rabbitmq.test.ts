// RabbitMQ adapter against the real RabbitMQ on 127.0.0.1:5672 (guest/guest).
import { type Channel, type ChannelModel, type ConsumeMessage, connect } from 'amqplib';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MqttClientLink } from '../src/adapters/mqtt.js';
import { createRabbitMqConsumer, createRabbitMqProducer } from '../src/adapters/rabbitmq.js';
import { Bridge, jsonCodec, producerDeadLetters } from '../src/index.js';
import { MemoryBrokerLink } from './fixtures/memory-link.js';
import { CuttableProxy } from './fixtures/proxy.js';
import { answeringDevice, injectAcrossOutage } from './fixtures/scenarios.js';
import { checkOrder, mqttClient, RABBITMQ_PORT, type Seq, uniqueName, waitFor } from './fixtures/services.js';

const url = `amqp://guest:guest@127.0.0.1:${RABBITMQ_PORT}`;
let admin: ChannelModel;
let ch: Channel;
const queues: string[] = [];
const exchanges: string[] = [];
const bridges: Bridge[] = [];
const clients: MqttClient[] = [];
const proxies: CuttableProxy[] = [];

beforeAll(async () => {
  admin = await connect(url);
  ch = await admin.createChannel();
  ch.on('error', (error) => console.error('test channel', error));
});
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close({ timeoutMs: 2000 });
  for (const c of clients.splice(0)) await c.endAsync(true);
  for (const p of proxies.splice(0)) await p.stop();
});
afterAll(async () => {
  for (const q of queues) await ch.deleteQueue(q);
  for (const e of exchanges) await ch.deleteExchange(e);
  await admin.close();
});

function names() {
  const exchange = uniqueName('mq-x');
  const queue = uniqueName('mq-q');
  const dlq = uniqueName('mq-dlq');
  exchanges.push(exchange);
  queues.push(queue, dlq);
  return { exchange, queue, dlq };
}

async function client(options: Parameters<typeof mqttClient>[0] = {}) {
  const c = await mqttClient({ protocolVersion: 5, ...options });
  clients.push(c);
  return c;
}

async function link() {
  return new MqttClientLink(await client(), { publisher: await client() });
}

/** Takes messages off a queue until `until` holds. */
async function take(queue: string, until: (got: ConsumeMessage[]) => boolean, timeoutMs = 10_000) {
  const got: ConsumeMessage[] = [];
  const { consumerTag } = await ch.consume(queue, (m) => m && got.push(m), { noAck: true });
  try {
    await waitFor(() => until(got), timeoutMs, `messages on ${queue}`);
  } finally {
    await ch.cancel(consumerTag);
  }
  return got;
}

const json = (m: ConsumeMessage) => JSON.parse(m.content.toString());

describe('rabbitmq adapter', () => {
  it('delivers envelopes in per-device order, confirmed before the device is acked', async () => {
    const { exchange, queue } = names();
    const prefix = uniqueName('t');
    const bridge = new Bridge({
      link: await link(),
      requestReply: false,
      uplinks: [
        {
          name: 'telemetry',
          template: `${prefix}/{node_id}/{device_id}/telemetry`,
          producer: createRabbitMqProducer({
            url,
            exchange: { name: exchange, durable: false },
            queues: [{ name: queue, durable: false, bindings: ['telemetry.#'] }],
          }),
          destination: 'telemetry.{node_id}.{device_id}',
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
    const got = await take(queue, (g) => g.length >= 60);
    const { byDevice, duplicates } = checkOrder(
      got.map((m) => ({ device: json(m).deviceId, seq: json(m).payload.seq })),
    );
    expect(duplicates).toBe(0);
    for (let d = 0; d < 3; d++) expect(byDevice.get(`d${d}`)).toEqual([...Array(20).keys()]);
    expect(got[0]!.fields.routingKey).toMatch(/^telemetry\.n1\.d[012]$/);
    expect(got[0]!.properties).toMatchObject({ contentType: 'application/json', deliveryMode: 2 });
    expect(got[0]!.properties.headers).toMatchObject({ 'mq-node-id': 'n1', 'mq-kind': 'telemetry' });
    expect(json(got[0]!)).toMatchObject({ nodeId: 'n1', kind: 'telemetry', encoding: 'json', qos: 1 });
  });

  it('sends queued commands to a subscribed device, acks them, and answers reply-to', async () => {
    const { queue } = names();
    const prefix = uniqueName('t');
    const bridge = new Bridge({
      link: await link(),
      requestReply: {
        commandTemplate: `${prefix}/{node_id}/{device_id}/command`,
        responseTemplate: `${prefix}/{node_id}/{device_id}/response`,
      },
      downlinks: [
        {
          name: 'commands',
          consumer: createRabbitMqConsumer({ url, queue: { name: queue, durable: false }, prefetch: 8 }),
          template: `${prefix}/{node_id}/{device_id}/command`,
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    const device = await client();
    const commands = answeringDevice(device);
    await device.subscribeAsync(`${prefix}/n1/d1/command`, { qos: 1 });
    for (let i = 0; i < 10; i++) {
      ch.sendToQueue(queue, Buffer.from(JSON.stringify({ nodeId: 'n1', deviceId: 'd1', payload: { i } })));
    }
    await waitFor(() => commands.length >= 10, 10_000, '10 commands');
    expect(commands).toEqual([...Array(10).keys()].map((i) => JSON.stringify({ i })));
    await waitFor(() => bridge.metrics().rules[0]!.forwarded === 10);
    expect((await ch.checkQueue(queue)).messageCount).toBe(0);

    const { queue: replyQueue } = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(queue, Buffer.from(JSON.stringify({ nodeId: 'n1', deviceId: 'd1', payload: 'ping' })), {
      replyTo: replyQueue,
      correlationId: 'corr-42',
    });
    const [reply] = await take(replyQueue, (g) => g.length >= 1);
    expect(reply!.content.toString()).toBe('done:ping');
    expect(reply!.properties.correlationId).toBe('corr-42');
  });

  it('holds within its bound while RabbitMQ is cut off, then delivers everything', async () => {
    const { exchange, queue } = names();
    const proxy = await new CuttableProxy(RABBITMQ_PORT).start();
    proxies.push(proxy);
    const link = new MemoryBrokerLink();
    const bridge = new Bridge({
      link,
      requestReply: false,
      uplinks: [
        {
          name: 'telemetry',
          template: '{node_id}/{device_id}/telemetry',
          producer: createRabbitMqProducer({
            url: `amqp://guest:guest@${proxy.url}`,
            exchange: { name: exchange, durable: false },
            queues: [{ name: queue, durable: false, bindings: ['#'] }],
          }),
          destination: '{device_id}',
          maxInFlight: 8,
          concurrency: 4,
          retry: { initialDelayMs: 20, maxDelayMs: 100 },
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    await injectAcrossOutage(link, bridge, proxy, 400);
    const got = await take(queue, (g) => new Set(g.map((m) => json(m).payload.seq)).size >= 40);
    const received: Seq[] = got.map((m) => ({ device: json(m).deviceId, seq: json(m).payload.seq }));
    const { byDevice, duplicates } = checkOrder(received);
    for (const seqs of byDevice.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(duplicates).toBeLessThanOrEqual(bridge.metrics().rules[0]!.retried);
    expect(bridge.metrics().rules[0]).toMatchObject({ forwarded: 40, deadLettered: 0 });
  });

  it('starts while RabbitMQ is unreachable (closed port), holds, and delivers once it is up', async () => {
    const { exchange, queue } = names();
    const proxy = await new CuttableProxy(RABBITMQ_PORT).start();
    proxies.push(proxy);
    await proxy.cut(); // nothing listens on proxy.port now
    const link = new MemoryBrokerLink();
    const bridge = new Bridge({
      link,
      requestReply: false,
      uplinks: [
        {
          name: 'telemetry',
          template: '{node_id}/{device_id}/telemetry',
          producer: createRabbitMqProducer({
            url: `amqp://guest:guest@${proxy.url}`,
            exchange: { name: exchange, durable: false },
            queues: [{ name: queue, durable: false, bindings: ['#'] }],
          }),
          destination: '{device_id}',
          retry: { initialDelayMs: 20, maxDelayMs: 100 },
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start(); // logs "destination not reachable yet" and goes on
    let acked = 0;
    const acks = Array.from({ length: 10 }, (_, seq) =>
      link.inject(`n/d${seq % 2}/telemetry`, JSON.stringify({ seq })).then(() => void acked++),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(acked).toBe(0);
    expect(bridge.metrics().rules[0]!.retried).toBeGreaterThan(0);
    await proxy.restore();
    await Promise.all(acks);
    const got = await take(queue, (g) => g.length >= 10);
    expect(got.map((m) => json(m).payload.seq).sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
  });

  it('dead-letters poison messages: not JSON uplink, unroutable key, undecodable command', async () => {
    const { exchange, queue, dlq } = names();
    const { queue: commandQueue } = names();
    const deadLetters = createRabbitMqProducer({
      url,
      exchange: { name: exchange, durable: false },
      queues: [{ name: dlq, durable: false, bindings: ['dead-letter'] }],
    });
    const link = new MemoryBrokerLink();
    const bridge = new Bridge({
      link,
      requestReply: false,
      uplinks: [
        {
          name: 'strict',
          template: '{node_id}/{device_id}/telemetry',
          codec: jsonCodec({ requireJson: true }),
          producer: createRabbitMqProducer({
            url,
            exchange: { name: exchange, durable: false },
            queues: [{ name: queue, durable: false, bindings: ['bound.*'] }],
          }),
          destination: '{device_id}.x',
          retry: { initialDelayMs: 5, maxAttempts: 2 },
          deadLetter: producerDeadLetters(deadLetters, 'dead-letter'),
        },
      ],
      downlinks: [
        {
          name: 'commands',
          consumer: createRabbitMqConsumer({ url, queue: { name: commandQueue, durable: false } }),
          deadLetter: producerDeadLetters(deadLetters, 'dead-letter'),
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    await link.inject('n/bound/telemetry', 'not json');
    await link.inject('n/unbound/telemetry', '{"ok":true}');
    ch.sendToQueue(commandQueue, Buffer.from('<xml/>'));
    const got = await take(dlq, (g) => g.length >= 3);
    const docs = got.map(json).sort((a, b) => `${a.rule}:${a.code}`.localeCompare(`${b.rule}:${b.code}`));
    expect(docs).toMatchObject([
      {
        rule: 'commands',
        code: 'MQ_MAPPING_FAILED',
        reason: `command from ${commandQueue} is not JSON`,
        payload: '<xml/>',
      },
      {
        rule: 'strict',
        code: 'MQ_DESTINATION_REJECTED',
        attempts: 2,
        reason: 'rabbitmq: no queue bound for routing key unbound.x',
      },
      {
        rule: 'strict',
        code: 'MQ_MAPPING_FAILED',
        attempts: 0,
        reason: 'payload on n/bound/telemetry is not JSON (utf8)',
      },
    ]);
    await deadLetters.close();
  });
});
