import { existsSync, readFileSync } from 'node:fs';
import { type IClientOptions, type MqttClient, connect as mqttConnect } from 'mqtt';
import { cliPath, type StartOptions, startTestBroker, type TestBroker } from './helpers.js';
import type { Target } from './mqtt-wire.js';

/*
 * Shared pieces of the conformance suites (`conformance-*.test.ts`, `scale-flow.test.ts`,
 * `mosquitto-reference.test.ts`): starting the broker, MQTT.js clients that are always closed,
 * and reading the broker's memory.
 */

/**
 * `startTestBroker()`, tolerating a parallel `turbo build` that briefly removes `dist/` (tsup
 * cleans it first): waits up to 30 s for `dist/cli.js` and retries a start that died at once.
 * A broker that keeps failing still fails the suite, with the last error.
 */
export async function startBroker(
  args: readonly string[] = [],
  options: StartOptions = {},
): Promise<TestBroker> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const deadline = Date.now() + 30_000;
    while (!existsSync(cliPath) && Date.now() < deadline) await sleep(250);
    try {
      return await startTestBroker({ ...options, args: [...args, ...(options.args ?? [])] });
    } catch (error) {
      lastError = error;
      await sleep(2000);
    }
  }
  throw lastError;
}

export function targetOf(broker: TestBroker): Target {
  return { host: broker.host, port: broker.port };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms until it holds; throws `message` after `timeoutMs`. */
export async function until(condition: () => boolean, message: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${message} (waited ${timeoutMs} ms)`);
    await sleep(10);
  }
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

export interface Message {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  dup: boolean;
}

/** An MQTT.js client that records every message it receives, in order. */
export interface RecordingClient {
  readonly client: MqttClient;
  readonly messages: Message[];
  /** The Session Present flag of the CONNACK. */
  sessionPresent: boolean;
  /** Resolves with the first `count` messages; rejects after `timeoutMs`. */
  received(count: number, timeoutMs?: number): Promise<Message[]>;
  /** Resolves with the first message on `topic` (already received or to come). */
  receivedOn(topic: string, timeoutMs?: number): Promise<Message>;
}

/** MQTT.js clients of one test file, all force-closed by `closeAll()`. */
export class MqttJsClients {
  private readonly clients: MqttClient[] = [];

  constructor(private readonly url: () => string) {}

  /** Connects (3.1.1, no auto-reconnect) and resolves once CONNACK arrived. */
  async connect(options: IClientOptions = {}): Promise<RecordingClient> {
    const client = mqttConnect(this.url(), {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    this.clients.push(client);
    // Listening before CONNACK: a resumed session's messages may follow it in the same chunk.
    const recording = record(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', (connack) => {
        recording.sessionPresent = connack.sessionPresent;
        resolve();
      });
      client.once('error', reject);
      client.once('close', () => reject(new Error(`connection of ${options.clientId ?? 'client'} closed`)));
    });
    return recording;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.endAsync(true)));
    this.clients.length = 0;
  }
}

function record(client: MqttClient): RecordingClient {
  const messages: Message[] = [];
  const listeners = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    messages.push({
      topic,
      payload: Buffer.from(payload),
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
    });
    for (const listener of listeners) listener();
  });
  const waitFor = <T>(pick: () => T | undefined, what: string, timeoutMs: number): Promise<T> => {
    const found = pick();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const listener = () => {
        const value = pick();
        if (value === undefined) return;
        listeners.delete(listener);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        listeners.delete(listener);
        const got = messages.map((m) => `${m.topic}=${m.payload.toString()}`);
        reject(new Error(`${what} within ${timeoutMs} ms; got ${JSON.stringify(got)}`));
      }, timeoutMs);
      listeners.add(listener);
    });
  };
  return {
    client,
    messages,
    sessionPresent: false,
    received: (count, timeoutMs = 5000) =>
      waitFor(
        () => (messages.length >= count ? messages.slice(0, count) : undefined),
        `no ${count} messages`,
        timeoutMs,
      ),
    receivedOn: (topic, timeoutMs = 5000) =>
      waitFor(() => messages.find((m) => m.topic === topic), `no message on ${topic}`, timeoutMs),
  };
}
