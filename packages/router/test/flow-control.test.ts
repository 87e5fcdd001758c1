import { encode, type Packet, PacketType, type PublishPacket, type QoS } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import type { Broker } from '../src/index.js';
import {
  ack,
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishes,
  publishPacket,
  subscribe,
  type TestClient,
} from './helpers.js';

/** Lets microtasks (released publishers) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One buffer holding `count` PUBLISH packets with payloads "0".."count-1", as a pipelining client writes. */
function pipelined(topicName: string, count: number, qos: QoS, firstId = 1): Buffer {
  const packets: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    packets.push(
      encode(publishPacket(topicName, String(i), qos, { packetId: ((firstId + i - 1) % 65535) + 1 }), 4),
    );
  }
  return Buffer.concat(packets);
}

/**
 * Acknowledges everything the subscriber received (QoS 2: PUBREC, then PUBCOMP for PUBREL) and
 * answers the publisher's PUBRECs, until nothing moves; returns the subscriber's payloads.
 */
async function pumpUntilQuiet(sub: TestClient, pub: TestClient, counts: { acks: number }): Promise<string[]> {
  const received: string[] = [];
  for (let idle = 0; idle < 3; ) {
    let moved = false;
    for (const packet of sub.take()) {
      moved = true;
      if (packet.type === PacketType.Publish) {
        received.push(packet.payload.toString());
        if (packet.qos === 1) sub.send(ack(PacketType.Puback, packet.packetId!));
        if (packet.qos === 2) sub.send(ack(PacketType.Pubrec, packet.packetId!));
      } else if (packet.type === PacketType.Pubrel) {
        sub.send(ack(PacketType.Pubcomp, packet.packetId));
      }
    }
    for (const packet of pub.take()) {
      moved = true;
      if (packet.type === PacketType.Puback || packet.type === PacketType.Pubrec) counts.acks++;
      if (packet.type === PacketType.Pubrec) pub.send(ack(PacketType.Pubrel, packet.packetId));
    }
    await settle();
    idle = moved ? 0 : idle + 1;
  }
  return received;
}

function range(count: number): string[] {
  return Array.from({ length: count }, (_, i) => String(i));
}

describe('nothing acknowledged is dropped while the subscriber is online', () => {
  it.each([1, 2] as const)(
    '2,000 QoS %i PUBLISH in one write: every one acknowledged and delivered in order',
    async (qos) => {
      const { broker } = await createBroker();
      const sub = connect(broker, { clientId: 'sub' });
      subscribe(sub, 't', qos);
      const pub = connect(broker, { clientId: 'pub' });
      pub.connection.feed(pipelined('t', 2000, qos));
      const counts = { acks: 0 };
      const received = await pumpUntilQuiet(sub, pub, counts);
      expect(counts.acks).toBe(2000);
      expect(received).toEqual(range(2000));
      expect(broker.stats.messagesDropped).toBe(0);
      expect(broker.stats.publisherPauses).toBeGreaterThan(0);
      expect(broker.stats.queuedBytes).toBe(0);
    },
  );

  it('a full queue pauses the publisher; its acks still pass; it resumes once the queue is half empty', async () => {
    const { broker } = await createBroker({ maxInflightMessages: 2, maxQueuedMessages: 10 });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub' });
    subscribe(pub, 'back', 1);
    pub.connection.feed(pipelined('t', 20, 1));
    // 2 in flight + 10 queued; the rest wait unhandled and the publisher is not read.
    expect(pub.transport.paused).toBe(true);
    expect(pub.take().filter((p) => p.type === PacketType.Puback)).toHaveLength(12);
    // A delivery to the held publisher, and its PUBACK, still go through.
    const other = connect(broker, { clientId: 'other' });
    other.send(publishPacket('back', 'to-pub', 1, { packetId: 1 }));
    const [toPub] = publishes(pub.take());
    expect(toPub?.payload.toString()).toBe('to-pub');
    pub.send(ack(PacketType.Puback, toPub!.packetId!));
    expect(broker.stats.queuedBytes).toBeGreaterThan(0);
    // Acking four frees only part of the queue (10 -> 6 > half): still held.
    const received: string[] = [];
    for (let i = 0; i < 2; i++) {
      for (const p of publishes(sub.take())) {
        received.push(p.payload.toString());
        sub.send(ack(PacketType.Puback, p.packetId!));
      }
    }
    await settle();
    expect(received).toHaveLength(4);
    expect(pub.transport.paused).toBe(true);
    const counts = { acks: 12 };
    received.push(...(await pumpUntilQuiet(sub, pub, counts)));
    expect(counts.acks).toBe(20);
    expect(pub.transport.paused).toBe(false);
    expect(received).toEqual(range(20));
  });

  it('a client subscribed to its own topic is never paused by itself', async () => {
    const { broker } = await createBroker({ maxInflightMessages: 1, maxQueuedMessages: 5 });
    const self = connect(broker, { clientId: 'self' });
    subscribe(self, 't', 1);
    self.connection.feed(pipelined('t', 50, 1));
    expect(self.transport.paused).toBe(false);
    const received: string[] = [];
    for (let i = 0; i < 60; i++) {
      for (const packet of self.take()) {
        if (packet.type === PacketType.Publish) {
          received.push(packet.payload.toString());
          self.send(ack(PacketType.Puback, packet.packetId!));
        }
      }
    }
    expect(received).toEqual(range(50));
  });

  it('the broker-wide maxQueuedBytes pauses publishers into any online queue', async () => {
    const { broker } = await createBroker({ maxInflightMessages: 1, maxQueuedBytes: 20_000 });
    const subs = [connect(broker, { clientId: 'a' }), connect(broker, { clientId: 'b' })];
    subscribe(subs[0]!, 'a', 1);
    subscribe(subs[1]!, 'b', 1);
    const pub = connect(broker, { clientId: 'pub' });
    const big = 'x'.repeat(2000);
    for (let i = 1; i <= 20; i++) pub.send(publishPacket(i % 2 === 0 ? 'a' : 'b', big, 1, { packetId: i }));
    expect(pub.transport.paused).toBe(true);
    expect(broker.stats.queuedBytes).toBeGreaterThanOrEqual(20_000);
    expect(broker.stats.queuedBytes).toBeLessThan(30_000);
    for (let round = 0; round < 40; round++) {
      for (const sub of subs) {
        for (const p of publishes(sub.take())) sub.send(ack(PacketType.Puback, p.packetId!));
      }
      await settle();
    }
    expect(pub.transport.paused).toBe(false);
    expect(pub.take().filter((p) => p.type === PacketType.Puback)).toHaveLength(20);
    expect(broker.stats.queuedBytes).toBe(0);
    expect(broker.stats.messagesDropped).toBe(0);
  });

  it('a held publisher is not closed for keepalive: the broker is the one not reading it', async () => {
    const { broker, clock } = await createBroker({ maxInflightMessages: 1, maxQueuedMessages: 2 });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub', keepaliveSeconds: 2 });
    pub.connection.feed(pipelined('t', 10, 1));
    expect(pub.transport.paused).toBe(true);
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      sub.send({ type: PacketType.Pingreq }); // the subscriber is alive, just slow
    }
    expect(pub.transport.closed).toBe(false);
  });
});

describe('a stalled subscriber cannot hold publishers back forever', () => {
  async function stall(
    persistent: boolean,
  ): Promise<{ broker: Broker; sub: TestClient; pub: TestClient; clock: { advance(ms: number): void } }> {
    const { broker, clock } = await createBroker({
      maxInflightMessages: 2,
      maxQueuedMessages: 10,
      stalledSubscriberTimeoutMs: 5000,
    });
    const sub = connect(broker, {
      clientId: 'sub',
      cleanStart: !persistent,
      version: 5,
      properties: persistent ? { sessionExpiryInterval: 3600 } : undefined,
    });
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub' });
    pub.connection.feed(pipelined('t', 30, 1));
    expect(pub.transport.paused).toBe(true);
    return { broker, sub, pub, clock };
  }

  it('is disconnected (5.0: 0x97) after stalledSubscriberTimeoutMs without an ack; the publisher resumes', async () => {
    const { broker, sub, pub, clock } = await stall(false);
    clock.advance(4000);
    expect(sub.transport.closed).toBe(false);
    clock.advance(2000);
    expect(sub.transport.closed).toBe(true);
    const disconnect = sub.take().find((p) => p.type === PacketType.Disconnect);
    expect(disconnect).toMatchObject({ reasonCode: 0x97 });
    expect(broker.stats.stalledSubscriberDisconnects).toBe(1);
    await settle();
    expect(pub.transport.paused).toBe(false);
    expect(pub.take().filter((p) => p.type === PacketType.Puback)).toHaveLength(30);
    expect(broker.stats.queuedBytes).toBe(0);
  });

  it('acknowledging keeps it connected, however slowly', async () => {
    const { sub, clock } = await stall(false);
    for (let i = 0; i < 10; i++) {
      clock.advance(3000);
      const [p] = publishes(sub.take());
      if (p !== undefined) sub.send(ack(PacketType.Puback, p.packetId!));
    }
    expect(sub.transport.closed).toBe(false);
  });

  it('a persistent session keeps its newest maxQueuedMessages offline; the drops are counted', async () => {
    const { broker, clock } = await stall(true);
    clock.advance(6000);
    await settle();
    // 30 published: 2 were in flight (kept for re-sending), 10 of the other 28 kept.
    expect(broker.stats.messagesDropped).toBe(18);
    const back = openClient(broker, 5);
    back.send(
      connectPacket({
        clientId: 'sub',
        cleanStart: false,
        version: 5,
        properties: { sessionExpiryInterval: 3600 },
      }),
    );
    const got = publishes(back.take());
    expect(got.map((p) => p.payload.toString())).toEqual(['0', '1']);
    expect(got.every((p) => p.dup)).toBe(true);
    const received: string[] = [];
    let batch: PublishPacket[] = got;
    while (batch.length > 0) {
      for (const p of batch) back.send(ack(PacketType.Puback, p.packetId!));
      batch = publishes(back.take());
      received.push(...batch.map((p) => p.payload.toString()));
    }
    expect(received).toEqual(range(30).slice(20));
  });
});

describe('flow control of 5.0 clients', () => {
  it("the client's Receive Maximum caps unacknowledged deliveries", async () => {
    const { broker } = await createBroker();
    const sub = openClient(broker, 5);
    sub.send({ ...connectPacket({ clientId: 'sub', version: 5 }), properties: { receiveMaximum: 3 } });
    sub.take();
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub' });
    pub.connection.feed(pipelined('t', 10, 1));
    const first = publishes(sub.take());
    expect(first).toHaveLength(3);
    sub.send(ack(PacketType.Puback, first[0]!.packetId!));
    expect(publishes(sub.take())).toHaveLength(1);
  });
});

describe('partly received packets', () => {
  /** A QoS 0 PUBLISH fixed header announcing `announcedBytes` of body, then `sentBytes` of it. */
  function halfPublish(announcedBytes: number, sentBytes: number): Buffer {
    const header = [0x30];
    let length = announcedBytes;
    do {
      header.push((length & 0x7f) | (length > 0x7f ? 0x80 : 0));
      length >>>= 7;
    } while (length > 0);
    // Topic length 1, topic "t": a valid start of a PUBLISH body.
    const body = Buffer.alloc(sentBytes);
    body.writeUInt16BE(1, 0);
    body[2] = 0x74;
    return Buffer.concat([Buffer.from(header), body]);
  }

  it('a connection taking the broker past maxPartialPacketBytes is closed (5.0: 0x97); others keep theirs', async () => {
    const { broker } = await createBroker({ maxPartialPacketBytes: 100_000 });
    const clients = [0, 1, 2].map((i) => connect(broker, { clientId: `c${i}`, version: 5 }));
    clients[0]!.connection.feed(halfPublish(1_000_000, 40_000));
    clients[1]!.connection.feed(halfPublish(1_000_000, 40_000));
    expect(broker.stats.partialPacketBytes).toBeGreaterThanOrEqual(80_000);
    clients[2]!.connection.feed(halfPublish(1_000_000, 40_000));
    expect(clients[2]!.transport.closed).toBe(true);
    expect(clients[2]!.take().find((p: Packet) => p.type === PacketType.Disconnect)).toMatchObject({
      reasonCode: 0x97,
    });
    expect(clients[0]!.transport.closed).toBe(false);
    expect(clients[1]!.transport.closed).toBe(false);
    expect(broker.stats.partialPacketBytes).toBeLessThanOrEqual(100_000);
    clients[0]!.transport.close();
    clients[0]!.connection.transportClosed();
    expect(broker.stats.partialPacketBytes).toBeLessThan(50_000);
  });

  it('a completed packet no longer counts', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 0);
    const pub = connect(broker, { clientId: 'pub' });
    const bytes = encode(publishPacket('t', 'y'.repeat(10_000), 0), 4);
    pub.connection.feed(bytes.subarray(0, 5000));
    expect(broker.stats.partialPacketBytes).toBe(5000);
    pub.connection.feed(bytes.subarray(5000));
    expect(broker.stats.partialPacketBytes).toBe(0);
    expect(publishes(sub.take())).toHaveLength(1);
  });
});
