import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, targetOf } from './conformance-harness.js';
import {
  ALLOWED_CODES,
  ack,
  type Client5,
  Clients5,
  expectDisconnect,
  PacketType,
  type PublishPacket,
  packet,
  props,
  publishes,
  publishPacket,
  type Subscription,
  str,
  subscribeOn,
  subscription,
  u16,
  uid,
  unsubscribeOn,
} from './conformance5-harness.js';
import type { TestBroker } from './helpers.js';

// MQTT 5.0 SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, subscription options, topic rules and shared
// subscriptions (§3.3.1.3, §3.3.4, §3.8 … §3.11, §4.7, §4.8) against the built broker
// (in-memory store, `$SYS` every second for §4.7.2).

let broker: TestBroker;
const clients = new Clients5(() => targetOf(broker));

beforeAll(async () => {
  broker = await startBroker(['--store', 'memory', '--sys-interval', '1']);
});

afterEach(() => clients.closeAll());

afterAll(async () => {
  await broker?.stop();
});

async function connected() {
  return clients.connect({ clientId: uid('s') });
}

async function publishWait(
  topic: string,
  payload: string,
  options: { qos?: 0 | 1 | 2; retain?: boolean } = {},
) {
  const pub = await connected();
  pub.send(publishPacket(topic, payload, { qos: 1, packetId: 1, retain: options.retain }));
  await pub.expect(PacketType.Puback);
  return pub;
}

async function quietFor(client: Client5, ms = 200) {
  return publishes(await client.collectFor(ms));
}

/** Hand-built 5.0 SUBSCRIBE: packet id 1, no properties, `[filter, options byte]` pairs. */
function rawSubscribe(first: number, ...pairs: Array<[string | Buffer, number]>): Buffer {
  return packet(first, u16(1), props(), ...pairs.flatMap(([f, o]) => [str(f), Buffer.from([o])]));
}

describe('retain handling and retain as published (§3.3.1.3, §3.8.3.1)', () => {
  it('[MQTT-3.3.1-9] Retain Handling 0 sends the matching retained messages on every SUBSCRIBE', async () => {
    const topic = `${uid()}/r`;
    await publishWait(topic, 'kept', { retain: true });
    const sub = await connected();
    for (const packetId of [1, 2]) {
      await subscribeOn(sub, packetId, [subscription(topic, { qos: 1, retainHandling: 0 })]);
      const got = await sub.expect(PacketType.Publish);
      expect([got.payload.toString(), got.retain]).toEqual(['kept', true]);
      sub.send(ack(PacketType.Puback, got.packetId!));
    }
  });

  it('[MQTT-3.3.1-10] Retain Handling 1 sends retained messages only when the subscription is new', async () => {
    const topic = `${uid()}/r`;
    await publishWait(topic, 'kept', { retain: true });
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(topic, { retainHandling: 1 })]);
    expect((await sub.publishes(1)).map((p) => p.payload.toString())).toEqual(['kept']);
    await subscribeOn(sub, 2, [subscription(topic, { retainHandling: 1 })]);
    expect(await quietFor(sub)).toEqual([]);
  });

  it('[MQTT-3.3.1-11] Retain Handling 2 never sends retained messages', async () => {
    const topic = `${uid()}/r`;
    await publishWait(topic, 'kept', { retain: true });
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(topic, { retainHandling: 2 })]);
    expect(await quietFor(sub)).toEqual([]);
    await publishWait(topic, 'live');
    expect((await sub.publishes(1)).map((p) => p.payload.toString())).toEqual(['live']);
  });

  it('[MQTT-3.3.1-12] Retain As Published 0: a forwarded retained PUBLISH has RETAIN 0', async () => {
    const topic = `${uid()}/r`;
    const sub = await clients.subscriber({ clientId: uid() }, [
      subscription(topic, { retainAsPublished: false }),
    ]);
    await publishWait(topic, 'x', { retain: true });
    const { packet: got, frame } = await sub.nextReceived();
    expect(got).toMatchObject({ type: PacketType.Publish, retain: false });
    expect(frame.bytes[0]! & 0x01).toBe(0);
  });

  it('[MQTT-3.3.1-13] Retain As Published 1: a forwarded PUBLISH keeps the RETAIN flag it was sent with', async () => {
    const topic = `${uid()}/r`;
    const sub = await clients.subscriber({ clientId: uid() }, [
      subscription(topic, { retainAsPublished: true }),
    ]);
    await publishWait(topic, 'r', { retain: true });
    await publishWait(topic, 'n', { retain: false });
    const got = await sub.publishes(2);
    expect(got.map((p) => [p.payload.toString(), p.retain])).toEqual([
      ['r', true],
      ['n', false],
    ]);
  });
});

describe('overlapping subscriptions and subscription identifiers (§3.3.4)', () => {
  it('[MQTT-3.3.4-2] overlapping subscriptions deliver at the highest QoS granted among them', async () => {
    const base = uid();
    const sub = await clients.subscriber({ clientId: uid() }, [
      subscription(`${base}/#`, { qos: 0 }),
      subscription(`${base}/+`, { qos: 2 }),
      subscription(`${base}/a`, { qos: 1 }),
    ]);
    const pub = await connected();
    pub.send(publishPacket(`${base}/a`, 'x', { qos: 2, packetId: 1 }));
    const got = await sub.publishes(1, 250);
    expect(got.length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...got.map((p) => p.qos))).toBe(2);
  });

  it('[MQTT-3.3.4-3] the Subscription Identifiers of the matching subscriptions come with the message', async () => {
    const base = uid();
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(`${base}/#`)], { subscriptionIdentifiers: [11] });
    await subscribeOn(sub, 2, [subscription(`${base}/+`)], { subscriptionIdentifiers: [22] });
    await subscribeOn(sub, 3, [subscription(`${base}/a`)]);
    await publishWait(`${base}/a`, 'x');
    const ids = (await sub.publishes(1)).flatMap((p) => p.properties?.subscriptionIdentifiers ?? []);
    expect(ids.sort((a, b) => a - b)).toEqual([11, 22]);
  });

  it('[MQTT-3.3.4-4] one copy for overlapping subscriptions carries every matching identifier', async () => {
    const base = uid();
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(`${base}/#`, { qos: 1 })], { subscriptionIdentifiers: [1] });
    await subscribeOn(sub, 2, [subscription(`${base}/x/+`, { qos: 0 })], {
      subscriptionIdentifiers: [268435455],
    });
    await publishWait(`${base}/x/y`, 'x');
    const got = await sub.publishes(1);
    expect(got).toHaveLength(1);
    expect([...(got[0]!.properties?.subscriptionIdentifiers ?? [])].sort((a, b) => a - b)).toEqual([
      1, 268435455,
    ]);
  });

  it('[MQTT-3.3.4-5] a shared and a non-shared subscription both matching: each copy carries its own identifier', async () => {
    const base = uid();
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(`${base}/#`)], { subscriptionIdentifiers: [5] });
    await subscribeOn(sub, 2, [subscription(`$share/g${base}/${base}/#`)], { subscriptionIdentifiers: [6] });
    await publishWait(`${base}/t`, 'x');
    const got = await sub.publishes(1);
    // A shared subscription delivers apart from the session's own: two copies, or one with both ids.
    const idSets = got.map((p) => [...(p.properties?.subscriptionIdentifiers ?? [])].sort());
    if (got.length === 2) expect(idSets.sort()).toEqual([[5], [6]]);
    else expect(idSets).toEqual([[5, 6]]);
  });
});

describe('SUBSCRIBE (§3.8)', () => {
  it('[MQTT-3.8.1-1] SUBSCRIBE with fixed-header flags 0000: DISCONNECT 0x81, closed', async () => {
    const client = await connected();
    client.write(rawSubscribe(0x80, [`${uid()}/x`, 0]));
    await expectDisconnect(client, [0x81]);
  });

  it('[MQTT-3.8.3-1] a topic filter that is not well-formed UTF-8: DISCONNECT 0x81, closed', async () => {
    const client = await connected();
    client.write(rawSubscribe(0x82, [Buffer.from([0x61, 0x2f, 0xf8]), 0]));
    await expectDisconnect(client, [0x81]);
  });

  it('[MQTT-3.8.3-2] a SUBSCRIBE without any filter: DISCONNECT 0x81 or 0x82, closed', async () => {
    const client = await connected();
    client.write(rawSubscribe(0x82));
    await expectDisconnect(client, [0x81, 0x82]);
  });

  it('[MQTT-3.8.3-3] No Local: messages the client publishes itself are not sent back to it', async () => {
    const topic = `${uid()}/nl`;
    const id = uid();
    const client = await clients.subscriber({ clientId: id }, [
      subscription(topic, { qos: 1, noLocal: true }),
    ]);
    const other = await clients.subscriber({ clientId: uid() }, [subscription(topic, { qos: 1 })]);
    client.send(publishPacket(topic, 'mine', { qos: 1, packetId: 3 }));
    await client.expect(PacketType.Puback);
    await publishWait(topic, 'theirs');
    expect((await client.publishes(1)).map((p) => p.payload.toString())).toEqual(['theirs']);
    expect((await other.publishes(2, 50)).map((p) => p.payload.toString())).toEqual(['mine', 'theirs']);
  });

  it('[MQTT-3.8.3-4] No Local on a shared subscription: DISCONNECT 0x82, closed', async () => {
    const client = await connected();
    client.send({
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [subscription(`$share/g/${uid()}`, { noLocal: true })],
      properties: undefined,
    });
    await expectDisconnect(client, [0x82]);
  });

  it.each([
    ['reserved bit 6', 0x40, [0x81]],
    ['reserved bit 7', 0x80, [0x81]],
    ['Retain Handling 3', 0x30, [0x81, 0x82]],
  ])('[MQTT-3.8.3-5] subscription options with %s: DISCONNECT, closed', async (_name, options, codes) => {
    const client = await connected();
    client.write(rawSubscribe(0x82, [`${uid()}/x`, options]));
    await expectDisconnect(client, codes);
  });

  it('[MQTT-3.8.4-1][MQTT-3.8.4-2][MQTT-2.2.1-6] a SUBSCRIBE is answered by a SUBACK with its packet id', async () => {
    const client = await connected();
    client.send({
      type: PacketType.Subscribe,
      packetId: 0x0a0b,
      subscriptions: [subscription(`${uid()}/a`, { qos: 1 })],
      properties: undefined,
    });
    const { packet: suback, frame } = await client.nextReceived();
    expect(suback).toMatchObject({ type: PacketType.Suback, packetId: 0x0a0b, reasonCodes: [1] });
    expect(frame.bytes.toString('hex')).toBe('90040a0b0001');
  });

  it('[MQTT-3.8.4-3] a filter identical to an existing subscription replaces it: new options, one delivery', async () => {
    const topic = `${uid()}/re`;
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(topic, { qos: 2 })], { subscriptionIdentifiers: [3] });
    await subscribeOn(sub, 2, [subscription(topic, { qos: 0 })], { subscriptionIdentifiers: [4] });
    await publishWait(topic, 'x');
    const got = await sub.publishes(1);
    expect(got.map((p) => [p.qos, p.properties?.subscriptionIdentifiers])).toEqual([[0, [4]]]);
  });

  it('[MQTT-3.8.4-4] replacing with Retain Handling 0 re-sends the retained messages; no live message is lost', async () => {
    const topic = `${uid()}/re`;
    await publishWait(topic, 'retained', { retain: true });
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(topic, { qos: 1 })]);
    const first = await sub.expect(PacketType.Publish);
    sub.send(ack(PacketType.Puback, first.packetId!));
    const pub = await connected();
    for (let i = 1; i <= 20; i++) pub.send(publishPacket(topic, `live${i}`, { qos: 1, packetId: i }));
    sub.send({
      type: PacketType.Subscribe,
      packetId: 2,
      subscriptions: [subscription(topic, { qos: 1, retainHandling: 0 })],
      properties: undefined,
    });
    const seen: string[] = [];
    let subacks = 0;
    while (seen.filter((s) => s.startsWith('live')).length < 20 || subacks === 0) {
      const p = await sub.next(1000);
      if (p.type === PacketType.Suback) subacks++;
      if (p.type !== PacketType.Publish) continue;
      seen.push(p.payload.toString());
      sub.send(ack(PacketType.Puback, p.packetId!));
    }
    for (const p of await quietFor(sub, 200)) {
      seen.push(p.payload.toString());
      sub.send(ack(PacketType.Puback, p.packetId!));
    }
    expect(seen.filter((s) => s === 'retained')).toHaveLength(1);
    expect(seen.filter((s) => s.startsWith('live'))).toEqual(
      Array.from({ length: 20 }, (_, i) => `live${i + 1}`),
    );
  });

  it('[MQTT-3.8.4-5] several filters in one SUBSCRIBE act like SUBSCRIBEs in a row, with one SUBACK', async () => {
    const base = uid();
    const sub = await connected();
    const suback = await subscribeOn(sub, 1, [
      subscription(`${base}/a`, { qos: 0 }),
      subscription(`${base}/a`, { qos: 1 }),
      subscription(`${base}/b`, { qos: 2 }),
    ]);
    expect(suback.reasonCodes).toEqual([0, 1, 2]);
    expect(await sub.collectFor(100)).toEqual([]);
    await publishWait(`${base}/a`, 'a');
    expect((await sub.publishes(1)).map((p) => p.qos)).toEqual([1]);
  });

  it('[MQTT-3.8.4-6][MQTT-3.9.3-1] the SUBACK has one reason code per filter, in their order', async () => {
    const base = uid();
    const sub = await connected();
    const filters: Subscription[] = [
      subscription(`${base}/2`, { qos: 2 }),
      subscription(`${base}/#/bad`, { qos: 1 }),
      subscription(`${base}/0`, { qos: 0 }),
      subscription(`${base}/1`, { qos: 1 }),
    ];
    const suback = await subscribeOn(sub, 1, filters);
    expect(suback.reasonCodes).toHaveLength(4);
    expect(suback.reasonCodes[0]).toBe(2);
    expect(suback.reasonCodes[1]).toBeGreaterThanOrEqual(0x80);
    expect(suback.reasonCodes.slice(2)).toEqual([0, 1]);
  });

  it('[MQTT-3.8.4-7][MQTT-3.9.3-2] each SUBACK code is the granted QoS or a failure code of the Subscribe table', async () => {
    const base = uid();
    const sub = await connected();
    const suback = await subscribeOn(sub, 1, [
      subscription(`${base}/ok`, { qos: 2 }),
      subscription(`${base}/a+`, { qos: 1 }),
      subscription(`$share/${base}`, { qos: 1 }),
      subscription('', { qos: 0 }),
    ]);
    expect(suback.reasonCodes[0]).toBe(2);
    for (const code of suback.reasonCodes.slice(1)) {
      expect(code).toBeGreaterThanOrEqual(0x80);
      expect(ALLOWED_CODES.suback).toContain(code);
    }
  });

  it('[MQTT-3.8.4-8] a delivery has the lower of the published QoS and the granted QoS', async () => {
    const base = uid();
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(`${base}/0`, { qos: 0 }), subscription(`${base}/1`, { qos: 1 })]);
    const pub = await connected();
    pub.send(publishPacket(`${base}/0`, 'x', { qos: 2, packetId: 1 }));
    pub.send(publishPacket(`${base}/1`, 'x', { qos: 2, packetId: 2 }));
    pub.send(publishPacket(`${base}/1`, 'x', { qos: 0 }));
    const got = await sub.publishes(3);
    expect(got.map((p) => [p.topicName.slice(-1), p.qos])).toEqual([
      ['0', 0],
      ['1', 1],
      ['1', 0],
    ]);
  });
});

describe('SUBACK, UNSUBSCRIBE and UNSUBACK (§3.9 … §3.11)', () => {
  it('[MQTT-3.9.2-2] a SUBACK carries no User Property and fits a Maximum Packet Size of 8', async () => {
    const sub = await clients.connect({ clientId: uid(), properties: { maximumPacketSize: 8 } });
    sub.send({
      type: PacketType.Subscribe,
      packetId: 3,
      subscriptions: [subscription(`${uid()}/a`), subscription('a/#/b')],
      properties: undefined,
    });
    const { packet: suback, frame } = await sub.nextReceived();
    expect(suback).toMatchObject({ type: PacketType.Suback, packetId: 3 });
    expect(frame.bytes.length).toBeLessThanOrEqual(8);
    expect(suback.type === PacketType.Suback && suback.properties?.userProperties).toBeFalsy();
  });

  it('[MQTT-3.10.1-1] UNSUBSCRIBE with fixed-header flags 0000: DISCONNECT 0x81, closed', async () => {
    const client = await connected();
    client.write(packet(0xa0, u16(1), props(), str('a/b')));
    await expectDisconnect(client, [0x81]);
  });

  it('[MQTT-3.10.3-1] an UNSUBSCRIBE filter that is not well-formed UTF-8: DISCONNECT 0x81, closed', async () => {
    const client = await connected();
    client.write(packet(0xa2, u16(1), props(), str(Buffer.from([0x61, 0xc3]))));
    await expectDisconnect(client, [0x81]);
  });

  it('[MQTT-3.10.3-2] an UNSUBSCRIBE without any filter: DISCONNECT 0x81 or 0x82, closed', async () => {
    const client = await connected();
    client.write(packet(0xa2, u16(1), props()));
    await expectDisconnect(client, [0x81, 0x82]);
  });

  it('[MQTT-3.10.4-1] filters are compared character by character: only an exact match is removed', async () => {
    const base = uid();
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(`${base}/+`), subscription(`${base}/a`)]);
    const unsuback = await unsubscribeOn(sub, 2, [`${base}/a/`, `${base}/A`, `${base}/#`, `${base}/a`]);
    expect(unsuback.reasonCodes).toEqual([0x11, 0x11, 0x11, 0x00]);
    await publishWait(`${base}/a`, 'still');
    const got = await sub.publishes(1);
    expect(got.map((p) => p.payload.toString())).toEqual(['still']);
  });

  it('[MQTT-3.10.4-2] after UNSUBSCRIBE no new message is sent for the filter', async () => {
    const topic = `${uid()}/u`;
    const sub = await clients.subscriber({ clientId: uid() }, [topic]);
    await unsubscribeOn(sub, 2, [topic]);
    await publishWait(topic, 'after');
    expect(await quietFor(sub)).toEqual([]);
  });

  it('[MQTT-3.10.4-3] a QoS 1 or 2 delivery started before the UNSUBSCRIBE is completed', async () => {
    const topic = `${uid()}/u`;
    const sub = await clients.subscriber({ clientId: uid() }, [subscription(topic, { qos: 2 })]);
    const pub = await connected();
    pub.send(publishPacket(topic, 'x', { qos: 2, packetId: 1 }));
    const delivered = await sub.expect(PacketType.Publish);
    sub.send({ type: PacketType.Unsubscribe, packetId: 2, topicFilters: [topic], properties: undefined });
    expect(await sub.expect(PacketType.Unsuback)).toMatchObject({ packetId: 2, reasonCodes: [0] });
    sub.send(ack(PacketType.Pubrec, delivered.packetId!));
    expect(await sub.expect(PacketType.Pubrel)).toMatchObject({ packetId: delivered.packetId });
    sub.send(ack(PacketType.Pubcomp, delivered.packetId!));
    expect(await sub.collectFor(150)).toEqual([]);
  });

  it('[MQTT-3.10.4-4][MQTT-3.10.4-5][MQTT-2.2.1-6] an UNSUBSCRIBE is answered by an UNSUBACK with its id, also when nothing was removed', async () => {
    const client = await connected();
    client.send({
      type: PacketType.Unsubscribe,
      packetId: 0x0102,
      topicFilters: ['never/was'],
      properties: undefined,
    });
    const { packet: unsuback, frame } = await client.nextReceived();
    expect(unsuback).toMatchObject({ type: PacketType.Unsuback, packetId: 0x0102, reasonCodes: [0x11] });
    expect(frame.bytes.toString('hex')).toBe('b00401020011');
  });

  it('[MQTT-3.10.4-6][MQTT-3.11.3-1] several filters in one UNSUBSCRIBE: one UNSUBACK, one code per filter in order', async () => {
    const base = uid();
    const sub = await clients.subscriber({ clientId: uid() }, [`${base}/a`, `${base}/c`]);
    sub.send({
      type: PacketType.Unsubscribe,
      packetId: 4,
      topicFilters: [`${base}/a`, `${base}/b`, `${base}/c`, `${base}/a`],
      properties: undefined,
    });
    expect(await sub.expect(PacketType.Unsuback)).toMatchObject({
      packetId: 4,
      reasonCodes: [0, 0x11, 0, 0x11],
    });
    expect(await sub.collectFor(100)).toEqual([]);
  });

  it('[MQTT-3.11.2-2] an UNSUBACK carries no User Property and fits a Maximum Packet Size of 8', async () => {
    const sub = await clients.connect({ clientId: uid(), properties: { maximumPacketSize: 8 } });
    sub.send({
      type: PacketType.Unsubscribe,
      packetId: 3,
      topicFilters: ['x/y', 'z'],
      properties: undefined,
    });
    const { packet: unsuback, frame } = await sub.nextReceived();
    expect(unsuback).toMatchObject({ type: PacketType.Unsuback, packetId: 3 });
    expect(frame.bytes.length).toBeLessThanOrEqual(8);
    expect(unsuback.type === PacketType.Unsuback && unsuback.properties?.userProperties).toBeFalsy();
  });

  it('[MQTT-3.11.3-2] UNSUBACK codes are Unsubscribe Reason Codes', async () => {
    const base = uid();
    const sub = await clients.subscriber({ clientId: uid() }, [`${base}/a`]);
    const unsuback = await unsubscribeOn(sub, 2, [`${base}/a`, `${base}/b`, `${base}/#/x`]);
    expect(unsuback.reasonCodes.slice(0, 2)).toEqual([0x00, 0x11]);
    for (const code of unsuback.reasonCodes) expect(ALLOWED_CODES.unsuback).toContain(code);
  });
});

describe('topic names and filters (§4.7)', () => {
  it('[MQTT-4.7.0-1] wildcards are for filters only: a will topic with one is refused', async () => {
    for (const topicName of ['w/+', 'w/#']) {
      const client = await clients.open();
      client.send({
        type: PacketType.Connect,
        protocolName: 'MQTT',
        protocolVersion: 5,
        cleanStart: true,
        keepaliveSeconds: 0,
        clientId: uid(),
        will: { topicName, payload: Buffer.from('x'), qos: 0, retain: false, properties: undefined },
        username: undefined,
        password: undefined,
        properties: undefined,
      });
      const got = await client.packetsUntilClosed();
      expect(got.length).toBeLessThanOrEqual(1);
      if (got.length === 1) {
        expect(got[0]).toMatchObject({ type: PacketType.Connack });
        expect((got[0] as { reasonCode: number }).reasonCode).toBeGreaterThanOrEqual(0x80);
      }
    }
  });

  it('[MQTT-4.7.1-1] "#" must be last and alone in its level: other forms fail in the SUBACK', async () => {
    const base = uid();
    const sub = await connected();
    const suback = await subscribeOn(sub, 1, [
      subscription(`${base}/#/x`),
      subscription(`${base}/a#`),
      subscription(`${base}/#`),
      subscription('#'),
    ]);
    expect(suback.reasonCodes[0]).toBeGreaterThanOrEqual(0x80);
    expect(suback.reasonCodes[1]).toBeGreaterThanOrEqual(0x80);
    expect(suback.reasonCodes.slice(2)).toEqual([0, 0]);
  });

  it('[MQTT-4.7.1-2] "+" must fill a whole level: other forms fail, "+" matches one level', async () => {
    const base = uid();
    const sub = await connected();
    const suback = await subscribeOn(sub, 1, [subscription(`${base}/a+`), subscription(`${base}/+/c`)]);
    expect(suback.reasonCodes[0]).toBeGreaterThanOrEqual(0x80);
    expect(suback.reasonCodes[1]).toBe(0);
    const pub = await connected();
    for (const t of [`${base}/b/c`, `${base}//c`, `${base}/b/b/c`]) pub.send(publishPacket(t, t));
    expect((await sub.publishes(2)).map((p) => p.topicName)).toEqual([`${base}/b/c`, `${base}//c`]);
  });

  it('[MQTT-4.7.2-1] filters starting with "#" or "+" do not match $SYS topics; "$SYS/#" does', async () => {
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription('#'), subscription('+/broker/#')]);
    const sys = await connected();
    await subscribeOn(sys, 1, [subscription('$SYS/#')]);
    const [wild, own] = await Promise.all([quietFor(sub, 1300), quietFor(sys, 1300)]);
    expect(own.length).toBeGreaterThan(0);
    expect(wild.filter((p) => p.topicName.startsWith('$'))).toEqual([]);
  });

  it('[MQTT-4.7.3-1] topic names and filters are at least one character: empty ones are refused', async () => {
    const sub = await connected();
    const suback = await subscribeOn(sub, 1, [subscription('')]);
    expect(suback.reasonCodes[0]).toBeGreaterThanOrEqual(0x80);
    const pub = await connected();
    // An empty topic name without a Topic Alias.
    pub.write(packet(0x30, str(''), props(), Buffer.from('x')));
    await expectDisconnect(pub, [0x81, 0x82]);
  });

  it('[MQTT-4.7.3-2] a topic with U+0000: DISCONNECT 0x81, closed', async () => {
    const pub = await connected();
    pub.write(packet(0x30, str(Buffer.from([0x61, 0x00, 0x62])), props(), Buffer.from('x')));
    await expectDisconnect(pub, [0x81]);
  });

  it('[MQTT-4.7.3-4] no normalisation when matching: case, Unicode forms and U+FEFF are kept as they are', async () => {
    const base = uid();
    const composed = `${base}/caf\u00e9`;
    const decomposed = `${base}/cafe\u0301`;
    const bom = `${base}/\ufeffx`;
    const sub = await connected();
    await subscribeOn(sub, 1, [subscription(composed), subscription(`${base}/X`), subscription(bom)]);
    const pub = await connected();
    for (const t of [
      decomposed,
      `${base}/x`,
      `${base}/x`.replace('/x', '/\ufeffX'),
      composed,
      `${base}/X`,
      bom,
    ]) {
      pub.send(publishPacket(t, t));
    }
    expect((await sub.publishes(3)).map((p) => p.topicName)).toEqual([composed, `${base}/X`, bom]);
  });
});

describe('shared subscriptions (§4.8.2)', () => {
  it('[MQTT-4.8.2-1] a $share filter needs a ShareName of at least one character', async () => {
    const sub = await connected();
    const suback = await subscribeOn(sub, 1, [
      subscription(`$share//${uid()}`),
      subscription(`$share/g/${uid()}`),
    ]);
    expect(suback.reasonCodes[0]).toBeGreaterThanOrEqual(0x80);
    expect(suback.reasonCodes[1]).toBe(0);
  });

  it('[MQTT-4.8.2-2] the ShareName has no "/", "+" or "#", and is followed by "/" and a filter', async () => {
    const sub = await connected();
    const suback = await subscribeOn(sub, 1, [
      subscription('$share/a+b/t'),
      subscription('$share/a#/t'),
      subscription('$share/g'),
      subscription('$share/g/'),
    ]);
    expect(suback.reasonCodes.slice(0, 3).every((c) => c >= 0x80)).toBe(true);
    // "$share/g/" names the filter "": invalid too (§4.7.3).
    expect(suback.reasonCodes[3]).toBeGreaterThanOrEqual(0x80);
  });

  it('[MQTT-4.8.2-3] each member of a shared subscription gets messages at the QoS it was granted', async () => {
    const base = uid();
    const group = `$share/g${base}/${base}/t`;
    const zero = await clients.subscriber({ clientId: uid() }, [subscription(group, { qos: 0 })]);
    const one = await clients.subscriber({ clientId: uid() }, [subscription(group, { qos: 1 })]);
    const pub = await connected();
    for (let i = 1; i <= 10; i++) pub.send(publishPacket(`${base}/t`, `${i}`, { qos: 2, packetId: i }));
    const a: PublishPacket[] = [];
    const b: PublishPacket[] = [];
    const deadline = performance.now() + 3000;
    while (a.length + b.length < 10 && performance.now() < deadline) {
      a.push(...(await quietFor(zero, 50)));
      b.push(...(await quietFor(one, 50)));
    }
    expect(a.length + b.length).toBe(10);
    expect(a.every((p) => p.qos === 0)).toBe(true);
    expect(b.every((p) => p.qos === 1)).toBe(true);
  });
});
