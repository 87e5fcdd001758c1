import { type Packet, PacketType, ReasonCode } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { Broker, MemoryStore } from '../src/index.js';
import { FakeClock } from '../src/testing/index.js';
import {
  type ConnectOptions,
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishes,
  publishPacket,
  subscribe,
} from './helpers.js';

const HOUR = 3_600_000;

/** Connects `dev` (5.0, Clean Start 0), subscribes it to `t` at QoS 1 and drops the connection. */
function leave(broker: Broker, properties: ConnectOptions['properties'], version: 4 | 5 = 5): void {
  const dev = connect(broker, { clientId: 'dev', version, cleanStart: false, properties });
  subscribe(dev, 't', 1);
  dev.connection.transportClosed(new Error('reset'));
}

/** Reconnects `dev` with Clean Start 0 and returns its CONNACK and what followed it. */
function comeBack(broker: Broker, version: 4 | 5 = 5): { connack: Packet; rest: Packet[] } {
  const back = openClient(broker, version);
  back.send(connectPacket({ clientId: 'dev', version, cleanStart: false, properties: undefined }));
  const [connack, ...rest] = back.take();
  return { connack: connack!, rest };
}

function publishFrom(broker: Broker, payload: string): void {
  const pub = connect(broker, { clientId: `pub-${payload}` });
  pub.send(publishPacket('t', payload, 1));
}

describe('5.0 Session Expiry Interval (§3.1.2.11.2)', () => {
  it('absent (0): the session ends when the connection closes', async () => {
    const { broker } = await createBroker();
    leave(broker, undefined);
    expect(broker.stats.sessions).toBe(0);
    expect(comeBack(broker).connack).toMatchObject({ type: PacketType.Connack, sessionPresent: false });
  });

  it('[MQTT-3.1.2-23] a session is kept, with its queued messages, until its interval passes, then removed', async () => {
    const { broker, clock } = await createBroker();
    leave(broker, { sessionExpiryInterval: 60 });
    publishFrom(broker, 'kept');
    clock.advance(59_999);
    const { connack, rest } = comeBack(broker);
    expect(connack).toMatchObject({ sessionPresent: true });
    expect(publishes(rest).map((p) => p.payload.toString())).toEqual(['kept']);

    const { broker: other, clock: otherClock } = await createBroker();
    leave(other, { sessionExpiryInterval: 60 });
    publishFrom(other, 'lost');
    otherClock.advance(60_000);
    expect(other.stats.sessions).toBe(1); // the publisher's, still connected
    expect(other.stats.subscriptions).toBe(0);
    expect(comeBack(other).connack).toMatchObject({ sessionPresent: false });
  });

  it('0xFFFFFFFF never expires, past the longest timer (2^31 ms) too', async () => {
    const { broker, clock } = await createBroker();
    leave(broker, { sessionExpiryInterval: 0xffff_ffff });
    clock.advance(40 * 24 * HOUR);
    expect(comeBack(broker).connack).toMatchObject({ sessionPresent: true });
  });

  it('an interval longer than one timer still ends on time', async () => {
    const { broker, clock } = await createBroker();
    leave(broker, { sessionExpiryInterval: 30 * 24 * 3600 });
    clock.advance(30 * 24 * HOUR - 1);
    expect(broker.stats.subscriptions).toBe(1);
    clock.advance(1);
    expect(broker.stats.subscriptions).toBe(0);
  });

  it('reconnecting stops the clock; it starts again from the next close', async () => {
    const { broker, clock } = await createBroker();
    leave(broker, { sessionExpiryInterval: 60 });
    clock.advance(50_000);
    leave(broker, { sessionExpiryInterval: 60 });
    clock.advance(50_000);
    expect(broker.stats.subscriptions).toBe(1);
    clock.advance(10_000);
    expect(broker.stats.subscriptions).toBe(0);
  });

  it('DISCONNECT may change the interval: shorter, or 0 to end the session at once', async () => {
    const { broker, clock } = await createBroker();
    const dev = connect(broker, {
      clientId: 'dev',
      version: 5,
      cleanStart: false,
      properties: { sessionExpiryInterval: 600 },
    });
    subscribe(dev, 't', 1);
    dev.send({ type: PacketType.Disconnect, reasonCode: 0, properties: { sessionExpiryInterval: 5 } });
    clock.advance(5_000);
    expect(broker.stats.subscriptions).toBe(0);

    const again = connect(broker, {
      clientId: 'dev',
      version: 5,
      cleanStart: false,
      properties: { sessionExpiryInterval: 600 },
    });
    subscribe(again, 't', 1);
    again.send({ type: PacketType.Disconnect, reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    expect(broker.stats.sessions).toBe(0);
  });

  it('§3.14.2.2.2 DISCONNECT setting an interval after 0 on CONNECT: DISCONNECT 0x82 [MQTT-3.14.2-2: without one], and the will goes out', async () => {
    const { broker } = await createBroker();
    const watcher = connect(broker, { clientId: 'watcher' });
    subscribe(watcher, 'wills/#', 0);
    const dev = connect(broker, {
      clientId: 'dev',
      version: 5,
      will: {
        topicName: 'wills/dev',
        payload: Buffer.from('gone'),
        qos: 0,
        retain: false,
        properties: undefined,
      },
    });
    dev.send({ type: PacketType.Disconnect, reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
    const sent = dev.take();
    expect(sent).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: ReasonCode.ProtocolError }),
    ]);
    expect(
      sent[0]?.type === PacketType.Disconnect && sent[0].properties?.sessionExpiryInterval,
    ).toBeUndefined();
    expect(dev.transport.closed).toBe(true);
    expect(publishes(watcher.take()).map((p) => p.payload.toString())).toEqual(['gone']);
    expect(broker.stats.sessions).toBe(1); // the watcher's
  });

  it('maxSessionExpirySeconds caps what a 5.0 client asks for, and says so in CONNACK', async () => {
    const { broker } = await createBroker({ maxSessionExpirySeconds: 30 });
    const client = openClient(broker, 5);
    client.send(
      connectPacket({
        clientId: 'dev',
        version: 5,
        cleanStart: false,
        properties: { sessionExpiryInterval: 600 },
      }),
    );
    expect(client.take()[0]).toMatchObject({
      type: PacketType.Connack,
      properties: { sessionExpiryInterval: 30 },
    });
    const exact = openClient(broker, 5);
    exact.send(connectPacket({ clientId: 'other', version: 5, properties: { sessionExpiryInterval: 30 } }));
    const [connack] = exact.take();
    expect(connack?.type === PacketType.Connack && connack.properties?.sessionExpiryInterval).toBeFalsy();
  });

  it('maxSessionExpirySeconds ends a 3.1.1 Clean Session 0 session too', async () => {
    const { broker, clock } = await createBroker({ maxSessionExpirySeconds: 30 });
    leave(broker, undefined, 4);
    clock.advance(29_999);
    expect(broker.stats.subscriptions).toBe(1);
    clock.advance(1);
    expect(broker.stats.subscriptions).toBe(0);
    expect(comeBack(broker, 4).connack).toMatchObject({ sessionPresent: false });
  });

  it('a 3.1.1 session resumed by 5.0 with no interval ends when that connection closes', async () => {
    const { broker } = await createBroker();
    leave(broker, undefined, 4);
    const dev = openClient(broker, 5);
    dev.send(connectPacket({ clientId: 'dev', version: 5, cleanStart: false }));
    expect(dev.take()[0]).toMatchObject({ sessionPresent: true });
    dev.connection.transportClosed(undefined);
    expect(broker.stats.sessions).toBe(0);
  });
});

describe('Session expiry across a restart (stored deadline)', () => {
  async function restart(store: MemoryStore, clock: FakeClock, options = {}): Promise<Broker> {
    const broker = new Broker({ store, clock, ...options });
    await broker.open();
    return broker;
  }

  it('the deadline is stored at disconnect: a restart keeps it, and a session past it is removed at open', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const first = await restart(store, clock);
    leave(first, { sessionExpiryInterval: 60 });
    publishFrom(first, 'queued');
    await first.close();
    const record = (await store.open()).sessions.find((s) => s.session.clientId === 'dev')?.session;
    expect(record).toMatchObject({ sessionExpiryInterval: 60, expiresAt: clock.epochNow() + 60_000 });

    clock.advance(30_000);
    const second = await restart(store, clock);
    expect(second.stats.subscriptions).toBe(1);
    clock.advance(30_000);
    expect(second.stats.subscriptions).toBe(0);
    await second.close();
    expect((await store.open()).sessions).toEqual([]);

    const third = await restart(store, clock);
    leave(third, { sessionExpiryInterval: 60 });
    await third.close();
    clock.advance(61_000);
    const fourth = await restart(store, clock);
    expect(fourth.stats.sessions).toBe(0);
    await fourth.close();
    const after = await store.open();
    expect(after.sessions).toEqual([]);
    expect(after.maxMessageId).toBeGreaterThanOrEqual(0);
  });

  it('a session online when the broker stopped starts its interval at the next start; 0 ends it', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    store.saveSession({
      clientId: 'was-online',
      protocolVersion: 5,
      sessionExpiryInterval: 10,
      expiresAt: undefined,
      username: undefined,
    });
    store.saveSession({
      clientId: 'zero',
      protocolVersion: 5,
      sessionExpiryInterval: 0,
      expiresAt: undefined,
      username: undefined,
    });
    const broker = await restart(store, clock);
    expect(broker.stats.sessions).toBe(1);
    clock.advance(10_000);
    expect(broker.stats.sessions).toBe(0);
  });

  it('a lowered maxSessionExpirySeconds shortens a stored deadline', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    store.saveSession({
      clientId: 'long',
      protocolVersion: 5,
      sessionExpiryInterval: 3600,
      expiresAt: clock.epochNow() + HOUR,
      username: undefined,
    });
    const broker = await restart(store, clock, { maxSessionExpirySeconds: 5 });
    clock.advance(5_000);
    expect(broker.stats.sessions).toBe(0);
  });
});
