import { type Packet, PacketType, type Properties, type QoS } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { Broker, type BrokerOptions, isRouterError, MemoryStore } from '../src/index.js';
import { FakeClock } from '../src/testing/index.js';
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

/** Lets microtasks and resolved promises (released publishers, settled hooks) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A MemoryStore whose flushes wait until the test releases them: acks wait, as with SQLite. */
class GatedStore extends MemoryStore {
  override readonly durable = true as unknown as false;
  private gates: Array<() => void> = [];
  private current: Promise<void> | undefined;

  override flush(): undefined {
    this.current ??= new Promise<void>((resolve) => this.gates.push(resolve));
    return this.current as unknown as undefined;
  }

  async release(): Promise<void> {
    const gates = this.gates;
    this.gates = [];
    this.current = undefined;
    for (const gate of gates) gate();
    await settle();
  }
}

function connect5(broker: Broker, clientId: string, properties?: Properties): TestClient {
  return connect(broker, { clientId, version: 5, properties });
}

function subscribePacket(
  filters: string[],
  options: { packetId?: number; qos?: QoS; properties?: Properties } = {},
): Packet {
  return {
    type: PacketType.Subscribe,
    packetId: options.packetId ?? 1,
    subscriptions: filters.map((topicFilter) => ({
      topicFilter,
      qos: options.qos ?? 0,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
    })),
    properties: options.properties,
  };
}

function expectDisconnected(client: TestClient, reasonCode: number): void {
  expect(client.take()).toEqual([expect.objectContaining({ type: PacketType.Disconnect, reasonCode })]);
  expect(client.transport.closed).toBe(true);
}

describe('5.0 Receive Maximum of the broker (§3.2.2.3.3, §3.3.4, §4.9)', () => {
  it('§3.2.2.3.3 CONNACK advertises a Receive Maximum below 65535 and each Available flag that is off', async () => {
    const { broker } = await createBroker({ topicAliasMaximum: 0 });
    const plain = openClient(broker, 5);
    plain.send(connectPacket({ clientId: 'plain', version: 5 }));
    // Defaults: Receive Maximum 65535 and everything available, which absence means.
    expect(plain.take()).toEqual([
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 0, properties: undefined },
    ]);
    const limited = await createBroker({
      topicAliasMaximum: 0,
      receiveMaximum: 20,
      retainAvailable: false,
      wildcardSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: false,
    });
    const client = openClient(limited.broker, 5);
    client.send(connectPacket({ clientId: 'c', version: 5 }));
    expect(client.take()).toEqual([
      {
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: 0,
        properties: {
          receiveMaximum: 20,
          retainAvailable: 0,
          wildcardSubscriptionAvailable: 0,
          subscriptionIdentifiersAvailable: 0,
          sharedSubscriptionAvailable: 0,
        },
      },
    ]);
  });

  it('[MQTT-3.3.4-7] one QoS 1/2 PUBLISH past the Receive Maximum while the acks wait for the store: DISCONNECT 0x93', async () => {
    const store = new GatedStore();
    const broker = new Broker({ clock: new FakeClock(), store, receiveMaximum: 2 });
    await broker.open();
    const pub = openClient(broker, 5);
    pub.send(connectPacket({ clientId: 'pub', version: 5 }));
    await store.release();
    expect(pub.take()[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
    pub.send(publishPacket('t', 'a', 1, { packetId: 1 }));
    pub.send(publishPacket('t', 'b', 2, { packetId: 2 }));
    expect(pub.take()).toEqual([]); // both wait for the store: 2 unacknowledged, the maximum
    pub.send(publishPacket('t', 'c', 1, { packetId: 3 }));
    expect(pub.take()).toEqual([
      {
        type: PacketType.Disconnect,
        reasonCode: 0x93,
        properties: {
          reasonString: 'more than Receive Maximum 2 QoS 1 and 2 PUBLISH packets unacknowledged',
        },
      },
    ]);
    expect(pub.transport.closed).toBe(true);
  });

  it('[MQTT-3.3.4-7] a slot comes back at PUBACK (QoS 1), at PUBCOMP, not PUBREC (QoS 2), and at a refusing PUBREC', async () => {
    const { broker } = await createBroker({
      receiveMaximum: 1,
      hooks: { authorizePublish: (_client, topicName) => topicName !== 'denied' },
    });
    const pub = connect5(broker, 'pub');
    pub.send(publishPacket('t', 'a', 1, { packetId: 1 }));
    pub.send(publishPacket('t', 'b', 1, { packetId: 2 }));
    expect(pub.take().map((p) => [p.type, 'packetId' in p ? p.packetId : undefined])).toEqual([
      [PacketType.Puback, 1],
      [PacketType.Puback, 2],
    ]);
    // A refused QoS 2 ends its flow at the PUBREC (0x87): its slot is free again.
    pub.send(publishPacket('denied', 'c', 2, { packetId: 3 }));
    expect(pub.take()).toEqual([
      {
        type: PacketType.Pubrec,
        packetId: 3,
        reasonCode: 0x87,
        properties: { reasonString: 'not authorized to publish to this topic' },
      },
    ]);
    // An accepted QoS 2 holds it from PUBLISH until PUBCOMP.
    pub.send(publishPacket('t', 'd', 2, { packetId: 4 }));
    expect(pub.take()).toEqual([expect.objectContaining({ type: PacketType.Pubrec, packetId: 4 })]);
    pub.send(ack(PacketType.Pubrel, 4));
    expect(pub.take()).toEqual([expect.objectContaining({ type: PacketType.Pubcomp, packetId: 4 })]);
    pub.send(publishPacket('t', 'e', 2, { packetId: 5 }));
    expect(pub.take()).toEqual([expect.objectContaining({ type: PacketType.Pubrec, packetId: 5 })]);
    pub.send(publishPacket('t', 'f', 1, { packetId: 6 })); // QoS 2 id 5 awaits its PUBREL
    expectDisconnected(pub, 0x93);
  });

  it('[MQTT-3.3.4-7] a publisher held by flow control that keeps to the Receive Maximum is never disconnected', async () => {
    const { broker } = await createBroker({ receiveMaximum: 3, maxQueuedMessages: 1 });
    const sub = connect5(broker, 'sub', { receiveMaximum: 1 });
    subscribe(sub, 't', 1);
    const pub = connect5(broker, 'pub');
    // A well-behaved publisher: at most 3 unacknowledged, a new one only for each PUBACK.
    const total = 40;
    let sent = 0;
    let acked = 0;
    let delivered = 0;
    let heldAtMaximum = false;
    while (acked < total) {
      for (const packet of pub.take()) {
        expect(packet.type).toBe(PacketType.Puback);
        acked++;
      }
      while (sent < total && sent - acked < 3) {
        sent++;
        pub.send(publishPacket('t', String(sent), 1, { packetId: sent }));
      }
      // Held, nothing of these is acknowledged yet: the broker counts exactly what the client does.
      if (pub.transport.paused && sent - acked === 3 && pub.transport.received.length === 0)
        heldAtMaximum = true;
      // The subscriber acknowledges one delivery per round: the queue behind it holds the publisher.
      const [delivery] = publishes(sub.take());
      if (delivery !== undefined) {
        delivered++;
        sub.send(ack(PacketType.Puback, delivery.packetId!));
      }
      await settle();
    }
    expect(pub.transport.closed).toBe(false);
    expect(broker.stats.publisherPauses).toBeGreaterThan(0);
    expect(heldAtMaximum).toBe(true);
    expect(delivered).toBeGreaterThan(0);
  });

  it('[MQTT-3.3.4-7] a publisher held by flow control with Receive Maximum PUBLISHes waiting: one more gets DISCONNECT 0x93', async () => {
    const { broker } = await createBroker({ receiveMaximum: 3, maxQueuedMessages: 1 });
    const sub = connect5(broker, 'sub', { receiveMaximum: 1 });
    subscribe(sub, 't', 1); // never acknowledges: its queue fills and holds the publisher
    const pub = connect5(broker, 'pub');
    pub.send(publishPacket('t', '1', 1, { packetId: 1 })); // in flight to the subscriber, acked
    pub.send(publishPacket('t', '2', 1, { packetId: 2 })); // queued, acked, the publisher held
    expect(pub.take().map((p) => p.type)).toEqual([PacketType.Puback, PacketType.Puback]);
    expect(pub.transport.paused).toBe(true);
    for (let id = 3; id <= 5; id++) pub.send(publishPacket('t', String(id), 1, { packetId: id }));
    expect(pub.take()).toEqual([]); // three held, unacknowledged: the maximum, not past it
    expect(pub.transport.closed).toBe(false);
    pub.send(publishPacket('t', '6', 1, { packetId: 6 }));
    expectDisconnected(pub, 0x93);
  });

  it('[MQTT-3.3.4-7] 3.x clients are not limited (they were told nothing)', async () => {
    let release: (() => void) | undefined;
    const pending = new Promise<boolean>((resolve) => {
      release = () => resolve(true);
    });
    const { broker } = await createBroker({ receiveMaximum: 1, hooks: { authorizePublish: () => pending } });
    const pub = connect(broker, { clientId: 'old' });
    for (let id = 1; id <= 5; id++) pub.send(publishPacket('t', 'x', 1, { packetId: id }));
    expect(pub.transport.closed).toBe(false);
    release!();
    await settle();
    expect(pub.take().map((p) => p.type)).toEqual(Array(5).fill(PacketType.Puback));
  });

  it('receiveMaximum must be 1-65535 and the Available flags booleans', () => {
    const invalid = (options: BrokerOptions): string | undefined => {
      try {
        new Broker(options);
      } catch (error) {
        return isRouterError(error) ? error.code : 'other';
      }
      return undefined;
    };
    expect(invalid({ receiveMaximum: 0 })).toBe('ROUTER_INVALID_OPTION');
    expect(invalid({ receiveMaximum: 65_536 })).toBe('ROUTER_INVALID_OPTION');
    expect(invalid({ retainAvailable: 'no' as unknown as boolean })).toBe('ROUTER_INVALID_OPTION');
    expect(invalid({ receiveMaximum: 65_535, sharedSubscriptionAvailable: false })).toBeUndefined();
  });
});

describe('Reason Strings on acknowledgements that refuse', () => {
  it('[MQTT-3.1.2-29] PUBACK, PUBREC and SUBACK say why; never when Request Problem Information is 0', async () => {
    const { broker } = await createBroker({
      maxSubscriptionsPerSession: 2,
      hooks: {
        authorizePublish: (_client, topicName) => topicName !== 'denied',
        authorizeSubscribe: (_client, topicFilter) => topicFilter !== 'secret/#',
      },
    });
    const told = connect5(broker, 'told');
    told.send(publishPacket('denied', 'x', 1, { packetId: 1 }));
    told.send(publishPacket('$SYS/x', 'x', 2, { packetId: 2 }));
    told.send(subscribePacket(['a', 'secret/#', 'a/#/b', 'b', 'c'], { packetId: 3 }));
    expect(told.take()).toEqual([
      {
        type: PacketType.Puback,
        packetId: 1,
        reasonCode: 0x87,
        properties: { reasonString: 'not authorized to publish to this topic' },
      },
      {
        type: PacketType.Pubrec,
        packetId: 2,
        reasonCode: 0x87,
        properties: { reasonString: 'clients may not publish to topics starting with $' },
      },
      {
        type: PacketType.Suback,
        packetId: 3,
        reasonCodes: [0, 0x87, 0x8f, 0, 0x97],
        properties: {
          reasonString:
            'filter 2: not authorized; filter 3: topic filter invalid; filter 5: maxSubscriptionsPerSession 2 reached',
        },
      },
    ]);
    const silent = connect5(broker, 'silent', { requestProblemInformation: 0 });
    silent.send(publishPacket('denied', 'x', 1, { packetId: 1 }));
    silent.send(subscribePacket(['secret/#'], { packetId: 2 }));
    expect(silent.take()).toEqual([
      { type: PacketType.Puback, packetId: 1, reasonCode: 0x87, properties: undefined },
      { type: PacketType.Suback, packetId: 2, reasonCodes: [0x87], properties: undefined },
    ]);
    // Successes carry none: 0x10 No matching subscribers is no error.
    told.send(publishPacket('nobody', 'x', 1, { packetId: 4 }));
    expect(told.take()).toEqual([
      { type: PacketType.Puback, packetId: 4, reasonCode: 0x10, properties: undefined },
    ]);
  });

  it('[MQTT-3.4.2-2] no Reason String on a PUBACK it would make larger than the Maximum Packet Size', async () => {
    const { broker } = await createBroker({ hooks: { authorizePublish: () => false } });
    // A bare 5.0 PUBACK with a reason code is 5 bytes; any Reason String makes it 9 or more.
    const small = connect5(broker, 'small', { maximumPacketSize: 8 });
    small.send(publishPacket('t', 'x', 1, { packetId: 1 }));
    expect(small.take()).toEqual([
      { type: PacketType.Puback, packetId: 1, reasonCode: 0x87, properties: undefined },
    ]);
    const roomy = connect5(broker, 'roomy', { maximumPacketSize: 64 });
    roomy.send(publishPacket('t', 'x', 1, { packetId: 1 }));
    expect(roomy.take()).toEqual([
      expect.objectContaining({ reasonCode: 0x87, properties: { reasonString: expect.any(String) } }),
    ]);
  });

  it('[MQTT-3.9.2-1] no Reason String on a SUBACK it would make larger than the Maximum Packet Size', async () => {
    const { broker } = await createBroker({ hooks: { authorizeSubscribe: () => false } });
    const small = connect5(broker, 'small', { maximumPacketSize: 12 });
    small.send(subscribePacket(['a', 'b'], { packetId: 7 }));
    expect(small.take()).toEqual([
      { type: PacketType.Suback, packetId: 7, reasonCodes: [0x87, 0x87], properties: undefined },
    ]);
    const roomy = connect5(broker, 'roomy');
    roomy.send(subscribePacket(['a', 'b'], { packetId: 7 }));
    expect(roomy.take()).toEqual([
      {
        type: PacketType.Suback,
        packetId: 7,
        reasonCodes: [0x87, 0x87],
        properties: { reasonString: 'filter 1: not authorized; filter 2: not authorized' },
      },
    ]);
  });

  it('[MQTT-3.7.2-2] PUBCOMP 0x92 for an unknown packet id says why, within the Maximum Packet Size', async () => {
    const { broker } = await createBroker();
    const client = connect5(broker, 'c');
    client.send(ack(PacketType.Pubrel, 9));
    expect(client.take()).toEqual([
      {
        type: PacketType.Pubcomp,
        packetId: 9,
        reasonCode: 0x92,
        properties: { reasonString: 'packet identifier 9 not found' },
      },
    ]);
    const small = connect5(broker, 'small', { maximumPacketSize: 10 });
    small.send(ack(PacketType.Pubrel, 9));
    expect(small.take()).toEqual([
      { type: PacketType.Pubcomp, packetId: 9, reasonCode: 0x92, properties: undefined },
    ]);
  });

  it('[MQTT-3.11.3-1][MQTT-3.11.3-2] UNSUBACK: 0x00 for a filter that existed, 0x11 for one that did not, in order', async () => {
    const { broker } = await createBroker();
    const client = connect5(broker, 'c');
    subscribe(client, 'a/+', 1);
    client.send({
      type: PacketType.Unsubscribe,
      packetId: 5,
      topicFilters: ['x', 'a/+', 'a/+'],
      properties: undefined,
    });
    expect(client.take()).toEqual([
      { type: PacketType.Unsuback, packetId: 5, reasonCodes: [0x11, 0x00, 0x11], properties: undefined },
    ]);
  });

  it('UNSUBACK waits for the store like SUBACK, and never overtakes it', async () => {
    const store = new GatedStore();
    const broker = new Broker({ clock: new FakeClock(), store });
    await broker.open();
    const client = openClient(broker, 5);
    client.send(connectPacket({ clientId: 'p', version: 5, cleanStart: false }));
    await store.release();
    client.take();
    client.send(subscribePacket(['a'], { packetId: 1 }));
    client.send({ type: PacketType.Unsubscribe, packetId: 2, topicFilters: ['a'], properties: undefined });
    expect(client.take()).toEqual([]);
    await store.release();
    expect(client.take().map((p) => p.type)).toEqual([PacketType.Suback, PacketType.Unsuback]);
  });
});

describe('features the broker says are not available (§3.2.2.3.5, §3.2.2.3.11-13)', () => {
  it('[MQTT-3.2.2-14] a PUBLISH with RETAIN 1 while Retain Available is 0: DISCONNECT 0x9A, nothing retained (3.x: closed)', async () => {
    const { broker } = await createBroker({ retainAvailable: false });
    const pub = connect5(broker, 'pub');
    pub.send(publishPacket('r', 'x', 1, { packetId: 1, retain: true }));
    expectDisconnected(pub, 0x9a);
    const old = connect(broker, { clientId: 'old' });
    old.send(publishPacket('r', 'x', 0, { retain: true }));
    expect(old.take()).toEqual([]);
    expect(old.transport.closed).toBe(true);
    expect(broker.stats.retainedMessages).toBe(0);
    // RETAIN 0 is fine.
    const fine = connect5(broker, 'fine');
    fine.send(publishPacket('r', 'x', 1, { packetId: 1 }));
    expect(fine.take()).toEqual([expect.objectContaining({ type: PacketType.Puback, reasonCode: 0x10 })]);
  });

  it('[MQTT-3.2.2-13] a will with RETAIN 1 while Retain Available is 0: CONNACK 0x9A (3.x: closed without CONNACK)', async () => {
    const { broker } = await createBroker({ retainAvailable: false });
    const will = {
      topicName: 'w',
      payload: Buffer.from('x'),
      qos: 0 as const,
      retain: true,
      properties: undefined,
    };
    const client = openClient(broker, 5);
    client.send(connectPacket({ clientId: 'w5', version: 5, will }));
    expect(client.take()).toEqual([
      {
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: 0x9a,
        properties: { reasonString: 'will: retain is not available' },
      },
    ]);
    expect(client.transport.closed).toBe(true);
    const old = openClient(broker, 4);
    old.send(connectPacket({ clientId: 'w4', will }));
    expect(old.take()).toEqual([]);
    expect(old.transport.closed).toBe(true);
    // A will without RETAIN is accepted.
    connect(broker, { clientId: 'ok', version: 5, will: { ...will, retain: false } });
  });

  it('§3.2.2.3.11 a wildcard filter while Wildcard Subscription Available is 0: DISCONNECT 0xA2 (3.x: SUBACK 0x80 for it)', async () => {
    const { broker } = await createBroker({ wildcardSubscriptionAvailable: false });
    const client = connect5(broker, 'c');
    client.send(subscribePacket(['plain', 'a/+/b']));
    expectDisconnected(client, 0xa2);
    const hash = connect5(broker, 'hash');
    hash.send(subscribePacket(['#']));
    expectDisconnected(hash, 0xa2);
    const old = connect(broker, { clientId: 'old' });
    old.send(subscribePacket(['plain', 'a/#', 'b/+']));
    expect(old.take()).toEqual([
      { type: PacketType.Suback, packetId: 1, reasonCodes: [0, 0x80, 0x80], properties: undefined },
    ]);
    expect(broker.stats.subscriptions).toBe(1);
  });

  it('§3.2.2.3.12 a Subscription Identifier while Subscription Identifiers Available is 0: DISCONNECT 0xA1', async () => {
    const { broker } = await createBroker({ subscriptionIdentifiersAvailable: false });
    const client = connect5(broker, 'c');
    client.send(subscribePacket(['a'], { properties: { subscriptionIdentifiers: [3] } }));
    expectDisconnected(client, 0xa1);
    const without = connect5(broker, 'without');
    without.send(subscribePacket(['a']));
    expect(without.take()).toEqual([
      { type: PacketType.Suback, packetId: 1, reasonCodes: [0], properties: undefined },
    ]);
  });

  it('§3.2.2.3.13 a shared subscription while Shared Subscription Available is 0: DISCONNECT 0x9E (3.x: SUBACK 0x80 for it)', async () => {
    const { broker } = await createBroker({ sharedSubscriptionAvailable: false });
    const client = connect5(broker, 'c');
    client.send(subscribePacket(['a', '$share/g/a']));
    expectDisconnected(client, 0x9e);
    const old = connect(broker, { clientId: 'old' });
    old.send(subscribePacket(['$share/g/a', 'a/#']));
    expect(old.take()).toEqual([
      { type: PacketType.Suback, packetId: 1, reasonCodes: [0x80, 0], properties: undefined },
    ]);
  });
});
