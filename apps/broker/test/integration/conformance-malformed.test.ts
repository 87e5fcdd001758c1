import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MqttJsClients,
  type RecordingClient,
  rssBytes,
  startBroker,
  targetOf,
} from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import { connect, packet, publish, RawClient, runId, str, subscribe, u16 } from './mqtt-wire.js';

// Malformed and forbidden input on raw sockets (MQTT 3.1.1 §1.5.3, §2.2.2, §2.3.1, §3.x fixed
// headers, §4.7, §4.8): each closes the offending connection, without a byte in 3.1.1, while a
// healthy client connected the whole time keeps being served.

const run = runId();
let broker: TestBroker;
let small: TestBroker;
const healthy = new Map<
  TestBroker,
  { subscriber: RecordingClient; publisher: RecordingClient; closes: number[] }
>();
const clientsOf = new Map<TestBroker, MqttJsClients>();

beforeAll(async () => {
  [broker, small] = await Promise.all([startBroker(), startBroker(['--max-packet-size', '1024'])]);
  for (const each of [broker, small]) {
    const clients = new MqttJsClients(() => each.url);
    clientsOf.set(each, clients);
    const subscriber = await clients.connect({ clientId: `${run}-healthy-sub` });
    const closes: number[] = [];
    subscriber.client.on('close', () => closes.push(Date.now()));
    await subscriber.client.subscribeAsync(`${run}/health`, { qos: 1 });
    const publisher = await clients.connect({ clientId: `${run}-healthy-pub` });
    healthy.set(each, { subscriber, publisher, closes });
  }
});

afterAll(async () => {
  await Promise.all([...clientsOf.values()].map((clients) => clients.closeAll()));
  await Promise.all([broker?.stop(), small?.stop()]);
});

let healthCheck = 0;

/** The healthy subscriber, connected since beforeAll, still gets a fresh publish. */
async function expectHealthyStillServed(at: TestBroker = broker): Promise<void> {
  const { subscriber, publisher, closes } = healthy.get(at)!;
  const payload = `check ${++healthCheck}`;
  const before = subscriber.messages.length;
  await publisher.client.publishAsync(`${run}/health`, payload, { qos: 1 });
  const messages = await subscriber.received(before + 1);
  expect(messages[before]!.payload.toString()).toBe(payload);
  expect(closes).toEqual([]);
  expect(at.child.exitCode).toBe(null);
}

/** Connects (CONNACK checked), sends `bytes`, and expects the connection closed with nothing more. */
async function expectOffenderClosed(bytes: Buffer, at: TestBroker = broker): Promise<void> {
  const offender = await RawClient.connect(targetOf(at), { clientId: `${run}-offender` });
  offender.write(bytes);
  await offender.closed(2000);
  expect(offender.unread().map((frame) => frame.bytes.toString('hex'))).toEqual([]);
  expect(offender.bytes().toString('hex')).toBe('20020000');
}

/** Deterministic pseudo-random bytes (xorshift32). */
function garbage(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const publishWithTopicBytes = (topic: Buffer) => publish({ topic, payload: 'x' });

const cases: Array<[string, Buffer]> = [
  ['§2.2.3 remaining length of 5 bytes (30 ff ff ff ff 7f)', Buffer.from('30ffffffff7f', 'hex')],
  [
    '[MQTT-1.5.3-1] ill-formed UTF-8 in a topic name (c3 28)',
    publishWithTopicBytes(Buffer.from('c328', 'hex')),
  ],
  [
    '[MQTT-1.5.3-1] a UTF-16 surrogate (U+D800) in a topic name',
    publishWithTopicBytes(Buffer.from('eda080', 'hex')),
  ],
  [
    '[MQTT-1.5.3-2][MQTT-4.7.3-2] U+0000 in a topic name',
    publishWithTopicBytes(Buffer.from('610062', 'hex')),
  ],
  ['[MQTT-3.3.2-2][MQTT-4.7.1-1] "#" in a PUBLISH topic name', publish({ topic: `${run}/#`, payload: 'x' })],
  [
    '[MQTT-3.3.2-2][MQTT-4.7.1-1] "+" in a PUBLISH topic name',
    publish({ topic: `${run}/+/x`, payload: 'x' }),
  ],
  ['[MQTT-4.7.3-1] an empty PUBLISH topic name', publish({ topic: '', payload: 'x' })],
  ['[MQTT-3.3.1-4] PUBLISH with QoS 3', publish({ topic: `${run}/q3`, payload: 'x', qos: 3, packetId: 1 })],
  [
    '[MQTT-2.3.1-1] PUBLISH QoS 1 with packet id 0',
    publish({ topic: `${run}/id0`, payload: 'x', qos: 1, packetId: 0 }),
  ],
  ['[MQTT-2.3.1-1] SUBSCRIBE with packet id 0', subscribe(0, [[`${run}/a`, 0]])],
  [
    '[MQTT-3.8.1-1] SUBSCRIBE with fixed-header flags 0000',
    packet(0x80, u16(1), str(`${run}/a`), Buffer.from([0])),
  ],
  ['[MQTT-3.10.1-1] UNSUBSCRIBE with fixed-header flags 0000', packet(0xa0, u16(1), str(`${run}/a`))],
  ['[MQTT-3.6.1-1] PUBREL with fixed-header flags 0000', Buffer.from('60020001', 'hex')],
  ['[MQTT-2.2.2-2] PUBACK with fixed-header flags 0010', Buffer.from('42020001', 'hex')],
  ['[MQTT-2.2.2-2] PINGREQ with fixed-header flags 0001', Buffer.from('c100', 'hex')],
  ['[MQTT-3.14.1-1] DISCONNECT with fixed-header flags 0001', Buffer.from('e100', 'hex')],
  ['[MQTT-3.8.3-4] SUBSCRIBE requesting QoS 3', subscribe(1, [[`${run}/a`, 3]])],
  ['[MQTT-3.8.3-4] SUBSCRIBE with reserved option bits set', subscribe(1, [[`${run}/a`, 0x04]])],
  ['[MQTT-3.8.3-3] SUBSCRIBE without a topic filter', packet(0x82, u16(1))],
  ['[MQTT-3.10.3-2] UNSUBSCRIBE without a topic filter', packet(0xa2, u16(1))],
  [
    '[MQTT-3.8.3-1] SUBSCRIBE with an ill-formed UTF-8 filter',
    subscribe(1, [[Buffer.from('c328', 'hex'), 0]]),
  ],
  [
    '[MQTT-3.10.3-1] UNSUBSCRIBE with an ill-formed UTF-8 filter',
    packet(0xa2, u16(1), str(Buffer.from('c328', 'hex'))),
  ],
  ['§2.2.1 packet type 0 (reserved)', Buffer.from('0000', 'hex')],
  ['§2.2.1 packet type 15 (reserved in 3.1.1)', Buffer.from('f000', 'hex')],
  ['[MQTT-4.8.0-1] CONNACK sent by a client', Buffer.from('20020000', 'hex')],
  ['[MQTT-4.8.0-1] SUBACK sent by a client', Buffer.from('9003000100', 'hex')],
  ['[MQTT-4.8.0-1] PINGRESP sent by a client', Buffer.from('d000', 'hex')],
  ['PINGREQ with a remaining length of 1', Buffer.from('c00100', 'hex')],
  ['PUBACK with a remaining length of 3', Buffer.from('4003000100', 'hex')],
  ['a topic length past the end of the packet', Buffer.from('3003000561', 'hex')],
  ...[1, 2, 3, 4].map((seed): [string, Buffer] => [
    `random garbage #${seed} (4 KiB after a reserved type)`,
    Buffer.concat([Buffer.from([seed % 2 === 0 ? 0x00 : 0xf0]), garbage(seed, 4095)]),
  ]),
];

describe('malformed input closes the offending connection only (§4.8)', () => {
  it.each(cases)('%s', async (_, bytes) => {
    await expectOffenderClosed(bytes);
    await expectHealthyStillServed();
  });

  it('[MQTT-3.1.0-1] random garbage instead of CONNECT: closed without a byte', async () => {
    for (const seed of [11, 12, 13]) {
      const offender = await RawClient.open(targetOf(broker));
      offender.write(Buffer.concat([Buffer.from([0x20 + seed]), garbage(seed, 2047)]));
      await offender.closed(2000);
      expect(offender.bytes().toString('hex')).toBe('');
    }
    await expectHealthyStillServed();
  });

  it('a CONNECT announcing 100 000 bytes (over --max-connect-packet-size 65536) is refused from its header', async () => {
    const offender = await RawClient.open(targetOf(broker));
    const sentAt = performance.now();
    offender.write(Buffer.concat([Buffer.from([0x10]), Buffer.from([0xa0, 0x8d, 0x06])])); // 100 000
    await offender.closed(2000);
    expect(offender.closedAt! - sentAt).toBeLessThan(500);
    expect(offender.bytes().toString('hex')).toBe('');
    await expectHealthyStillServed();
  });

  it('many offenders at once do not disturb the healthy client', async () => {
    const offenders = await Promise.all(
      cases.map(async ([, bytes], i) => {
        const client = await RawClient.open(targetOf(broker));
        client.write(connect({ clientId: `${run}-many-${i}` }), bytes);
        return client;
      }),
    );
    await Promise.all(offenders.map((client) => client.closed(3000)));
    for (const client of offenders) expect(client.bytes().toString('hex')).toBe('20020000');
    await expectHealthyStillServed();
  });
});

describe('--max-packet-size 1024', () => {
  it('a fixed header announcing 10 MB is refused from the header: closed promptly, memory unchanged', async () => {
    const pid = small.child.pid!;
    const rssBefore = rssBytes(pid);
    const offender = await RawClient.connect(targetOf(small), { clientId: `${run}-huge` });
    const sentAt = performance.now();
    // Just the fixed header of a PUBLISH with Remaining Length 10 485 760 (80 80 80 05).
    offender.write(Buffer.from('3080808005', 'hex'));
    await offender.closed(2000);
    expect(offender.closedAt! - sentAt).toBeLessThan(500);
    expect(offender.bytes().toString('hex')).toBe('20020000');
    expect(rssBytes(pid) - rssBefore).toBeLessThan(16 * 1024 * 1024);
    await expectHealthyStillServed(small);
  });

  it('a packet of exactly 1024 bytes is accepted, one of 1025 bytes closes the connection', async () => {
    const topic = `${run}/health`;
    // 1 + 2 (remaining length 1021) + 2 + topic + payload = 1024.
    const exact = publish({ topic, payload: 'x'.repeat(1024 - 5 - Buffer.byteLength(topic)) });
    expect(exact.length).toBe(1024);
    const client = await RawClient.connect(targetOf(small), { clientId: `${run}-exact` });
    const { subscriber } = healthy.get(small)!;
    const before = subscriber.messages.length;
    client.write(exact);
    const received = await subscriber.received(before + 1);
    expect(received[before]!.payload.length).toBe(exact.length - 5 - Buffer.byteLength(topic));
    expect(client.isClosed).toBe(false);

    const over = publish({ topic, payload: 'x'.repeat(1025 - 5 - Buffer.byteLength(topic)) });
    expect(over.length).toBe(1025);
    await expectOffenderClosed(over, small);
    await expectHealthyStillServed(small);
  });
});
