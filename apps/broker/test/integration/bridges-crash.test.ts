import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BridgeWorkspace,
  connectRedis,
  eventually,
  isOrderedPerDevice,
  REDIS_URL,
  readStream,
} from './bridge-harness.js';
import type { TestBroker } from './helpers.js';
import { runId } from './mqtt-wire.js';
import { Publisher, type TestMessage } from './persistence-harness.js';

/*
 * At least once through a crash: devices pipeline QoS 1 messages into a broker whose bridge
 * forwards them to a Redis stream; the broker is SIGKILLed mid-stream. Every message a device
 * got a PUBACK for must end up in the stream:
 * - `ack: store`: after a restart on the same data directory (the bridge's persistent session
 *   delivers what the store held for it);
 * - `ack: after-confirm`: already at the kill (each PUBACK followed its XADD).
 * Duplicates (confirmed by Redis, not yet acknowledged to the broker) are allowed and reported.
 */

const DEVICES = 4;
const PER_DEVICE = 500;
const KILL_AFTER_ACKS = 600;

let workspace: BridgeWorkspace | undefined;
let redis: Redis | undefined;

afterEach(async () => {
  await workspace?.cleanup();
  workspace = undefined;
  redis?.disconnect();
  redis = undefined;
});

function messages(run: string, device: string): TestMessage[] {
  return Array.from({ length: PER_DEVICE }, (_, seq) => ({
    key: `${device}:${seq}`,
    topic: `${run}/${device}/telemetry`,
    qos: 1 as const,
    retain: false,
  }));
}

/** Runs the devices until `KILL_AFTER_ACKS` acknowledgements, then SIGKILLs the broker; returns the acked keys. */
async function publishUntilKilled(broker: TestBroker, run: string): Promise<string[]> {
  const publishers = await Promise.all(
    Array.from({ length: DEVICES }, (_, i) => Publisher.connect(broker, `${run}-dev${i}`)),
  );
  let killed: Promise<unknown> | undefined;
  const onAck = () => {
    const acked = publishers.reduce((n, p) => n + p.acked.length, 0);
    if (acked >= KILL_AFTER_ACKS) killed ??= broker.stop('SIGKILL');
  };
  await Promise.all(publishers.map((p, i) => p.run(messages(run, `dev${i}`), 32, onAck)));
  expect(killed, 'the devices finished before the kill; raise PER_DEVICE').toBeDefined();
  expect(await killed).toMatchObject({ signal: 'SIGKILL' });
  for (const p of publishers) expect(p.problems).toEqual([]);
  return publishers.flatMap((p) => p.acked);
}

function report(label: string, acked: readonly string[], payloads: readonly string[]) {
  const received = new Set(payloads);
  const lost = acked.filter((key) => !received.has(key));
  const duplicates = payloads.length - received.size;
  console.info(
    `${label}: acked ${acked.length}, in the stream ${payloads.length} (${received.size} distinct), lost ${lost.length}, duplicates ${duplicates}`,
  );
  return { lost, duplicates };
}

describe('bridge to Redis through kill -9', () => {
  it('ack: store — every acknowledged message is in the stream after the restart on the same data directory', async () => {
    redis = await connectRedis();
    const run = runId();
    const stream = `${run}:tele`;
    workspace = new BridgeWorkspace({
      bridges: [
        {
          name: 'r',
          type: 'redis',
          url: REDIS_URL,
          requestReply: false,
          uplinks: [{ name: 'telemetry', template: `${run}/{device_id}/telemetry`, destination: stream }],
        },
      ],
    });
    try {
      const first = await workspace.start();
      const acked = await publishUntilKilled(first, run);
      // The restarted bridge reconnects its persistent session and forwards what the store kept.
      await workspace.start();
      const ackedSet = new Set(acked);
      await eventually(
        async () => {
          const have = new Set((await readStream(redis!, stream)).map((e) => String(e.envelope.payload)));
          return [...ackedSet].every((key) => have.has(key));
        },
        async () => `stream holds ${await redis!.xlen(stream)} entries; acked ${acked.length}`,
        15_000,
      );
      const payloads = (await readStream(redis, stream)).map((e) => String(e.envelope.payload));
      const { lost } = report('ack: store', acked, payloads);
      expect(lost).toEqual([]);
      expect(isOrderedPerDevice(payloads)).toBe(true);
    } finally {
      await redis.del(stream);
    }
  });

  it('ack: after-confirm — every acknowledged message is in the stream at the kill', async () => {
    redis = await connectRedis();
    const run = runId();
    const stream = `${run}:tele`;
    workspace = new BridgeWorkspace({
      bridges: [
        {
          name: 'r',
          type: 'redis',
          url: REDIS_URL,
          requestReply: false,
          uplinks: [
            {
              name: 'telemetry',
              template: `${run}/{device_id}/telemetry`,
              destination: stream,
              ack: 'after-confirm',
            },
          ],
        },
      ],
    });
    try {
      const broker = await workspace.start();
      const acked = await publishUntilKilled(broker, run);
      const payloads = (await readStream(redis, stream)).map((e) => String(e.envelope.payload));
      const { lost, duplicates } = report('ack: after-confirm', acked, payloads);
      expect(lost).toEqual([]);
      // One message at a time per device, each acknowledged after its XADD: nothing twice.
      expect(duplicates).toBe(0);
      expect(isOrderedPerDevice(payloads)).toBe(true);
    } finally {
      await redis.del(stream);
    }
  });
});
