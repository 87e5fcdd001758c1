import { describe, expect, it } from 'vitest';
import {
  ALLOWED_CODES,
  type Client5,
  type Connect5Options,
  connectPacket,
  disconnectPacket,
  expectDisconnect,
  PacketType,
  packet,
  props,
  publishes,
  publishPacket,
  rawPublish,
  str,
  subscription,
  u16,
  uid,
  useBroker,
  varint,
} from './conformance5-harness.js';

// MQTT 5.0 data representation, malformed packets, DISCONNECT and error handling (§1.5, §2,
// §3.14, §4.13) against the built broker (in-memory store): what the broker refuses, what it
// sends before it closes, and that only the offending connection is closed.

const clients = useBroker();

async function connected(properties: Connect5Options['properties'] = undefined) {
  return clients.connect({ clientId: uid('e'), properties });
}

/** A subscriber to `topic`, checked at the end of a test: it got nothing and is still served. */
async function bystander(topic: string) {
  const sub = await clients.subscriber({ clientId: uid('by') }, [subscription(topic, { qos: 1 })]);
  return {
    async expectNothingThenServed() {
      expect(publishes(await sub.collectFor(150))).toEqual([]);
      const pub = await connected();
      pub.send(publishPacket(topic, 'fine'));
      expect((await sub.expect(PacketType.Publish)).payload.toString()).toBe('fine');
    },
  };
}

describe('data representation (§1.5)', () => {
  it('[MQTT-1.5.4-1] ill-formed UTF-8 or a surrogate in a string: DISCONNECT 0x81, closed, nothing delivered', async () => {
    const topic = `${uid()}/utf8`;
    const watch = await bystander(topic);
    for (const bad of [
      rawPublish(
        0x30,
        Buffer.concat([Buffer.from(`${topic}`), Buffer.from([0xed, 0xa0, 0x80])]),
        undefined,
        props(),
      ),
      rawPublish(
        0x30,
        topic,
        undefined,
        props([0x26, Buffer.concat([str('k'), str(Buffer.from([0xc3, 0x28]))])]),
      ),
      rawPublish(0x30, topic, undefined, props([0x03, str(Buffer.from([0xf4, 0x90, 0x80, 0x80]))])),
    ]) {
      const client = await connected();
      client.write(bad);
      await expectDisconnect(client, [0x81]);
    }
    await watch.expectNothingThenServed();
  });

  it('[MQTT-1.5.4-2] U+0000 in a string (topic, user property, content type): DISCONNECT 0x81, closed', async () => {
    const topic = `${uid()}/nul`;
    const watch = await bystander(topic);
    for (const bad of [
      rawPublish(0x30, Buffer.from(`${topic}\0`), undefined, props()),
      rawPublish(0x30, topic, undefined, props([0x26, Buffer.concat([str('k\0'), str('v')])])),
      rawPublish(0x30, topic, undefined, props([0x03, str('text/\0plain')])),
    ]) {
      const client = await connected();
      client.write(bad);
      await expectDisconnect(client, [0x81]);
    }
    await watch.expectNothingThenServed();
  });

  it('[MQTT-1.5.4-3] EF BB BF is U+FEFF and is kept, in topic and properties, never stripped', async () => {
    const topic = `${uid()}/\ufeffbom`;
    const sub = await clients.subscriber({ clientId: uid() }, [topic]);
    const pub = await connected();
    pub.send(
      publishPacket(topic, 'x', {
        properties: { contentType: '\ufefftext', userProperties: [['\ufeff', 'v\ufeff']] },
      }),
    );
    const { packet: got, frame } = await sub.nextReceived();
    expect(got).toMatchObject({
      topicName: topic,
      properties: { contentType: '\ufefftext', userProperties: [['\ufeff', 'v\ufeff']] },
    });
    expect(frame.bytes.includes(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(true);
  });

  it('[MQTT-1.5.5-1] the broker writes minimal variable byte integers and refuses an overlong one (DISCONNECT 0x81)', async () => {
    const topic = `${uid()}/vbi`;
    const sub = await clients.subscriber({ clientId: uid() }, [topic]);
    const pub = await connected();
    // Remaining length 200 (2 bytes: c8 01) and 127 (1 byte: 7f).
    const payload200 = 'x'.repeat(200 - 2 - Buffer.byteLength(topic) - 1);
    const payload127 = 'y'.repeat(127 - 2 - Buffer.byteLength(topic) - 1);
    pub.send(publishPacket(topic, payload200), publishPacket(topic, payload127));
    const a = await sub.nextReceived();
    const b = await sub.nextReceived();
    expect(a.frame.bytes.subarray(1, 3).toString('hex')).toBe('c801');
    expect(b.frame.bytes[1]).toBe(0x7f);
    // PINGREQ with Remaining Length 0 written in two bytes (80 00).
    pub.write(Buffer.from([0xc0, 0x80, 0x00]));
    const after = await pub.packetsUntilClosed();
    expect(after.filter((p) => p.type === PacketType.Pingresp)).toEqual([]);
    expect(after.every((p) => p.type === PacketType.Disconnect && p.reasonCode === 0x81)).toBe(true);
  });

  it('[MQTT-1.5.7-1] a User Property whose name or value is not well-formed UTF-8: DISCONNECT 0x81, closed', async () => {
    for (const pair of [
      Buffer.concat([str(Buffer.from([0xc0, 0x80])), str('v')]),
      Buffer.concat([str('k'), str(Buffer.from([0xfe]))]),
    ]) {
      const client = await connected();
      client.write(rawPublish(0x30, `${uid()}/pair`, undefined, props([0x26, pair])));
      await expectDisconnect(client, [0x81]);
    }
  });
});

describe('control packet format (§2)', () => {
  it('[MQTT-2.1.3-1] reserved flag bits: the broker sends the listed values and refuses others (DISCONNECT 0x81)', async () => {
    const client = await clients.connect({ clientId: uid() });
    client.send({
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [subscription(`${uid()}/f`)],
      properties: undefined,
    });
    client.send({ type: PacketType.Unsubscribe, packetId: 2, topicFilters: ['x'], properties: undefined });
    client.send({ type: PacketType.Pingreq });
    const firstBytes = (await client.raw.take(3)).map((f) => f.bytes[0]);
    expect(firstBytes).toEqual([0x90, 0xb0, 0xd0]);
    for (const bad of [
      Buffer.from([0x42, 0x02, 0x00, 0x01]), // PUBACK with flags 0010
      Buffer.from([0x71, 0x02, 0x00, 0x01]), // PUBCOMP with flags 0001
      Buffer.from([0xc8, 0x00]), // PINGREQ with flags 1000
    ]) {
      const other = await connected();
      other.write(bad);
      await expectDisconnect(other, [0x81]);
    }
  });

  it('[MQTT-2.2.1-3] a QoS 1 PUBLISH or a SUBSCRIBE with packet id 0 is refused: DISCONNECT, closed', async () => {
    for (const bad of [
      rawPublish(0x32, `${uid()}/id0`, 0, props(), 'x'),
      packet(0x82, u16(0), props(), str('a/b'), Buffer.from([0])),
    ]) {
      const client = await connected();
      client.write(bad);
      await expectDisconnect(client, [0x81, 0x82]);
    }
  });
});

describe('DISCONNECT (§3.14)', () => {
  it('[MQTT-3.14.1-1] a DISCONNECT with a reserved flag set: closed (DISCONNECT 0x81), and the will is published', async () => {
    const willTopic = `${uid()}/will`;
    const watcher = await clients.subscriber({ clientId: uid() }, [willTopic]);
    const client = await clients.connect({ clientId: uid(), will: { topicName: willTopic } });
    client.write(Buffer.from([0xe1, 0x00]));
    await expectDisconnect(client, [0x81]);
    expect((await watcher.expect(PacketType.Publish)).topicName).toBe(willTopic);
  });

  it('[MQTT-3.14.2-1][MQTT-3.14.2-2] the broker uses DISCONNECT Reason Codes and never sends a Session Expiry Interval', async () => {
    const seen = [];
    const options = { properties: { sessionExpiryInterval: 30 } };
    // Protocol error: a second CONNECT.
    const a = await clients.connect({ clientId: uid(), ...options });
    a.send(connectPacket({ clientId: uid() }));
    seen.push(await expectDisconnect(a, [0x82]));
    // Malformed: QoS 3.
    const b = await clients.connect({ clientId: uid(), ...options });
    b.write(rawPublish(0x36, 'q', 1, props()));
    seen.push(await expectDisconnect(b, [0x81]));
    // Takeover.
    const id = uid();
    const c = await clients.connect({ clientId: id, ...options });
    await clients.connect({ clientId: id, ...options });
    seen.push(await expectDisconnect(c, [0x8e]));
    // Topic Alias above the maximum.
    const d = await clients.connect({ clientId: uid(), ...options });
    const max = d.connack.properties?.topicAliasMaximum ?? 0;
    d.write(rawPublish(0x30, 't', undefined, props([0x23, u16(max + 1)])));
    seen.push(await expectDisconnect(d, [0x94]));
    for (const disconnect of seen) {
      expect(ALLOWED_CODES.disconnect).toContain(disconnect.reasonCode);
      expect(disconnect.properties?.sessionExpiryInterval).toBeUndefined();
    }
  });

  it('[MQTT-3.14.2-3][MQTT-3.14.2-4] a DISCONNECT from the broker leaves out its Reason String (and has no User Property) to fit a Maximum Packet Size of 8', async () => {
    const open = await connected();
    open.send(connectPacket({ clientId: uid() }));
    const said = await expectDisconnect(open, [0x82]);
    // Without a limit the broker says why: the limit below has something to leave out.
    expect(said.properties?.reasonString).toBeTruthy();
    expect(said.properties?.userProperties).toBeUndefined();
    const client = await connected({ maximumPacketSize: 8 });
    client.send(connectPacket({ clientId: uid() }));
    await client.closed();
    const frames = client.raw.frames.slice(1);
    expect(frames.map((f) => f.type)).toEqual([PacketType.Disconnect]);
    expect(frames[0]!.bytes.length).toBeLessThanOrEqual(8);
  });

  it('[MQTT-3.14.4-1][MQTT-3.14.4-2] after its DISCONNECT the broker sends nothing more and closes the connection', async () => {
    const topic = `${uid()}/flood`;
    const sub = await clients.subscriber({ clientId: uid() }, [topic]);
    const pub = await connected();
    for (let i = 0; i < 200; i++) pub.send(publishPacket(topic, `${i}`));
    sub.send(connectPacket({ clientId: uid() }));
    for (let i = 0; i < 200; i++) pub.send(publishPacket(topic, `late ${i}`));
    await sub.closed();
    const frames = sub.raw.frames;
    const at = frames.findIndex((f) => f.type === PacketType.Disconnect);
    expect(at).toBeGreaterThan(0);
    expect(frames.slice(at + 1)).toEqual([]);
    expect(sub.raw.frameError).toBeUndefined();
  });

  it('[MQTT-3.14.4-3] DISCONNECT 0x00 discards the will; DISCONNECT 0x04 (with will) publishes it', async () => {
    const base = uid();
    const watcher = await clients.subscriber({ clientId: uid() }, [`${base}/#`]);
    const normal = await clients.connect({ clientId: uid(), will: { topicName: `${base}/normal` } });
    normal.send(disconnectPacket(0x00));
    await normal.closed();
    const withWill = await clients.connect({ clientId: uid(), will: { topicName: `${base}/with-will` } });
    withWill.send(disconnectPacket(0x04));
    await withWill.closed();
    expect((await watcher.publishes(1, 300)).map((p) => p.topicName)).toEqual([`${base}/with-will`]);
  });
});

describe('handling errors (§4.13)', () => {
  it.each([
    [
      'a PUBLISH with a Subscription Identifier',
      rawPublish(0x30, 't', undefined, props([0x0b, varint(5)])),
      [0x82],
    ],
    [
      'a PUBLISH with the Content Type twice',
      rawPublish(0x30, 't', undefined, props([0x03, str('a')], [0x03, str('b')])),
      [0x81, 0x82],
    ],
    [
      'a PUBLISH with a property it may not carry (Session Expiry Interval)',
      rawPublish(0x30, 't', undefined, props([0x11, Buffer.from([0, 0, 0, 1])])),
      [0x81, 0x82],
    ],
    ['a packet of the reserved type 0', Buffer.from([0x00, 0x00]), [0x81, 0x82]],
    ['a PUBACK cut short (remaining length 1)', Buffer.from([0x40, 0x01, 0x00]), [0x81]],
    ['a topic alias used before it was set', rawPublish(0x30, '', undefined, props([0x23, u16(1)])), [0x82]],
  ])(
    '[MQTT-4.13.1-1] %s: DISCONNECT with its reason code, closed; other clients go on',
    async (_name, bytes, codes) => {
      const topic = `${uid()}/err`;
      const watch = await bystander(topic);
      const client = await connected();
      client.write(bytes);
      await expectDisconnect(client, codes);
      await watch.expectNothingThenServed();
    },
  );

  it('[MQTT-4.13.2-1] a CONNACK or DISCONNECT of 0x80 or more is followed by the close, at once', async () => {
    const refused: Client5 = await clients.open();
    refused.send(
      connectPacket({
        clientId: uid(),
        will: { topicName: 'w', payload: Buffer.from([0xff]), properties: { payloadFormatIndicator: 1 } },
      }),
    );
    const started = performance.now();
    const connack = await refused.expect(PacketType.Connack);
    expect(connack.reasonCode).toBeGreaterThanOrEqual(0x80);
    await refused.closed(1000);
    const client = await connected();
    client.send(connectPacket({ clientId: uid() }));
    await expectDisconnect(client, [0x82], 1000);
    expect(performance.now() - started).toBeLessThan(1500);
  });
});
