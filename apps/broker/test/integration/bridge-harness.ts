import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { type StartOptions, startTestBroker, type TestBroker } from './helpers.js';

/*
 * Shared pieces of the bridge suites (`bridges*.test.ts`): the engines of the test machine
 * (RabbitMQ 5672 guest/guest, NATS JetStream 4222, Redis 6379, Mosquitto 1883 on 127.0.0.1),
 * checked up front so that a service that is down fails the test with a line saying so (never
 * a skip), and brokers started from a config file with a `bridges:` section.
 */

export const RABBITMQ_URL = process.env.RABBITMQ_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const NATS_URL = process.env.NATS_TEST_URL ?? 'nats://127.0.0.1:4222';
export const REDIS_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
export const MOSQUITTO_URL = process.env.MOSQUITTO_TEST_URL ?? 'mqtt://127.0.0.1:1883';

export function unreachable(service: string, url: string, error: unknown): Error {
  return new Error(
    `${service} is unreachable at ${url.replace(/:[^:@/]*@/, ':***@')} (${(error as Error).message || String(error)}); ` +
      'start it: the bridge tests fail rather than skip',
  );
}

/** A connected Redis client for the test's own reads and writes; fails when Redis is down. */
export async function connectRedis(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw unreachable('Redis', REDIS_URL, error);
  }
  return redis;
}

/** One entry of a stream the bridge wrote: its envelope (JSON codec) and fields. */
export interface StreamEntry {
  readonly id: string;
  readonly fields: Record<string, string>;
  readonly envelope: {
    nodeId?: string;
    deviceId?: string;
    kind: string;
    payload: unknown;
    encoding: string;
    topic: string;
    qos: number;
  };
}

export async function readStream(redis: Redis, key: string): Promise<StreamEntry[]> {
  const entries = await redis.xrange(key, '-', '+');
  return entries.map(([id, raw]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < raw.length; i += 2) fields[raw[i]!] = raw[i + 1]!;
    return { id, fields, envelope: JSON.parse(fields.body ?? '{}') as StreamEntry['envelope'] };
  });
}

/** A config file in a directory of its own, and the data directory beside it (kept across restarts). */
export class BridgeWorkspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-bridges-'));
  readonly configFile = join(this.dir, 'config.yaml');
  readonly dataDir = join(this.dir, 'data');
  readonly brokers: TestBroker[] = [];

  constructor(config: Record<string, unknown>) {
    // JSON is YAML.
    writeFileSync(this.configFile, JSON.stringify(config, null, 2));
  }

  async start(options: StartOptions = {}): Promise<TestBroker> {
    const broker = await startTestBroker({
      ...options,
      args: ['--config', this.configFile, '--data-dir', this.dataDir, ...(options.args ?? [])],
      readyTimeoutMs: options.readyTimeoutMs ?? 15_000,
    });
    this.brokers.push(broker);
    return broker;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.brokers.map((broker) => broker.stop('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` every 50 ms until it returns true; fails with `describe()` after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  describe: () => string | Promise<string>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not within ${timeoutMs} ms: ${await describe()}`);
}

/** Sequence numbers per device, in stream order, from payloads `<device>:<seq>`. */
export function sequencesByDevice(payloads: readonly string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const payload of payloads) {
    const [device, seq] = payload.split(':');
    const list = out.get(device!) ?? [];
    list.push(Number(seq));
    out.set(device!, list);
  }
  return out;
}

/** Each device's sequence numbers, first occurrences only, are increasing: order per device kept. */
export function isOrderedPerDevice(payloads: readonly string[]): boolean {
  for (const seqs of sequencesByDevice(payloads).values()) {
    const seen = new Set<number>();
    let last = -1;
    for (const seq of seqs) {
      if (seen.has(seq)) continue;
      seen.add(seq);
      if (seq < last) return false;
      last = seq;
    }
  }
  return true;
}

/**
 * A TCP proxy in front of a service on 127.0.0.1 (as `packages/mq/test/fixtures/proxy.ts`), so a
 * test can take the destination down (connections killed, port closed) and bring it back on the
 * same port.
 */
export class CuttableProxy {
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  constructor(targetPort: number) {
    this.#targetPort = targetPort;
  }

  async start(): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect(this.#targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    const address = server.address();
    if (address !== null && typeof address === 'object') this.port = address.port;
    return this;
  }

  /** Kills every connection and stops listening: the port refuses connections until `start()`. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The MQTT.js devices a test file opens (MQTT 5 by default, no reconnect), closed after each test. */
export class TestDevices {
  readonly #clients: MqttClient[] = [];

  async connect(url: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, ...options });
    this.#clients.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#clients.splice(0).map((client) => client.endAsync(true).catch(() => {})));
  }
}
