import { describe, expect, it } from 'vitest';
import { sleep } from './conformance-harness.js';
import {
  ALLOWED_CODES,
  ack,
  type Client5,
  expectDisconnect,
  PacketType,
  type Properties,
  type PublishPacket,
  pingreq,
  props,
  publishes,
  publishPacket,
  rawPublish,
  str,
  subscribeOn,
  subscription,
  u16,
  uid,
  useBroker,
} from './conformance5-harness.js';

// MQTT 5.0 PUBLISH, its acknowledgements and the QoS flows (§2.2, §3.3 … §3.7, §4.3, §4.5, §4.6,
// §4.9) against the built broker (defaults, in-memory store), over raw sockets.

const clients = useBroker();

async function subscriberTo(topic: string, qos: 0 | 1 | 2 = 2, properties: Properties = {}) {
  return clients.subscriber({ clientId: uid('sub'), properties }, [subscription(topic, { qos })]);
}

async function publisher() {
  return clients.connect({ clientId: uid('pub') });
}

/** A QoS 1 publish answered by PUBACK; returns the PUBACK's reason code. */
async function publish1(
  client: Client5,
  topic: string,
  payload: string,
  packetId = 1,
  properties?: Properties,
) {
  client.send(publishPacket(topic, payload, { qos: 1, packetId, properties }));
  const puback = await client.expect(PacketType.Puback);
  expect(puback.packetId).toBe(packetId);
  return puback.reasonCode;
}

describe('packet identifiers and properties (§2.2)', () => {
  it('[MQTT-2.2.1-2] a QoS 0 PUBLISH from the broker has no packet identifier', async () => {
    const topic = `${uid()}/q0`;
    const sub = await subscriberTo(topic, 0);
    (await publisher()).send(publishPacket(topic, 'abc'));
    const { packet, frame } = await sub.nextReceived();
    expect(packet).toMatchObject({ type: PacketType.Publish, qos: 0, packetId: undefined });
    // Topic, Property Length 0, payload: nothing in between.
    expect(frame.body.toString('hex')).toBe(
      Buffer.concat([str(topic), Buffer.from([0]), Buffer.from('abc')]).toString('hex'),
    );
  });

  it('[MQTT-2.2.1-4] QoS 1 and 2 PUBLISH packets from the broker carry distinct non-zero identifiers not in use', async () => {
    const topic = `${uid()}/ids`;
    const sub = await subscriberTo(topic, 2);
    const pub = await publisher();
    for (let i = 1; i <= 6; i++)
      pub.send(publishPacket(topic, `m${i}`, { qos: i % 2 === 0 ? 2 : 1, packetId: i }));
    const got: PublishPacket[] = [];
    for (let i = 0; i < 6; i++) got.push(await sub.expect(PacketType.Publish));
    const ids = got.map((p) => p.packetId);
    expect(ids.every((id) => typeof id === 'number' && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(6);
  });

  it('[MQTT-2.2.1-5] PUBACK, PUBREC, PUBREL and PUBCOMP carry the identifier of their PUBLISH', async () => {
    const topic = `${uid()}/acks`;
    const sub = await subscriberTo(topic, 2);
    const pub = await publisher();
    pub.send(publishPacket(topic, 'one', { qos: 1, packetId: 0x1234 }));
    expect(await pub.expect(PacketType.Puback)).toMatchObject({ packetId: 0x1234 });
    pub.send(publishPacket(topic, 'two', { qos: 2, packetId: 0x4321 }));
    expect(await pub.expect(PacketType.Pubrec)).toMatchObject({ packetId: 0x4321 });
    pub.send(ack(PacketType.Pubrel, 0x4321));
    expect(await pub.expect(PacketType.Pubcomp)).toMatchObject({ packetId: 0x4321 });
    const first = await sub.expect(PacketType.Publish);
    sub.send(ack(PacketType.Puback, first.packetId!));
    const second = await sub.expect(PacketType.Publish);
    sub.send(ack(PacketType.Pubrec, second.packetId!));
    expect(await sub.expect(PacketType.Pubrel)).toMatchObject({ packetId: second.packetId });
  });

  it('[MQTT-2.2.2-1] a packet without properties says so with a Property Length of 0', async () => {
    const topic = `${uid()}/plain`;
    const sub = await subscriberTo(topic, 1);
    const pub = await publisher();
    pub.send(publishPacket(topic, 'x', { qos: 1, packetId: 9 }));
    const { frame } = await sub.nextReceived();
    const topicLength = frame.body.readUInt16BE(0);
    // Topic, packet id, then Property Length 0.
    expect(frame.body[2 + topicLength + 2]).toBe(0);
    const { frame: suback } = await (async () => {
      sub.send({
        type: PacketType.Subscribe,
        packetId: 5,
        subscriptions: [subscription(`${topic}/more`)],
        properties: undefined,
      });
      let next = await sub.nextReceived();
      while (next.packet.type !== PacketType.Suback) next = await sub.nextReceived();
      return next;
    })();
    expect(suback.bytes.toString('hex')).toBe('9004000500' + '00');
  });
});

describe('PUBLISH flags (§3.3.1)', () => {
  it('[MQTT-3.3.1-2] a QoS 0 delivery has DUP 0, also when it came from a QoS 1 PUBLISH with DUP 1', async () => {
    const topic = `${uid()}/dup0`;
    const sub = await subscriberTo(topic, 0);
    const pub = await publisher();
    pub.send(publishPacket(topic, 'x', { qos: 1, dup: true, packetId: 4 }));
    const { packet, frame } = await sub.nextReceived();
    expect(packet).toMatchObject({ qos: 0, dup: false });
    expect(frame.bytes[0]).toBe(0x30);
  });

  it('[MQTT-3.3.1-3] the DUP of a forwarded PUBLISH is its own: 0 on a first delivery of a DUP 1 PUBLISH', async () => {
    const topic = `${uid()}/dup`;
    const sub = await subscriberTo(topic, 1);
    const pub = await publisher();
    pub.send(publishPacket(topic, 'x', { qos: 1, dup: true, packetId: 4 }));
    expect(await sub.expect(PacketType.Publish)).toMatchObject({ qos: 1, dup: false });
  });

  it('[MQTT-3.3.1-4] a PUBLISH with both QoS bits set: DISCONNECT 0x81, closed, not delivered', async () => {
    const topic = `${uid()}/qos3`;
    const sub = await subscriberTo(topic, 2);
    const pub = await publisher();
    pub.write(rawPublish(0x36, topic, 1, props(), 'x'));
    await expectDisconnect(pub, [0x81]);
    expect(publishes(await sub.collectFor(200))).toEqual([]);
  });

  it('[MQTT-3.3.1-5] RETAIN 1 replaces the retained message of the topic and keeps its QoS', async () => {
    const topic = `${uid()}/r`;
    const pub = await publisher();
    pub.send(publishPacket(topic, 'first', { retain: true }));
    pub.send(publishPacket(topic, 'second', { qos: 1, packetId: 3, retain: true }));
    await pub.expect(PacketType.Puback);
    const sub = await subscriberTo(topic, 2);
    const retained = await sub.expect(PacketType.Publish);
    expect([retained.payload.toString(), retained.qos, retained.retain]).toEqual(['second', 1, true]);
    expect(publishes(await sub.collectFor(200))).toEqual([]);
  });

  it('[MQTT-3.3.1-6] a retained PUBLISH with an empty payload is delivered as usual and removes the retained message', async () => {
    const topic = `${uid()}/r`;
    const pub = await publisher();
    pub.send(publishPacket(topic, 'kept', { retain: true }));
    const sub = await clients.subscriber({ clientId: uid() }, [
      subscription(topic, { qos: 1, retainAsPublished: true }),
    ]);
    expect((await sub.expect(PacketType.Publish)).payload.toString()).toBe('kept');
    pub.send(publishPacket(topic, '', { retain: true }));
    const cleared = await sub.expect(PacketType.Publish);
    expect([cleared.payload.length, cleared.retain]).toEqual([0, true]);
    const late = await subscriberTo(topic);
    expect(publishes(await late.collectFor(250))).toEqual([]);
  });

  it('[MQTT-3.3.1-7] a retained message with an empty payload is never stored', async () => {
    const topic = `${uid()}/r`;
    const pub = await publisher();
    pub.send(publishPacket(topic, '', { qos: 1, packetId: 2, retain: true }));
    await pub.expect(PacketType.Puback);
    const late = await subscriberTo(topic);
    expect(publishes(await late.collectFor(250))).toEqual([]);
  });

  it('[MQTT-3.3.1-8] RETAIN 0 neither stores the message nor removes or replaces the retained one', async () => {
    const topic = `${uid()}/r`;
    const pub = await publisher();
    pub.send(publishPacket(topic, 'retained', { retain: true }));
    await publish1(pub, topic, 'not retained', 5);
    const late = await subscriberTo(topic);
    const got = await late.publishes(1, 250);
    expect(got.map((p) => [p.payload.toString(), p.retain])).toEqual([['retained', true]]);
    const other = `${uid()}/none`;
    await publish1(pub, other, 'plain', 6);
    const none = await subscriberTo(other);
    expect(publishes(await none.collectFor(200))).toEqual([]);
  });
});

describe('PUBLISH variable header and properties (§3.3.2)', () => {
  it('[MQTT-3.3.2-1] a topic name that is not well-formed UTF-8: DISCONNECT 0x81, closed', async () => {
    const pub = await publisher();
    pub.write(rawPublish(0x30, Buffer.from([0x61, 0xc3, 0x28]), undefined, props(), 'x'));
    await expectDisconnect(pub, [0x81]);
  });

  it('[MQTT-3.3.2-2] a wildcard in the topic name: refused (PUBACK 0x90 or DISCONNECT), never delivered', async () => {
    const base = uid();
    const sub = await subscriberTo(`${base}/#`, 2);
    for (const topic of [`${base}/+`, `${base}/#`]) {
      const pub = await publisher();
      pub.send(publishPacket(topic, 'x', { qos: 1, packetId: 1 }));
      const answer = await pub.next();
      if (answer.type === PacketType.Puback) expect(answer.reasonCode).toBe(0x90);
      else expect(answer).toMatchObject({ type: PacketType.Disconnect });
      if (answer.type === PacketType.Disconnect) expect([0x82, 0x90]).toContain(answer.reasonCode);
    }
    expect(publishes(await sub.collectFor(200))).toEqual([]);
  });

  it('[MQTT-3.3.2-3] the topic name delivered is the published one, which matches the filter', async () => {
    const base = uid();
    const sub = await subscriberTo(`${base}/+/x/#`, 0);
    const pub = await publisher();
    pub.send(publishPacket(`${base}/a/x/b/c`, '1'), publishPacket(`${base}/a/y`, '2'));
    pub.send(publishPacket(`${base}/b/x`, '3'));
    const got = (await sub.publishes(2)).map((p) => p.topicName);
    expect(got).toEqual([`${base}/a/x/b/c`, `${base}/b/x`]);
  });

  it.each<[string, Properties]>([
    ['[MQTT-3.3.2-4] the Payload Format Indicator', { payloadFormatIndicator: 1 }],
    ['[MQTT-3.3.2-15] the Response Topic', { responseTopic: 'reply/to/ü' }],
    ['[MQTT-3.3.2-16] the Correlation Data', { correlationData: Buffer.from([0, 1, 2, 0xff]) }],
    [
      '[MQTT-3.3.2-17] every User Property',
      {
        userProperties: [
          ['k', 'v'],
          ['k', 'v'],
          ['', ''],
        ],
      },
    ],
    ['[MQTT-3.3.2-20] the Content Type', { contentType: 'application/json; charset=utf-8' }],
  ])('%s reaches every subscriber unaltered (QoS 0 and QoS 1)', async (_name, properties) => {
    const topic = `${uid()}/props`;
    const sub0 = await subscriberTo(topic, 0);
    const sub1 = await subscriberTo(topic, 1);
    (await publisher()).send(publishPacket(topic, 'payload', { qos: 1, packetId: 2, properties }));
    for (const sub of [sub0, sub1]) {
      expect((await sub.expect(PacketType.Publish)).properties).toEqual(properties);
    }
  });

  it('[MQTT-3.3.2-18] User Properties are forwarded in their order', async () => {
    const topic = `${uid()}/order`;
    const sub = await subscriberTo(topic, 1);
    const userProperties: Array<[string, string]> = [
      ['z', '1'],
      ['a', '2'],
      ['z', '0'],
      ['m', '3'],
      ['a', '1'],
    ];
    (await publisher()).send(publishPacket(topic, 'x', { properties: { userProperties } }));
    expect((await sub.expect(PacketType.Publish)).properties?.userProperties).toEqual(userProperties);
  });

  it('[MQTT-3.3.2-7] a Topic Alias does not outlive its connection: using it on the next one is a protocol error', async () => {
    const id = uid();
    const topic = `${id}/aliased`;
    const sub = await subscriberTo(topic, 0);
    const first = await clients.connect({ clientId: id });
    first.send(publishPacket(topic, 'set', { properties: { topicAlias: 3 } }));
    expect((await sub.expect(PacketType.Publish)).payload.toString()).toBe('set');
    first.destroy();
    const second = await clients.connect({ clientId: id });
    second.send(publishPacket('', 'use', { properties: { topicAlias: 3 } }));
    await expectDisconnect(second, [0x82, 0x94]);
    expect(publishes(await sub.collectFor(150))).toEqual([]);
  });

  it('[MQTT-3.3.2-8] a PUBLISH with Topic Alias 0: DISCONNECT 0x94, not delivered', async () => {
    const topic = `${uid()}/alias0`;
    const sub = await subscriberTo(topic, 0);
    const pub = await publisher();
    pub.write(rawPublish(0x30, topic, undefined, props([0x23, u16(0)]), 'x'));
    await expectDisconnect(pub, [0x94]);
    expect(publishes(await sub.collectFor(150))).toEqual([]);
  });

  it('[MQTT-3.3.2-12] every Topic Alias from 1 to the Topic Alias Maximum of the CONNACK is accepted', async () => {
    const base = uid();
    const sub = await subscriberTo(`${base}/#`, 0);
    const pub = await publisher();
    const maximum = pub.connack.properties?.topicAliasMaximum ?? 0;
    expect(maximum).toBeGreaterThan(0);
    for (let alias = 1; alias <= maximum; alias++) {
      pub.send(publishPacket(`${base}/${alias}`, 'set', { properties: { topicAlias: alias } }));
    }
    for (let alias = maximum; alias >= 1; alias--) {
      pub.send(publishPacket('', `use ${alias}`, { properties: { topicAlias: alias } }));
    }
    pub.send(pingreq);
    await pub.expect(PacketType.Pingresp);
    const got = await sub.publishes(2 * maximum);
    expect(got).toHaveLength(2 * maximum);
    expect(got.slice(maximum).map((p) => [p.topicName, p.payload.toString()])).toEqual(
      Array.from({ length: maximum }, (_, i) => [`${base}/${maximum - i}`, `use ${maximum - i}`]),
    );
  });

  it('[MQTT-3.3.2-13] a Response Topic that is not well-formed UTF-8: DISCONNECT 0x81, closed', async () => {
    const pub = await publisher();
    pub.write(rawPublish(0x30, 'a', undefined, props([0x08, str(Buffer.from([0x72, 0xc0, 0xaf]))]), 'x'));
    await expectDisconnect(pub, [0x81]);
  });

  it('[MQTT-3.3.2-19] a Content Type that is not well-formed UTF-8: DISCONNECT 0x81, closed', async () => {
    const pub = await publisher();
    pub.write(rawPublish(0x30, 'a', undefined, props([0x03, str(Buffer.from([0xe0, 0x80, 0x80]))]), 'x'));
    await expectDisconnect(pub, [0x81]);
  });
});

describe('PUBLISH actions and flow control (§3.3.4, §4.9)', () => {
  it('[MQTT-3.3.4-1] QoS 0 gets no answer, QoS 1 a PUBACK, QoS 2 a PUBREC', async () => {
    const topic = `${uid()}/answers`;
    const pub = await publisher();
    pub.send(publishPacket(topic, '0'));
    pub.send(publishPacket(topic, '1', { qos: 1, packetId: 11 }));
    pub.send(publishPacket(topic, '2', { qos: 2, packetId: 12 }));
    pub.send(pingreq);
    const got = await pub.raw.take(3);
    expect(got.map((f) => f.type)).toEqual([PacketType.Puback, PacketType.Pubrec, PacketType.Pingresp]);
  });

  it('[MQTT-3.3.4-9] at most Receive Maximum unacknowledged QoS 1/2 PUBLISH packets go to a client', async () => {
    const topic = `${uid()}/rm`;
    const sub = await subscriberTo(topic, 2, { receiveMaximum: 2 });
    const pub = await publisher();
    for (let i = 1; i <= 6; i++)
      pub.send(publishPacket(topic, `m${i}`, { qos: i % 2 === 0 ? 2 : 1, packetId: i }));
    const first = await sub.publishes(2, 200);
    expect(first.map((p) => p.payload.toString())).toEqual(['m1', 'm2']);
    // PUBACK frees a slot; PUBREC does not (QoS 2 holds it until PUBCOMP).
    sub.send(ack(PacketType.Puback, first[0]!.packetId!));
    const third = await sub.expect(PacketType.Publish);
    expect(third.payload.toString()).toBe('m3');
    sub.send(ack(PacketType.Pubrec, first[1]!.packetId!));
    expect(await sub.expect(PacketType.Pubrel)).toMatchObject({ packetId: first[1]!.packetId });
    expect(publishes(await sub.collectFor(200))).toEqual([]);
    sub.send(ack(PacketType.Pubcomp, first[1]!.packetId!));
    expect((await sub.expect(PacketType.Publish)).payload.toString()).toBe('m4');
  });

  it('[MQTT-3.3.4-10] with the Receive Maximum used up, other packets still go out: PINGRESP, SUBACK, PUBACK, QoS 0', async () => {
    const topic = `${uid()}/full`;
    const sub = await subscriberTo(topic, 1, { receiveMaximum: 1 });
    const pub = await publisher();
    pub.send(
      publishPacket(topic, 'a', { qos: 1, packetId: 1 }),
      publishPacket(topic, 'b', { qos: 1, packetId: 2 }),
    );
    expect((await sub.expect(PacketType.Publish)).payload.toString()).toBe('a');
    expect(publishes(await sub.collectFor(150))).toEqual([]);
    sub.send(pingreq);
    await sub.expect(PacketType.Pingresp);
    const suback = await subscribeOn(sub, 9, [subscription(`${topic}/zero`, { qos: 0 })]);
    expect(suback.reasonCodes).toEqual([0]);
    sub.send(publishPacket(`${topic}/own`, 'x', { qos: 1, packetId: 77 }));
    expect(await sub.expect(PacketType.Puback)).toMatchObject({ packetId: 77 });
    pub.send(publishPacket(`${topic}/zero`, 'q0'));
    expect(await sub.expect(PacketType.Publish)).toMatchObject({ qos: 0, topicName: `${topic}/zero` });
  });

  it('[MQTT-4.9.0-1] the send quota starts at the Receive Maximum and is not zero', async () => {
    const topic = `${uid()}/quota`;
    for (const receiveMaximum of [1, 3]) {
      const sub = await subscriberTo(topic, 1, { receiveMaximum });
      const pub = await publisher();
      for (let i = 1; i <= 5; i++) pub.send(publishPacket(topic, `m${i}`, { qos: 1, packetId: i }));
      expect(await sub.publishes(receiveMaximum, 200)).toHaveLength(receiveMaximum);
      sub.destroy();
    }
  });

  it('[MQTT-4.9.0-2] at a send quota of 0 no QoS 1/2 PUBLISH goes out; each PUBACK lets one more go', async () => {
    const topic = `${uid()}/quota0`;
    const sub = await subscriberTo(topic, 1, { receiveMaximum: 1 });
    const pub = await publisher();
    for (let i = 1; i <= 3; i++) pub.send(publishPacket(topic, `m${i}`, { qos: 1, packetId: i }));
    for (let i = 1; i <= 3; i++) {
      const got = await sub.publishes(1, 150);
      expect(got.map((p) => p.payload.toString())).toEqual([`m${i}`]);
      sub.send(ack(PacketType.Puback, got[0]!.packetId!));
    }
  });

  it('[MQTT-4.9.0-3] at a send quota of 0 the broker still processes and answers the client: PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PINGREQ', async () => {
    const topic = `${uid()}/quota0b`;
    const sub = await subscriberTo(topic, 1, { receiveMaximum: 1 });
    const pub = await publisher();
    pub.send(
      publishPacket(topic, 'a', { qos: 1, packetId: 1 }),
      publishPacket(topic, 'b', { qos: 1, packetId: 2 }),
    );
    await sub.expect(PacketType.Publish);
    sub.send(publishPacket(`${topic}/x`, 'q2', { qos: 2, packetId: 5 }));
    expect(await sub.expect(PacketType.Pubrec)).toMatchObject({ packetId: 5 });
    sub.send(ack(PacketType.Pubrel, 5));
    expect(await sub.expect(PacketType.Pubcomp)).toMatchObject({ packetId: 5 });
    sub.send({
      type: PacketType.Unsubscribe,
      packetId: 6,
      topicFilters: ['nothing/here'],
      properties: undefined,
    });
    expect(await sub.expect(PacketType.Unsuback)).toMatchObject({ packetId: 6 });
    sub.send(pingreq);
    await sub.expect(PacketType.Pingresp);
  });
});

describe('acknowledgements (§3.4 … §3.7)', () => {
  it('[MQTT-3.4.2-1] PUBACK codes are PUBACK Reason Codes (0x00 with a subscriber, 0x00 or 0x10 without)', async () => {
    const topic = `${uid()}/pa`;
    const pub = await publisher();
    const alone = await publish1(pub, `${topic}/nobody`, 'x', 1);
    await subscriberTo(topic, 1);
    const heard = await publish1(pub, topic, 'x', 2);
    expect([0x00, 0x10]).toContain(alone);
    expect(heard).toBe(0);
    for (const code of [alone, heard]) expect(ALLOWED_CODES.puback).toContain(code);
  });

  it('[MQTT-3.5.2-1] PUBREC codes are PUBREC Reason Codes (0x00 with a subscriber, 0x00 or 0x10 without)', async () => {
    const topic = `${uid()}/pr`;
    const pub = await publisher();
    pub.send(publishPacket(`${topic}/nobody`, 'x', { qos: 2, packetId: 1 }));
    const alone = (await pub.expect(PacketType.Pubrec)).reasonCode;
    await subscriberTo(topic, 2);
    pub.send(publishPacket(topic, 'x', { qos: 2, packetId: 2 }));
    const heard = (await pub.expect(PacketType.Pubrec)).reasonCode;
    expect([0x00, 0x10]).toContain(alone);
    expect(heard).toBe(0);
  });

  it('[MQTT-3.6.1-1] a PUBREL with flags 0000: DISCONNECT 0x81, closed; the broker sends PUBREL with 0010', async () => {
    const topic = `${uid()}/rel`;
    const sub = await subscriberTo(topic, 2);
    const pub = await publisher();
    pub.send(publishPacket(topic, 'x', { qos: 2, packetId: 1 }));
    await pub.expect(PacketType.Pubrec);
    const delivered = await sub.expect(PacketType.Publish);
    sub.send(ack(PacketType.Pubrec, delivered.packetId!));
    const { frame } = await sub.nextReceived();
    expect(frame.bytes[0]).toBe(0x62);
    pub.write(Buffer.from([0x60, 0x02, 0x00, 0x01]));
    await expectDisconnect(pub, [0x81]);
  });

  it('[MQTT-3.6.2-1] PUBREL codes are PUBREL Reason Codes', async () => {
    const topic = `${uid()}/relcode`;
    const sub = await subscriberTo(topic, 2);
    (await publisher()).send(publishPacket(topic, 'x', { qos: 2, packetId: 1 }));
    const delivered = await sub.expect(PacketType.Publish);
    sub.send(ack(PacketType.Pubrec, delivered.packetId!));
    const pubrel = await sub.expect(PacketType.Pubrel);
    expect(ALLOWED_CODES.pubrel).toContain(pubrel.reasonCode);
    expect(pubrel.reasonCode).toBe(0);
  });

  it('[MQTT-3.7.2-1] PUBCOMP codes are PUBCOMP Reason Codes: 0x00 for a known id, 0x92 (or 0x00) for an unknown one', async () => {
    const pub = await publisher();
    pub.send(publishPacket(`${uid()}/comp`, 'x', { qos: 2, packetId: 3 }));
    await pub.expect(PacketType.Pubrec);
    pub.send(ack(PacketType.Pubrel, 3));
    expect(await pub.expect(PacketType.Pubcomp)).toMatchObject({ packetId: 3, reasonCode: 0 });
    pub.send(ack(PacketType.Pubrel, 999));
    const unknown = await pub.expect(PacketType.Pubcomp);
    expect(unknown.packetId).toBe(999);
    expect([0x00, 0x92]).toContain(unknown.reasonCode);
  });

  it.each([
    ['[MQTT-3.4.2-3] PUBACK'],
    ['[MQTT-3.5.2-3] PUBREC'],
    ['[MQTT-3.6.2-3] PUBREL'],
    ['[MQTT-3.7.2-3] PUBCOMP'],
  ])('%s carries no User Property and fits a Maximum Packet Size of 16', async (name) => {
    const maximumPacketSize = 16;
    // Short enough for the PUBLISH itself to fit the limit too (14 bytes at QoS 2).
    const topic = `s${Math.random().toString(36).slice(2, 7).padEnd(5, '0')}`;
    const client = await clients.subscriber({ clientId: uid(), properties: { maximumPacketSize } }, [
      subscription(topic, { qos: 2 }),
    ]);
    const frames: Array<{ type: number; length: number; userProperties: unknown }> = [];
    const take = async (type: number) => {
      const { packet, frame } = await client.nextReceived();
      expect(packet.type).toBe(type);
      frames.push({
        type,
        length: frame.bytes.length,
        userProperties: 'properties' in packet ? packet.properties?.userProperties : undefined,
      });
    };
    if (name.includes('PUBACK')) {
      client.send(publishPacket(`${topic}/p`, 'x', { qos: 1, packetId: 1 }));
      await take(PacketType.Puback);
    } else if (name.includes('PUBREC') || name.includes('PUBCOMP')) {
      client.send(publishPacket(`${topic}/p`, 'x', { qos: 2, packetId: 1 }));
      await take(PacketType.Pubrec);
      client.send(ack(PacketType.Pubrel, 1));
      await take(PacketType.Pubcomp);
      client.send(ack(PacketType.Pubrel, 4242));
      await take(PacketType.Pubcomp);
    } else {
      (await publisher()).send(publishPacket(topic, 'x', { qos: 2, packetId: 1 }));
      const delivered = await client.expect(PacketType.Publish);
      client.send(ack(PacketType.Pubrec, delivered.packetId!));
      await take(PacketType.Pubrel);
    }
    for (const frame of frames) {
      expect(frame.length).toBeLessThanOrEqual(maximumPacketSize);
      expect(frame.userProperties).toBeUndefined();
    }
  });
});

describe('QoS flows (§4.3)', () => {
  it('[MQTT-4.3.1-1] a QoS 0 delivery is a PUBLISH with QoS 0 and DUP 0', async () => {
    const topic = `${uid()}/q0`;
    const sub = await subscriberTo(topic, 2);
    (await publisher()).send(publishPacket(topic, 'x'));
    const { packet, frame } = await sub.nextReceived();
    expect(packet).toMatchObject({ type: PacketType.Publish, qos: 0, dup: false });
    expect(frame.bytes[0]! & 0x0e).toBe(0);
  });

  it('[MQTT-4.3.2-1][MQTT-4.3.2-2] QoS 1 deliveries take unused packet ids and go out with DUP 0', async () => {
    const topic = `${uid()}/q1`;
    const sub = await subscriberTo(topic, 1);
    const pub = await publisher();
    for (let i = 1; i <= 4; i++) pub.send(publishPacket(topic, `m${i}`, { qos: 1, packetId: 7 }));
    const got: PublishPacket[] = [];
    for (let i = 0; i < 4; i++) got.push(await sub.expect(PacketType.Publish));
    expect(got.map((p) => [p.qos, p.dup])).toEqual(Array(4).fill([1, false]));
    expect(new Set(got.map((p) => p.packetId)).size).toBe(4);
  });

  it('[MQTT-4.3.2-4] the broker answers a QoS 1 PUBLISH with a PUBACK carrying its packet id, after taking it', async () => {
    const topic = `${uid()}/own`;
    const sub = await subscriberTo(topic, 1);
    const pub = await publisher();
    pub.send(publishPacket(topic, 'x', { qos: 1, packetId: 0xfffe }));
    expect(await pub.expect(PacketType.Puback)).toMatchObject({ packetId: 0xfffe });
    expect((await sub.expect(PacketType.Publish)).payload.toString()).toBe('x');
  });

  it('[MQTT-4.3.2-5] after its PUBACK, a QoS 1 PUBLISH with the same id (DUP 1) is a new message', async () => {
    const topic = `${uid()}/again`;
    const sub = await subscriberTo(topic, 0);
    const pub = await publisher();
    await publish1(pub, topic, 'first', 5);
    pub.send(publishPacket(topic, 'second', { qos: 1, packetId: 5, dup: true }));
    await pub.expect(PacketType.Puback);
    const got = (await sub.publishes(2)).map((p) => p.payload.toString());
    expect(got).toEqual(['first', 'second']);
  });

  it('[MQTT-4.3.3-1][MQTT-4.3.3-2] QoS 2 deliveries take unused packet ids and go out with DUP 0', async () => {
    const topic = `${uid()}/q2`;
    const sub = await subscriberTo(topic, 2);
    const pub = await publisher();
    for (let i = 1; i <= 3; i++) pub.send(publishPacket(topic, `m${i}`, { qos: 2, packetId: i }));
    const got: PublishPacket[] = [];
    for (let i = 0; i < 3; i++) got.push(await sub.expect(PacketType.Publish));
    expect(got.map((p) => [p.qos, p.dup])).toEqual(Array(3).fill([2, false]));
    expect(new Set(got.map((p) => p.packetId)).size).toBe(3);
  });

  it('[MQTT-4.3.3-4] a PUBREC below 0x80 is answered with a PUBREL of the same id', async () => {
    const topic = `${uid()}/rec`;
    const sub = await subscriberTo(topic, 2);
    (await publisher()).send(publishPacket(topic, 'x', { qos: 2, packetId: 1 }));
    const delivered = await sub.expect(PacketType.Publish);
    sub.send(ack(PacketType.Pubrec, delivered.packetId!, 0x10));
    expect(await sub.expect(PacketType.Pubrel)).toMatchObject({ packetId: delivered.packetId });
  });

  it('[MQTT-4.3.3-6] once the PUBREL is out, the PUBLISH is never sent again (only the PUBREL, on reconnect)', async () => {
    const id = uid();
    const topic = `${id}/q2`;
    const session = { clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 60 } };
    const sub = await clients.subscriber(session, [subscription(topic, { qos: 2 })]);
    (await publisher()).send(publishPacket(topic, 'x', { qos: 2, packetId: 1 }));
    const delivered = await sub.expect(PacketType.Publish);
    sub.send(ack(PacketType.Pubrec, delivered.packetId!));
    await sub.expect(PacketType.Pubrel);
    sub.destroy();
    await sleep(50);
    const again = await clients.connect(session);
    expect(await again.expect(PacketType.Pubrel)).toMatchObject({ packetId: delivered.packetId });
    expect(await again.collectFor(250)).toEqual([]);
  });

  it('[MQTT-4.3.3-8] the broker answers a QoS 2 PUBLISH with a PUBREC carrying its packet id', async () => {
    const pub = await publisher();
    pub.send(publishPacket(`${uid()}/r`, 'x', { qos: 2, packetId: 0x0102 }));
    expect(await pub.expect(PacketType.Pubrec)).toMatchObject({ packetId: 0x0102 });
  });

  it('[MQTT-4.3.3-9] after a PUBREC of 0x80 or more, a PUBLISH with that id is a new message', async () => {
    const topic = `${uid()}/bad`;
    const sub = await subscriberTo(topic, 2);
    const pub = await publisher();
    pub.send(
      publishPacket(topic, Buffer.from([0xff, 0xfe]), {
        qos: 2,
        packetId: 8,
        properties: { payloadFormatIndicator: 1 },
      }),
    );
    expect((await pub.expect(PacketType.Pubrec)).reasonCode).toBeGreaterThanOrEqual(0x80);
    pub.send(publishPacket(topic, 'good', { qos: 2, packetId: 8 }));
    const pubrec = await pub.expect(PacketType.Pubrec);
    expect([pubrec.packetId, pubrec.reasonCode]).toEqual([8, 0]);
    expect((await sub.expect(PacketType.Publish)).payload.toString()).toBe('good');
  });

  it('[MQTT-4.3.3-10] before PUBREL, a repeated QoS 2 PUBLISH gets PUBREC again and is delivered once', async () => {
    const topic = `${uid()}/twice`;
    const sub = await subscriberTo(topic, 2);
    const pub = await publisher();
    pub.send(publishPacket(topic, 'x', { qos: 2, packetId: 4 }));
    await pub.expect(PacketType.Pubrec);
    pub.send(publishPacket(topic, 'x', { qos: 2, packetId: 4, dup: true }));
    expect(await pub.expect(PacketType.Pubrec)).toMatchObject({ packetId: 4, reasonCode: 0 });
    pub.send(ack(PacketType.Pubrel, 4));
    await pub.expect(PacketType.Pubcomp);
    expect(await sub.publishes(1, 250)).toHaveLength(1);
  });

  it('[MQTT-4.3.3-11] a PUBREL is answered with a PUBCOMP of the same id', async () => {
    const pub = await publisher();
    pub.send(publishPacket(`${uid()}/c`, 'x', { qos: 2, packetId: 0xabcd }));
    await pub.expect(PacketType.Pubrec);
    pub.send(ack(PacketType.Pubrel, 0xabcd));
    expect(await pub.expect(PacketType.Pubcomp)).toMatchObject({ packetId: 0xabcd });
  });

  it('[MQTT-4.3.3-12] after its PUBCOMP, a QoS 2 PUBLISH with the same id is a new message', async () => {
    const topic = `${uid()}/new`;
    const sub = await subscriberTo(topic, 0);
    const pub = await publisher();
    for (const payload of ['one', 'two']) {
      pub.send(publishPacket(topic, payload, { qos: 2, packetId: 6 }));
      await pub.expect(PacketType.Pubrec);
      pub.send(ack(PacketType.Pubrel, 6));
      await pub.expect(PacketType.Pubcomp);
    }
    expect((await sub.publishes(2)).map((p) => p.payload.toString())).toEqual(['one', 'two']);
  });

  it('[MQTT-4.3.3-13] a QoS 2 exchange completes although the message expired before the PUBREL', async () => {
    const pub = await publisher();
    pub.send(
      publishPacket(`${uid()}/exp`, 'x', { qos: 2, packetId: 2, properties: { messageExpiryInterval: 1 } }),
    );
    await pub.expect(PacketType.Pubrec);
    await sleep(1200);
    pub.send(ack(PacketType.Pubrel, 2));
    expect(await pub.expect(PacketType.Pubcomp)).toMatchObject({ packetId: 2, reasonCode: 0 });
  });
});

describe('message receipt and ordering (§4.5, §4.6)', () => {
  it('[MQTT-4.5.0-1] an accepted message goes to every session with a matching subscription', async () => {
    const base = uid();
    const subs = await Promise.all([
      subscriberTo(`${base}/a`, 1),
      subscriberTo(`${base}/+`, 0),
      subscriberTo(`${base}/#`, 2),
      clients.subscriber({ clientId: uid() }, [subscription('#', { retainHandling: 2 })]),
    ]);
    const outsider = await subscriberTo(`${base}/b`, 1);
    await publish1(await publisher(), `${base}/a`, 'fan-out', 3);
    for (const sub of subs) expect((await sub.expect(PacketType.Publish)).payload.toString()).toBe('fan-out');
    expect(publishes(await outsider.collectFor(100))).toEqual([]);
  });

  it('[MQTT-4.6.0-5] messages of one client on one topic and QoS reach a subscriber in the order sent', async () => {
    const topic = `${uid()}/ordered`;
    const sub = await subscriberTo(topic, 2);
    const pub = await publisher();
    for (let i = 1; i <= 40; i++) pub.send(publishPacket(topic, `${i}`, { qos: 1, packetId: i }));
    const got: string[] = [];
    while (got.length < 40) {
      const p = await sub.expect(PacketType.Publish);
      got.push(p.payload.toString());
      sub.send(ack(PacketType.Puback, p.packetId!));
    }
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => `${i + 1}`));
  });

  it('[MQTT-4.6.0-6] every topic is ordered on non-shared subscriptions: interleaved topics each keep their order', async () => {
    const base = uid();
    const sub = await subscriberTo(`${base}/#`, 0);
    const pub = await publisher();
    for (let i = 0; i < 30; i++) pub.send(publishPacket(`${base}/${i % 3}`, `${i}`));
    const got = await sub.publishes(30);
    expect(got).toHaveLength(30);
    for (const t of ['0', '1', '2']) {
      const seq = got.filter((p) => p.topicName === `${base}/${t}`).map((p) => Number(p.payload.toString()));
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
    }
  });
});
