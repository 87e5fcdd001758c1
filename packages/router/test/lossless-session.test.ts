import { encode, PacketType, type PublishPacket } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import type { Broker } from '../src/index.js';
import { FakeTransport } from '../src/testing/index.js';
import {
  ack,
  connect,
  connectPacket,
  createBroker,
  publishes,
  publishPacket,
  subscribe,
  type TestClient,
} from './helpers.js';

/*
 * `broker.accept(transport, { lossless: true })`: the session of such a connection (a bridge that
 * acknowledges only once its destination confirmed) never loses an acknowledged message to
 * `stalledSubscriberTimeoutMs` or `maxQueuedMessages`; its publishers are held instead.
 */

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const LIMITS = { maxInflightMessages: 2, maxQueuedMessages: 10, stalledSubscriberTimeoutMs: 5000 };
const PERSISTENT = {
  clientId: 'bridge',
  cleanStart: false,
  version: 5,
  properties: { sessionExpiryInterval: 0xffff_ffff },
} as const;

/** A 5.0 persistent session over a connection accepted with `{ lossless }`. */
function connectSubscriber(broker: Broker, lossless: boolean): TestClient {
  const transport = new FakeTransport(5);
  const connection = broker.accept(transport, { lossless });
  connection.feed(encode(connectPacket(PERSISTENT), 5));
  // What followed the CONNACK (a session's queued messages) is handed out by the first take().
  const [connack, ...rest] = transport.take();
  expect(connack).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
  return {
    transport,
    connection,
    send: (packet) => connection.feed(encode(packet, 5)),
    take: () => [...rest.splice(0), ...transport.take()],
  };
}

/** `count` QoS 1 PUBLISH "0".."count-1" in one write. */
function pipelined(count: number, firstId = 1): Buffer {
  return Buffer.concat(
    Array.from({ length: count }, (_, i) =>
      encode(publishPacket('t', String(i), 1, { packetId: firstId + i }), 4),
    ),
  );
}

/** Acknowledges every delivery until nothing moves; returns the payloads and counts the publisher's PUBACKs. */
async function drain(
  sub: TestClient,
  pub: TestClient,
  counts: { acks: number },
  first: PublishPacket[] = [],
): Promise<string[]> {
  const received: string[] = [];
  let batch = first;
  for (let idle = 0; idle < 3; ) {
    batch = [...batch, ...publishes(sub.take())];
    for (const p of batch) {
      received.push(p.payload.toString());
      sub.send(ack(PacketType.Puback, p.packetId!));
    }
    const acks = pub.take().filter((p) => p.type === PacketType.Puback).length;
    counts.acks += acks;
    await settle();
    idle = batch.length > 0 || acks > 0 ? 0 : idle + 1;
    batch = [];
  }
  return received;
}

const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => String(from + i));

describe('a lossless session (AcceptOptions.lossless)', () => {
  it('is never disconnected as stalled: its publisher stays held, and nothing acknowledged is dropped', async () => {
    const { broker, clock } = await createBroker(LIMITS);
    const sub = connectSubscriber(broker, true);
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub' });
    pub.connection.feed(pipelined(30));
    expect(pub.transport.paused).toBe(true);
    const first = publishes(sub.take());
    expect(first).toHaveLength(2);
    // Ten times the stall timeout without an acknowledgement: a destination that is down.
    for (let i = 0; i < 50; i++) clock.advance(1000);
    await settle();
    expect(sub.transport.closed).toBe(false);
    expect(broker.stats.stalledSubscriberDisconnects).toBe(0);
    expect(pub.transport.paused).toBe(true);
    const counts = { acks: pub.take().filter((p) => p.type === PacketType.Puback).length };
    expect(counts.acks).toBe(12); // 2 in flight + 10 queued; the rest wait unread
    const received = await drain(sub, pub, counts, first);
    expect(received).toEqual(range(0, 30));
    expect(counts.acks).toBe(30);
    expect(pub.transport.paused).toBe(false);
    expect(broker.stats.messagesDropped).toBe(0);
  });

  it('the same subscriber without the option is disconnected and drops offline (the default, for contrast)', async () => {
    const { broker, clock } = await createBroker(LIMITS);
    const sub = connectSubscriber(broker, false);
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub' });
    pub.connection.feed(pipelined(30));
    clock.advance(6000);
    await settle();
    expect(sub.transport.closed).toBe(true);
    expect(broker.stats.stalledSubscriberDisconnects).toBe(1);
    expect(broker.stats.messagesDropped).toBe(18);
  });

  it('offline, a full queue holds its publishers instead of dropping; they resume once it is back and drains', async () => {
    const { broker } = await createBroker(LIMITS);
    const sub = connectSubscriber(broker, true);
    subscribe(sub, 't', 1);
    sub.connection.transportClosed();
    const pub = connect(broker, { clientId: 'pub' });
    pub.connection.feed(pipelined(30));
    expect(pub.transport.paused).toBe(true);
    const counts = { acks: pub.take().filter((p) => p.type === PacketType.Puback).length };
    expect(counts.acks).toBe(10);
    expect(broker.stats.messagesDropped).toBe(0);
    const back = connectSubscriber(broker, true);
    const received = await drain(back, pub, counts);
    expect(received).toEqual(range(0, 30));
    expect(counts.acks).toBe(30);
    expect(pub.transport.paused).toBe(false);
    expect(broker.stats.messagesDropped).toBe(0);
  });

  it('going offline with more than maxQueuedMessages queued keeps them all', async () => {
    const { broker } = await createBroker(LIMITS);
    const sub = connectSubscriber(broker, true);
    subscribe(sub, 't', 1);
    // The application's publishes have no publisher to hold: they queue past the mark.
    for (let i = 0; i < 30; i++) broker.publish({ topicName: 't', payload: String(i), qos: 1 });
    sub.connection.transportClosed();
    await settle();
    expect(broker.stats.messagesDropped).toBe(0);
    const back = connectSubscriber(broker, true);
    const pub = connect(broker, { clientId: 'pub' });
    const received = await drain(back, pub, { acks: 0 });
    expect(received).toEqual(range(0, 30));
  });

  it('a session taken over by a connection without the option is an ordinary one again', async () => {
    const { broker, clock } = await createBroker(LIMITS);
    const sub = connectSubscriber(broker, true);
    subscribe(sub, 't', 1);
    sub.connection.transportClosed();
    const ordinary = connectSubscriber(broker, false);
    const pub = connect(broker, { clientId: 'pub' });
    pub.connection.feed(pipelined(30));
    expect(pub.transport.paused).toBe(true);
    clock.advance(6000);
    await settle();
    expect(ordinary.transport.closed).toBe(true);
    expect(broker.stats.stalledSubscriberDisconnects).toBe(1);
  });
});
