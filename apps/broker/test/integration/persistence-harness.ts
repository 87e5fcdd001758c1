import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  type ConnectOptions,
  DISCONNECT,
  type Frame,
  parsePublish,
  puback,
  pubcomp,
  publish,
  pubrec,
  pubrel,
  RawClient,
  subscribe,
  type Target,
  Type,
} from './mqtt-wire.js';

/*
 * Shared pieces of the persistence suites (`persistence-*.test.ts`): the durable stores under
 * test (a temp data dir, a fresh PostgreSQL schema), a pipelining publisher that records which
 * messages the broker acknowledged, and a persistent subscriber that drains its session.
 */

/** The PostgreSQL of the test runs; every test uses its own schema and drops it. */
export const PG_TEST_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface StoreUnderTest {
  readonly name: 'sqlite' | 'postgres';
  /** Flags selecting the store: the same for every start of one test, so a restart finds its data. */
  readonly args: readonly string[];
  /** Removes the data directory or drops the schema. */
  cleanup(): Promise<void>;
}

export type StoreName = StoreUnderTest['name'];

export async function storeUnderTest(name: StoreName): Promise<StoreUnderTest> {
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-persistence-'));
    return {
      name,
      // A directory that does not exist yet: the broker creates it on first start.
      args: ['--store', 'sqlite', '--data-dir', join(dir, 'data')],
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  await assertPostgresReachable();
  const schema = `mqtt_adapt_it_${randomBytes(6).toString('hex')}`;
  return {
    name,
    args: ['--store', 'postgres', '--database-url', PG_TEST_URL, '--database-schema', schema],
    cleanup: async () => {
      await withPostgres((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    },
  };
}

/**
 * Fails (never skips) with a message saying what to do when the test PostgreSQL is down: a
 * durable store that is not tested is a durable store that is not known to work.
 */
export async function assertPostgresReachable(): Promise<void> {
  try {
    await withPostgres((client) => client.query('SELECT 1'));
  } catch (error) {
    throw new Error(
      `PostgreSQL is unreachable at ${PG_TEST_URL.replace(/:[^:@/]*@/, ':***@')} (${(error as Error).message || String(error)}); ` +
        'start it or point PG_TEST_URL at one: the postgres persistence tests fail rather than skip',
    );
  }
}

export async function withPostgres<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_TEST_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** One message of a test: `key` is `<publisher>:<qos>:<seq>`, also its payload. */
export interface TestMessage {
  readonly key: string;
  readonly topic: string;
  readonly qos: 1 | 2;
  readonly retain: boolean;
  /** Default: the key. An empty retained message clears its topic. */
  readonly payload?: string;
}

/** `count` messages of each QoS from publisher `name`, interleaved (q1 0, q2 0, q1 1, ...). */
export function messagesOf(name: string, topicPrefix: string, count: number): TestMessage[] {
  const out: TestMessage[] = [];
  for (let seq = 0; seq < count; seq++) {
    for (const qos of [1, 2] as const) {
      out.push({ key: `${name}:${qos}:${seq}`, topic: `${topicPrefix}/q${qos}/${name}`, qos, retain: false });
    }
  }
  return out;
}

/**
 * A clean-session publisher on a raw socket that pipelines QoS 1/2 PUBLISHes, at most
 * `window` unacknowledged, and records which messages the broker acknowledged: PUBACK for QoS
 * 1, PUBREC for QoS 2 (the durability ack; PUBREL/PUBCOMP follow). `stop()` stops writing.
 */
export class Publisher {
  /** Keys of the messages the broker acknowledged, in ack order. */
  readonly acked: string[] = [];
  /** QoS 2 messages whose PUBCOMP arrived. */
  completed = 0;
  /** Acks the publisher cannot place (a broker bug); a test asserts it stays empty. */
  readonly problems: string[] = [];
  written = 0;
  private readonly byPacketId = new Map<number, TestMessage>();
  private cursor = 0;
  private stopped = false;
  private messages: readonly TestMessage[] = [];
  private window = 0;
  private onAck: ((publisher: Publisher) => void) | undefined;
  private finish: (() => void) | undefined;

  private constructor(readonly raw: RawClient) {
    // RawClient frames the bytes in its own 'data' listener, registered first.
    raw.socket.on('data', () => this.read());
    raw.socket.once('close', () => this.finish?.());
  }

  static async connect(target: Target, clientId: string): Promise<Publisher> {
    const raw = await RawClient.connect(target, { clientId, clean: true });
    const publisher = new Publisher(raw);
    publisher.cursor = raw.frames.length;
    return publisher;
  }

  /**
   * Sends `messages` in order, at most `window` unacknowledged. Resolves once every one is
   * acknowledged and every QoS 2 one completed, or the connection closed, or `stop()`.
   */
  run(
    messages: readonly TestMessage[],
    window: number,
    onAck?: (publisher: Publisher) => void,
  ): Promise<void> {
    this.messages = messages;
    this.window = window;
    this.onAck = onAck;
    const done = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
    this.pump();
    return done;
  }

  stop(): void {
    this.stopped = true;
  }

  get isDone(): boolean {
    const qos2 = this.messages.filter((message) => message.qos === 2).length;
    return this.acked.length === this.messages.length && this.completed === qos2;
  }

  disconnect(): void {
    this.raw.write(DISCONNECT);
    this.raw.socket.end();
  }

  private pump(): void {
    const batch: Buffer[] = [];
    while (
      !this.stopped &&
      this.written < this.messages.length &&
      this.written - this.acked.length < this.window
    ) {
      const message = this.messages[this.written]!;
      const packetId = (this.written % 65_535) + 1;
      this.byPacketId.set(packetId, message);
      batch.push(publish({ ...message, payload: message.payload ?? message.key, packetId }));
      this.written++;
    }
    if (batch.length > 0) this.raw.write(...batch);
  }

  private read(): void {
    const replies: Buffer[] = [];
    while (this.cursor < this.raw.frames.length) {
      const frame = this.raw.frames[this.cursor++]!;
      if (frame.type !== Type.Puback && frame.type !== Type.Pubrec && frame.type !== Type.Pubcomp) continue;
      const packetId = frame.body.readUInt16BE(0);
      const message = this.byPacketId.get(packetId);
      if (message === undefined) {
        this.problems.push(
          `${frame.type === Type.Puback ? 'PUBACK' : 'PUBREC/PUBCOMP'} for unknown packet id ${packetId}`,
        );
        continue;
      }
      if (frame.type === Type.Pubcomp) {
        this.completed++;
        this.byPacketId.delete(packetId);
        continue;
      }
      this.acked.push(message.key);
      if (frame.type === Type.Pubrec) replies.push(pubrel(packetId));
      else this.byPacketId.delete(packetId);
    }
    if (replies.length > 0) this.raw.write(...replies);
    if (this.isDone) this.finish?.();
    else this.pump();
    // After the next messages went out: a kill from here lands with messages in flight.
    this.onAck?.(this);
  }
}

export interface Delivery {
  readonly key: string;
  readonly topic: string;
  readonly qos: number;
  readonly dup: boolean;
  readonly retain: boolean;
}

/**
 * A persistent-session subscriber (Clean Session 0) on a raw socket: acknowledges every
 * PUBLISH (PUBACK; PUBREC, then PUBCOMP on PUBREL) and records what it got.
 */
export class Subscriber {
  readonly deliveries: Delivery[] = [];
  private cursor = 0;
  private onDelivery: (() => void) | undefined;

  private constructor(
    readonly raw: RawClient,
    readonly sessionPresent: boolean,
  ) {
    raw.socket.on('data', () => this.read());
  }

  static async connect(target: Target, clientId: string, options: Partial<ConnectOptions> = {}) {
    const raw = await RawClient.connect(target, { clientId, clean: false, ...options });
    const connack = raw.frames[0]!;
    const subscriber = new Subscriber(raw, (connack.body[0]! & 0x01) === 1);
    subscriber.cursor = 1;
    subscriber.read();
    return subscriber;
  }

  /** SUBSCRIBE and wait for the SUBACK; returns the granted QoS per filter. */
  async subscribe(filters: ReadonlyArray<readonly [string, 0 | 1 | 2]>): Promise<number[]> {
    const suback = await this.waitFor(
      (frame) => frame.type === Type.Suback,
      () => this.raw.write(subscribe(1, filters)),
    );
    return [...suback.body.subarray(2)];
  }

  /** Resolves once every key in `keys` was delivered and nothing more arrived for `quietMs`. */
  async received(keys: Iterable<string>, timeoutMs = 20_000, quietMs = 300): Promise<void> {
    const wanted = new Set(keys);
    const deadline = performance.now() + timeoutMs;
    let seenCount = -1;
    let quietSince = performance.now();
    for (;;) {
      const got = new Set(this.deliveries.map((delivery) => delivery.key));
      const missing = [...wanted].filter((key) => !got.has(key));
      if (this.deliveries.length !== seenCount) {
        seenCount = this.deliveries.length;
        quietSince = performance.now();
      }
      if (missing.length === 0 && performance.now() - quietSince >= quietMs) return;
      if (performance.now() > deadline) {
        throw new Error(
          `${missing.length} of ${wanted.size} messages not delivered within ${timeoutMs} ms (first: ${missing.slice(0, 5).join(', ')}); got ${this.deliveries.length}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.onDelivery = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.onDelivery = undefined;
    }
  }

  disconnect(): void {
    this.raw.write(DISCONNECT);
    this.raw.socket.end();
  }

  private waitFor(match: (frame: Frame) => boolean, send: () => void, timeoutMs = 10_000): Promise<Frame> {
    const from = this.raw.frames.length;
    send();
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const frame = this.raw.frames.slice(from).find(match);
        if (frame === undefined) return false;
        clearTimeout(timer);
        this.raw.socket.off('data', onData);
        resolve(frame);
        return true;
      };
      const onData = (): void => {
        check();
      };
      const timer = setTimeout(() => {
        this.raw.socket.off('data', onData);
        reject(new Error(`no matching packet within ${timeoutMs} ms`));
      }, timeoutMs);
      this.raw.socket.on('data', onData);
      check();
    });
  }

  private read(): void {
    const replies: Buffer[] = [];
    while (this.cursor < this.raw.frames.length) {
      const frame = this.raw.frames[this.cursor++]!;
      if (frame.type === Type.Pubrel) {
        replies.push(pubcomp(frame.body.readUInt16BE(0)));
        continue;
      }
      if (frame.type !== Type.Publish) continue;
      const received = parsePublish(frame);
      this.deliveries.push({
        key: received.payload.toString(),
        topic: received.topic,
        qos: received.qos,
        dup: received.dup,
        retain: received.retain,
      });
      if (received.qos === 1) replies.push(puback(received.packetId!));
      if (received.qos === 2) replies.push(pubrec(received.packetId!));
    }
    if (replies.length > 0) this.raw.write(...replies);
    this.onDelivery?.();
  }
}

/**
 * Checks what a subscriber got against what the publisher had acknowledged: every
 * acknowledged message delivered, at the QoS of its subscription; per publisher and QoS in
 * publish order; QoS 2 exactly once; a QoS 1 message twice only as a redelivery (DUP). Returns
 * a list of problems (empty when all is well), so a failure names every one at once.
 */
export function deliveryProblems(acked: readonly string[], deliveries: readonly Delivery[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, Delivery>();
  const lastSeq = new Map<string, number>();
  for (const delivery of deliveries) {
    const [publisher, qos, seqText] = delivery.key.split(':');
    const seq = Number(seqText);
    if (delivery.qos !== Number(qos)) problems.push(`${delivery.key} delivered at QoS ${delivery.qos}`);
    if (seen.has(delivery.key)) {
      if (delivery.qos === 2) problems.push(`QoS 2 message ${delivery.key} delivered twice`);
      else if (!delivery.dup) problems.push(`QoS 1 message ${delivery.key} delivered again without DUP`);
      continue;
    }
    seen.set(delivery.key, delivery);
    const stream = `${publisher}:${qos}`;
    const previous = lastSeq.get(stream) ?? -1;
    if (seq <= previous)
      problems.push(`${delivery.key} delivered after ${stream}:${previous} (out of order)`);
    lastSeq.set(stream, seq);
  }
  const missing = acked.filter((key) => !seen.has(key));
  if (missing.length > 0) {
    problems.push(
      `${missing.length} acknowledged messages lost: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`,
    );
  }
  return problems;
}
