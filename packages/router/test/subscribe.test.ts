import { PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { ack, connect, createBroker, publishes, publishPacket, subscribe } from './helpers.js';

describe('SUBSCRIBE and UNSUBSCRIBE (§3.8–§3.11)', () => {
  it('[MQTT-3.8.4-1][MQTT-3.8.4-5] SUBACK has the packet id and one return code per filter, in order', async () => {
    const { broker } = await createBroker({ maxQoS: 1 });
    const client = connect(broker);
    client.send({
      type: PacketType.Subscribe,
      packetId: 11,
      subscriptions: [
        { topicFilter: 'a', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        { topicFilter: 'a/#/b', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        { topicFilter: 'c/+', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
      properties: undefined,
    });
    expect(client.take()).toEqual([
      { type: PacketType.Suback, packetId: 11, reasonCodes: [0, 0x80, 1], properties: undefined },
    ]);
    expect(broker.stats.subscriptions).toBe(2);
  });

  it('[MQTT-3.8.4-3] a subscription with an existing filter replaces it (new QoS) without duplicates', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 0);
    subscribe(sub, 't', 1);
    expect(broker.stats.subscriptions).toBe(1);
    broker.publish({ topicName: 't', payload: 'x', qos: 1 });
    const got = publishes(sub.take());
    expect(got).toHaveLength(1);
    expect(got[0]?.qos).toBe(1);
  });

  it('[MQTT-3.10.4-4][MQTT-3.10.4-5] UNSUBSCRIBE stops delivery and is answered with UNSUBACK even for unknown filters', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't');
    sub.send({
      type: PacketType.Unsubscribe,
      packetId: 4,
      topicFilters: ['t', 'never'],
      properties: undefined,
    });
    expect(sub.take()).toEqual([
      { type: PacketType.Unsuback, packetId: 4, reasonCodes: [], properties: undefined },
    ]);
    broker.publish({ topicName: 't', payload: 'x' });
    expect(sub.take()).toEqual([]);
  });

  it('authorizeSubscribe false gives 0x80; a QoS answer caps the grant', async () => {
    const { broker } = await createBroker({
      hooks: {
        authorizeSubscribe: (_c, filter) => (filter === 'deny' ? false : filter === 'low' ? 0 : true),
      },
    });
    const client = connect(broker);
    expect(subscribe(client, 'deny', 1)).toEqual([0x80]);
    expect(subscribe(client, 'low', 2, 2)).toEqual([0]);
    expect(subscribe(client, 'ok', 2, 3)).toEqual([2]);
  });

  it('matching rules: # matches the parent, + matches one level including empty ones', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'sport/#', 0, 1);
    subscribe(sub, 'a/+/c', 0, 2);
    for (const topicName of ['sport', 'sport/tennis/x', 'a//c', 'a/b/c', 'a/b/c/d', 'Sport']) {
      broker.publish({ topicName, payload: 'x' });
    }
    expect(publishes(sub.take()).map((p) => p.topicName)).toEqual([
      'sport',
      'sport/tennis/x',
      'a//c',
      'a/b/c',
    ]);
  });
});

describe('retained messages (§3.3.1.3)', () => {
  it('[MQTT-3.3.1-6][MQTT-3.3.1-8] a new subscription gets the retained message with RETAIN 1', async () => {
    const { broker } = await createBroker();
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('r/1', 'kept', 1, { retain: true, packetId: 1 }));
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'r/+', 1);
    const [got] = publishes(sub.take());
    expect(got).toMatchObject({ topicName: 'r/1', retain: true, qos: 1 });
    expect(got?.payload.toString()).toBe('kept');
  });

  it('[MQTT-3.3.1-9] existing subscribers get a retained publish with RETAIN 0', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'r');
    broker.publish({ topicName: 'r', payload: 'x', retain: true });
    expect(publishes(sub.take())[0]?.retain).toBe(false);
  });

  it('[MQTT-3.3.1-5] a new retained message replaces the old one', async () => {
    const { broker } = await createBroker();
    broker.publish({ topicName: 'r', payload: 'old', retain: true });
    broker.publish({ topicName: 'r', payload: 'new', retain: true });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'r');
    expect(publishes(sub.take()).map((p) => p.payload.toString())).toEqual(['new']);
    expect(broker.stats.retainedMessages).toBe(1);
  });

  it('[MQTT-3.3.1-10][MQTT-3.3.1-11] an empty retained payload deletes it, and is still forwarded', async () => {
    const { broker } = await createBroker();
    broker.publish({ topicName: 'r', payload: 'x', retain: true });
    const live = connect(broker, { clientId: 'live' });
    subscribe(live, 'r');
    live.take();
    broker.publish({ topicName: 'r', payload: '', retain: true });
    expect(publishes(live.take())).toHaveLength(1);
    expect(broker.stats.retainedMessages).toBe(0);
    const late = connect(broker, { clientId: 'late' });
    subscribe(late, 'r');
    expect(late.take()).toEqual([]);
  });

  it('[MQTT-3.8.4-3] re-subscribing re-sends the retained messages', async () => {
    const { broker } = await createBroker();
    broker.publish({ topicName: 'r', payload: 'x', retain: true, qos: 1 });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'r', 0);
    expect(publishes(sub.take())).toHaveLength(1);
    subscribe(sub, 'r', 0, 2);
    expect(publishes(sub.take())).toHaveLength(1);
  });

  it('retained delivery at QoS 1 is acknowledged like any other', async () => {
    const { broker } = await createBroker();
    broker.publish({ topicName: 'r', payload: 'x', retain: true, qos: 1 });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'r', 1);
    const [got] = publishes(sub.take());
    sub.send(ack(PacketType.Puback, got!.packetId!));
    expect(sub.take()).toEqual([]);
  });
});

describe('limits', () => {
  it('a filter deeper than the trie allows is refused with 0x80, the connection stays up', async () => {
    const { broker } = await createBroker();
    const client = connect(broker);
    expect(subscribe(client, Array.from({ length: 200 }, () => 'a').join('/'))).toEqual([0x80]);
    expect(client.transport.closed).toBe(false);
    expect(subscribe(client, 'ok', 0, 2)).toEqual([0]);
  });
});

describe('subscription quota', () => {
  it('refuses new filters past maxSubscriptionsPerSession with 0x80; replacing an existing one still works', async () => {
    const { broker } = await createBroker({ maxSubscriptionsPerSession: 2 });
    const client = connect(broker);
    expect(subscribe(client, 'a', 0, 1)).toEqual([0]);
    expect(subscribe(client, 'b', 0, 2)).toEqual([0]);
    expect(subscribe(client, 'c', 0, 3)).toEqual([0x80]);
    expect(subscribe(client, 'a', 1, 4)).toEqual([1]);
    expect(broker.stats.subscriptions).toBe(2);
    expect(client.transport.closed).toBe(false);
  });
});
