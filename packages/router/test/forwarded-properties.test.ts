import { PacketType, type Properties, type PublishPacket } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { MemoryStore, type Transport } from '../src/index.js';
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

const everyPublishProperty: Properties = {
  payloadFormatIndicator: 1,
  messageExpiryInterval: 3600,
  contentType: 'text/plain',
  responseTopic: 'reply/here',
  correlationData: Buffer.from([1, 2, 3]),
  userProperties: [
    ['a', '1'],
    ['a', '2'],
  ],
};

/** What a subscriber is sent of `everyPublishProperty`: all of it, user properties in order. */
const forwarded = { ...everyPublishProperty };

describe('forwarded PUBLISH properties come from an allow-list', () => {
  it('a 5.0 will with every will property (Will Delay Interval too) is published without the will-only ones', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    subscribe(sub, 'will/#', 1);
    const dying = openClient(broker, 5);
    dying.send({
      ...connectPacket({ clientId: 'dying', version: 5 }),
      will: {
        topicName: 'will/dying',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: true,
        properties: { ...everyPublishProperty, willDelayInterval: 10 },
      },
    });
    dying.take();
    dying.connection.transportClosed(new Error('connection reset'));
    const [will] = publishes(sub.take());
    expect(will?.payload.toString()).toBe('gone');
    expect(will?.properties).toEqual(forwarded);
    expect(broker.stats.internalErrors).toBe(0);
    // The retained copy carries the same properties to a later subscriber.
    const late = connect(broker, { clientId: 'late', version: 5 });
    subscribe(late, 'will/dying', 1);
    expect(publishes(late.take())[0]?.properties).toEqual(forwarded);
  });

  it('inbound Topic Aliases: set, then used with an empty topic; never forwarded', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    subscribe(sub, 't/#', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send({ ...publishPacket('t/long/topic', 'one', 1, { packetId: 1 }), properties: { topicAlias: 3 } });
    pub.send({ ...publishPacket('', 'two', 1, { packetId: 2 }), properties: { topicAlias: 3 } });
    const got = publishes(sub.take());
    expect(got.map((p) => [p.topicName, p.payload.toString(), p.properties?.topicAlias])).toEqual([
      ['t/long/topic', 'one', undefined],
      ['t/long/topic', 'two', undefined],
    ]);
  });

  it('an alias above the advertised Topic Alias Maximum gets DISCONNECT 0x94; an unset one 0x82', async () => {
    const { broker } = await createBroker({ topicAliasMaximum: 2 });
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send({ ...publishPacket('t', 'x', 1), properties: { topicAlias: 3 } });
    expect(pub.take()).toEqual([expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x94 })]);
    const other = connect(broker, { clientId: 'other', version: 5 });
    other.send({ ...publishPacket('', 'x', 1), properties: { topicAlias: 1 } });
    expect(other.take()).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x82 }),
    ]);
    const none = await createBroker({ topicAliasMaximum: 0 });
    const refused = connect(none.broker, { clientId: 'x', version: 5 });
    refused.send({ ...publishPacket('t', 'x', 1), properties: { topicAlias: 1 } });
    expect(refused.take()).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x94 }),
    ]);
  });

  it('a PUBLISH from a client with a Subscription Identifier is a protocol error (DISCONNECT 0x82)', async () => {
    const { broker } = await createBroker();
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send({ ...publishPacket('t', 'x', 1), properties: { subscriptionIdentifiers: [7] } });
    expect(pub.take()).toEqual([expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x82 })]);
  });

  it('forwards every forwardable property of a PUBLISH, and a 3.1.1 subscriber gets none', async () => {
    const { broker } = await createBroker();
    const v5 = connect(broker, { clientId: 'v5', version: 5 });
    subscribe(v5, 't', 1);
    const v4 = connect(broker, { clientId: 'v4' });
    subscribe(v4, 't', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send({ ...publishPacket('t', 'x', 1), properties: everyPublishProperty });
    expect(publishes(v5.take())[0]?.properties).toEqual(forwarded);
    expect(publishes(v4.take())[0]?.properties).toBeUndefined();
  });

  it('Broker.publish filters properties and refuses ones that cannot be encoded, at the call', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    subscribe(sub, 't', 1);
    broker.publish({
      topicName: 't',
      payload: 'x',
      qos: 1,
      properties: {
        ...everyPublishProperty,
        topicAlias: 3,
        subscriptionIdentifiers: [1],
        willDelayInterval: 5,
      },
    });
    expect(publishes(sub.take())[0]?.properties).toEqual(forwarded);
    expect(() =>
      broker.publish({ topicName: 't', payload: 'x', properties: { payloadFormatIndicator: 7 } }),
    ).toThrow(expect.objectContaining({ code: 'ROUTER_INVALID_MESSAGE' }));
  });

  it('retained messages restored from a store are filtered too (stores written by older versions)', async () => {
    const store = new MemoryStore();
    await store.open();
    store.saveRetained({
      topicName: 'old/will',
      payload: Buffer.from('kept'),
      qos: 1,
      properties: { willDelayInterval: 30, contentType: 'text/plain' },
    });
    await store.flush();
    await store.close();
    const { broker } = await createBroker({ store });
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    subscribe(sub, 'old/#', 1);
    const [retained] = publishes(sub.take());
    expect(retained?.payload.toString()).toBe('kept');
    expect(retained?.properties).toMatchObject({ contentType: 'text/plain' });
    expect(retained?.properties?.willDelayInterval).toBeUndefined();
  });
});

describe('an exception while serving one client costs that client only', () => {
  it('a transport that throws on write: that connection is closed and counted, the others are served', async () => {
    const { broker } = await createBroker();
    const healthy = connect(broker, { clientId: 'healthy', version: 5 });
    subscribe(healthy, 't', 1);
    const broken = connect(broker, { clientId: 'broken', version: 5 });
    subscribe(broken, 't', 1);
    const transport = broken.transport as Transport & { write(data: Buffer): boolean };
    transport.write = () => {
      throw new Error('planted transport bug');
    };
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('t', 'one', 1));
    pub.send(publishPacket('t', 'two', 1, { packetId: 2 }));
    const got = publishes(healthy.take()) as PublishPacket[];
    expect(got.map((p) => p.payload.toString())).toEqual(['one', 'two']);
    expect(broken.transport.closed).toBe(true);
    expect(broker.stats.internalErrors).toBeGreaterThanOrEqual(1);
    expect(pub.take().filter((p) => p.type === PacketType.Puback)).toHaveLength(2);
    for (const p of got) healthy.send(ack(PacketType.Puback, p.packetId!));
  });

  it('an exception while handling a packet closes that connection with DISCONNECT 0x83', async () => {
    const { broker } = await createBroker({
      hooks: {
        authorizeSubscribe: () => true,
      },
    });
    const victim = connect(broker, { clientId: 'victim', version: 5 });
    // A planted bug: the broker's event listener is isolated, so break a session method instead.
    broker.on('subscribed', () => undefined);
    const sessionHolder = victim.connection as unknown as { session: { allocatePacketId(): number } };
    sessionHolder.session.allocatePacketId = () => {
      throw new RangeError('planted bug');
    };
    subscribe(victim, 't', 1);
    const other = connect(broker, { clientId: 'other', version: 5 });
    subscribe(other, 't', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('t', 'x', 1));
    expect(victim.transport.closed).toBe(true);
    expect(victim.take()).toContainEqual({
      type: PacketType.Disconnect,
      reasonCode: 0x83,
      properties: { reasonString: 'internal error while serving this client' },
    });
    expect(publishes(other.take()).map((p) => p.payload.toString())).toEqual(['x']);
    expect(broker.stats.internalErrors).toBe(1);
  });
});
