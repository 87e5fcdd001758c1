import { describe, expect, it } from 'vitest';
import { sleep } from './conformance-harness.js';
import {
  ack,
  type Client5,
  type Connect5Options,
  disconnectPacket,
  PacketType,
  type PublishPacket,
  publishes,
  publishPacket,
  subscription,
  uid,
  useBroker,
} from './conformance5-harness.js';

// MQTT 5.0 session state across connections: resumption, re-delivery, message expiry while
// queued, wills with a delay, the client's Maximum Packet Size (§3.1.2, §3.1.3, §3.3.2.3.3,
// §4.1, §4.3, §4.4) against the built broker (in-memory store).

const clients = useBroker();

function persistent(clientId: string, extra: Connect5Options['properties'] = {}): Connect5Options {
  return { clientId, cleanStart: false, properties: { sessionExpiryInterval: 60, ...extra } };
}

/** A persistent session subscribed to `topic` at QoS 2, left offline (DISCONNECT 0x00). */
async function offlineSubscriber(topic: string, extra: Connect5Options['properties'] = {}): Promise<string> {
  const id = uid('off');
  const sub = await clients.subscriber(persistent(id, extra), [subscription(topic, { qos: 2 })]);
  sub.send(disconnectPacket());
  await sub.closed();
  return id;
}

async function publishAll(topic: string, messages: Array<[string, 0 | 1 | 2, number | undefined]>) {
  const pub = await clients.connect({ clientId: uid('pub') });
  let packetId = 1;
  for (const [payload, qos, expiry] of messages) {
    pub.send(
      publishPacket(topic, payload, {
        qos,
        packetId: packetId++,
        properties: expiry === undefined ? undefined : { messageExpiryInterval: expiry },
      }),
    );
    if (qos === 1) await pub.expect(PacketType.Puback);
    if (qos === 2) {
      const rec = await pub.expect(PacketType.Pubrec);
      pub.send(ack(PacketType.Pubrel, rec.packetId));
      await pub.expect(PacketType.Pubcomp);
    }
  }
  return pub;
}

/** A subscriber that received a QoS `qos` message and then lost its connection without answering. */
async function droppedWithInflight(qos: 1 | 2, expiry?: number) {
  const id = uid('in');
  const topic = `${id}/t`;
  const sub = await clients.subscriber(persistent(id), [subscription(topic, { qos })]);
  await publishAll(topic, [['inflight', qos, expiry]]);
  const first = await sub.expect(PacketType.Publish);
  return { id, topic, sub, first };
}

async function reconnect(id: string, extra: Connect5Options['properties'] = {}): Promise<Client5> {
  const again = await clients.connect(persistent(id, extra));
  expect(again.connack.sessionPresent).toBe(true);
  return again;
}

describe('session state (§3.1.2.4, §3.1.3.1, §4.1)', () => {
  it('[MQTT-3.1.3-2] the client id names the session: the same id resumes it, another id does not', async () => {
    const topic = `${uid()}/t`;
    const id = await offlineSubscriber(topic);
    await publishAll(topic, [['queued', 1, undefined]]);
    const stranger = await clients.connect(persistent(uid('other')));
    expect(stranger.connack.sessionPresent).toBe(false);
    expect(publishes(await stranger.collectFor(150))).toEqual([]);
    const owner = await reconnect(id);
    expect((await owner.expect(PacketType.Publish)).payload.toString()).toBe('queued');
  });

  it('[MQTT-4.1.0-1] the session is kept while the connection is open, past its Session Expiry Interval', async () => {
    const id = uid();
    const topic = `${id}/t`;
    const sub = await clients.subscriber(
      { clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 1 } },
      [subscription(topic, { qos: 1 })],
    );
    await sleep(1600);
    await publishAll(topic, [['still subscribed', 1, undefined]]);
    expect((await sub.expect(PacketType.Publish)).payload.toString()).toBe('still subscribed');
  });

  it('[MQTT-3.1.3-9] a new connection within the Will Delay Interval: the will is never sent', async () => {
    const id = uid();
    const willTopic = `${id}/will`;
    const watcher = await clients.subscriber({ clientId: uid() }, [willTopic]);
    const first = await clients.connect({
      ...persistent(id),
      will: { topicName: willTopic, properties: { willDelayInterval: 1 } },
    });
    first.destroy();
    await sleep(300);
    await reconnect(id);
    expect(publishes(await watcher.collectFor(1300))).toEqual([]);
  });
});

describe('re-delivery (§3.3.1.1, §4.3, §4.4)', () => {
  it('[MQTT-3.3.1-1][MQTT-4.4.0-1] an unacknowledged QoS 1 PUBLISH is re-sent on reconnect with DUP 1 and its packet id', async () => {
    const { id, sub, first } = await droppedWithInflight(1);
    expect(first.dup).toBe(false);
    sub.destroy();
    const again = await reconnect(id);
    const resent = await again.expect(PacketType.Publish);
    expect([resent.dup, resent.packetId, resent.payload.toString()]).toEqual([
      true,
      first.packetId,
      'inflight',
    ]);
  });

  it('[MQTT-4.4.0-1] no re-send within a connection: an unanswered PUBLISH is not sent again while connected', async () => {
    const { sub } = await droppedWithInflight(1);
    expect(await sub.collectFor(1200)).toEqual([]);
  });

  it('[MQTT-4.3.2-3] a QoS 1 PUBLISH stays unacknowledged until its PUBACK: the acknowledged one is not re-sent', async () => {
    const id = uid();
    const topic = `${id}/t`;
    const sub = await clients.subscriber(persistent(id), [subscription(topic, { qos: 1 })]);
    await publishAll(topic, [
      ['acked', 1, undefined],
      ['not acked', 1, undefined],
    ]);
    const a = await sub.expect(PacketType.Publish);
    await sub.expect(PacketType.Publish);
    sub.send(ack(PacketType.Puback, a.packetId!));
    await sleep(50);
    sub.destroy();
    const again = await reconnect(id);
    expect((await again.publishes(1, 250)).map((p) => p.payload.toString())).toEqual(['not acked']);
  });

  it('[MQTT-4.3.3-3] a QoS 2 PUBLISH stays unacknowledged until its PUBREC: re-sent with DUP 1 on reconnect', async () => {
    const { id, sub, first } = await droppedWithInflight(2);
    sub.destroy();
    const again = await reconnect(id);
    const resent = await again.expect(PacketType.Publish);
    expect([resent.qos, resent.dup, resent.packetId]).toEqual([2, true, first.packetId]);
  });

  it('[MQTT-4.3.3-5] a PUBREL stays unacknowledged until its PUBCOMP: re-sent on reconnect, then completed', async () => {
    const { id, sub, first } = await droppedWithInflight(2);
    sub.send(ack(PacketType.Pubrec, first.packetId!));
    await sub.expect(PacketType.Pubrel);
    sub.destroy();
    const again = await reconnect(id);
    expect(await again.expect(PacketType.Pubrel)).toMatchObject({ packetId: first.packetId });
    again.send(ack(PacketType.Pubcomp, first.packetId!));
    again.destroy();
    const third = await reconnect(id);
    expect(await third.collectFor(200)).toEqual([]);
  });

  it('[MQTT-4.3.3-7] no Message Expiry once the PUBLISH was sent: an expired in-flight QoS 2 message is still re-sent', async () => {
    const { id, sub, first } = await droppedWithInflight(2, 1);
    sub.destroy();
    await sleep(1500);
    const again = await reconnect(id);
    const resent = await again.expect(PacketType.Publish);
    expect([resent.packetId, resent.dup, resent.payload.toString()]).toEqual([
      first.packetId,
      true,
      'inflight',
    ]);
  });

  it('[MQTT-4.4.0-2] a PUBACK or PUBREC of 0x80 or more acknowledges the PUBLISH: never re-sent, no PUBREL', async () => {
    const id = uid();
    const topic = `${id}/t`;
    const sub = await clients.subscriber(persistent(id), [subscription(topic, { qos: 2 })]);
    await publishAll(topic, [
      ['one', 1, undefined],
      ['two', 2, undefined],
    ]);
    const one = await sub.expect(PacketType.Publish);
    const two = await sub.expect(PacketType.Publish);
    sub.send(ack(PacketType.Puback, one.packetId!, 0x80), ack(PacketType.Pubrec, two.packetId!, 0x80));
    expect(await sub.collectFor(200)).toEqual([]);
    sub.destroy();
    const again = await reconnect(id);
    expect(await again.collectFor(250)).toEqual([]);
  });
});

describe('Message Expiry Interval while queued (§3.3.2.3.3)', () => {
  it('[MQTT-3.3.2-5] a queued copy whose Message Expiry Interval passed is not delivered', async () => {
    const topic = `${uid()}/exp`;
    const id = await offlineSubscriber(topic);
    await publishAll(topic, [
      ['short', 1, 1],
      ['long', 1, 60],
      ['none', 1, undefined],
    ]);
    await sleep(1500);
    const again = await reconnect(id);
    expect((await again.publishes(2, 250)).map((p) => p.payload.toString())).toEqual(['long', 'none']);
  });

  it('[MQTT-3.3.2-6] a queued copy, and a retained message, go out with the interval minus the time they waited', async () => {
    const topic = `${uid()}/exp`;
    const id = await offlineSubscriber(topic);
    const pub = await publishAll(topic, [['waits', 1, 10]]);
    const retainedTopic = `${topic}/retained`;
    pub.send(
      publishPacket(retainedTopic, 'kept', {
        qos: 1,
        packetId: 9,
        retain: true,
        properties: { messageExpiryInterval: 10 },
      }),
    );
    await pub.expect(PacketType.Puback);
    await sleep(2100);
    const again = await reconnect(id);
    const queued = await again.expect(PacketType.Publish);
    const late = await clients.subscriber({ clientId: uid() }, [subscription(retainedTopic, { qos: 1 })]);
    const retained = await late.expect(PacketType.Publish);
    expect(retained.retain).toBe(true);
    for (const got of [queued, retained]) {
      expect(got.properties?.messageExpiryInterval).toBeGreaterThanOrEqual(5);
      expect(got.properties?.messageExpiryInterval).toBeLessThanOrEqual(8);
    }
  });
});

describe("the client's Maximum Packet Size (§3.1.2.11.4)", () => {
  it('[MQTT-3.1.2-24] no packet larger than the Maximum Packet Size goes to the client', async () => {
    const topic = `${uid()}/big`;
    const sub = await clients.subscriber({ clientId: uid(), properties: { maximumPacketSize: 128 } }, [
      subscription(topic, { qos: 0 }),
    ]);
    await publishAll(topic, [
      ['x'.repeat(200), 0, undefined],
      ['small', 0, undefined],
    ]);
    const { packet, frame } = await sub.nextReceived();
    expect(packet).toMatchObject({ type: PacketType.Publish });
    expect((packet as PublishPacket).payload.toString()).toBe('small');
    expect(frame.bytes.length).toBeLessThanOrEqual(128);
    expect(await sub.collectFor(150)).toEqual([]);
  });

  it('[MQTT-3.1.2-25] a QoS 1 message too large to send is dropped as if sent: no window slot held, never re-sent', async () => {
    const id = uid();
    const topic = `${id}/big`;
    const sub = await clients.subscriber(persistent(id, { maximumPacketSize: 128, receiveMaximum: 1 }), [
      subscription(topic, { qos: 1 }),
    ]);
    await publishAll(topic, [
      ['x'.repeat(200), 1, undefined],
      ['small', 1, undefined],
    ]);
    const small = await sub.expect(PacketType.Publish);
    expect(small.payload.toString()).toBe('small');
    sub.send(ack(PacketType.Puback, small.packetId!));
    await sleep(50);
    sub.destroy();
    const again = await reconnect(id, { maximumPacketSize: 100_000 });
    expect(publishes(await again.collectFor(250))).toEqual([]);
  });
});
