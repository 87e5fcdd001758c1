import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttJsClients, startBroker, targetOf } from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import {
  PINGREQ,
  parsePublish,
  puback,
  pubcomp,
  publish,
  pubrec,
  pubrel,
  RawClient,
  runId,
  subscribe,
  type Target,
  Type,
} from './mqtt-wire.js';

// QoS 0, 1 and 2 flows in both directions (MQTT 3.1.1 §3.3-§3.7, §4.3, §4.6), with raw
// sockets for the exact packets and MQTT.js as a real client; the outbound in-flight window.

let broker: TestBroker;
let windowed: TestBroker;
let capped: TestBroker;
let target: Target;
const run = runId();
const raws: RawClient[] = [];
const mqttjs = new MqttJsClients(() => broker.url);

beforeAll(async () => {
  [broker, windowed, capped] = await Promise.all([
    startBroker(),
    startBroker(['--max-inflight-messages', '2']),
    startBroker(['--max-qos', '1']),
  ]);
  target = targetOf(broker);
});

afterAll(async () => {
  for (const client of raws) client.destroy();
  await mqttjs.closeAll();
  await Promise.all([broker?.stop(), windowed?.stop(), capped?.stop()]);
});

async function raw(clientId: string, at: Target = target): Promise<RawClient> {
  const client = await RawClient.connect(at, { clientId: `${run}-${clientId}` });
  raws.push(client);
  return client;
}

/** A raw client subscribed to `topic` at `qos`, SUBACK checked. */
async function subscriber(name: string, topic: string, qos: 0 | 1 | 2, at: Target = target) {
  const client = await raw(name, at);
  client.write(subscribe(1, [[topic, qos]]));
  expect((await client.next()).bytes.toString('hex')).toBe(`90030001${qos.toString(16).padStart(2, '0')}`);
  return client;
}

const hex = (value: number) => value.toString(16).padStart(4, '0');

describe('inbound: what the broker answers a publisher (§3.3.4, §4.3)', () => {
  it('[MQTT-3.3.4-1][MQTT-4.3.1-1] QoS 0 is not acknowledged', async () => {
    const client = await raw('in-q0');
    client.write(publish({ topic: `${run}/in/q0`, payload: 'x' }), PINGREQ);
    expect((await client.next()).bytes.toString('hex')).toBe('d000');
  });

  it('[MQTT-3.3.4-1][MQTT-4.3.2-2][MQTT-2.3.1-6] QoS 1 is answered by PUBACK 40 02 with its packet id', async () => {
    const client = await raw('in-q1');
    client.write(publish({ topic: `${run}/in/q1`, payload: 'x', qos: 1, packetId: 0x1234 }));
    expect((await client.next()).bytes.toString('hex')).toBe('40021234');
  });

  it('[MQTT-4.3.3-2][MQTT-2.3.1-6] QoS 2: PUBREC 50 02, then PUBCOMP 70 02 for PUBREL, same packet id', async () => {
    const client = await raw('in-q2');
    client.write(publish({ topic: `${run}/in/q2`, payload: 'x', qos: 2, packetId: 0xbeef }));
    expect((await client.next()).bytes.toString('hex')).toBe('5002beef');
    client.write(pubrel(0xbeef));
    expect((await client.next()).bytes.toString('hex')).toBe('7002beef');
  });

  it('[MQTT-4.3.3-2] a QoS 2 PUBLISH re-sent with DUP before PUBREL is acknowledged again but forwarded once', async () => {
    const topic = `${run}/in/q2dup`;
    const watcher = await subscriber('q2dup-sub', `${topic}/#`, 0);
    const client = await raw('q2dup-pub');
    client.write(publish({ topic, payload: 'once', qos: 2, packetId: 5 }));
    expect((await client.next()).bytes.toString('hex')).toBe('50020005');
    client.write(publish({ topic, payload: 'once', qos: 2, packetId: 5, dup: true }));
    expect((await client.next()).bytes.toString('hex')).toBe('50020005');
    client.write(pubrel(5));
    expect((await client.next()).bytes.toString('hex')).toBe('70020005');
    // After PUBCOMP the same packet id starts a new message, forwarded again.
    client.write(publish({ topic, payload: 'again', qos: 2, packetId: 5 }));
    expect((await client.next()).bytes.toString('hex')).toBe('50020005');
    client.write(pubrel(5), publish({ topic: `${topic}/end`, payload: 'sentinel' }));
    expect((await client.next()).bytes.toString('hex')).toBe('70020005');

    const received: string[] = [];
    for (;;) {
      const message = await watcher.nextPublish();
      received.push(message.payload.toString());
      if (message.topic === `${topic}/end`) break;
    }
    expect(received).toEqual(['once', 'again', 'sentinel']);
  });

  it('[MQTT-4.3.3-2] a PUBREL for an unknown packet id is still answered with PUBCOMP; an unknown PUBACK is ignored', async () => {
    const client = await raw('unknown-ids');
    client.write(pubrel(77), puback(78), PINGREQ);
    expect((await client.take(2)).map((frame) => frame.bytes.toString('hex'))).toEqual(['7002004d', 'd000']);
    expect(client.isClosed).toBe(false);
  });

  it('[MQTT-4.3.2-2] after PUBACK, a QoS 1 PUBLISH with the same packet id is a new message', async () => {
    const topic = `${run}/in/q1again`;
    const watcher = await subscriber('q1again-sub', topic, 0);
    const client = await raw('q1again-pub');
    client.write(publish({ topic, payload: 'first', qos: 1, packetId: 9 }));
    expect((await client.next()).bytes.toString('hex')).toBe('40020009');
    client.write(publish({ topic, payload: 'second', qos: 1, packetId: 9, dup: true }));
    expect((await client.next()).bytes.toString('hex')).toBe('40020009');
    const payloads = [(await watcher.nextPublish()).payload, (await watcher.nextPublish()).payload];
    expect(payloads.map(String)).toEqual(['first', 'second']);
  });
});

describe('acknowledgement order (§4.6)', () => {
  it('[MQTT-4.6.0-2][MQTT-4.6.0-3] PUBACK and PUBREC are sent in the order the PUBLISH packets were received', async () => {
    const client = await raw('ack-order');
    const ids = [7, 3, 900, 1, 65535, 42];
    for (const [i, packetId] of ids.entries()) {
      client.write(publish({ topic: `${run}/ack-order`, payload: 'x', qos: i % 2 === 0 ? 1 : 2, packetId }));
    }
    const acks = await client.take(ids.length);
    expect(acks.map((frame) => frame.bytes.toString('hex'))).toEqual(
      ids.map((packetId, i) => `${i % 2 === 0 ? '40' : '50'}02${hex(packetId)}`),
    );
  });

  it('[MQTT-4.6.0-4] PUBREL packets follow the order of the PUBREC packets received', async () => {
    const topic = `${run}/pubrel-order`;
    const watcher = await subscriber('pubrel-order-sub', topic, 2);
    const client = await raw('pubrel-order-pub');
    for (let i = 1; i <= 3; i++)
      client.write(publish({ topic, payload: `m${i}`, qos: 2, packetId: i }), pubrel(i));
    const ids = [await watcher.nextPublish(), await watcher.nextPublish(), await watcher.nextPublish()].map(
      (m) => m.packetId!,
    );
    const order = [ids[2]!, ids[0]!, ids[1]!];
    watcher.write(...order.map((id) => pubrec(id)));
    expect((await watcher.take(3)).map((frame) => frame.bytes.toString('hex'))).toEqual(
      order.map((id) => `6202${hex(id)}`),
    );
  });
});

describe('outbound: what the broker sends a subscriber (§4.3)', () => {
  it('[MQTT-4.3.1-1][MQTT-3.3.1-2] QoS 0 is forwarded with DUP 0 and no packet id, byte for byte', async () => {
    const topic = `${run}/out/q0`;
    const watcher = await subscriber('out-q0-sub', topic, 2);
    const client = await raw('out-q0-pub');
    client.write(publish({ topic, payload: 'zero' }));
    expect((await watcher.next()).bytes.toString('hex')).toBe(
      publish({ topic, payload: 'zero' }).toString('hex'),
    );
  });

  it('[MQTT-4.3.2-1][MQTT-2.3.1-1][MQTT-2.3.1-4][MQTT-3.3.1-3] QoS 1: DUP 0 (whatever the publisher sent) and distinct non-zero ids while unacknowledged', async () => {
    const topic = `${run}/out/q1`;
    const watcher = await subscriber('out-q1-sub', topic, 1);
    const client = await raw('out-q1-pub');
    for (let i = 1; i <= 3; i++) {
      client.write(publish({ topic, payload: `m${i}`, qos: 1, packetId: i, dup: true }));
      expect((await client.next()).type).toBe(Type.Puback);
    }
    const messages = [await watcher.nextPublish(), await watcher.nextPublish(), await watcher.nextPublish()];
    expect(messages.map((m) => [m.payload.toString(), m.qos, m.dup, m.retain])).toEqual([
      ['m1', 1, false, false],
      ['m2', 1, false, false],
      ['m3', 1, false, false],
    ]);
    const ids = messages.map((m) => m.packetId!);
    expect(ids.every((id) => id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) watcher.write(puback(id));
  });

  it('[MQTT-4.3.3-1] QoS 2: PUBLISH, PUBREC from the client, PUBREL 62 02 with the same id, PUBCOMP; nothing re-sent', async () => {
    const topic = `${run}/out/q2`;
    const watcher = await subscriber('out-q2-sub', topic, 2);
    const client = await raw('out-q2-pub');
    client.write(publish({ topic, payload: 'two', qos: 2, packetId: 1 }));
    expect((await client.next()).type).toBe(Type.Pubrec);
    client.write(pubrel(1));
    const message = await watcher.nextPublish();
    expect([message.payload.toString(), message.qos, message.dup]).toEqual(['two', 2, false]);
    watcher.write(pubrec(message.packetId!));
    expect((await watcher.next()).bytes.toString('hex')).toBe(`6202${hex(message.packetId!)}`);
    watcher.write(pubcomp(message.packetId!), PINGREQ);
    expect((await watcher.next()).bytes.toString('hex')).toBe('d000');
  });

  it('[MQTT-4.6.0-6] QoS 1 messages of one publisher reach a subscriber in the order they were published', async () => {
    const topic = `${run}/out/order`;
    const watcher = await subscriber('order-sub', topic, 1);
    const client = await raw('order-pub');
    const count = 200;
    client.write(
      ...Array.from({ length: count }, (_, i) =>
        publish({ topic, payload: String(i), qos: 1, packetId: i + 1 }),
      ),
    );
    const received: number[] = [];
    while (received.length < count) {
      const message = await watcher.nextPublish();
      received.push(Number(message.payload.toString()));
      watcher.write(puback(message.packetId!));
    }
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('MQTT.js both ways: QoS 0, 1 and 2 publishes complete and arrive at their QoS, payloads intact', async () => {
    const prefix = `${run}/mqttjs`;
    const sub = await mqttjs.connect({ clientId: `${run}-js-sub` });
    await sub.client.subscribeAsync(`${prefix}/#`, { qos: 2 });
    const pub = await mqttjs.connect({ clientId: `${run}-js-pub` });
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]);
    await pub.client.publishAsync(`${prefix}/q0`, binary, { qos: 0 });
    await pub.client.publishAsync(`${prefix}/q1`, binary, { qos: 1 });
    await pub.client.publishAsync(`${prefix}/q2`, binary, { qos: 2 });
    const messages = await sub.received(3);
    expect(messages.map((m) => [m.topic, m.qos, m.payload.toString('hex')]).sort()).toEqual([
      [`${prefix}/q0`, 0, binary.toString('hex')],
      [`${prefix}/q1`, 1, binary.toString('hex')],
      [`${prefix}/q2`, 2, binary.toString('hex')],
    ]);
  });
});

describe('outbound in-flight window (--max-inflight-messages 2)', () => {
  it('sends at most 2 unacknowledged QoS 1 messages; the 3rd follows the first PUBACK', async () => {
    const at = targetOf(windowed);
    const topic = `${run}/window`;
    const watcher = await subscriber('window-sub', topic, 1, at);
    const client = await raw('window-pub', at);
    for (let i = 1; i <= 3; i++) client.write(publish({ topic, payload: `m${i}`, qos: 1, packetId: i }));
    expect((await client.take(3)).map((frame) => frame.type)).toEqual([
      Type.Puback,
      Type.Puback,
      Type.Puback,
    ]);

    const first = await watcher.collectFor(400);
    expect(first.map((frame) => frame.type)).toEqual([Type.Publish, Type.Publish]);
    const [m1, m2] = first.map(parsePublish);
    expect([m1!.payload.toString(), m2!.payload.toString()]).toEqual(['m1', 'm2']);

    watcher.write(puback(m1!.packetId!));
    const third = await watcher.nextPublish();
    expect([third.payload.toString(), third.qos, third.dup]).toEqual(['m3', 1, false]);
    expect(await watcher.collectFor(200)).toEqual([]);
  });
});

describe('granted QoS below the requested one (--max-qos 1)', () => {
  it('[MQTT-3.8.4-5][MQTT-3.8.4-6] SUBACK shows the QoS granted (1 for 2), and QoS 2 messages arrive at QoS 1', async () => {
    const at = targetOf(capped);
    const topic = `${run}/capped`;
    const client = await raw('capped-sub', at);
    client.write(
      subscribe(3, [
        [topic, 2],
        [`${topic}/0`, 0],
      ]),
    );
    expect((await client.next()).bytes.toString('hex')).toBe('900400030100');
    const publisher = await raw('capped-pub', at);
    publisher.write(publish({ topic, payload: 'two', qos: 2, packetId: 1 }), pubrel(1));
    const message = await client.nextPublish();
    expect([message.payload.toString(), message.qos]).toEqual(['two', 1]);
  });
});
