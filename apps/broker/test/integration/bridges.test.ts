import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { connect as amqpConnect } from 'amqplib';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BridgeWorkspace,
  connectRedis,
  eventually,
  isOrderedPerDevice,
  MOSQUITTO_URL,
  NATS_URL,
  RABBITMQ_URL,
  REDIS_URL,
  readStream,
  TestDevices,
  unreachable,
} from './bridge-harness.js';
import { runId } from './mqtt-wire.js';

/*
 * Bridges configured in the config file, against the built broker process and the real engines:
 * device messages arrive in Redis Streams, RabbitMQ and NATS JetStream as envelopes, in order per
 * device, with `ack: store` and `ack: after-confirm`; commands from those engines reach devices;
 * MQTT to Mosquitto both ways; metrics, $SYS and the reserved client ids.
 */

const devices = new TestDevices();
let workspace: BridgeWorkspace | undefined;

afterEach(async () => {
  await devices.closeAll();
  await workspace?.cleanup();
  workspace = undefined;
});

const device = (url: string, options?: IClientOptions): Promise<MqttClient> => devices.connect(url, options);

/** Each of `devices` publishes `count` QoS 1 messages `<device>:<seq>` to `<node>/<device>/<kind>`, pipelined. */
async function publishAll(url: string, node: string, kind: string, devices: string[], count: number) {
  await Promise.all(
    devices.map(async (name, i) => {
      const client = await device(url, { protocolVersion: i % 2 === 0 ? 5 : 4 });
      const sends: Promise<unknown>[] = [];
      for (let seq = 0; seq < count; seq++)
        sends.push(client.publishAsync(`${node}/${name}/${kind}`, `${name}:${seq}`, { qos: 1 }));
      await Promise.all(sends);
    }),
  );
}

describe('bridges to Redis Streams', () => {
  it('forwards with ack: store and ack: after-confirm, in order per device; commands reach devices; metrics and $SYS report it', async () => {
    const redis = await connectRedis();
    const run = runId();
    try {
      workspace = new BridgeWorkspace({
        bridges: [
          {
            name: 'r',
            type: 'redis',
            url: REDIS_URL,
            uplinks: [
              { name: 'telemetry', template: `${run}/{device_id}/telemetry`, destination: `${run}:tele` },
              {
                name: 'events',
                template: `${run}/{device_id}/event`,
                destination: `${run}:ev`,
                ack: 'after-confirm',
              },
            ],
            downlinks: [{ name: 'commands', source: `${run}:cmd`, template: `${run}/{device_id}/command` }],
          },
        ],
      });
      const broker = await workspace.start({ args: ['--metrics-port', '0', '--sys-interval', '1'] });
      const devices = ['d0', 'd1', 'd2'];
      await publishAll(broker.url, run, 'telemetry', devices, 100);
      await publishAll(broker.url, run, 'event', devices, 100);
      // after-confirm: every PUBACK came after its XADD, so the stream is complete already.
      const events = await readStream(redis, `${run}:ev`);
      expect(events).toHaveLength(300);
      await eventually(
        async () => (await redis.xlen(`${run}:tele`)) === 300,
        async () => `telemetry stream holds ${await redis.xlen(`${run}:tele`)} of 300`,
      );
      const telemetry = await readStream(redis, `${run}:tele`);
      for (const entries of [telemetry, events]) {
        expect(isOrderedPerDevice(entries.map((e) => String(e.envelope.payload)))).toBe(true);
        expect(new Set(entries.map((e) => String(e.envelope.payload))).size).toBe(300);
      }
      expect(telemetry[0]?.envelope).toMatchObject({
        deviceId: 'd0',
        kind: 'telemetry',
        encoding: 'utf8',
        qos: 1,
        topic: `${run}/d0/telemetry`,
      });
      expect(events[0]?.envelope).toMatchObject({ kind: 'event' });
      expect(telemetry[0]?.fields).toMatchObject({
        key: expect.stringMatching(/^d\d$/),
        contentType: 'application/json',
      });

      // A command from the stream reaches the subscribed device.
      const d0 = await device(broker.url);
      await d0.subscribeAsync(`${run}/d0/command`, { qos: 1 });
      const command = new Promise<string>((resolve) =>
        d0.on('message', (_topic, payload) => resolve(payload.toString())),
      );
      await redis.xadd(
        `${run}:cmd`,
        '*',
        'body',
        JSON.stringify({ deviceId: 'd0', payload: { reboot: true } }),
      );
      expect(await command).toBe('{"reboot":true}');

      // Metrics per rule, and the bridge's state in $SYS.
      const metricsLine = await broker.waitForLine(
        (line) => line.msg === 'listening' && line.listener === 'metrics',
      );
      const text = await (await fetch(`http://127.0.0.1:${String(metricsLine.port)}/metrics`)).text();
      expect(text).toContain(
        'mqtt_adapt_bridge_forwarded_total{bridge="r",rule="telemetry",direction="uplink"} 300',
      );
      expect(text).toContain(
        'mqtt_adapt_bridge_forwarded_total{bridge="r",rule="events",direction="uplink"} 300',
      );
      expect(text).toContain(
        'mqtt_adapt_bridge_forwarded_total{bridge="r",rule="commands",direction="downlink"} 1',
      );
      expect(text).toContain('mqtt_adapt_bridge_connected{bridge="r",type="redis"} 1');
      expect(text).toMatch(
        /mqtt_adapt_bridge_latency_seconds\{bridge="r",rule="telemetry",direction="uplink",quantile="0.99"\} \d/,
      );
      const sys = await device(broker.url);
      const state = new Promise<string>((resolve) =>
        sys.on('message', (_t, payload) => resolve(payload.toString())),
      );
      await sys.subscribeAsync('$SYS/broker/connection/r/state');
      expect(await state).toBe('1');
      expect(broker.lines.some((l) => l.msg === 'bridge running' && l.bridge === 'r')).toBe(true);
    } finally {
      await redis.del(`${run}:tele`, `${run}:ev`, `${run}:cmd`);
      redis.disconnect();
    }
  });

  it('refuses a network client that names a bridge session (0x85)', async () => {
    const run = runId();
    workspace = new BridgeWorkspace({
      bridges: [
        {
          name: 'r',
          type: 'redis',
          url: REDIS_URL,
          uplinks: [{ name: 't', filter: `${run}/#`, destination: `${run}:x` }],
        },
      ],
    });
    const broker = await workspace.start();
    await expect(
      mqtt.connectAsync(broker.url, {
        protocolVersion: 5,
        reconnectPeriod: 0,
        clientId: 'mqtt-adapt-bridge:r:t',
      }),
    ).rejects.toMatchObject({ code: 0x85 });
  });
});

describe('bridges to RabbitMQ and NATS JetStream', () => {
  it('RabbitMQ: device messages reach a bound queue as envelopes; a queued command reaches the device', async () => {
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
            exchange: { name: `${run}-x`, durable: false },
            queues: [{ name: `${run}-tele`, bindings: ['tele.#'] }],
            uplinks: [
              {
                name: 'telemetry',
                template: `${run}/{device_id}/telemetry`,
                destination: 'tele.{device_id}',
                ack: 'after-confirm',
              },
            ],
            downlinks: [{ name: 'commands', source: `${run}-cmd`, template: `${run}/{device_id}/command` }],
          },
        ],
      });
      const broker = await workspace.start();
      await publishAll(broker.url, run, 'telemetry', ['a', 'b'], 50);
      const payloads: string[] = [];
      for (;;) {
        const message = await channel.get(`${run}-tele`, { noAck: true });
        if (message === false) break;
        const envelope = JSON.parse(message.content.toString()) as { deviceId: string; payload: string };
        expect(message.fields.routingKey).toBe(`tele.${envelope.deviceId}`);
        payloads.push(envelope.payload);
      }
      expect(payloads).toHaveLength(100);
      expect(isOrderedPerDevice(payloads)).toBe(true);

      const a = await device(broker.url, { protocolVersion: 4 });
      await a.subscribeAsync(`${run}/a/command`, { qos: 1 });
      const command = new Promise<string>((resolve) =>
        a.on('message', (_t, payload) => resolve(payload.toString())),
      );
      channel.sendToQueue(`${run}-cmd`, Buffer.from(JSON.stringify({ deviceId: 'a', payload: 'open' })));
      expect(await command).toBe('open');
    } finally {
      await channel.deleteQueue(`${run}-tele`).catch(() => {});
      await channel.deleteQueue(`${run}-cmd`).catch(() => {});
      await channel.deleteExchange(`${run}-x`).catch(() => {});
      await connection.close();
    }
  });

  it('NATS: device messages land in the stream with subjects per device; a command on a subject reaches the device', async () => {
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
            uplinks: [
              {
                name: 'telemetry',
                template: `${run}/{device_id}/telemetry`,
                destination: `${run}.tele.{device_id}`,
              },
            ],
            downlinks: [{ name: 'commands', source: `${run}.cmd.>`, template: `${run}/{device_id}/command` }],
          },
        ],
      });
      const broker = await workspace.start();
      await publishAll(broker.url, run, 'telemetry', ['a', 'b'], 50);
      const jsm = await jetstreamManager(nc);
      const countOf = async (subject: string) =>
        (await jsm.streams.info(streamName, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
      await eventually(
        async () => (await countOf(`${run}.tele.a`)) === 50 && (await countOf(`${run}.tele.b`)) === 50,
        async () =>
          `stream holds ${await countOf(`${run}.tele.a`)} + ${await countOf(`${run}.tele.b`)} of 100`,
      );
      const first = await jsm.streams.getMessage(streamName, { seq: 1 });
      expect(JSON.parse(new TextDecoder().decode(first!.data))).toMatchObject({
        kind: 'telemetry',
        encoding: 'utf8',
      });

      const b = await device(broker.url);
      await b.subscribeAsync(`${run}/b/command`, { qos: 1 });
      const command = new Promise<string>((resolve) =>
        b.on('message', (_t, payload) => resolve(payload.toString())),
      );
      nc.publish(`${run}.cmd.b`, JSON.stringify({ deviceId: 'b', payload: { go: 1 } }));
      expect(await command).toBe('{"go":1}');
    } finally {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(streamName).catch(() => {});
      await nc.close();
    }
  });
});

describe('bridge to another MQTT broker (Mosquitto)', () => {
  it('forwards local topics out through the prefix map, and remote topics in', async () => {
    const remote = await device(MOSQUITTO_URL).catch((error: unknown) => {
      throw unreachable('Mosquitto', MOSQUITTO_URL, error);
    });
    const run = runId();
    workspace = new BridgeWorkspace({
      bridges: [
        {
          name: 'cloud',
          type: 'mqtt',
          url: MOSQUITTO_URL,
          clientId: `${run}-bridge`,
          prefixes: [
            { local: `${run}/out/`, remote: `${run}/site/` },
            { local: `${run}/cmd/`, remote: `${run}/remote-cmd/` },
          ],
          requestReply: false,
          uplinks: [{ name: 'out', filter: `${run}/out/#` }],
          downlinks: [{ name: 'in', source: `${run}/remote-cmd/#` }],
        },
      ],
    });
    const broker = await workspace.start();
    const received: string[] = [];
    remote.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`));
    await remote.subscribeAsync(`${run}/site/#`, { qos: 1 });
    const local = await device(broker.url);
    await local.publishAsync(`${run}/out/x/state`, 'on', { qos: 1 });
    await eventually(
      () => received.includes(`${run}/site/x/state on`),
      () => `remote got ${JSON.stringify(received)}`,
    );
    const command = new Promise<string>((resolve) =>
      local.on('message', (t, payload) => resolve(`${t} ${payload.toString()}`)),
    );
    await local.subscribeAsync(`${run}/cmd/#`, { qos: 1 });
    await remote.publishAsync(`${run}/remote-cmd/x`, 'stop', { qos: 1 });
    expect(await command).toBe(`${run}/cmd/x stop`);
  });
});
