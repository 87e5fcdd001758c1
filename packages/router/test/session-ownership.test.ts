import { type DisconnectPacket, PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { MemoryStore, type SessionOwnershipHook, type SessionSnapshot } from '../src/index.js';
import { connect, connectPacket, createBroker, openClient, publishes, subscribe } from './helpers.js';

const persistent = { version: 5 as const, cleanStart: false, properties: { sessionExpiryInterval: 3600 } };

/** A persistent 5.0 session "sub" with a QoS 1 subscription and `queued` messages queued offline. */
async function storedSession(queued: number): Promise<SessionSnapshot> {
  const store = new MemoryStore();
  const { broker } = await createBroker({ store });
  const sub = connect(broker, { clientId: 'sub', ...persistent });
  subscribe(sub, 'q/#', 1);
  sub.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
  for (let i = 0; i < queued; i++) broker.publish({ topicName: 'q/t', payload: `m${i}`, qos: 1 });
  const snapshot = await store.open();
  return snapshot.sessions.find((s) => s.session.clientId === 'sub')!;
}

/** An ownership hook that answers every claim with `answer` and records the calls. */
function hook(answer: () => Promise<SessionSnapshot | undefined> | undefined): SessionOwnershipHook & {
  calls: Array<[string, boolean]>;
} {
  const calls: Array<[string, boolean]> = [];
  return {
    calls,
    claim: (clientId, cleanStart) => {
      calls.push([clientId, cleanStart]);
      return answer();
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('sessionOwnership hook (cluster seam)', () => {
  it('installs the claimed session at CONNECT: session present, queued messages sent, subscription live', async () => {
    const snapshot = await storedSession(3);
    const ownership = hook(() => Promise.resolve(snapshot));
    const { broker } = await createBroker({ sessionOwnership: ownership });
    const sub = openClient(broker, 5);
    sub.send(connectPacket({ clientId: 'sub', ...persistent }));
    expect(sub.take()).toEqual([]); // waits for the claim
    await settle();
    const [connack, ...rest] = sub.take();
    expect(connack).toMatchObject({ type: PacketType.Connack, sessionPresent: true, reasonCode: 0 });
    expect(publishes(rest).map((p) => p.payload.toString())).toEqual(['m0', 'm1', 'm2']);
    expect(ownership.calls).toEqual([['sub', false]]);
    broker.publish({ topicName: 'q/t', payload: 'after', qos: 1 });
    expect(publishes(sub.take()).map((p) => p.payload.toString())).toEqual(['after']);
    expect(broker.stats.sessions).toBe(1);
  });

  it('Clean Start ends the claimed session; a session held here already is kept over the snapshot', async () => {
    const snapshot = await storedSession(2);
    const { broker } = await createBroker({ sessionOwnership: hook(() => Promise.resolve(snapshot)) });
    const clean = openClient(broker, 5);
    clean.send(
      connectPacket({
        clientId: 'sub',
        version: 5,
        cleanStart: true,
        properties: { sessionExpiryInterval: 60 },
      }),
    );
    await settle();
    const [connack, ...rest] = clean.take();
    expect(connack).toMatchObject({ type: PacketType.Connack, sessionPresent: false });
    expect(rest).toEqual([]);
    broker.publish({ topicName: 'q/t', payload: 'not-subscribed', qos: 1 });
    expect(clean.take()).toEqual([]);
    // Held here now (online): the next claim's snapshot is not installed over it.
    const again = openClient(broker, 5);
    again.send(connectPacket({ clientId: 'sub', ...persistent }));
    await settle();
    expect(clean.take()).toMatchObject([{ type: PacketType.Disconnect, reasonCode: 0x8e }]);
    const [second, ...queued] = again.take();
    expect(second).toMatchObject({ type: PacketType.Connack, sessionPresent: true });
    expect(publishes(queued)).toEqual([]);
  });

  it('undefined goes on at once; a rejected claim refuses with 0x88', async () => {
    const sync = await createBroker({ sessionOwnership: hook(() => undefined) });
    connect(sync.broker, { clientId: 'a' }); // throws unless CONNACK 0 came at once
    const { broker } = await createBroker({
      sessionOwnership: hook(() => Promise.reject(new Error('database down'))),
    });
    const client = openClient(broker, 5);
    client.send(connectPacket({ clientId: 'a', version: 5 }));
    await settle();
    expect(client.take()).toMatchObject([{ type: PacketType.Connack, reasonCode: 0x88 }]);
    expect(client.transport.closed).toBe(true);
  });
});

describe('Broker.dropSession', () => {
  it('closes a 5.0 connection with DISCONNECT 0x8E and forgets the session without writing to the store', async () => {
    const store = new MemoryStore();
    const { broker } = await createBroker({ store });
    const watcher = connect(broker, { clientId: 'watcher' });
    subscribe(watcher, 'will/#', 1);
    const sub = connect(broker, {
      clientId: 'sub',
      ...persistent,
      will: {
        topicName: 'will/now',
        payload: Buffer.from('gone'),
        qos: 0,
        retain: false,
        properties: undefined,
      },
    });
    subscribe(sub, 'q/#', 1);
    broker.publish({ topicName: 'q/t', payload: 'unacked', qos: 1 });
    expect(publishes(sub.take())).toHaveLength(1);
    const before = await store.open();
    expect(broker.dropSession('sub')).toBe(true);
    const [disconnect] = sub.take() as [DisconnectPacket];
    expect(disconnect).toMatchObject({ type: PacketType.Disconnect, reasonCode: 0x8e });
    expect(sub.transport.closed).toBe(true);
    expect(broker.stats.sessions).toBe(1); // the watcher's
    // The will (delay 0) went; nothing was written: the stored session is as it was.
    expect(publishes(watcher.take()).map((p) => p.payload.toString())).toEqual(['gone']);
    const after = await store.open();
    expect(after.sessions.find((s) => s.session.clientId === 'sub')).toEqual(
      before.sessions.find((s) => s.session.clientId === 'sub'),
    );
    broker.publish({ topicName: 'q/t', payload: 'later', qos: 1 });
    expect((await store.open()).sessions.find((s) => s.session.clientId === 'sub')?.deliveries).toHaveLength(
      1,
    );
    expect(broker.dropSession('sub')).toBe(false);
  });

  it('3.x: closed without a DISCONNECT; a will with a Will Delay Interval is not published', async () => {
    const { broker, clock } = await createBroker();
    const watcher = connect(broker, { clientId: 'watcher' });
    subscribe(watcher, 'will/#', 1);
    const old = connect(broker, { clientId: 'v3', cleanStart: false });
    expect(broker.dropSession('v3')).toBe(true);
    expect(old.take()).toEqual([]);
    expect(old.transport.closed).toBe(true);
    const delayed = connect(broker, {
      clientId: 'delayed',
      ...persistent,
      will: {
        topicName: 'will/late',
        payload: Buffer.from('late'),
        qos: 0,
        retain: false,
        properties: { willDelayInterval: 5 },
      },
    });
    expect(delayed.take()).toEqual([]);
    expect(broker.dropSession('delayed')).toBe(true);
    expect(delayed.take()).toMatchObject([{ type: PacketType.Disconnect, reasonCode: 0x8e }]);
    clock.advance(10_000);
    expect(publishes(watcher.take())).toEqual([]);
    expect(broker.stats.sessions).toBe(1);
  });
});
