import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BridgeWorkspace,
  CuttableProxy,
  connectRedis,
  eventually,
  isOrderedPerDevice,
  REDIS_URL,
  readStream,
} from './bridge-harness.js';
import { runId } from './mqtt-wire.js';

/*
 * `ack: store` through a destination outage longer than `stalledSubscriberTimeoutMs`, with the
 * bridge session's queue full: the session must not be disconnected as stalled nor trim its
 * queue (messages the broker already PUBACKed); the device is held by flow control instead, and
 * every acknowledged message reaches the stream once the destination is back.
 */

const MESSAGES = 200;
const STALL_MS = 300;

let workspace: BridgeWorkspace | undefined;
let proxy: CuttableProxy | undefined;
let device: MqttClient | undefined;

afterEach(async () => {
  await device?.endAsync(true).catch(() => {});
  device = undefined;
  await workspace?.cleanup();
  workspace = undefined;
  await proxy?.cut();
  proxy = undefined;
});

describe('ack: store while the destination is down', () => {
  it('holds the device instead of dropping; nothing acknowledged is lost after the destination is back', async () => {
    const redis = await connectRedis();
    const run = runId();
    const stream = `${run}:tele`;
    try {
      proxy = await new CuttableProxy(Number(new URL(REDIS_URL).port || 6379)).start();
      workspace = new BridgeWorkspace({
        limits: { maxQueuedMessages: 20, stalledSubscriberTimeoutMs: STALL_MS },
        bridges: [
          {
            name: 'r',
            type: 'redis',
            url: `redis://127.0.0.1:${proxy.port}`,
            uplinks: [
              {
                name: 'telemetry',
                template: `${run}/{device_id}/telemetry`,
                destination: stream,
                maxInFlight: 4,
                retry: { initialDelayMs: 50, maxDelayMs: 200 },
              },
            ],
          },
        ],
      });
      const broker = await workspace.start();
      await proxy.cut();

      device = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
      const acked: string[] = [];
      const sends: Promise<unknown>[] = [];
      for (let seq = 0; seq < MESSAGES; seq++) {
        const payload = `d0:${seq}`;
        sends.push(
          device.publishAsync(`${run}/d0/telemetry`, payload, { qos: 1 }).then(() => acked.push(payload)),
        );
      }
      // The session's window (4) and queue (20) fill; then the device is held, not acknowledged.
      await eventually(
        () => acked.length >= 24,
        () => `${acked.length} acknowledged`,
      );
      // Ten stall timeouts with the destination down.
      await new Promise((resolve) => setTimeout(resolve, 10 * STALL_MS));
      const ackedWhileDown = acked.length;
      const brokerLog = (part: string) => broker.lines.filter((l) => String(l.msg).includes(part)).length;
      const whileDown = {
        stalledDisconnects: brokerLog('acknowledged nothing'),
        offlineDrops: brokerLog('queue full'),
        sessionLost: brokerLog('bridge session disconnected by the broker'),
      };

      await proxy.start();
      await Promise.all(sends);
      expect(acked).toHaveLength(MESSAGES);
      await eventually(
        async () =>
          new Set((await readStream(redis, stream)).map((e) => String(e.envelope.payload))).size >= MESSAGES,
        async () => `stream holds ${await redis.xlen(stream)} entries of ${MESSAGES}`,
        20_000,
      );
      const payloads = (await readStream(redis, stream)).map((e) => String(e.envelope.payload));
      expect(new Set(payloads)).toEqual(new Set(acked));
      expect(isOrderedPerDevice(payloads)).toBe(true);
      // Held, not acknowledged past the session's window and queue; never dropped as stalled.
      expect(ackedWhileDown).toBeLessThan(MESSAGES);
      expect(whileDown).toEqual({ stalledDisconnects: 0, offlineDrops: 0, sessionLost: 0 });
    } finally {
      await redis.del(stream);
      redis.disconnect();
    }
  }, 60_000);
});
