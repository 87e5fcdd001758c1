import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker as startInProcess } from '../../src/start-broker.js';
import { startBroker, targetOf } from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import {
  connect,
  PINGREQ,
  parsePublish,
  publish,
  pubrec,
  pubrel,
  RawClient,
  type ReceivedPublish,
  runId,
  subscribe,
  type Target,
  Type,
  unsubscribe,
} from './mqtt-wire.js';

// SUBSCRIBE/SUBACK, UNSUBSCRIBE/UNSUBACK, retained messages, topic matching and `$` topics
// (MQTT 3.1.1 §3.3.1.3, §3.8-§3.11, §4.7), raw sockets only: every flag is asserted.

let broker: TestBroker;
let target: Target;
const run = runId();
const raws: RawClient[] = [];

beforeAll(async () => {
  broker = await startBroker();
  target = targetOf(broker);
});

afterAll(async () => {
  for (const client of raws) client.destroy();
  await broker?.stop();
});

async function raw(name: string): Promise<RawClient> {
  const client = await RawClient.connect(target, { clientId: `${run}-${name}` });
  raws.push(client);
  return client;
}

/** Subscribes and returns the SUBACK bytes as hex. */
async function sub(client: RawClient, packetId: number, filters: Array<[string, number]>): Promise<string> {
  client.write(subscribe(packetId, filters));
  const suback = await client.next();
  expect(suback.type).toBe(Type.Suback);
  return suback.bytes.toString('hex');
}

/**
 * Publishes `sentinel` on `sentinelTopic` (which `client` must be subscribed to) and returns
 * every PUBLISH `client` got before it: the broker routes one publisher's messages in order,
 * so what has not arrived by then never will.
 */
async function publishesUntilSentinel(
  client: RawClient,
  publisher: RawClient,
  sentinelTopic: string,
): Promise<ReceivedPublish[]> {
  publisher.write(publish({ topic: sentinelTopic, payload: 'sentinel' }));
  const out: ReceivedPublish[] = [];
  for (;;) {
    const message = await client.nextPublish();
    if (message.topic === sentinelTopic && message.payload.toString() === 'sentinel') return out;
    out.push(message);
  }
}

/** Nothing was queued for `client`: a PINGREQ is answered before any PUBLISH. */
async function expectNothingPending(client: RawClient): Promise<void> {
  client.write(PINGREQ);
  expect((await client.next()).bytes.toString('hex')).toBe('d000');
}

const summary = (m: ReceivedPublish) => ({
  topic: m.topic,
  payload: m.payload.toString(),
  qos: m.qos,
  retain: m.retain,
});

describe('SUBSCRIBE and SUBACK (§3.8, §3.9)', () => {
  it('[MQTT-3.8.4-1][MQTT-3.8.4-2][MQTT-3.8.4-4][MQTT-3.8.4-5][MQTT-3.9.3-1] one return code per filter, in order, 0x80 for invalid filters beside valid ones', async () => {
    const client = await raw('suback');
    const filters: Array<[string, number]> = [
      [`${run}/s/a`, 0],
      ['a/#/b', 1], // [MQTT-4.7.1-2] '#' not last
      [`${run}/s/c/+`, 2],
      ['sport+', 0], // [MQTT-4.7.1-3] '+' not a whole level
      [`${run}/s/x#`, 1], // [MQTT-4.7.1-2] '#' not a whole level
      [`${run}/s/+/d/#`, 1],
    ];
    expect(await sub(client, 0x0a0b, filters)).toBe(
      '9008' + '0a0b' + '00' + '80' + '02' + '80' + '80' + '01',
    );
    // The valid filters of the same SUBSCRIBE are in force.
    const publisher = await raw('suback-pub');
    publisher.write(publish({ topic: `${run}/s/c/x`, payload: 'c', qos: 1, packetId: 1 }));
    publisher.write(publish({ topic: `${run}/s/y/d/z`, payload: 'd', qos: 1, packetId: 2 }));
    const received = [await client.nextPublish(), await client.nextPublish()];
    expect(received.map((m) => [m.topic, m.qos])).toEqual([
      [`${run}/s/c/x`, 1],
      [`${run}/s/y/d/z`, 1],
    ]);
  });

  it('[MQTT-4.7.3-1] an empty topic filter is refused with 0x80, the other filters granted', async () => {
    const client = await raw('empty-filter');
    expect(
      await sub(client, 3, [
        ['', 0],
        [`${run}/e`, 1],
      ]),
    ).toBe('900400038001');
    expect(client.isClosed).toBe(false);
  });

  it('[MQTT-3.8.4-3] subscribing again to the same filter replaces the subscription (new QoS, one delivery)', async () => {
    const topic = `${run}/replace`;
    const client = await raw('replace');
    expect(await sub(client, 1, [[topic, 2]])).toBe('9003000102');
    expect(await sub(client, 2, [[topic, 0]])).toBe('9003000200');
    const publisher = await raw('replace-pub');
    publisher.write(publish({ topic, payload: 'p', qos: 2, packetId: 1 }));
    const received = await publishesUntilSentinel(client, publisher, topic);
    expect(received.map(summary)).toEqual([{ topic, payload: 'p', qos: 0, retain: false }]);
  });

  it('[MQTT-3.8.4-6] messages are delivered at the lower of published and granted QoS', async () => {
    const client = await raw('downgrade');
    const prefix = `${run}/dg`;
    expect(
      await sub(client, 1, [
        [`${prefix}/0`, 0],
        [`${prefix}/1`, 1],
        [`${prefix}/2`, 2],
      ]),
    ).toBe('90050001000102');
    const publisher = await raw('downgrade-pub');
    let packetId = 1;
    const cases: Array<[string, 0 | 1 | 2]> = [
      ['0', 2],
      ['1', 2],
      ['2', 2],
      ['2', 1],
      ['2', 0],
      ['1', 0],
    ];
    for (const [level, qos] of cases) {
      publisher.write(
        publish({ topic: `${prefix}/${level}`, payload: `q${qos}`, qos, packetId: packetId++ }),
      );
    }
    const received = await publishesUntilSentinel(client, publisher, `${prefix}/0`);
    expect(received.map((m) => [m.topic.slice(prefix.length + 1), m.payload.toString(), m.qos])).toEqual([
      ['0', 'q2', 0],
      ['1', 'q2', 1],
      ['2', 'q2', 2],
      ['2', 'q1', 1],
      ['2', 'q0', 0],
      ['1', 'q0', 0],
    ]);
  });

  it('[MQTT-3.3.5-1] overlapping subscriptions deliver one copy at the highest granted QoS', async () => {
    const prefix = `${run}/ov`;
    const client = await raw('overlap');
    expect(
      await sub(client, 1, [
        [`${prefix}/#`, 0],
        [`${prefix}/+`, 2],
        [`${prefix}/x`, 1],
      ]),
    ).toBe('90050001000201');
    const publisher = await raw('overlap-pub');
    publisher.write(publish({ topic: `${prefix}/x`, payload: 'two', qos: 2, packetId: 1 }));
    publisher.write(publish({ topic: `${prefix}/x`, payload: 'one', qos: 1, packetId: 2 }));
    publisher.write(publish({ topic: `${prefix}/y/z`, payload: 'deep', qos: 2, packetId: 3 }));
    const received = await publishesUntilSentinel(client, publisher, `${prefix}/end/sentinel`);
    expect(received.map((m) => [m.topic, m.payload.toString(), m.qos])).toEqual([
      [`${prefix}/x`, 'two', 2],
      [`${prefix}/x`, 'one', 1],
      [`${prefix}/y/z`, 'deep', 0], // only '#' matches: QoS 0
    ]);
  });

  it('[MQTT-4.7.1-2][MQTT-4.7.1-3] "#" matches the parent level and below, "+" exactly one level (empty included)', async () => {
    const prefix = `${run}/match`;
    const client = await raw('match');
    await sub(client, 1, [
      [`${prefix}/h/#`, 0],
      [`${prefix}/p/+`, 0],
    ]);
    const publisher = await raw('match-pub');
    for (const topic of ['h', 'h/a', 'h/a/b', 'hx', 'p', 'p/', 'p/a', 'p/a/b', 'P/a']) {
      publisher.write(publish({ topic: `${prefix}/${topic}`, payload: topic }));
    }
    const received = await publishesUntilSentinel(client, publisher, `${prefix}/h/end`);
    expect(received.map((m) => m.payload.toString())).toEqual(['h', 'h/a', 'h/a/b', 'p/', 'p/a']);
  });

  it('[MQTT-1.5.3-3] U+FEFF (ef bb bf) in a topic is kept, never stripped', async () => {
    const client = await raw('bom');
    await sub(client, 1, [
      [`${run}/\ufeffbom`, 0],
      [`${run}/bom`, 0],
    ]);
    const publisher = await raw('bom-pub');
    publisher.write(publish({ topic: `${run}/\ufeffbom`, payload: 'with' }));
    const received = await publishesUntilSentinel(client, publisher, `${run}/bom`);
    expect(received.map((m) => [Buffer.from(m.topic).toString('hex'), m.payload.toString()])).toEqual([
      [Buffer.from(`${run}/\ufeffbom`).toString('hex'), 'with'],
    ]);
  });

  it('[MQTT-4.7.3-4] topics are compared as they are: case and leading "/" matter, nothing is normalised', async () => {
    const client = await raw('exact');
    await sub(client, 1, [
      [`${run}/Case`, 0],
      [`/${run}/lead`, 0],
    ]);
    const publisher = await raw('exact-pub');
    for (const topic of [`${run}/case`, `${run}/CASE`, `${run}/Case`, `${run}/lead`, `/${run}/lead`]) {
      publisher.write(publish({ topic, payload: topic }));
    }
    const received = await publishesUntilSentinel(client, publisher, `${run}/Case`);
    expect(received.map((m) => m.topic)).toEqual([`${run}/Case`, `/${run}/lead`]);
  });
});

describe('retained messages (§3.3.1.3)', () => {
  it('[MQTT-3.3.1-5][MQTT-3.3.1-6][MQTT-3.3.1-8][MQTT-3.3.1-9] kept with its QoS, sent with RETAIN 1 on subscribe, forwarded with RETAIN 0 to existing subscribers', async () => {
    const topic = `${run}/ret/a`;
    const existing = await raw('ret-existing');
    await sub(existing, 1, [[topic, 2]]);
    const publisher = await raw('ret-pub');
    publisher.write(publish({ topic, payload: 'r1', qos: 1, packetId: 1, retain: true }));
    expect((await publisher.next()).bytes.toString('hex')).toBe('40020001');
    expect(summary(await existing.nextPublish())).toEqual({ topic, payload: 'r1', qos: 1, retain: false });

    const late = await raw('ret-late');
    expect(await sub(late, 5, [[topic, 2]])).toBe('9003000502');
    expect(summary(await late.nextPublish())).toEqual({ topic, payload: 'r1', qos: 1, retain: true });
    const late0 = await raw('ret-late0');
    await sub(late0, 5, [[`${run}/ret/+`, 0]]);
    expect(summary(await late0.nextPublish())).toEqual({ topic, payload: 'r1', qos: 0, retain: true });
  });

  it('[MQTT-3.3.1-5][MQTT-3.3.1-7][MQTT-3.3.1-12] a new retained message replaces the old one (QoS 0 too); a non-retained publish does not', async () => {
    const topic = `${run}/ret/replace`;
    const publisher = await raw('ret-replace-pub');
    publisher.write(publish({ topic, payload: 'old', qos: 1, packetId: 1, retain: true }));
    publisher.write(publish({ topic, payload: 'new', qos: 0, retain: true }));
    publisher.write(publish({ topic, payload: 'live', qos: 0, retain: false }), PINGREQ);
    expect((await publisher.take(2)).map((frame) => frame.bytes.toString('hex'))).toEqual([
      '40020001',
      'd000',
    ]);
    const late = await raw('ret-replace-late');
    await sub(late, 1, [[topic, 1]]);
    expect(summary(await late.nextPublish())).toEqual({ topic, payload: 'new', qos: 0, retain: true });
    await expectNothingPending(late);
  });

  it('[MQTT-3.3.1-10][MQTT-3.3.1-11] an empty retained payload is forwarded as usual and removes the retained message', async () => {
    const topic = `${run}/ret/clear`;
    const publisher = await raw('ret-clear-pub');
    publisher.write(publish({ topic, payload: 'keep', retain: true }), PINGREQ);
    expect((await publisher.next()).bytes.toString('hex')).toBe('d000');
    const existing = await raw('ret-clear-existing');
    await sub(existing, 1, [[topic, 1]]);
    expect(summary(await existing.nextPublish())).toEqual({ topic, payload: 'keep', qos: 0, retain: true });
    publisher.write(publish({ topic, payload: '', qos: 1, packetId: 1, retain: true }));
    expect(summary(await existing.nextPublish())).toEqual({ topic, payload: '', qos: 1, retain: false });
    const late = await raw('ret-clear-late');
    await sub(late, 1, [
      [topic, 1],
      [`${run}/ret/#`, 0],
    ]);
    const retained = await late.collectFor(150);
    expect(retained.map((frame) => frame.type)).toEqual(retained.map(() => Type.Publish));
    expect(
      retained.map((frame) => frame.body.toString('latin1')).filter((body) => body.includes('ret/clear')),
    ).toEqual([]);
  });

  it('[MQTT-3.8.4-3] re-subscribing to the same filter re-sends the retained messages', async () => {
    const topic = `${run}/ret/again`;
    const publisher = await raw('ret-again-pub');
    publisher.write(publish({ topic, payload: 'kept', retain: true }), PINGREQ);
    await publisher.next();
    const client = await raw('ret-again');
    await sub(client, 1, [[topic, 0]]);
    expect(summary(await client.nextPublish())).toEqual({ topic, payload: 'kept', qos: 0, retain: true });
    await sub(client, 2, [[topic, 0]]);
    expect(summary(await client.nextPublish())).toEqual({ topic, payload: 'kept', qos: 0, retain: true });
  });
});

describe('UNSUBSCRIBE and UNSUBACK (§3.10, §3.11)', () => {
  it('[MQTT-3.10.4-4][MQTT-3.10.4-5][MQTT-3.10.4-6] one UNSUBACK b0 02 with the packet id, even for filters never subscribed', async () => {
    const client = await raw('unsub');
    await sub(client, 1, [[`${run}/u/a`, 1]]);
    client.write(unsubscribe(0x0102, [`${run}/u/a`, `${run}/u/never`, 'x/#']));
    expect((await client.next()).bytes.toString('hex')).toBe('b0020102');
    await expectNothingPending(client);
  });

  it('[MQTT-3.10.4-1][MQTT-3.10.4-2] only the filter equal character for character is removed; delivery on it stops', async () => {
    const prefix = `${run}/u2`;
    const client = await raw('unsub-stop');
    await sub(client, 1, [
      [`${prefix}/a`, 0],
      [`${prefix}/+`, 0],
      [`${prefix}/sentinel`, 0],
    ]);
    client.write(unsubscribe(2, [`${prefix}/a`, `${prefix}/b`]));
    expect((await client.next()).bytes.toString('hex')).toBe('b0020002');
    const publisher = await raw('unsub-stop-pub');
    publisher.write(publish({ topic: `${prefix}/a`, payload: 'via +' }));
    publisher.write(publish({ topic: `${prefix}/b`, payload: 'b via +' }));
    const received = await publishesUntilSentinel(client, publisher, `${prefix}/sentinel`);
    // '<prefix>/+' stays (it is not equal to '<prefix>/b'); '<prefix>/a' is gone: one copy each.
    expect(received.map((m) => m.payload.toString())).toEqual(['via +', 'b via +']);
    client.write(unsubscribe(3, [`${prefix}/+`]));
    expect((await client.next()).bytes.toString('hex')).toBe('b0020003');
    publisher.write(publish({ topic: `${prefix}/a`, payload: 'none' }));
    expect(await publishesUntilSentinel(client, publisher, `${prefix}/sentinel`)).toEqual([]);
  });
});

describe('UNSUBSCRIBE with a delivery in flight (§3.10.4)', () => {
  it('[MQTT-3.10.4-3] a QoS 2 delivery started before UNSUBSCRIBE is completed (PUBREL follows PUBREC)', async () => {
    const topic = `${run}/u3`;
    const client = await raw('unsub-inflight');
    await sub(client, 1, [[topic, 2]]);
    const publisher = await raw('unsub-inflight-pub');
    publisher.write(publish({ topic, payload: 'in flight', qos: 2, packetId: 1 }), pubrel(1));
    const message = await client.nextPublish();
    expect([message.payload.toString(), message.qos]).toEqual(['in flight', 2]);
    client.write(unsubscribe(9, [topic]));
    expect((await client.next()).bytes.toString('hex')).toBe('b0020009');
    client.write(pubrec(message.packetId!));
    expect((await client.next()).bytes.toString('hex')).toBe(
      `6202${message.packetId!.toString(16).padStart(4, '0')}`,
    );
  });
});

describe('topics starting with $ (§4.7.2)', () => {
  // The CLI has no $SYS publisher yet, and clients may not publish to $ topics: the server-side
  // source of a $SYS message is the in-process API, `broker.publish()`, on a broker of its own.
  let inProcess: RunningBroker;
  let at: Target;

  beforeAll(async () => {
    // The memory store: the default (sqlite in ./data) would write into the working directory.
    inProcess = await startInProcess({
      listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
      store: { type: 'memory' },
    });
    at = { host: '127.0.0.1', port: inProcess.addresses[0]!.port };
  });

  afterAll(async () => {
    await inProcess?.close();
  });

  async function rawAt(name: string): Promise<RawClient> {
    const client = await RawClient.connect(at, { clientId: `${run}-${name}` });
    raws.push(client);
    return client;
  }

  it('[MQTT-4.7.2-1] filters starting with "#" or "+" do not match a $SYS topic; "$SYS/..." does', async () => {
    const wildcard = await rawAt('dollar-wild');
    await sub(wildcard, 1, [
      ['#', 0],
      ['+/monitor/clients', 0],
      ['+/+/+', 0],
    ]);
    const explicit = await rawAt('dollar-explicit');
    await sub(explicit, 1, [['$SYS/monitor/+', 0]]);
    inProcess.broker.publish({ topicName: '$SYS/monitor/clients', payload: 'sys' });
    expect(summary(await explicit.nextPublish())).toEqual({
      topic: '$SYS/monitor/clients',
      payload: 'sys',
      qos: 0,
      retain: false,
    });
    const publisher = await rawAt('dollar-pub');
    const received = await publishesUntilSentinel(wildcard, publisher, `${run}/dollar/sentinel`);
    expect(received.filter((m) => m.topic.startsWith('$'))).toEqual([]);
  });

  it('[MQTT-4.7.2-1] a retained $SYS message is not sent for "#" or "+/..." subscriptions, only for "$SYS/#"', async () => {
    inProcess.broker.publish({ topicName: '$SYS/broker/version', payload: 'v', retain: true });
    inProcess.broker.publish({ topicName: `${run}/plain`, payload: 'p', retain: true });
    const wildcard = await rawAt('dollar-retained-wild');
    wildcard.write(
      subscribe(1, [
        ['#', 0],
        ['+/broker/version', 0],
        ['+/#', 0],
      ]),
      PINGREQ,
    );
    const frames = [await wildcard.next()];
    while (frames[frames.length - 1]!.type !== Type.Pingresp) frames.push(await wildcard.next());
    const retained = frames
      .filter((frame) => frame.type === Type.Publish)
      .map((frame) => parsePublish(frame).topic);
    expect(retained.filter((topic) => topic.startsWith('$'))).toEqual([]);
    expect(retained).toContain(`${run}/plain`); // the control: '#' did send retained messages
    const explicit = await rawAt('dollar-retained-explicit');
    await sub(explicit, 1, [['$SYS/#', 0]]);
    expect(summary(await explicit.nextPublish())).toEqual({
      topic: '$SYS/broker/version',
      payload: 'v',
      qos: 0,
      retain: true,
    });
  });

  it('a client publishing to a $ topic is acknowledged but the message is dropped', async () => {
    const topic = `$x/${run}`;
    const watcher = await raw('dollar-drop');
    await sub(watcher, 1, [
      [`$x/#`, 1],
      [`${run}/dollar-drop/sentinel`, 0],
    ]);
    const publisher = await raw('dollar-drop-pub');
    publisher.write(publish({ topic, payload: 'q0' }));
    publisher.write(publish({ topic, payload: 'q1', qos: 1, packetId: 4 }));
    expect((await publisher.next()).bytes.toString('hex')).toBe('40020004');
    expect(await publishesUntilSentinel(watcher, publisher, `${run}/dollar-drop/sentinel`)).toEqual([]);
    expect(publisher.isClosed).toBe(false);
  });

  it('a will on a $ topic is dropped like a PUBLISH to it', async () => {
    const watcher = await raw('dollar-will-watch');
    await sub(watcher, 1, [
      [`$SYS/${run}/#`, 0],
      [`$x/${run}/#`, 0],
      [`${run}/dollar-will/sentinel`, 0],
    ]);
    for (const topic of [`$SYS/${run}/will`, `$x/${run}/will`]) {
      const dying = await RawClient.open(target);
      raws.push(dying);
      dying.write(connect({ clientId: `${run}-dollar-will`, will: { topic, payload: 'injected' } }));
      await dying.next();
      dying.socket.resetAndDestroy();
      await dying.closed();
    }
    // The broker publishes a will when it sees the close; give it time before the sentinel.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const publisher = await raw('dollar-will-pub');
    expect(await publishesUntilSentinel(watcher, publisher, `${run}/dollar-will/sentinel`)).toEqual([]);
  });
});
