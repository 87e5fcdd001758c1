import { type Packet, PacketType, type PublishPacket, type QoS } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { Broker, MemoryStore } from '../src/index.js';
import { FakeClock } from '../src/testing/index.js';
import {
  ack,
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishes,
  publishPacket,
  type TestClient,
} from './helpers.js';

function subscribeWithId(
  client: TestClient,
  topicFilter: string,
  qos: QoS,
  id: number | undefined,
  packetId = 1,
): Packet[] {
  client.send({
    type: PacketType.Subscribe,
    packetId,
    subscriptions: [{ topicFilter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
    properties: id === undefined ? undefined : { subscriptionIdentifiers: [id] },
  });
  return client.take().filter((packet) => packet.type !== PacketType.Suback);
}

const ids = (packet: PublishPacket | undefined) => packet?.properties?.subscriptionIdentifiers;

describe('5.0 Subscription Identifiers in delivered PUBLISH [MQTT-3.3.4-3]', () => {
  it('every matching identifier, one delivery; a subscriber without one and a 3.1.1 one get none', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    subscribeWithId(sub, 'a/#', 0, 5, 1);
    subscribeWithId(sub, 'a/b', 0, 7, 2);
    const plain = connect(broker, { clientId: 'plain', version: 5 });
    subscribeWithId(plain, 'a/b', 0, undefined);
    const old = connect(broker, { clientId: 'old' });
    subscribeWithId(old, 'a/b', 0, undefined);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send({ ...publishPacket('a/b', 'x', 0), properties: { contentType: 'text/plain' } });
    const [got] = publishes(sub.take());
    expect([...(ids(got) ?? [])].sort()).toEqual([5, 7]);
    expect(got?.properties?.contentType).toBe('text/plain');
    const [plainGot] = publishes(plain.take());
    expect(plainGot?.properties).toEqual({ contentType: 'text/plain' });
    expect(publishes(old.take())[0]?.properties).toBeUndefined();
  });

  it('kept through the queue behind a full window, and on retained messages sent on subscribe', async () => {
    const { broker } = await createBroker({ maxInflightMessages: 1 });
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('r/1', 'retained', 1, { packetId: 1, retain: true }));
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    const [retained] = publishes(subscribeWithId(sub, 'r/#', 1, 42));
    expect(retained?.retain).toBe(true);
    expect(ids(retained)).toEqual([42]);
    pub.send(publishPacket('r/2', 'queued', 1, { packetId: 2 }));
    expect(publishes(sub.take())).toEqual([]); // the window of 1 is taken by the retained one
    sub.send(ack(PacketType.Puback, retained!.packetId!));
    const [queued] = publishes(sub.take());
    expect(queued?.payload.toString()).toBe('queued');
    expect(ids(queued)).toEqual([42]);
  });
});

describe('Subscription Identifiers of deliveries restored from the store', () => {
  it('a message queued for an offline session still carries the matching identifiers after a restart', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const first = new Broker({ store, clock });
    await first.open();
    const persistent = {
      clientId: 'sub',
      version: 5,
      cleanStart: false,
      properties: { sessionExpiryInterval: 600 },
    } as const;
    const sub = connect(first, persistent);
    subscribeWithId(sub, 'a/#', 1, 5, 1);
    subscribeWithId(sub, 'a/+', 1, 7, 2);
    subscribeWithId(sub, 'z/#', 1, 11, 3);
    sub.connection.transportClosed(undefined);
    const pub = connect(first, { clientId: 'pub' });
    pub.send(publishPacket('a/b', 'queued', 1));
    await first.close();

    const second = new Broker({ store, clock });
    await second.open();
    const back = openClient(second, 5);
    back.send(connectPacket(persistent));
    const [message] = publishes(back.take());
    expect(message?.payload.toString()).toBe('queued');
    expect(
      ids(message)
        ?.slice()
        .sort((x, y) => x - y),
    ).toEqual([5, 7]);
  });
});
