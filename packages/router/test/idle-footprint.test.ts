import { encode, PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/index.js';
import { connect, connectPacket, createBroker, openClient, publishPacket, subscribe } from './helpers.js';

// What an idle connection costs is mostly what it does not allocate (see "Memory per connection"
// in the README). These tests look at internals on purpose: each asserts one thing an idle
// connection must not hold, and fails if a change allocates it again.

/** The parts of Connection and Session these tests look into. */
interface Internals {
  decoder: unknown;
  extras: unknown;
  session: {
    extras: unknown;
    subscriptionsIfAny: unknown;
    inflightIfAny: unknown;
    queueLength: number;
  };
}

const internals = (connection: unknown) => connection as Internals;

/** A durable store whose commits take until `commit()` is called. */
class SlowStore extends MemoryStore {
  override readonly durable = true as unknown as false;
  private waiting: Array<() => void> = [];
  override flush(): undefined {
    return new Promise<void>((resolve) => this.waiting.push(resolve)) as unknown as undefined;
  }
  commit(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

describe('an idle connection', () => {
  it('of a clean session holds no decoder, no connection extras, no session collections', async () => {
    const { broker } = await createBroker();
    const client = connect(broker, { clientId: 'idle', keepaliveSeconds: 60 });
    client.send({ type: PacketType.Pingreq });
    expect(client.take()).toEqual([{ type: PacketType.Pingresp }]);
    const connection = internals(client.connection);
    expect(connection.decoder).toBeUndefined();
    expect(connection.extras).toBeUndefined();
    expect(connection.session.extras).toBeUndefined();
    expect(connection.session.subscriptionsIfAny).toBeUndefined();
    expect(connection.session.inflightIfAny).toBeUndefined();
  });

  it('allocates session collections when first used, and serves as before', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    const pub = connect(broker, { clientId: 'pub' });
    expect(subscribe(sub, 't', 1)).toEqual([1]);
    expect(internals(sub.connection).session.subscriptionsIfAny).toBeInstanceOf(Map);
    pub.send(publishPacket('t', 'x', 1, { packetId: 7 }));
    expect(pub.take()).toEqual([
      { type: PacketType.Puback, packetId: 7, reasonCode: 0, properties: undefined },
    ]);
    expect(sub.take()).toMatchObject([{ type: PacketType.Publish, qos: 1, topicName: 't' }]);
    expect(internals(sub.connection).session.inflightIfAny).toBeInstanceOf(Map);
    // The publisher's session stays without collections: it only published.
    expect(internals(pub.connection).session.extras).toBeUndefined();
  });

  it('keeps a decoder only while a packet is split across chunks', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker);
    const bytes = encode(connectPacket({ clientId: 'split' }), 4);
    client.connection.feed(bytes.subarray(0, 5));
    expect(internals(client.connection).decoder).toBeDefined();
    client.connection.feed(bytes.subarray(5));
    expect(client.take()).toMatchObject([{ type: PacketType.Connack, reasonCode: 0 }]);
    expect(internals(client.connection).decoder).toBeUndefined();
    // A fixed header split after its first byte, then the rest.
    const ping = encode({ type: PacketType.Pingreq }, 4);
    client.connection.feed(ping.subarray(0, 1));
    expect(internals(client.connection).decoder).toBeDefined();
    client.connection.feed(ping.subarray(1));
    expect(client.take()).toEqual([{ type: PacketType.Pingresp }]);
    expect(internals(client.connection).decoder).toBeUndefined();
  });

  it('has no clock timer of its own: connect timeouts and keepalives share one', async () => {
    const { broker, clock } = await createBroker({ connectTimeoutMs: 1000 });
    const before = clock.pendingTimers;
    const clients = Array.from({ length: 50 }, (_, i) =>
      connect(broker, { clientId: `c${i}`, keepaliveSeconds: 10 + i }),
    );
    const waiting = Array.from({ length: 50 }, () => openClient(broker));
    expect(clock.pendingTimers).toBeLessThanOrEqual(before + 1);
    clock.advance(1000);
    expect(waiting.every((client) => client.transport.closed)).toBe(true);
    expect(clients.some((client) => client.transport.closed)).toBe(false);
    clock.advance(15_000 - 1000 - 1); // c0: keepalive 10 s, closed after 15 s of silence
    expect(clients[0]!.transport.closed).toBe(false);
    clock.advance(1);
    expect(clients[0]!.transport.closed).toBe(true);
    expect(clients[1]!.transport.closed).toBe(false);
  });
});

describe('the connect path and the store', () => {
  it('a clean session gets its CONNACK without waiting for the store; a stored one waits', async () => {
    const store = new SlowStore();
    const { broker } = await createBroker({ store });
    const clean = openClient(broker);
    clean.send(connectPacket({ clientId: 'clean', cleanStart: true }));
    expect(clean.take()).toMatchObject([{ type: PacketType.Connack, reasonCode: 0 }]);

    const stored = openClient(broker);
    stored.send(connectPacket({ clientId: 'stored', cleanStart: false }));
    expect(stored.take()).toEqual([]);
    store.commit();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stored.take()).toMatchObject([{ type: PacketType.Connack, reasonCode: 0 }]);
  });

  it('a clean session that replaces a stored one waits for its removal to be durable', async () => {
    const store = new SlowStore();
    const { broker } = await createBroker({ store });
    const first = openClient(broker);
    first.send(connectPacket({ clientId: 'x', cleanStart: false }));
    store.commit();
    await new Promise((resolve) => setImmediate(resolve));
    first.take();
    first.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });

    const again = openClient(broker);
    again.send(connectPacket({ clientId: 'x', cleanStart: true }));
    expect(again.take()).toEqual([]);
    store.commit();
    await new Promise((resolve) => setImmediate(resolve));
    expect(again.take()).toMatchObject([{ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 }]);
  });
});
