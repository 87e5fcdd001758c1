// NATS JetStream adapter against the real nats-server (JetStream on) at 127.0.0.1:4222.
import { AckPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, createInbox, headers, type NatsConnection } from '@nats-io/transport-node';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MqttClientLink } from '../src/adapters/mqtt.js';
import { createJetStreamConsumer, createJetStreamProducer } from '../src/adapters/nats.js';
import { Bridge, jsonCodec, producerDeadLetters } from '../src/index.js';
import { MemoryBrokerLink } from './fixtures/memory-link.js';
import { CuttableProxy } from './fixtures/proxy.js';
import { answeringDevice, injectAcrossOutage } from './fixtures/scenarios.js';
import { checkOrder, mqttClient, NATS_PORT, uniqueName, waitFor } from './fixtures/services.js';

const servers = `127.0.0.1:${NATS_PORT}`;
let nc: NatsConnection;
const streams: string[] = [];
const bridges: Bridge[] = [];
const clients: MqttClient[] = [];
const proxies: CuttableProxy[] = [];

beforeAll(async () => {
  nc = await connect({ servers });
});
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close({ timeoutMs: 2000 });
  for (const c of clients.splice(0)) await c.endAsync(true);
  for (const p of proxies.splice(0)) await p.stop();
});
afterAll(async () => {
  const jsm = await jetstreamManager(nc);
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await nc.close();
});

function stream(extra: { maxMsgSize?: number } = {}) {
  const name = uniqueName('MQ').replaceAll('-', '_');
  streams.push(name);
  return { name, subjects: [`${name}.>`], storage: 'memory' as const, ...extra };
}

async function client(options: Parameters<typeof mqttClient>[0] = {}) {
  const c = await mqttClient({ protocolVersion: 5, ...options });
  clients.push(c);
  return c;
}

/** Reads a stream's messages from the start with an ephemeral consumer until `until` holds. */
async function read(streamName: string, until: (got: JsMsg[]) => boolean, filter?: string) {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.add(streamName, {
    ack_policy: AckPolicy.None,
    inactive_threshold: 5_000_000_000,
    ...(filter ? { filter_subject: filter } : {}),
  });
  const consumer = await jetstream(nc).consumers.get(streamName, info.name);
  const got: JsMsg[] = [];
  const messages = await consumer.consume();
  const done = (async () => {
    for await (const m of messages) got.push(m);
  })();
  try {
    await waitFor(() => until(got), 10_000, `messages on ${streamName}`);
  } finally {
    await messages.close();
    await done;
  }
  return got;
}

const json = (m: JsMsg) => JSON.parse(new TextDecoder().decode(m.data));

describe('nats jetstream adapter', () => {
  it('stores envelopes in per-device order with Nats-Msg-Id', async () => {
    const s = stream();
    const prefix = uniqueName('t');
    const bridge = new Bridge({
      link: new MqttClientLink(await client(), { publisher: await client() }),
      requestReply: false,
      uplinks: [
        {
          name: 'telemetry',
          template: `${prefix}/{node_id}/{device_id}/telemetry`,
          producer: createJetStreamProducer({ servers, stream: s }),
          destination: `${s.name}.{node_id}.{device_id}.{kind}`,
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
    const got = await read(s.name, (g) => g.length >= 60);
    const { byDevice, duplicates } = checkOrder(
      got.map((m) => ({ device: json(m).deviceId, seq: json(m).payload.seq })),
    );
    expect(duplicates).toBe(0);
    for (let d = 0; d < 3; d++) expect(byDevice.get(`d${d}`)).toEqual([...Array(20).keys()]);
    expect(got[0]!.subject).toMatch(new RegExp(`^${s.name}\\.n1\\.d[012]\\.telemetry$`));
    expect(got[0]!.headers?.get('Nats-Msg-Id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(got[0]!.headers?.get('mq-device-id')).toMatch(/^d[012]$/);
    expect(json(got[0]!)).toMatchObject({ nodeId: 'n1', kind: 'telemetry', encoding: 'json' });
  });

  it('sends commands from a durable pull consumer to a subscribed device and answers Reply-To', async () => {
    const s = stream();
    const prefix = uniqueName('t');
    const bridge = new Bridge({
      link: new MqttClientLink(await client(), { publisher: await client() }),
      requestReply: {
        commandTemplate: `${prefix}/{node_id}/{device_id}/command`,
        responseTemplate: `${prefix}/{node_id}/{device_id}/response`,
      },
      downlinks: [
        {
          name: 'commands',
          consumer: createJetStreamConsumer({ servers, stream: s, durable: 'bridge', maxAckPending: 8 }),
          template: `${prefix}/{node_id}/{device_id}/command`,
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    const device = await client();
    const commands = answeringDevice(device);
    await device.subscribeAsync(`${prefix}/n1/d1/command`, { qos: 1 });
    const js = jetstream(nc);
    for (let i = 0; i < 10; i++)
      await js.publish(`${s.name}.cmd`, JSON.stringify({ nodeId: 'n1', deviceId: 'd1', payload: { i } }));
    await waitFor(() => commands.length >= 10, 10_000, '10 commands');
    expect(commands).toEqual([...Array(10).keys()].map((i) => JSON.stringify({ i })));
    const jsm = await jetstreamManager(nc);
    await waitFor(() => bridge.metrics().rules[0]!.forwarded === 10);
    await new Promise((r) => setTimeout(r, 50)); // acks are fire-and-forget
    expect((await jsm.consumers.info(s.name, 'bridge')).num_ack_pending).toBe(0);

    const inbox = createInbox();
    const sub = nc.subscribe(inbox, { max: 1 });
    const h = headers();
    h.set('Reply-To', inbox);
    h.set('mq-correlation-id', 'corr-7');
    await js.publish(`${s.name}.cmd`, JSON.stringify({ nodeId: 'n1', deviceId: 'd1', payload: 'ping' }), {
      headers: h,
    });
    for await (const m of sub) {
      expect(m.string()).toBe('done:ping');
      expect(m.headers?.get('mq-correlation-id')).toBe('corr-7');
    }
  });

  it('holds within its bound while NATS is cut off, then stores everything once', async () => {
    const s = stream();
    const proxy = await new CuttableProxy(NATS_PORT).start();
    proxies.push(proxy);
    const link = new MemoryBrokerLink();
    const bridge = new Bridge({
      link,
      requestReply: false,
      uplinks: [
        {
          name: 'telemetry',
          template: '{node_id}/{device_id}/telemetry',
          producer: createJetStreamProducer({ servers: proxy.url, stream: s, publishTimeoutMs: 300 }),
          destination: `${s.name}.{device_id}`,
          maxInFlight: 8,
          concurrency: 4,
          retry: { initialDelayMs: 20, maxDelayMs: 100 },
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    await injectAcrossOutage(link, bridge, proxy, 800);
    const got = await read(s.name, (g) => g.length >= 40);
    await new Promise((r) => setTimeout(r, 100));
    const { byDevice, duplicates } = checkOrder(
      got.map((m) => ({ device: json(m).deviceId, seq: json(m).payload.seq })),
    );
    expect(duplicates).toBe(0); // Nats-Msg-Id: retries of stored messages are not stored again
    expect(got).toHaveLength(40);
    for (const seqs of byDevice.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(bridge.metrics().rules[0]).toMatchObject({ forwarded: 40, deadLettered: 0 });
  });

  it('dead-letters a payload that is not JSON and a message JetStream refuses', async () => {
    const s = stream({ maxMsgSize: 512 });
    const dl = stream();
    const link = new MemoryBrokerLink();
    const deadLetters = createJetStreamProducer({ servers, stream: dl });
    const bridge = new Bridge({
      link,
      requestReply: false,
      uplinks: [
        {
          name: 'strict',
          template: '{node_id}/{device_id}/telemetry',
          codec: jsonCodec({ requireJson: true }),
          producer: createJetStreamProducer({ servers, stream: s }),
          destination: `${s.name}.{device_id}`,
          retry: { initialDelayMs: 5, maxAttempts: 2 },
          deadLetter: producerDeadLetters(deadLetters, `${dl.name}.dead`),
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    await link.inject('n/d1/telemetry', 'not json');
    await link.inject('n/d1/telemetry', JSON.stringify({ big: 'x'.repeat(1000) }));
    await link.inject('n/d1/telemetry', '{"fine":true}');
    const docs = (await read(dl.name, (g) => g.length >= 2)).map(json);
    expect(docs[0]).toMatchObject({
      rule: 'strict',
      code: 'MQ_MAPPING_FAILED',
      attempts: 0,
      payload: 'not json',
    });
    expect(docs[1]).toMatchObject({ rule: 'strict', code: 'MQ_DESTINATION_REJECTED', attempts: 2 });
    expect(docs[1].reason).toMatch(/^jetstream publish to MQ_\S+\.d1: .*maximum/i);
    expect(bridge.metrics().rules[0]).toMatchObject({ forwarded: 1, deadLettered: 2 });
    await deadLetters.close();
  });
});
