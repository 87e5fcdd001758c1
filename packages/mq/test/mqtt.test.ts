// MQTT-to-MQTT against the real Mosquitto on 127.0.0.1:1883 (local and "remote" are two topic
// spaces on the same broker).
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createMqttProducer, MqttClientLink, mqttForwardingRules } from '../src/adapters/mqtt.js';
import { Bridge, producerDeadLetters } from '../src/index.js';
import { MemoryBrokerLink } from './fixtures/memory-link.js';
import { CuttableProxy } from './fixtures/proxy.js';
import {
  checkOrder,
  MOSQUITTO_PORT,
  mqttClient,
  type Seq,
  uniqueName,
  waitFor,
} from './fixtures/services.js';

const clients: MqttClient[] = [];
const bridges: Bridge[] = [];
const proxies: CuttableProxy[] = [];

async function client(options: Parameters<typeof mqttClient>[0] = {}, port?: number): Promise<MqttClient> {
  const c = await mqttClient({ protocolVersion: 5, ...options }, port);
  clients.push(c);
  return c;
}

async function collect(filter: string, into: Buffer[] | ((topic: string, payload: Buffer) => void)) {
  const c = await client();
  c.on('message', (topic, payload) => (Array.isArray(into) ? into.push(payload) : into(topic, payload)));
  await c.subscribeAsync(filter, { qos: 1 });
  return c;
}

async function localLink(protocolVersion: 4 | 5 = 5) {
  return new MqttClientLink(await client({ protocolVersion }), {
    publisher: await client({ protocolVersion }),
  });
}

afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close({ timeoutMs: 1000 });
  for (const c of clients.splice(0)) await c.endAsync(true);
  for (const p of proxies.splice(0)) await p.stop();
});

describe('mqtt adapter (Mosquitto)', () => {
  it('forwards local topics to the remote broker in per-device order, and remote topics back', async () => {
    const L = uniqueName('L');
    const R = uniqueName('R');
    const { uplinks, downlinks } = mqttForwardingRules({
      remote: await client(),
      outbound: [`${L}/tele/#`],
      inbound: [`${R}/cmd/#`],
      prefixes: [{ local: `${L}/`, remote: `${R}/` }],
    });
    const bridge = new Bridge({ link: await localLink(), uplinks, downlinks, requestReply: false });
    bridges.push(bridge);
    await bridge.start();

    const received: Seq[] = [];
    await collect(`${R}/tele/#`, (topic, payload) =>
      received.push({ device: topic.split('/').pop()!, seq: JSON.parse(payload.toString()).seq }),
    );
    const devices = await Promise.all(['d1', 'd2', 'd3'].map(() => client()));
    await Promise.all(
      devices.map(async (device, d) => {
        for (let seq = 0; seq < 20; seq++)
          await device.publishAsync(`${L}/tele/d${d}`, JSON.stringify({ seq }), { qos: 1 });
      }),
    );
    await waitFor(() => received.length >= 60, 10_000, '60 forwarded messages');
    const { byDevice, duplicates } = checkOrder(received);
    expect(duplicates).toBe(0);
    for (let d = 0; d < 3; d++) expect(byDevice.get(`d${d}`)).toEqual([...Array(20).keys()]);

    const commands: Buffer[] = [];
    await collect(`${L}/cmd/d1`, commands);
    const remote = await client();
    for (let i = 0; i < 5; i++) await remote.publishAsync(`${R}/cmd/d1`, `c${i}`, { qos: 1 });
    await waitFor(() => commands.length >= 5, 5000, 'commands on the local broker');
    expect(commands.map(String)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect(bridge.metrics().rules.find((r) => r.rule === 'mqtt-in')).toMatchObject({ forwarded: 5 });
  });

  it.each([5, 4] as const)(
    'round-trips a request to a subscribed device (MQTT %i)',
    async (protocolVersion) => {
      const L = uniqueName('L');
      const bridge = new Bridge({
        link: await localLink(protocolVersion),
        requestReply: {
          commandTemplate: `${L}/{node_id}/{device_id}/command`,
          responseTemplate: `${L}/{node_id}/{device_id}/response`,
        },
      });
      bridges.push(bridge);
      await bridge.start();
      const device = await client({ protocolVersion });
      device.on('message', (_topic, payload, packet) => {
        if (protocolVersion === 5) {
          const { responseTopic, correlationData } = packet.properties ?? {};
          void device.publishAsync(responseTopic!, `echo:${payload}`, {
            qos: 1,
            properties: { correlationData: correlationData! },
          });
        } else {
          const command = JSON.parse(payload.toString());
          void device.publishAsync(
            `${L}/n1/d1/response`,
            JSON.stringify({ correlationId: command.correlationId, echo: command.payload }),
            {
              qos: 1,
            },
          );
        }
      });
      await device.subscribeAsync(`${L}/n1/d1/command`, { qos: 1 });
      const response = await bridge.request({ node_id: 'n1', device_id: 'd1' }, Buffer.from('"hi"'), {
        timeoutMs: 5000,
      });
      const text = Buffer.from(response.payload).toString();
      expect(protocolVersion === 5 ? text : JSON.parse(text).echo).toBe(
        protocolVersion === 5 ? 'echo:"hi"' : 'hi',
      );
      await expect(
        bridge.request({ node_id: 'n1', device_id: 'nobody' }, Buffer.from('x'), { timeoutMs: 200 }),
      ).rejects.toMatchObject({
        code: 'MQ_REQUEST_TIMEOUT',
      });
    },
  );

  it('holds within its bound while the remote broker is cut off, then delivers everything', async () => {
    const R = uniqueName('R');
    const proxy = await new CuttableProxy(MOSQUITTO_PORT).start();
    proxies.push(proxy);
    const remote = await client({ reconnectPeriod: 50 }, proxy.port);
    const link = new MemoryBrokerLink();
    const bridge = new Bridge({
      link,
      requestReply: false,
      uplinks: [
        {
          name: 'out',
          template: 'site/{device_id}/tele',
          producer: createMqttProducer({ client: remote, prefixes: [{ local: 'site/', remote: `${R}/` }] }),
          destination: (m) => m.topic,
          maxInFlight: 8,
          concurrency: 4,
          retry: { initialDelayMs: 20, maxDelayMs: 100 },
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    const received: Seq[] = [];
    await collect(`${R}/#`, (topic, payload) => {
      const envelope = JSON.parse(payload.toString());
      expect(envelope).toMatchObject({ deviceId: topic.split('/')[1], kind: 'tele', encoding: 'json' });
      received.push({ device: envelope.deviceId, seq: envelope.payload.seq });
    });

    await proxy.cut();
    await waitFor(() => !remote.connected, 5000, 'the client to notice the cut');
    let acked = 0;
    const acks = Array.from({ length: 30 }, (_, seq) =>
      link.inject(`site/d${seq % 5}/tele`, JSON.stringify({ seq })).then(() => void acked++),
    );
    await new Promise((r) => setTimeout(r, 400));
    const held = bridge.metrics().rules[0]!;
    expect(acked).toBe(0);
    expect(held.queueDepth).toBe(30);
    expect(held.saturated).toBe(true);
    expect(link.pauses).toBe(1);
    expect(held.retried).toBeGreaterThan(0);

    await proxy.restore();
    await Promise.all(acks);
    await waitFor(() => new Set(received.map((r) => r.seq)).size >= 30, 10_000, 'all 30 messages');
    const { byDevice, duplicates } = checkOrder(received);
    for (const seqs of byDevice.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(duplicates).toBeLessThanOrEqual(bridge.metrics().rules[0]!.retried);
    expect(bridge.metrics().rules[0]).toMatchObject({ forwarded: 30, deadLettered: 0, saturated: false });
  });

  it('dead-letters a message whose topic the prefix map cannot map', async () => {
    const L = uniqueName('L');
    const R = uniqueName('R');
    const remote = await client();
    const bridge = new Bridge({
      link: await localLink(),
      requestReply: false,
      uplinks: [
        {
          name: 'out',
          filter: `${L}/#`,
          producer: createMqttProducer({
            client: remote,
            keepOpen: true,
            prefixes: [{ local: `${L}/ok/`, remote: `${R}/ok/` }],
          }),
          destination: (m) => m.topic,
          deadLetter: producerDeadLetters(
            createMqttProducer({ client: remote, keepOpen: true }),
            `${R}/dead-letters`,
          ),
        },
      ],
    });
    bridges.push(bridge);
    await bridge.start();
    const dead: Buffer[] = [];
    await collect(`${R}/dead-letters`, dead);
    const device = await client();
    await device.publishAsync(`${L}/bad/x`, 'poison', { qos: 1 });
    await waitFor(() => dead.length === 1, 5000, 'a dead letter');
    expect(JSON.parse(dead[0]!.toString())).toMatchObject({
      rule: 'out',
      code: 'MQ_MAPPING_FAILED',
      reason: `no prefix in the map matches local topic ${L}/bad/x`,
      source: `${L}/bad/x`,
      payload: 'poison',
      encoding: 'utf8',
    });
  });
});
