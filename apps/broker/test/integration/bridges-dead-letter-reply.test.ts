import { jetstreamManager } from '@nats-io/jetstream';
import { createInbox, connect as natsConnect, headers as natsHeaders } from '@nats-io/transport-node';
import { connect as amqpConnect, type Channel } from 'amqplib';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BridgeWorkspace,
  connectRedis,
  eventually,
  NATS_URL,
  RABBITMQ_URL,
  REDIS_URL,
  readStream,
  TestDevices,
  unreachable,
} from './bridge-harness.js';
import { runId } from './mqtt-wire.js';

/*
 * Through the broker process, from the config file: a device message an uplink cannot map ends
 * in the rule's dead-letter destination (and is acknowledged, never retried forever); a queue
 * message with a reply-to is published to the device as a command and answered on the reply-to
 * with the device's response.
 */

const devices = new TestDevices();
let workspace: BridgeWorkspace | undefined;

afterEach(async () => {
  await devices.closeAll();
  await workspace?.cleanup();
  workspace = undefined;
});

const device = (url: string, options?: IClientOptions): Promise<MqttClient> => devices.connect(url, options);

/** A 5.0 device subscribed to `topic` that answers each command on its Response Topic with its Correlation Data. */
async function answeringDevice(url: string, topic: string, answer: string): Promise<string[]> {
  const client = await device(url);
  const commands: string[] = [];
  client.on('message', (_topic, payload, packet) => {
    commands.push(payload.toString());
    const { responseTopic, correlationData } = packet.properties ?? {};
    if (responseTopic === undefined) return;
    void client.publishAsync(responseTopic, answer, {
      qos: 1,
      properties: correlationData === undefined ? {} : { correlationData },
    });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return commands;
}

/** An exclusive reply queue on `channel` and its first message (body and AMQP correlation id). */
async function firstReply(
  channel: Channel,
): Promise<{ replyQueue: string; reply: Promise<{ body: string; correlationId: unknown }> }> {
  const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true });
  const reply = new Promise<{ body: string; correlationId: unknown }>((resolve) => {
    void channel.consume(
      replyQueue,
      (message) => {
        if (message === null) return;
        resolve({ body: message.content.toString(), correlationId: message.properties.correlationId });
      },
      { noAck: true },
    );
  });
  return { replyQueue, reply };
}

function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(what())), ms)),
  ]);
}

interface DeadLetterDocument {
  rule: string;
  direction: string;
  code: string | null;
  reason: string;
  attempts: number;
  source: string;
  payload: unknown;
}

describe('dead letters through the broker', () => {
  it('an unmappable device message lands in the configured dead-letter stream; good ones are forwarded', async () => {
    const redis = await connectRedis();
    const run = runId();
    const dead = `${run}:dead`;
    try {
      workspace = new BridgeWorkspace({
        bridges: [
          {
            name: 'r',
            type: 'redis',
            url: REDIS_URL,
            uplinks: [
              {
                name: 'telemetry',
                template: `${run}/{device_id}/telemetry`,
                destination: `${run}:tele:{device_id}`,
                deadLetter: dead,
              },
              {
                name: 'events',
                template: `${run}/{device_id}/event`,
                destination: `${run}:ev:{device_id}`,
                ack: 'after-confirm',
                deadLetter: dead,
              },
            ],
          },
        ],
      });
      const broker = await workspace.start({ args: ['--metrics-port', '0'] });
      const d = await device(broker.url);
      // A device id holding the destination's separator would widen `{run}:tele:{device_id}`.
      await d.publishAsync(`${run}/bad:id/telemetry`, '{"t":1}', { qos: 1 });
      await d.publishAsync(`${run}/ok/telemetry`, '{"t":2}', { qos: 1 });
      // after-confirm: the PUBACK follows the dead letter's XADD.
      await d.publishAsync(`${run}/x:y/event`, 'poison', { qos: 1 });
      const afterConfirm = (await readStream(redis, dead)).map(
        (e) => JSON.parse(e.fields.body!) as DeadLetterDocument,
      );
      expect(afterConfirm.some((doc) => doc.rule === 'events')).toBe(true);

      await eventually(
        async () => (await redis.xlen(dead)) === 2 && (await redis.xlen(`${run}:tele:ok`)) === 1,
        async () =>
          `dead letters ${await redis.xlen(dead)} of 2, forwarded ${await redis.xlen(`${run}:tele:ok`)} of 1`,
      );
      const entries = await readStream(redis, dead);
      const docs = entries.map((e) => JSON.parse(e.fields.body!) as DeadLetterDocument);
      const byRule = new Map(docs.map((doc) => [doc.rule, doc]));
      expect(byRule.get('telemetry')).toMatchObject({
        direction: 'uplink',
        source: `${run}/bad:id/telemetry`,
        payload: { t: 1 },
        attempts: 0,
        code: expect.stringMatching(/^MQ_/),
      });
      expect(byRule.get('events')).toMatchObject({
        direction: 'uplink',
        source: `${run}/x:y/event`,
        payload: 'poison',
        attempts: 0,
      });
      expect(entries[0]?.fields).toMatchObject({ contentType: 'application/json' });
      // Nothing was sent under a widened key.
      expect(await redis.keys(`${run}:tele:bad*`)).toEqual([]);
      expect((await readStream(redis, `${run}:tele:ok`))[0]?.envelope.payload).toEqual({ t: 2 });

      const metricsLine = await broker.waitForLine(
        (line) => line.msg === 'listening' && line.listener === 'metrics',
      );
      const text = await (await fetch(`http://127.0.0.1:${String(metricsLine.port)}/metrics`)).text();
      expect(text).toContain(
        'mqtt_adapt_bridge_dead_lettered_total{bridge="r",rule="telemetry",direction="uplink"} 1',
      );
      expect(text).toContain(
        'mqtt_adapt_bridge_dead_lettered_total{bridge="r",rule="events",direction="uplink"} 1',
      );
      expect(broker.lines.filter((l) => l.msg === 'dead letter')).toHaveLength(2);
    } finally {
      await redis.del(dead, `${run}:tele:ok`);
      redis.disconnect();
    }
  });
});

describe('request and response over a queue message with a reply-to', () => {
  it('RabbitMQ: a command with replyTo reaches the device; its response comes back on replyTo with the correlation id', async () => {
    const connection = await amqpConnect(RABBITMQ_URL).catch((error: unknown) => {
      throw unreachable('RabbitMQ', RABBITMQ_URL, error);
    });
    const channel = await connection.createChannel();
    const run = runId();
    try {
      workspace = new BridgeWorkspace({
        bridges: [
          {
            name: 'rabbit',
            type: 'rabbitmq',
            url: RABBITMQ_URL,
            requestReply: {
              commandTemplate: `${run}/{device_id}/command`,
              responseTemplate: `${run}/{device_id}/response`,
              timeoutMs: 5000,
            },
            downlinks: [{ name: 'commands', source: `${run}-cmd`, template: `${run}/{device_id}/command` }],
          },
        ],
      });
      const broker = await workspace.start();
      const commands = await answeringDevice(broker.url, `${run}/d7/command`, '{"rebooted":true}');

      const { replyQueue, reply } = await firstReply(channel);
      // The consumer declares the command queue when the bridge starts.
      await channel.checkQueue(`${run}-cmd`);
      channel.sendToQueue(
        `${run}-cmd`,
        Buffer.from(JSON.stringify({ deviceId: 'd7', payload: { reboot: true } })),
        { replyTo: replyQueue, correlationId: `${run}-c1` },
      );
      const answer = await within(reply, 10_000, () => `no reply; device got ${JSON.stringify(commands)}`);
      expect(commands).toEqual(['{"reboot":true}']);
      expect(JSON.parse(answer.body)).toEqual({ rebooted: true });
      expect(answer.correlationId).toBe(`${run}-c1`);
    } finally {
      await channel.deleteQueue(`${run}-cmd`).catch(() => {});
      await connection.close();
    }
  });

  it('correlation: envelope — a 3.1.1 device gets the correlation id in a JSON wrapper and echoes it', async () => {
    const connection = await amqpConnect(RABBITMQ_URL).catch((error: unknown) => {
      throw unreachable('RabbitMQ', RABBITMQ_URL, error);
    });
    const channel = await connection.createChannel();
    const run = runId();
    try {
      workspace = new BridgeWorkspace({
        bridges: [
          {
            name: 'rabbit',
            type: 'rabbitmq',
            url: RABBITMQ_URL,
            requestReply: {
              commandTemplate: `${run}/{device_id}/command`,
              responseTemplate: `${run}/{device_id}/response`,
              timeoutMs: 5000,
              correlation: 'envelope',
            },
            downlinks: [{ name: 'commands', source: `${run}-cmd`, template: `${run}/{device_id}/command` }],
          },
        ],
      });
      const broker = await workspace.start();
      // A 3.1.1 device sees no properties: it answers with the wrapper's correlationId.
      const v311 = await device(broker.url, { protocolVersion: 4 });
      const commands: unknown[] = [];
      v311.on('message', (_topic, payload) => {
        const command = JSON.parse(payload.toString()) as { correlationId: string; payload: unknown };
        commands.push(command);
        void v311.publishAsync(
          `${run}/d3/response`,
          JSON.stringify({ correlationId: command.correlationId, rebooted: true }),
          { qos: 1 },
        );
      });
      await v311.subscribeAsync(`${run}/d3/command`, { qos: 1 });

      const { replyQueue, reply } = await firstReply(channel);
      await channel.checkQueue(`${run}-cmd`);
      channel.sendToQueue(
        `${run}-cmd`,
        Buffer.from(JSON.stringify({ deviceId: 'd3', payload: { reboot: true } })),
        { replyTo: replyQueue, correlationId: `${run}-c3` },
      );
      const answer = await within(reply, 10_000, () => `no reply; device got ${JSON.stringify(commands)}`);
      expect(commands).toEqual([{ correlationId: `${run}-c3`, payload: { reboot: true }, encoding: 'json' }]);
      expect(JSON.parse(answer.body)).toEqual({ correlationId: `${run}-c3`, rebooted: true });
      expect(answer.correlationId).toBe(`${run}-c3`);
    } finally {
      await channel.deleteQueue(`${run}-cmd`).catch(() => {});
      await connection.close();
    }
  });

  it('NATS: a command with a Reply-To header reaches the device; its response is published on that subject', async () => {
    const nc = await natsConnect({ servers: NATS_URL }).catch((error: unknown) => {
      throw unreachable('NATS', NATS_URL, error);
    });
    const run = runId();
    const streamName = run.toUpperCase();
    try {
      workspace = new BridgeWorkspace({
        bridges: [
          {
            name: 'nats',
            type: 'nats',
            url: NATS_URL,
            stream: { name: streamName, subjects: [`${run}.>`], storage: 'memory' },
            requestReply: {
              commandTemplate: `${run}/{device_id}/command`,
              responseTemplate: `${run}/{device_id}/response`,
              timeoutMs: 5000,
            },
            downlinks: [{ name: 'commands', source: `${run}.cmd.>`, template: `${run}/{device_id}/command` }],
          },
        ],
      });
      const broker = await workspace.start();
      const commands = await answeringDevice(broker.url, `${run}/d9/command`, '{"opened":true}');
      const inbox = createInbox();
      const subscription = nc.subscribe(inbox, { max: 1 });
      const reply = (async () => {
        for await (const m of subscription) {
          return { body: m.string(), correlationId: m.headers?.get('mq-correlation-id') };
        }
        throw new Error('reply subscription ended');
      })();
      const h = natsHeaders();
      h.set('Reply-To', inbox);
      h.set('mq-correlation-id', `${run}-c2`);
      nc.publish(`${run}.cmd.d9`, JSON.stringify({ deviceId: 'd9', payload: { open: 1 } }), { headers: h });
      const answer = await within(reply, 10_000, () => `no reply; device got ${JSON.stringify(commands)}`);
      expect(commands).toEqual(['{"open":1}']);
      expect(JSON.parse(answer.body)).toEqual({ opened: true });
      expect(answer.correlationId).toBe(`${run}-c2`);
    } finally {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(streamName).catch(() => {});
      await nc.close();
    }
  });
});
