import { afterEach, describe, expect, it } from 'vitest';
import { Bridge, type DeadLetter, jsonCodec, type MetricsSnapshot, type UplinkRule } from '../src/index.js';
import { MemoryConsumer } from './fixtures/memory-consumer.js';
import { MemoryBrokerLink } from './fixtures/memory-link.js';
import { MemoryProducer } from './fixtures/memory-producer.js';

const fastRetry = { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 3 };
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));
let bridge: Bridge | undefined;

afterEach(async () => {
  await bridge?.close({ timeoutMs: 100 });
  bridge = undefined;
});

function setup(rule: Partial<UplinkRule> = {}, link = new MemoryBrokerLink()) {
  const producer = new MemoryProducer();
  const deadLetters: DeadLetter[] = [];
  bridge = new Bridge({
    link,
    uplinks: [
      {
        name: 'telemetry',
        template: '{node_id}/{device_id}/telemetry',
        producer,
        destination: 'telemetry.{node_id}.{device_id}',
        deadLetter: { deadLetter: async (entry) => void deadLetters.push(entry) },
        retry: fastRetry,
        ...rule,
      },
    ],
  });
  return { link, producer, deadLetters, bridge };
}

function bodies(producer: MemoryProducer) {
  return producer.records.map((r) => JSON.parse(Buffer.from(r.body).toString()));
}

describe('Bridge uplink', () => {
  it('forwards envelopes in per-device order and acks only after the destination confirmed', async () => {
    const { link, producer, bridge } = setup({ concurrency: 4 });
    await bridge.start();
    expect([...link.subscriptions.keys()]).toEqual(['+/+/response', '+/+/telemetry']);
    producer.delayMs = 2;
    const acks: Promise<void>[] = [];
    for (let i = 0; i < 20; i++)
      for (const d of ['a', 'b', 'c']) acks.push(link.inject(`n1/${d}/telemetry`, `{"seq":${i}}`));
    let acked = 0;
    for (const ack of acks) void ack.then(() => acked++);
    await tick(1);
    expect(acked).toBeLessThan(acks.length);
    await Promise.all(acks);
    expect(producer.records).toHaveLength(60);
    for (const d of ['a', 'b', 'c']) {
      const seqs = bodies(producer)
        .filter((b) => b.deviceId === d)
        .map((b) => b.payload.seq);
      expect(seqs).toEqual([...Array(20).keys()]);
    }
    const first = producer.records[0]!;
    expect(first.destination).toMatch(/^telemetry\.n1\.[abc]$/);
    expect(first.partitionKey).toMatch(/^[abc]$/);
    expect(bodies(producer)[0]).toMatchObject({ nodeId: 'n1', kind: 'telemetry', encoding: 'json', qos: 1 });
    expect(producer.maxInFlight).toBeGreaterThan(1);
    expect(producer.maxInFlight).toBeLessThanOrEqual(3);
    const snapshot = bridge.metrics().rules[0]!;
    expect(snapshot).toMatchObject({ rule: 'telemetry', forwarded: 60, failed: 0, queueDepth: 0 });
    expect(snapshot.latency.count).toBe(60);
  });

  it('holds within its bound while the destination is down, pauses the broker, then delivers everything', async () => {
    const { link, producer, bridge } = setup({ maxInFlight: 8, concurrency: 4 });
    await bridge.start();
    producer.isDown = true;
    let acked = 0;
    const acks = Array.from({ length: 40 }, (_, i) =>
      link.inject(`n1/d${i % 5}/telemetry`, `{"seq":${i}}`).then(() => void acked++),
    );
    await tick(60);
    const held = bridge.metrics().rules[0]!;
    expect(acked).toBe(0);
    expect(producer.maxInFlight).toBeLessThanOrEqual(4);
    expect(held.queueDepth).toBe(40);
    expect(held.saturated).toBe(true);
    expect(held.retried).toBeGreaterThan(0);
    expect(link.pauses).toBe(1);
    producer.isDown = false;
    await Promise.all(acks);
    expect(acked).toBe(40);
    expect(new Set(bodies(producer).map((b) => b.payload.seq)).size).toBe(40);
    for (let d = 0; d < 5; d++) {
      const seqs = bodies(producer)
        .filter((b) => b.deviceId === `d${d}`)
        .map((b) => b.payload.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    expect(link.resumes).toBe(1);
    expect(bridge.metrics().rules[0]).toMatchObject({ forwarded: 40, deadLettered: 0, saturated: false });
  });

  it('dead-letters a message it cannot map, at once, with the reason', async () => {
    const { link, producer, deadLetters, bridge } = setup({ codec: jsonCodec({ requireJson: true }) });
    await bridge.start();
    await link.inject('n1/d1/telemetry', 'garbage');
    await link.inject('n1/d1/telemetry', '{"ok":1}');
    expect(producer.records).toHaveLength(1);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({
      rule: 'telemetry',
      code: 'MQ_MAPPING_FAILED',
      reason: 'payload on n1/d1/telemetry is not JSON (utf8)',
      attempts: 0,
      source: 'n1/d1/telemetry',
    });
    expect(bridge.metrics().rules[0]).toMatchObject({ deadLettered: 1, forwarded: 1 });
  });

  it('dead-letters a message the destination keeps refusing after maxAttempts', async () => {
    const { link, producer, deadLetters, bridge } = setup();
    producer.refuse = (record) => Buffer.from(record.body).includes('poison');
    await bridge.start();
    await link.inject('n1/d1/telemetry', '"poison"');
    expect(deadLetters[0]).toMatchObject({ code: 'MQ_DESTINATION_REJECTED', attempts: 3 });
    expect(producer.attempts).toBe(3);
    expect(bridge.metrics().rules[0]).toMatchObject({ retried: 2, deadLettered: 1 });
  });

  it('keeps the de-duplication id across retries and counts duplicates', async () => {
    const { link, producer, bridge } = setup({
      messageId: (m) => `${m.vars.device_id}-${Buffer.from(m.payload)}`,
    });
    await bridge.start();
    await link.inject('n1/d1/telemetry', '1');
    await link.inject('n1/d1/telemetry', '1'); // a redelivery after a crash, say
    expect(producer.records).toHaveLength(1);
    expect(bridge.metrics().rules[0]).toMatchObject({ forwarded: 2, duplicates: 1 });
  });

  it('close() drains in-flight work, or hands it back unacknowledged at the timeout', async () => {
    const first = setup();
    await first.bridge.start();
    first.producer.delayMs = 30;
    const ack = first.link.inject('n1/d1/telemetry', '1');
    await tick(1);
    await expect(first.bridge.close({ timeoutMs: 1000 })).resolves.toEqual({ drained: true, abandoned: 0 });
    await ack;
    expect(first.producer.records).toHaveLength(1);
    expect(first.producer.closed).toBe(true);
    expect(first.link.subscriptions.size).toBe(0);

    const second = setup();
    await second.bridge.start();
    second.producer.isDown = true;
    const held = [second.link.inject('n1/d1/telemetry', '1'), second.link.inject('n1/d2/telemetry', '2')];
    await tick(10);
    await expect(second.bridge.close({ timeoutMs: 30 })).resolves.toEqual({ drained: false, abandoned: 2 });
    for (const h of held) await expect(h).rejects.toMatchObject({ code: 'MQ_CLOSED' });
    expect(second.bridge.metrics().rules[0]).toMatchObject({ failed: 2, forwarded: 0 });
  });

  it('reports metrics through onMetrics', async () => {
    const seen: MetricsSnapshot[] = [];
    bridge = new Bridge({
      link: new MemoryBrokerLink(),
      uplinks: [{ name: 'r', filter: 'site/#', producer: new MemoryProducer(), destination: (m) => m.topic }],
      onMetrics: (s) => seen.push(s),
      metricsIntervalMs: 10,
    });
    await bridge.start();
    await tick(35);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen[0]!.rules[0]).toMatchObject({ rule: 'r', direction: 'uplink', forwarded: 0 });
  });
});

describe('Bridge request/response', () => {
  it('matches a v3 device answer by the correlationId field of a JSON wrapper', async () => {
    const link = new MemoryBrokerLink(false);
    bridge = new Bridge({ link });
    await bridge.start();
    link.onPublish = ({ topic, payload }) => {
      const command = JSON.parse(payload.toString());
      expect(command).toMatchObject({ payload: { reboot: true }, encoding: 'json' });
      setTimeout(() => {
        void link.inject(
          topic.replace(/command$/, 'response'),
          JSON.stringify({ correlationId: command.correlationId, ok: true }),
        );
      }, 1);
    };
    const response = await bridge.request({ node_id: 'n1', device_id: 'd1' }, Buffer.from('{"reboot":true}'));
    expect(response.topic).toBe('n1/d1/response');
    expect(JSON.parse(Buffer.from(response.payload).toString()).ok).toBe(true);
    expect(link.published[0]!.topic).toBe('n1/d1/command');
  });

  it('uses MQTT 5 Correlation Data and Response Topic when the link carries properties', async () => {
    const link = new MemoryBrokerLink(true);
    bridge = new Bridge({ link });
    await bridge.start();
    link.onPublish = ({ payload, options }) => {
      expect(payload.toString()).toBe('ping');
      const properties = options.properties!;
      setTimeout(() => {
        void link.inject(properties.responseTopic!, 'pong', 1, {
          correlationData: properties.correlationData!,
        });
      }, 1);
    };
    const response = await bridge.request({ node_id: 'n1', device_id: 'd1' }, Buffer.from('ping'));
    expect(Buffer.from(response.payload).toString()).toBe('pong');
  });

  it('fails with a clear timeout error', async () => {
    bridge = new Bridge({ link: new MemoryBrokerLink() });
    await bridge.start();
    await expect(
      bridge.request({ node_id: 'n1', device_id: 'd9' }, Buffer.from('x'), { timeoutMs: 20 }),
    ).rejects.toThrow(
      /^no response to command on n1\/d9\/command within 20 ms \(correlation id [0-9a-f-]+\)$/,
    );
  });
});

describe('Bridge downlink', () => {
  it('publishes commands at the configured QoS, answers reply-to, dead-letters bad commands', async () => {
    const link = new MemoryBrokerLink(true);
    const consumer = new MemoryConsumer();
    const deadLetters: DeadLetter[] = [];
    bridge = new Bridge({
      link,
      downlinks: [
        {
          name: 'commands',
          consumer,
          qos: 2,
          retry: fastRetry,
          deadLetter: { deadLetter: async (e) => void deadLetters.push(e) },
        },
      ],
    });
    await bridge.start();
    await expect(consumer.push('{"nodeId":"n1","deviceId":"d1","payload":{"led":"on"}}')).resolves.toBe(true);
    expect(link.published[0]).toMatchObject({ topic: 'n1/d1/command', options: { qos: 2 } });
    expect(link.published[0]!.payload.toString()).toBe('{"led":"on"}');

    link.onPublish = ({ options }) => {
      const properties = options.properties;
      if (!properties?.responseTopic) return;
      setTimeout(
        () =>
          void link.inject(properties.responseTopic!, 'done', 1, {
            correlationData: properties.correlationData!,
          }),
        1,
      );
    };
    await expect(
      consumer.push('{"nodeId":"n1","deviceId":"d1","payload":"go"}', {
        replyTo: 'answers',
        correlationId: 'corr-1',
      }),
    ).resolves.toBe(true);
    await tick(20);
    expect(consumer.replies).toHaveLength(1);
    expect(consumer.replies[0]).toMatchObject({
      replyTo: 'answers',
      headers: { 'mq-correlation-id': 'corr-1' },
    });
    expect(consumer.replies[0]!.body.toString()).toBe('done');

    await expect(consumer.push('{"nodeId":"n1","deviceId":"bad/id","payload":1}')).resolves.toBe(true);
    expect(deadLetters[0]).toMatchObject({
      direction: 'downlink',
      code: 'MQ_TEMPLATE_INVALID_VALUE',
      source: 'memory-queue',
    });
    expect(bridge.metrics().rules[0]).toMatchObject({ rule: 'commands', forwarded: 2, deadLettered: 1 });
    await bridge.close();
    expect(consumer.closed).toBe(true);
  });
});
