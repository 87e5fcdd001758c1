import { PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { ack, connect, createBroker, publishes, publishPacket, subscribe } from './helpers.js';

describe('PUBLISH QoS flows (§3.3, §4.3)', () => {
  it('[MQTT-4.3.1-1] QoS 0 is forwarded with no acknowledgement', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'a/b');
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('a/b', 'hello'));
    expect(pub.take()).toEqual([]);
    const [delivered] = publishes(sub.take());
    expect(delivered).toMatchObject({ topicName: 'a/b', qos: 0, retain: false, packetId: undefined });
    expect(delivered?.payload.toString()).toBe('hello');
  });

  it('[MQTT-4.3.2-2] QoS 1 is acknowledged with PUBACK carrying its packet id', async () => {
    const { broker } = await createBroker();
    const pub = connect(broker);
    pub.send(publishPacket('t', 'x', 1, { packetId: 42 }));
    expect(pub.take()).toEqual([ack(PacketType.Puback, 42)]);
  });

  it('[MQTT-4.3.3-2] QoS 2: PUBREC, then PUBCOMP for PUBREL; a DUP re-send before PUBREL is not forwarded twice', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 2);
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('t', 'once', 2, { packetId: 7 }));
    expect(pub.take()).toEqual([ack(PacketType.Pubrec, 7)]);
    pub.send(publishPacket('t', 'once', 2, { packetId: 7, dup: true }));
    expect(pub.take()).toEqual([ack(PacketType.Pubrec, 7)]);
    pub.send(ack(PacketType.Pubrel, 7));
    expect(pub.take()).toEqual([ack(PacketType.Pubcomp, 7)]);
    expect(publishes(sub.take())).toHaveLength(1);
    // After PUBREL the id is free again: a new message with it is routed.
    pub.send(publishPacket('t', 'again', 2, { packetId: 7 }));
    expect(publishes(sub.take())).toHaveLength(1);
  });

  it('[MQTT-4.3.2-1][MQTT-4.3.3-1] outbound QoS 1 and 2 carry unused packet ids and complete their flows', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'q1', 1, 1);
    subscribe(sub, 'q2', 2, 2);
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('q1', 'a', 1, { packetId: 1 }));
    pub.send(publishPacket('q2', 'b', 2, { packetId: 2 }));
    const [first, second] = publishes(sub.take());
    expect(first?.qos).toBe(1);
    expect(second?.qos).toBe(2);
    expect(first?.packetId).not.toBe(second?.packetId);
    sub.send(ack(PacketType.Puback, first!.packetId!));
    sub.send(ack(PacketType.Pubrec, second!.packetId!));
    expect(sub.take()).toEqual([ack(PacketType.Pubrel, second!.packetId!)]);
    sub.send(ack(PacketType.Pubcomp, second!.packetId!));
    expect(sub.take()).toEqual([]);
  });

  it('[MQTT-3.8.4-6] delivered QoS is the minimum of published and granted QoS', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('t', 'x', 2, { packetId: 3 }));
    pub.send(publishPacket('t', 'y', 0));
    expect(publishes(sub.take()).map((p) => p.qos)).toEqual([1, 0]);
  });

  it('[MQTT-3.3.5-1] overlapping subscriptions deliver once at the highest granted QoS', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'a/+', 0, 1);
    subscribe(sub, 'a/#', 2, 2);
    subscribe(sub, 'a/b', 1, 3);
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('a/b', 'x', 2, { packetId: 1 }));
    const delivered = publishes(sub.take());
    expect(delivered).toHaveLength(1);
    expect(delivered[0]?.qos).toBe(2);
  });

  it('[MQTT-3.3.2-2] a wildcard in a PUBLISH topic name closes the connection', async () => {
    const { broker } = await createBroker();
    const pub = connect(broker);
    pub.send(publishPacket('a/+', 'x'));
    expect(pub.transport.closed).toBe(true);
  });

  it('publishes to $ topics by clients are dropped (and still acknowledged)', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, '$SYS/#');
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('$SYS/x', 'x', 1, { packetId: 9 }));
    expect(pub.take()).toEqual([ack(PacketType.Puback, 9)]);
    expect(sub.take()).toEqual([]);
    expect(broker.stats.messagesDropped).toBe(1);
  });

  it('[MQTT-4.7.2-1] filters starting with # or + do not match $ topics', async () => {
    const { broker } = await createBroker();
    const hash = connect(broker, { clientId: 'hash' });
    subscribe(hash, '#');
    const plus = connect(broker, { clientId: 'plus' });
    subscribe(plus, '+/x');
    const sys = connect(broker, { clientId: 'sys' });
    subscribe(sys, '$SYS/#');
    broker.publish({ topicName: '$SYS/x', payload: 'up' });
    expect(hash.take()).toEqual([]);
    expect(plus.take()).toEqual([]);
    expect(publishes(sys.take())).toHaveLength(1);
  });

  it('authorizePublish false: acknowledged, not forwarded', async () => {
    const { broker } = await createBroker({ hooks: { authorizePublish: (_c, topic) => topic !== 'secret' } });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, '#');
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('secret', 'x', 1, { packetId: 5 }));
    pub.send(publishPacket('open', 'y', 1, { packetId: 6 }));
    expect(pub.take()).toEqual([ack(PacketType.Puback, 5), ack(PacketType.Puback, 6)]);
    expect(publishes(sub.take()).map((p) => p.topicName)).toEqual(['open']);
  });

  it("an async authorizePublish keeps the order of a client's publishes", async () => {
    const { broker } = await createBroker({
      hooks: { authorizePublish: async (_c, topic) => (await Promise.resolve(topic)) !== 'no' },
    });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, '#', 1);
    const pub = connect(broker, { clientId: 'pub' });
    for (let i = 1; i <= 5; i++) pub.send(publishPacket(`t/${i}`, String(i), 1, { packetId: i }));
    for (let i = 0; i < 10; i++) await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(publishes(sub.take()).map((p) => p.topicName)).toEqual(['t/1', 't/2', 't/3', 't/4', 't/5']);
    expect(pub.take().map((p) => (p as { packetId: number }).packetId)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('in-flight window and queue', () => {
  it('sends at most maxInflightMessages unacknowledged, the rest follow as acks arrive, in order', async () => {
    const { broker } = await createBroker({ maxInflightMessages: 2 });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub' });
    for (let i = 1; i <= 5; i++) pub.send(publishPacket('t', String(i), 1, { packetId: i }));
    let got = publishes(sub.take());
    expect(got.map((p) => p.payload.toString())).toEqual(['1', '2']);
    sub.send(ack(PacketType.Puback, got[0]!.packetId!));
    got = publishes(sub.take());
    expect(got.map((p) => p.payload.toString())).toEqual(['3']);
  });

  it('packet id allocation skips ids still in flight', async () => {
    const { broker } = await createBroker({ maxInflightMessages: 3 });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub' });
    let stuckId: number | undefined;
    let delivered = 0;
    for (let i = 1; i <= 70_000; i++) {
      pub.send(publishPacket('t', 'x', 1, { packetId: (i % 65535) + 1 }));
      pub.take();
      for (const p of publishes(sub.take())) {
        delivered++;
        // The first message stays unacknowledged: its id must never be handed out again.
        if (stuckId === undefined) stuckId = p.packetId;
        else {
          expect(p.packetId).not.toBe(stuckId);
          sub.send(ack(PacketType.Puback, p.packetId!));
        }
      }
    }
    expect(delivered).toBe(70_000);
  });
});

describe('slow consumers', () => {
  it('drops QoS 0 for a congested subscriber, holds QoS 1 until drain, and keeps serving others', async () => {
    const { broker } = await createBroker();
    const slow = connect(broker, { clientId: 'slow' });
    subscribe(slow, 't', 1);
    const fast = connect(broker, { clientId: 'fast' });
    subscribe(fast, 't', 1);
    slow.transport.highWaterMark = 0; // every further write reports congestion
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('t', 'first', 0));
    pub.send(publishPacket('t', 'dropped', 0));
    pub.send(publishPacket('t', 'held', 1, { packetId: 1 }));
    expect(publishes(slow.take()).map((p) => p.payload.toString())).toEqual(['first']);
    expect(publishes(fast.take()).map((p) => p.payload.toString())).toEqual(['first', 'dropped', 'held']);
    expect(broker.stats.messagesDropped).toBe(1);
    slow.transport.highWaterMark = Number.POSITIVE_INFINITY;
    slow.transport.drain();
    slow.connection.drained();
    expect(publishes(slow.take()).map((p) => p.payload.toString())).toEqual(['held']);
  });
});

describe('a client that does not read', () => {
  it('is not read either while its output is congested, and is read again after drain', async () => {
    const { broker } = await createBroker();
    const pub = connect(broker, { clientId: 'pub' });
    pub.transport.highWaterMark = 40; // ten PUBACKs
    for (let i = 1; i <= 20; i++) pub.send(publishPacket('t', 'x', 1, { packetId: i }));
    expect(pub.transport.paused).toBe(true);
    expect(pub.transport.closed).toBe(false);
    pub.transport.drain();
    pub.connection.drained();
    expect(pub.transport.paused).toBe(false);
  });
});
