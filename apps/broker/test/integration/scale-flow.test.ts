import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttJsClients, rssBytes, sleep, startBroker, targetOf } from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import { connect, PINGREQ, publish, RawClient, runId, subscribe, Type } from './mqtt-wire.js';

// Scale and flow control against the built broker: fan-out to 200 connections, a 1 MB payload,
// 10 000 pipelined publishes in one write, and a subscriber that stops reading during a flood.

const run = runId();
let broker: TestBroker;
let flood: TestBroker;
const raws: RawClient[] = [];
const mqttjs = new MqttJsClients(() => broker.url);

beforeAll(async () => {
  [broker, flood] = await Promise.all([startBroker(['--max-packet-size', '2000000']), startBroker()]);
});

afterAll(async () => {
  for (const client of raws) client.destroy();
  await mqttjs.closeAll();
  await Promise.all([broker?.stop(), flood?.stop()]);
});

async function raw(at: TestBroker, name: string): Promise<RawClient> {
  const client = await RawClient.connect(targetOf(at), { clientId: `${run}-${name}` });
  raws.push(client);
  return client;
}

describe('scale', () => {
  it('fans one publish out to 200 subscribed connections, each getting it exactly once', async () => {
    const topic = `${run}/fan`;
    const count = 200;
    const subscribers: RawClient[] = [];
    for (let batch = 0; batch < count; batch += 50) {
      const opened = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const client = await RawClient.open(targetOf(broker));
          raws.push(client);
          client.write(connect({ clientId: `${run}-fan-${batch + i}` }), subscribe(1, [[topic, 1]]));
          const [connack, suback] = await client.take(2, 5000);
          expect([connack!.bytes.toString('hex'), suback!.bytes.toString('hex')]).toEqual([
            '20020000',
            '9003000101',
          ]);
          return client;
        }),
      );
      subscribers.push(...opened);
    }
    const publisher = await raw(broker, 'fan-pub');
    publisher.write(publish({ topic, payload: 'to all 200', qos: 1, packetId: 1 }));
    expect((await publisher.next()).bytes.toString('hex')).toBe('40020001');
    const received = await Promise.all(subscribers.map((client) => client.nextPublish(5000)));
    expect(
      received.every((m) => m.topic === topic && m.payload.toString() === 'to all 200' && m.qos === 1),
    ).toBe(true);
    // Exactly once: a PINGREQ on each connection is answered next, with no second copy before it.
    for (const client of subscribers) client.write(PINGREQ);
    const next = await Promise.all(subscribers.map((client) => client.next(5000)));
    expect(next.filter((frame) => frame.type !== Type.Pingresp)).toEqual([]);
  });

  it('delivers a 1 MB payload intact (--max-packet-size 2000000): same sha256', async () => {
    const topic = `${run}/big`;
    const payload = randomBytes(1_000_000);
    const subscriber = await mqttjs.connect({ clientId: `${run}-big-sub` });
    await subscriber.client.subscribeAsync(topic, { qos: 1 });
    const publisher = await mqttjs.connect({ clientId: `${run}-big-pub` });
    await publisher.client.publishAsync(topic, payload, { qos: 1 });
    const [message] = await subscriber.received(1, 10_000);
    expect(message!.payload.length).toBe(payload.length);
    const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
    expect(sha256(message!.payload)).toBe(sha256(payload));
  });

  it('10 000 QoS 0 publishes pipelined in one socket write arrive complete and in order', async () => {
    const topic = `${run}/seq`;
    const count = 10_000;
    const subscriber = await raw(broker, 'seq-sub');
    subscriber.write(subscribe(1, [[topic, 0]]));
    expect((await subscriber.next()).type).toBe(Type.Suback);
    const publisher = await raw(broker, 'seq-pub');
    const burst = Buffer.concat(
      Array.from({ length: count }, (_, i) => publish({ topic, payload: String(i).padStart(5, '0') })),
    );
    publisher.socket.write(burst);
    // Wait for all of them, or until nothing has arrived for 1 s (bounded by 10 s in all).
    const deadline = performance.now() + 10_000;
    let seen = -1;
    let progressAt = performance.now();
    while (subscriber.frames.length < count + 2 && performance.now() < deadline) {
      if (subscriber.frames.length !== seen) {
        seen = subscriber.frames.length;
        progressAt = performance.now();
      } else if (performance.now() - progressAt > 1000) {
        break;
      }
      await sleep(20);
    }
    const numbers = subscriber.frames.slice(2).map((frame) => Number(frame.body.subarray(2 + topic.length)));
    expect(numbers.length).toBe(count);
    expect(numbers.every((n, i) => n === i)).toBe(true);
  });
});

describe('flow control', () => {
  it('a subscriber that stops reading during a 20 MB flood: others get PINGRESP within 500 ms, RSS stays bounded, QoS 0 to it is dropped, QoS 1 waits', async () => {
    const pid = flood.child.pid!;
    const topic = `${run}/flood`;
    // ~20 MB of QoS 0: 20 000 publishes of 1 000 bytes, built before the clock starts so that
    // the measured latencies are the broker's, not this process's.
    const messages = 20_000;
    const body = Buffer.alloc(1000 - 6, 0x2e);
    const chunks: Buffer[] = [];
    for (let first = 0; first < messages; first += 500) {
      chunks.push(
        Buffer.concat(
          Array.from({ length: 500 }, (_, i) =>
            publish({
              topic,
              payload: Buffer.concat([Buffer.from(String(first + i).padStart(6, '0')), body]),
            }),
          ),
        ),
      );
    }
    const slow = await RawClient.open(targetOf(flood));
    raws.push(slow);
    slow.write(connect({ clientId: `${run}-slow` }), subscribe(1, [[topic, 1]]));
    await slow.take(2);
    slow.socket.pause();
    const pinger = await raw(flood, 'pinger');
    const publisher = await raw(flood, 'flooder');
    await sleep(100);
    const rssBefore = rssBytes(pid);

    let flooding = true;
    let maxRss = rssBefore;
    const sampler = (async () => {
      while (flooding) {
        maxRss = Math.max(maxRss, rssBytes(pid));
        await sleep(50);
      }
    })();
    const pingLatencies: number[] = [];
    const pinging = (async () => {
      while (flooding) {
        const sentAt = performance.now();
        pinger.write(PINGREQ);
        const frame = await pinger.next(5000);
        expect(frame.type).toBe(Type.Pingresp);
        pingLatencies.push(performance.now() - sentAt);
        await sleep(50);
      }
    })();

    for (const chunk of chunks) {
      if (!publisher.socket.write(chunk))
        await new Promise((resolve) => publisher.socket.once('drain', resolve));
    }
    // QoS 1 is not dropped for a slow consumer: it waits for the socket to drain.
    publisher.write(publish({ topic, payload: 'final', qos: 1, packetId: 1 }));
    expect((await publisher.next(10_000)).bytes.toString('hex')).toBe('40020001');
    flooding = false;
    await Promise.all([sampler, pinging]);

    expect(pingLatencies.length).toBeGreaterThan(0);
    expect(Math.max(...pingLatencies)).toBeLessThan(500);
    expect(maxRss - rssBefore).toBeLessThan(150 * 1024 * 1024);
    expect(flood.child.exitCode).toBe(null);

    slow.socket.resume();
    const sequence: number[] = [];
    let final = false;
    const deadline = performance.now() + 15_000;
    while (!final && performance.now() < deadline) {
      const message = await slow.nextPublish(5000);
      if (message.qos === 1) {
        final = message.payload.toString() === 'final';
      } else {
        sequence.push(Number(message.payload.subarray(0, 6).toString()));
      }
    }
    expect(final).toBe(true);
    // Some QoS 0 messages were dropped for the slow consumer; those delivered kept their order.
    expect(sequence.length).toBeGreaterThan(0);
    expect(sequence.length).toBeLessThan(messages);
    expect(sequence.every((n, i) => i === 0 || n > sequence[i - 1]!)).toBe(true);
    expect(flood.child.exitCode).toBe(null);
  });
});
