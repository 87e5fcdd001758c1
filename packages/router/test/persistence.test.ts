import { PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { Broker, MemoryStore } from '../src/index.js';
import { FakeClock } from '../src/testing/index.js';
import { ack, connect, connectPacket, openClient, publishes, publishPacket, subscribe } from './helpers.js';

/** A MemoryStore whose flushes wait until the test releases (or fails) them. */
class GatedStore extends MemoryStore {
  override readonly durable = true as unknown as false;
  private gates: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private current: Promise<void> | undefined;

  override flush(): undefined {
    this.current ??= new Promise<void>((resolve, reject) => this.gates.push({ resolve, reject }));
    return this.current as unknown as undefined;
  }

  async release(): Promise<void> {
    const gates = this.gates;
    this.gates = [];
    this.current = undefined;
    for (const gate of gates) gate.resolve();
    await new Promise((resolve) => setImmediate(resolve));
  }

  async fail(): Promise<void> {
    const gates = this.gates;
    this.gates = [];
    this.current = undefined;
    for (const gate of gates) gate.reject(new Error('disk full'));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function gatedBroker(): Promise<{ broker: Broker; store: GatedStore }> {
  const store = new GatedStore();
  const broker = new Broker({ clock: new FakeClock(), store });
  await broker.open();
  return { broker, store };
}

/** Connects through a gated store: CONNACK waits for the flush. */
async function connectGated(broker: Broker, store: GatedStore, clientId: string, cleanStart = true) {
  const client = openClient(broker);
  client.send(connectPacket({ clientId, cleanStart }));
  await store.release();
  const [connack] = client.take();
  expect(connack).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
  return client;
}

describe('durable acknowledgements (ARCHITECTURE: durability contract)', () => {
  it('CONNACK of a persistent session waits for the store', async () => {
    const { broker, store } = await gatedBroker();
    const client = openClient(broker);
    client.send(connectPacket({ clientId: 'p', cleanStart: false }));
    expect(client.take()).toEqual([]);
    await store.release();
    expect(client.take()[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
  });

  it('PUBACK waits for the flush covering the deliveries it promised, and acks keep their order', async () => {
    const { broker, store } = await gatedBroker();
    const sub = await connectGated(broker, store, 'sub', false);
    sub.send({
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [
        { topicFilter: 't', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
      properties: undefined,
    });
    expect(sub.take()).toEqual([]); // SUBACK waits too
    await store.release();
    expect(sub.take()[0]).toMatchObject({ type: PacketType.Suback, reasonCodes: [1] });
    const pub = await connectGated(broker, store, 'pub');
    pub.send(publishPacket('t', 'a', 1, { packetId: 1 }));
    pub.send(publishPacket('other', 'b', 1, { packetId: 2 }));
    expect(pub.take()).toEqual([]);
    await store.release();
    expect(pub.take()).toEqual([ack(PacketType.Puback, 1), ack(PacketType.Puback, 2)]);
  });

  it('a failed flush acknowledges nothing and closes the publisher', async () => {
    const { broker, store } = await gatedBroker();
    await connectGated(broker, store, 'sub', false);
    const pub = await connectGated(broker, store, 'pub');
    pub.send(publishPacket('t', 'a', 1, { packetId: 1 }));
    await store.fail();
    expect(pub.take()).toEqual([]);
    expect(pub.transport.closed).toBe(true);
  });
});

describe('restart on the same store', () => {
  it('restores persistent sessions, their subscriptions, queued messages and retained messages', async () => {
    const store = new MemoryStore();
    const first = new Broker({ clock: new FakeClock(), store });
    await first.open();
    const sub = connect(first, { clientId: 'sub', cleanStart: false });
    subscribe(sub, 't/#', 2);
    sub.connection.transportClosed();
    const pub = connect(first, { clientId: 'pub' });
    pub.send(publishPacket('t/1', 'one', 1, { packetId: 1 }));
    pub.send(publishPacket('t/2', 'two', 2, { packetId: 2 }));
    pub.send(publishPacket('r', 'kept', 0, { retain: true }));
    await first.close();

    const second = new Broker({ clock: new FakeClock(), store });
    await second.open();
    expect(second.stats).toMatchObject({ sessions: 1, subscriptions: 1, retainedMessages: 1 });
    const back = openClient(second);
    back.send(connectPacket({ clientId: 'sub', cleanStart: false }));
    const [connack, ...rest] = back.take();
    expect(connack).toMatchObject({ sessionPresent: true });
    expect(publishes(rest).map((p) => [p.topicName, p.payload.toString(), p.qos])).toEqual([
      ['t/1', 'one', 1],
      ['t/2', 'two', 2],
    ]);
  });

  it('re-sends in-flight messages with DUP and their packet ids after a restart', async () => {
    const store = new MemoryStore();
    const first = new Broker({ clock: new FakeClock(), store });
    await first.open();
    const sub = connect(first, { clientId: 'sub', cleanStart: false });
    subscribe(sub, 't', 1);
    first.publish({ topicName: 't', payload: 'x', qos: 1 });
    const [sent] = publishes(sub.take());
    await first.close();
    const second = new Broker({ clock: new FakeClock(), store });
    await second.open();
    const back = openClient(second);
    back.send(connectPacket({ clientId: 'sub', cleanStart: false }));
    const [, resent] = back.take();
    expect(resent).toMatchObject({ type: PacketType.Publish, dup: true, packetId: sent?.packetId });
    back.send(ack(PacketType.Puback, sent!.packetId!));
    const snapshot = await store.open();
    expect(snapshot.sessions[0]?.deliveries).toEqual([]);
  });

  it('acknowledged deliveries release their stored message bodies', async () => {
    const store = new MemoryStore();
    const broker = new Broker({ clock: new FakeClock(), store });
    await broker.open();
    const a = connect(broker, { clientId: 'a', cleanStart: false });
    const b = connect(broker, { clientId: 'b', cleanStart: false });
    subscribe(a, 't', 1);
    subscribe(b, 't', 1);
    broker.publish({ topicName: 't', payload: 'shared', qos: 1 });
    const [toA] = publishes(a.take());
    const [toB] = publishes(b.take());
    a.send(ack(PacketType.Puback, toA!.packetId!));
    let snapshot = await store.open();
    expect(snapshot.sessions.find((s) => s.session.clientId === 'b')?.deliveries).toHaveLength(1);
    b.send(ack(PacketType.Puback, toB!.packetId!));
    snapshot = await store.open();
    expect(snapshot.sessions.every((s) => s.deliveries.length === 0)).toBe(true);
  });
});
