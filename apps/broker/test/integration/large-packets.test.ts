import { createHash, randomBytes } from 'node:crypto';
import { PacketType } from '@mqtt-adapt/codec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttJsClients, rssBytes, sleep, targetOf } from './conformance-harness.js';
import { FlowClient, publishBytes, startBrokers, waitForCount } from './flow-client.js';
import type { TestBroker } from './helpers.js';
import { runId } from './mqtt-wire.js';

// Large packets against the built broker: with the default limits a 1 MiB and a 16 MiB payload
// go through intact, and --max-partial-packet-bytes bounds what clients that send half of a huge
// packet can make the broker hold: past it their connections are closed (MQTT 5.0: DISCONNECT
// 0x97), under it the halves are kept and delivered once complete.

const run = runId();
const MiB = 1024 * 1024;
/** The partial-packet budget of `budgeted`. */
const BUDGET = 32 * MiB;
/** What Node reads from a socket at once: the broker may hold one more such chunk per connection. */
const SOCKET_CHUNK = 64 * 1024;
const QUOTA_EXCEEDED = 0x97;
/** Default settings. */
let broker: TestBroker;
/** --max-partial-packet-bytes 32 MiB. */
let budgeted: TestBroker;
/** --max-partial-packet-bytes 32 MiB, for the under-the-budget case (a fresh budget). */
let kept: TestBroker;
const clients: FlowClient[] = [];
const mqttjs = new MqttJsClients(() => broker.url);
const budgetedMqttjs = new MqttJsClients(() => budgeted.url);
const keptMqttjs = new MqttJsClients(() => kept.url);

beforeAll(async () => {
  const budgetArgs = ['--max-partial-packet-bytes', String(BUDGET)];
  [broker, budgeted, kept] = (await startBrokers([[], budgetArgs, budgetArgs])) as [
    TestBroker,
    TestBroker,
    TestBroker,
  ];
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await Promise.all([mqttjs.closeAll(), budgetedMqttjs.closeAll(), keptMqttjs.closeAll()]);
  await Promise.all([broker?.stop(), budgeted?.stop(), kept?.stop()]);
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('default limits', () => {
  it.each([
    ['1 MiB', MiB],
    ['16 MiB', 16 * MiB],
  ])(
    'a %s payload round-trips at QoS 1 (MQTT.js to MQTT.js), same sha256',
    async (name, size) => {
      const topic = `${run}/big/${size}`;
      const payload = randomBytes(size);
      const subscriber = await mqttjs.connect({ clientId: `${run}-big-sub-${size}` });
      await subscriber.client.subscribeAsync(topic, { qos: 1 });
      const publisher = await mqttjs.connect({ clientId: `${run}-big-pub-${size}` });
      // MQTT.js keeps a QoS 1 publish pending when the connection closes (for a reconnect that
      // never comes here): a broker refusing the packet must fail the test at once, saying so.
      let onClose = () => {};
      const refused = new Promise<never>((_, reject) => {
        onClose = () =>
          reject(new Error(`the broker closed the publisher's connection on a ${name} PUBLISH`));
        publisher.client.once('close', onClose);
      });
      try {
        await Promise.race([publisher.client.publishAsync(topic, payload, { qos: 1 }), refused]);
      } finally {
        publisher.client.off('close', onClose);
      }
      const [message] = await subscriber.received(1, 15_000);
      expect(message!.topic).toBe(topic);
      expect(message!.payload.length, `${name} payload length`).toBe(size);
      expect(sha256(message!.payload)).toBe(sha256(payload));
    },
    30_000,
  );
});

/**
 * A QoS 1 PUBLISH of `size` payload bytes (encoded once), for raw sockets to send in parts. The
 * same bytes serve every connection: each connection has its own packet id space.
 */
function bigPublish(topic: string, size: number): Buffer {
  return publishBytes(topic, Buffer.alloc(size, 0x61), 1, 1, 5);
}

/** Sends `bytes` on each client; resolves once each wrote them all or was closed, or after `timeoutMs`. */
async function sendAll(targets: FlowClient[], bytes: Buffer, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(targets.map(async (client) => (await client.send(bytes)) && (await client.flushed()))),
    new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}

describe('--max-partial-packet-bytes 32 MiB', () => {
  it('12 connections each sending 10 MiB of a 20 MiB PUBLISH: those past the budget are closed (DISCONNECT 0x97), memory stays bounded, others are served', async () => {
    const pid = budgeted.child.pid!;
    const connections = 12;
    const topic = `${run}/half`;
    const packet = bigPublish(topic, 20 * MiB);
    const half = packet.subarray(0, 10 * MiB);
    const rest = packet.subarray(10 * MiB);

    const senders: FlowClient[] = [];
    for (let i = 0; i < connections; i++) {
      const client = await FlowClient.connect(targetOf(budgeted), `${run}-half-${i}`, { protocolVersion: 5 });
      clients.push(client);
      senders.push(client);
    }
    await sleep(100);
    const rssBefore = rssBytes(pid);
    let maxRss = rssBefore;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxRss = Math.max(maxRss, rssBytes(pid));
        await sleep(50);
      }
    })();

    await sendAll(senders, half, 15_000);
    await sleep(1000);

    // A healthy client is served meanwhile: connects, subscribes, publishes and receives.
    const subscriber = await budgetedMqttjs.connect({ clientId: `${run}-healthy-sub` });
    await subscriber.client.subscribeAsync(`${run}/healthy`, { qos: 1 });
    const publisher = await budgetedMqttjs.connect({ clientId: `${run}-healthy-pub` });
    await publisher.client.publishAsync(`${run}/healthy`, 'still served', { qos: 1 });
    const [message] = await subscriber.received(1, 5000);
    expect(message!.payload.toString()).toBe('still served');

    const open = senders.filter((client) => !client.isClosed);
    const closed = senders.filter((client) => client.isClosed);
    sampling = false;
    await sampler;

    // Each connection holds 10 MiB: at most floor(budget / 10 MiB) of them fit.
    const fit = Math.floor(BUDGET / half.length);
    expect.soft(closed.length, 'connections closed by the broker').toBeGreaterThanOrEqual(connections - fit);
    expect
      .soft(open.length, 'connections kept (the budget is not "close everyone")')
      .toBeGreaterThanOrEqual(1);
    // What the open connections sent is at most the budget plus one socket chunk each.
    expect.soft(open.length * half.length).toBeLessThanOrEqual(BUDGET + open.length * SOCKET_CHUNK);
    // A closed 5.0 connection is told why: DISCONNECT 0x97 quota exceeded (when the bytes
    // arrived before the reset).
    const reasons = closed.flatMap((client) =>
      client.control.filter((p) => p.type === PacketType.Disconnect).map((p) => p.reasonCode),
    );
    expect.soft(reasons.length, 'closed connections that got a DISCONNECT').toBeGreaterThanOrEqual(1);
    expect
      .soft(
        reasons.filter((code) => code !== QUOTA_EXCEEDED),
        'other DISCONNECT reasons',
      )
      .toEqual([]);
    // Bounded, with room for the socket chunks read and dropped from the closed connections
    // before the garbage collector frees them: 93-133 MiB measured with the budget, 151-158 MiB
    // when every half is kept (a looser bound than the counts above; those tell the two apart).
    expect.soft(maxRss - rssBefore, 'broker RSS growth (bytes)').toBeLessThan(200 * MiB);
    expect(budgeted.child.exitCode).toBe(null);

    // The kept connections now complete their 20 MiB packets. They cannot all fit in the budget
    // at once (each needs 20 MiB), so the broker may close some more; every one of them ends
    // either acknowledged or closed (none hangs), and at least one gets its PUBACK.
    await sendAll(open, rest, 15_000);
    const isAcked = (client: FlowClient) => client.counts[PacketType.Puback]! > 0;
    const settled = () => open.filter((client) => isAcked(client) || client.isClosed).length;
    await waitForCount(settled, open.length, { stallMs: 5000, maxMs: 15_000 });
    expect(settled(), 'kept connections acknowledged or closed after completing').toBe(open.length);
    expect(open.filter(isAcked).length, 'completed packets acknowledged').toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('under the budget, two half-sent 12 MiB PUBLISHes are kept, then delivered intact once completed', async () => {
    const topic = `${run}/kept`;
    const subscriber = await keptMqttjs.connect({ clientId: `${run}-kept-sub` });
    await subscriber.client.subscribeAsync(topic, { qos: 1 });
    const packets = [0, 1].map((i) => publishBytes(topic, Buffer.alloc(12 * MiB, 0x30 + i), 1, 1, 5));
    const senders: FlowClient[] = [];
    for (let i = 0; i < packets.length; i++) {
      const client = await FlowClient.connect(targetOf(kept), `${run}-kept-${i}`, { protocolVersion: 5 });
      clients.push(client);
      senders.push(client);
    }
    // 6 MiB each: 12 MiB received, 24 MiB announced, both under 32 MiB.
    await Promise.all(senders.map((client, i) => client.send(packets[i]!.subarray(0, 6 * MiB))));
    await Promise.all(senders.map((client) => client.flushed()));
    await sleep(1000);
    expect(senders.map((client) => client.isClosed)).toEqual([false, false]);
    expect(subscriber.messages).toEqual([]);

    await Promise.all(senders.map((client, i) => client.send(packets[i]!.subarray(6 * MiB))));
    await waitForCount(
      () => senders.filter((client) => client.counts[PacketType.Puback]! > 0).length,
      senders.length,
      { stallMs: 5000, maxMs: 15_000 },
    );
    expect(senders.map((client) => client.counts[PacketType.Puback])).toEqual([1, 1]);
    const messages = await subscriber.received(2, 15_000);
    const digests = messages.map((m) => sha256(m.payload)).sort();
    const expected = [0, 1].map((i) => sha256(Buffer.alloc(12 * MiB, 0x30 + i))).sort();
    expect(digests).toEqual(expected);
  }, 60_000);
});
