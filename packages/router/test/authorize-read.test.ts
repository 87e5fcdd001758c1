import { encode, PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { type ClientInfo, MemoryStore } from '../src/index.js';
import { FakeTransport } from '../src/testing/index.js';
import {
  ack,
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishes,
  publishPacket,
  subscribe,
} from './helpers.js';

/** Clients read everything but `secret/...`, except the client id "boss". */
const authorizeRead = (client: ClientInfo, topicName: string): boolean =>
  client.clientId === 'boss' || !topicName.startsWith('secret/');

describe('authorizeRead: a subscriber never gets a topic it may not read', () => {
  it('a wildcard subscription skips forbidden topics; others still get them', async () => {
    const { broker } = await createBroker({ hooks: { authorizeRead } });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, '#', 1);
    const boss = connect(broker, { clientId: 'boss' });
    subscribe(boss, '#', 1);
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('secret/plans', 'x', 1, { packetId: 1 }));
    pub.send(publishPacket('public/news', 'y', 1, { packetId: 2 }));
    expect(publishes(sub.take()).map((p) => p.topicName)).toEqual(['public/news']);
    expect(publishes(boss.take()).map((p) => p.topicName)).toEqual(['secret/plans', 'public/news']);
    // The publisher is acknowledged for both: the broker owns them.
    expect(pub.take().filter((p) => p.type === PacketType.Puback)).toHaveLength(2);
  });

  it('retained messages on forbidden topics are not sent on subscribe', async () => {
    const { broker } = await createBroker({ hooks: { authorizeRead } });
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('secret/a', 'hidden', 0, { retain: true }));
    pub.send(publishPacket('open/a', 'shown', 0, { retain: true }));
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, '#', 0);
    expect(publishes(sub.take()).map((p) => p.payload.toString())).toEqual(['shown']);
  });

  it('offline persistent sessions are checked too: nothing forbidden is queued', async () => {
    const { broker } = await createBroker({ hooks: { authorizeRead } });
    const sub = connect(broker, { clientId: 'sub', cleanStart: false });
    subscribe(sub, '#', 1);
    sub.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('secret/x', 'no', 1, { packetId: 1 }));
    pub.send(publishPacket('open/x', 'yes', 1, { packetId: 2 }));
    const back = openClient(broker);
    back.send(connectPacket({ clientId: 'sub', cleanStart: false }));
    const got = publishes(back.take());
    expect(got.map((p) => p.payload.toString())).toEqual(['yes']);
    back.send(ack(PacketType.Puback, got[0]!.packetId!));
  });

  it('a hook that throws denies that delivery and is logged; others are served', async () => {
    const errors: unknown[] = [];
    const logger = {
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (obj: unknown) => errors.push(obj),
      fatal: () => undefined,
    };
    const { broker } = await createBroker({
      logger,
      hooks: {
        authorizeRead: (client) => {
          if (client.clientId === 'bad') throw new Error('planted hook bug');
          return true;
        },
      },
    });
    const bad = connect(broker, { clientId: 'bad' });
    subscribe(bad, 't', 0);
    const good = connect(broker, { clientId: 'good' });
    subscribe(good, 't', 0);
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('t', 'm', 0));
    expect(publishes(good.take())).toHaveLength(1);
    expect(publishes(bad.take())).toHaveLength(0);
    expect(bad.transport.closed).toBe(false);
    expect(errors).toHaveLength(1);
  });
});

describe('the user of a persistent session is stored with it', () => {
  it('a session restored after a restart is authorized for the user it last connected as', async () => {
    const store = new MemoryStore();
    const byUser = (client: ClientInfo, topicName: string): boolean =>
      client.username === 'carol' || !topicName.startsWith('carol/');
    const first = await createBroker({ store, hooks: { authorizeRead: byUser } });
    const sub = connect(first.broker, { clientId: 'sub', cleanStart: false, username: 'dave' });
    subscribe(sub, '#', 1);
    sub.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    // Reconnects as another user: the stored session must say so.
    const again = connect(first.broker, { clientId: 'sub', cleanStart: false, username: 'carol' });
    again.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    await first.broker.close();
    const second = await createBroker({ store, hooks: { authorizeRead: byUser } });
    const pub = connect(second.broker, { clientId: 'pub' });
    pub.send(publishPacket('carol/inbox', 'for carol', 1, { packetId: 1 }));
    const back = openClient(second.broker);
    back.send(connectPacket({ clientId: 'sub', cleanStart: false, username: 'carol' }));
    expect(publishes(back.take()).map((p) => p.payload.toString())).toEqual(['for carol']);
  });
});

describe('transport.protocolVersions', () => {
  it('a CONNECT of a level the listener does not accept is refused (3.x: 0x01, 5.0: 0x84)', async () => {
    const { broker } = await createBroker();
    const only5 = Object.assign(new FakeTransport(4), { protocolVersions: [5] as const });
    broker.accept(only5).feed(encode(connectPacket({ clientId: 'old' }), 4));
    expect(only5.take()).toEqual([
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 1, properties: undefined },
    ]);
    expect(only5.closed).toBe(true);
    const only4 = Object.assign(new FakeTransport(5), { protocolVersions: [4] as const });
    broker.accept(only4).feed(encode(connectPacket({ clientId: 'new', version: 5 }), 5));
    expect(only4.take()).toEqual([
      expect.objectContaining({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0x84 }),
    ]);
  });
});

describe('transport.identity', () => {
  it('replaces the CONNECT user name for hooks (a TLS client certificate as the username)', async () => {
    const seen: Array<string | undefined> = [];
    const { broker } = await createBroker({
      hooks: {
        authenticate: ({ username }) => {
          seen.push(username);
          return true;
        },
        authorizeSubscribe: (client) => {
          seen.push(client.username);
          return true;
        },
      },
    });
    const transport = Object.assign(new FakeTransport(4), { identity: 'device-42' });
    const connection = broker.accept(transport);
    connection.feed(encode(connectPacket({ clientId: 'c', username: 'claimed' }), 4));
    connection.feed(
      encode(
        {
          type: PacketType.Subscribe,
          packetId: 1,
          subscriptions: [
            { topicFilter: 't', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
          ],
          properties: undefined,
        },
        4,
      ),
    );
    expect(seen).toEqual(['device-42', 'device-42']);
  });
});

describe('byte counters', () => {
  it('count every byte read from and written to clients', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 0);
    const before = broker.stats;
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('t', 'abc', 0));
    const after = broker.stats;
    // CONNECT of "pub" (14 + 3) and the 8-byte PUBLISH in; CONNACK (4) and the PUBLISH out.
    expect(after.bytesReceived - before.bytesReceived).toBe(17 + 8);
    expect(after.bytesSent - before.bytesSent).toBe(4 + 8);
  });
});
