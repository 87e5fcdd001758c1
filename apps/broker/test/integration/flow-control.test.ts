import { PacketType, type QoS } from '@mqtt-adapt/codec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttJsClients, rssBytes, sleep, targetOf } from './conformance-harness.js';
import {
  ackBytes,
  connectBytes,
  FlowClient,
  isPublish,
  packetIdOf,
  publishBytes,
  startBrokers,
  waitForCount,
} from './flow-client.js';
import type { TestBroker } from './helpers.js';
import { runId } from './mqtt-wire.js';

// Flow control of QoS 1/2 against the built broker: nothing a publisher got acknowledged is lost
// while its subscriber is online (the broker holds publishers back instead of dropping), and a
// subscriber that stops reading is disconnected after --stalled-subscriber-timeout-ms, without
// starving anyone else or growing the broker's memory.

const run = runId();
/** Default settings. */
let broker: TestBroker;
/** Small limits, debug log (for the `client disconnected` line of the stuck subscriber). */
let stalled: TestBroker;
const STALLED_TIMEOUT_MS = 3000;
const MAX_QUEUED = 200;
const clients: FlowClient[] = [];
const mqttjs = new MqttJsClients(() => broker.url);
const stalledMqttjs = new MqttJsClients(() => stalled.url);

beforeAll(async () => {
  [broker, stalled] = (await startBrokers([
    [],
    [
      '--stalled-subscriber-timeout-ms',
      String(STALLED_TIMEOUT_MS),
      '--max-queued-messages',
      String(MAX_QUEUED),
      '--log-level',
      'debug',
    ],
  ])) as [TestBroker, TestBroker];
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await Promise.all([mqttjs.closeAll(), stalledMqttjs.closeAll()]);
  await Promise.all([broker?.stop(), stalled?.stop()]);
});

async function flowClient(at: TestBroker, name: string): Promise<FlowClient> {
  const client = await FlowClient.connect(targetOf(at), `${run}-${name}`);
  clients.push(client);
  return client;
}

/** Index of the first element that is not `i`, or -1: "in order, none missing" in one number. */
function firstOutOfOrder(values: readonly number[]): number {
  return values.findIndex((value, i) => value !== i);
}

describe('QoS 1 pipelined', () => {
  it('2 000 publishes in one socket write (after CONNECT): 2 000 PUBACKs, all 2 000 delivered in order', async () => {
    const topic = `${run}/pipelined`;
    const count = 2000;
    // MqttJsClients listens for messages before CONNECT is sent.
    const subscriber = await mqttjs.connect({ clientId: `${run}-pipe-sub` });
    await subscriber.client.subscribeAsync(topic, { qos: 1 });

    const publisher = await FlowClient.open(targetOf(broker));
    clients.push(publisher);
    const acked = new Set<number>();
    publisher.onPacket = (packet) => {
      if (packet.type === PacketType.Puback) acked.add(packet.packetId);
    };
    const burst = Buffer.concat([
      connectBytes(`${run}-pipe-pub`),
      ...Array.from({ length: count }, (_, i) => publishBytes(topic, String(i), 1, i + 1)),
    ]);
    publisher.socket.write(burst);

    await waitForCount(() => acked.size, count, { stallMs: 3000, maxMs: 15_000 });
    await waitForCount(() => subscriber.messages.length, count, { stallMs: 3000, maxMs: 15_000 });
    expect(publisher.control.map((packet) => packet.type)).toEqual([PacketType.Connack]);
    expect(acked.size).toBe(count);
    const payloads = subscriber.messages.map((message) => Number(message.payload.toString()));
    expect({ delivered: payloads.length, firstOutOfOrder: firstOutOfOrder(payloads) }).toEqual({
      delivered: count,
      firstOutOfOrder: -1,
    });
    expect(subscriber.messages.every((message) => message.topic === topic && message.qos === 1)).toBe(true);
  }, 30_000);
});

/**
 * 8 publishers each pipeline 5 000 messages at `qos` (in writes of 500, respecting the socket's
 * backpressure) into one subscriber that acknowledges everything; returns what each side saw.
 */
async function sustainedLoad(qos: 1 | 2) {
  const publisherCount = 8;
  const perPublisher = 5000;
  const total = publisherCount * perPublisher;
  const topicBase = `${run}/load${qos}`;
  const filler = '.'.repeat(200);

  const subscriber = await flowClient(broker, `load${qos}-sub`);
  await subscriber.subscribe(1, `${topicBase}/#`, qos as QoS);
  /** Sequence numbers delivered, per publisher, in arrival order. */
  const delivered: number[][] = Array.from({ length: publisherCount }, () => []);
  let deliveredCount = 0;
  subscriber.onPacket = (packet) => {
    if (isPublish(packet)) {
      const text = packet.payload.toString('latin1');
      const colon = text.indexOf(':');
      const publisher = Number(text.slice(0, colon));
      delivered[publisher]!.push(Number.parseInt(text.slice(colon + 1), 10));
      deliveredCount++;
      if (packet.qos === 1) subscriber.reply(ackBytes(PacketType.Puback, packet.packetId!));
      else if (packet.qos === 2) subscriber.reply(ackBytes(PacketType.Pubrec, packet.packetId!));
    } else if (packet.type === PacketType.Pubrel) {
      subscriber.reply(ackBytes(PacketType.Pubcomp, packet.packetId));
    }
  };

  const publishers: FlowClient[] = [];
  /** acked[p][seq]: the broker acknowledged it (PUBACK, or PUBREC for QoS 2). */
  const acked: boolean[][] = [];
  const ackedCount: number[] = [];
  const completed: number[] = [];
  for (let p = 0; p < publisherCount; p++) {
    const publisher = await flowClient(broker, `load${qos}-pub${p}`);
    publishers.push(publisher);
    acked.push(new Array(perPublisher).fill(false));
    ackedCount.push(0);
    completed.push(0);
    publisher.onPacket = (packet) => {
      if (packet.type === PacketType.Puback || packet.type === PacketType.Pubrec) {
        const seq = packet.packetId - 1;
        if (!acked[p]![seq]) {
          acked[p]![seq] = true;
          ackedCount[p]!++;
        }
        if (packet.type === PacketType.Pubrec) publisher.reply(ackBytes(PacketType.Pubrel, packet.packetId));
      } else if (packet.type === PacketType.Pubcomp) {
        completed[p]!++;
      }
    };
  }
  // Built before the clock starts: the test measures the broker, not the encoder.
  const bursts = publishers.map((_, p) => {
    const writes: Buffer[] = [];
    for (let first = 0; first < perPublisher; first += 500) {
      writes.push(
        Buffer.concat(
          Array.from({ length: 500 }, (_, i) =>
            publishBytes(`${topicBase}/${p}`, `${p}:${first + i}:${filler}`, qos, packetIdOf(first + i)),
          ),
        ),
      );
    }
    return writes;
  });

  const startedAt = performance.now();
  const writing = publishers.map(async (publisher, p) => {
    for (const bytes of bursts[p]!) if (!(await publisher.send(bytes))) return;
  });
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  await waitForCount(() => sum(ackedCount), total, { stallMs: 3000, maxMs: 20_000 });
  if (qos === 2) await waitForCount(() => sum(completed), total, { stallMs: 3000, maxMs: 10_000 });
  await waitForCount(() => deliveredCount, sum(ackedCount), { stallMs: 3000, maxMs: 10_000 });
  const elapsedMs = performance.now() - startedAt;
  // Unblocks a writer the broker still holds back, so that nothing outlives the test.
  for (const publisher of publishers) publisher.destroy();
  await Promise.all(writing);
  return { total, perPublisher, acked, ackedCount, completed, delivered, deliveredCount, elapsedMs };
}

describe('sustained load: every acknowledged message is delivered', () => {
  it.each([1, 2] as const)(
    'QoS %i: 8 publishers x 5 000 pipelined, one subscriber acking all: none lost, order kept per publisher',
    async (qos) => {
      const result = await sustainedLoad(qos);
      const missing = result.acked.map((flags, p) => {
        const seen = new Set(result.delivered[p]);
        return flags.filter((isAcked, seq) => isAcked && !seen.has(seq)).length;
      });
      const unique = result.delivered.map((seqs) => new Set(seqs).size);
      // Per publisher, first deliveries in sequence order (a QoS 1 duplicate may only repeat).
      const outOfOrder = result.delivered.map((seqs) => {
        const seen = new Set<number>();
        let last = -1;
        let count = 0;
        for (const seq of seqs) {
          if (seen.has(seq)) continue;
          seen.add(seq);
          if (seq < last) count++;
          last = seq;
        }
        return count;
      });
      const summary = {
        acked: result.ackedCount.reduce((a, b) => a + b, 0),
        uniqueDelivered: unique.reduce((a, b) => a + b, 0),
        ackedNotDelivered: missing,
        outOfOrder,
      };
      expect(summary).toEqual({
        acked: result.total,
        uniqueDelivered: result.total,
        ackedNotDelivered: missing.map(() => 0),
        outOfOrder: outOfOrder.map(() => 0),
      });
      if (qos === 2) {
        // Exactly once: no second PUBLISH of any message, and every flow completed.
        expect(result.deliveredCount).toBe(result.total);
        expect(result.completed).toEqual(result.completed.map(() => result.perPublisher));
      }
      expect(broker.child.exitCode).toBe(null);
      console.info(`QoS ${qos}: ${result.total} messages in ${Math.round(result.elapsedMs)} ms`);
    },
    40_000,
  );
});

describe('a subscriber that stops reading (--stalled-subscriber-timeout-ms 3000, --max-queued-messages 200)', () => {
  it('holds the flooding publisher back, serves everyone else, bounds memory, then disconnects the stuck subscriber and lets the publisher go on', async () => {
    const pid = stalled.child.pid!;
    const stuckTopic = `${run}/stuck`;
    const otherTopic = `${run}/other`;
    const stuckId = `${run}-stuck-sub`;
    const messages = 5000;
    const payload = Buffer.alloc(8192, 0x2e);

    const stuck = await flowClient(stalled, 'stuck-sub');
    await stuck.subscribe(1, stuckTopic, 1);
    stuck.socket.pause();

    const otherSubscriber = await stalledMqttjs.connect({ clientId: `${run}-other-sub` });
    await otherSubscriber.client.subscribeAsync(otherTopic, { qos: 1 });
    const otherPublisher = await stalledMqttjs.connect({ clientId: `${run}-other-pub` });

    const flooder = await flowClient(stalled, 'flooder');
    const pubackAt: number[] = [];
    flooder.onPacket = (packet) => {
      if (packet.type === PacketType.Puback) pubackAt.push(performance.now());
    };
    await sleep(100);
    const rssBefore = rssBytes(pid);

    let flooding = true;
    let maxRss = rssBefore;
    const sampling = (async () => {
      while (flooding) {
        maxRss = Math.max(maxRss, rssBytes(pid));
        await sleep(50);
      }
    })();
    const roundTrips: number[] = [];
    const exchanging = (async () => {
      let n = 0;
      while (flooding) {
        const before = otherSubscriber.messages.length;
        const sentAt = performance.now();
        try {
          await otherPublisher.client.publishAsync(otherTopic, `round ${n++}`, { qos: 1 });
          await otherSubscriber.received(before + 1, 5000);
          roundTrips.push(performance.now() - sentAt);
        } catch {
          // Counted as a failed round trip; the loop stops, the assertion below reports it.
          roundTrips.push(Number.POSITIVE_INFINITY);
          return;
        }
        await sleep(100);
      }
    })();

    const floodStartedAt = performance.now();
    const flooding$ = (async () => {
      for (let i = 0; i < messages; i++) {
        payload.write(String(i).padStart(8, '0'), 0, 'latin1');
        if (!(await flooder.send(publishBytes(stuckTopic, payload, 1, packetIdOf(i))))) return;
      }
    })();

    // The stuck subscriber's queue fills, the flooder is paused, and after the stalled timeout
    // the broker disconnects the subscriber (its `client disconnected` line at debug).
    let disconnectedAt: number | undefined;
    try {
      await stalled.waitForLine(
        (line) => line.msg === 'client disconnected' && line.clientId === stuckId,
        STALLED_TIMEOUT_MS + 8000,
      );
      disconnectedAt = performance.now();
    } catch {
      disconnectedAt = undefined;
    }
    const pubacksBeforeDisconnect = pubackAt.filter((t) => t <= (disconnectedAt ?? 0)).length;
    const lastPubackBefore =
      disconnectedAt === undefined ? undefined : pubackAt.findLast((t) => t <= disconnectedAt!);
    // Then the flooder is let go: every one of its publishes is acknowledged.
    await waitForCount(() => pubackAt.length, messages, { stallMs: 5000, maxMs: 15_000 });
    flooding = false;
    await Promise.all([sampling, exchanging]);
    flooder.destroy();
    await flooding$;

    expect.soft(disconnectedAt, 'the stuck subscriber was disconnected by the broker').toBeDefined();
    if (disconnectedAt !== undefined) {
      // Not before its queue was full and silent for the timeout (the flood filled it at once).
      expect.soft(disconnectedAt - floodStartedAt).toBeGreaterThan(STALLED_TIMEOUT_MS - 500);
      // Held back: the publisher got no PUBACK during (most of) the stall, and not all of them.
      expect.soft(pubacksBeforeDisconnect).toBeLessThan(messages);
      expect.soft(disconnectedAt - (lastPubackBefore ?? floodStartedAt)).toBeGreaterThan(1500);
    }
    expect.soft(pubackAt.length, 'PUBACKs the flooding publisher got').toBe(messages);
    // The other pair was served the whole time.
    expect.soft(roundTrips.length).toBeGreaterThanOrEqual(5);
    expect.soft(Math.max(...roundTrips), 'slowest round trip of the other pair (ms)').toBeLessThan(1000);
    expect.soft(maxRss - rssBefore, 'broker RSS growth (bytes)').toBeLessThan(150 * 1024 * 1024);
    expect(stalled.child.exitCode).toBe(null);

    // The broker closed the stuck socket: once read, it ends (what was in flight, then EOF).
    stuck.socket.resume();
    expect(await stuck.closedWithin(5000), 'stuck subscriber socket closed by the broker').toBe(true);
  }, 45_000);
});
