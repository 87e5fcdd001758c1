import { encode, PacketType, type ProtocolVersion, type QoS } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import {
  Broker,
  type BrokerOptions,
  defaultBrokerOptions,
  isRouterError,
  type Logger,
  MemoryStore,
} from '../src/index.js';
import { ConnectRateLimiter, hostOf } from '../src/limits.js';
import { FakeClock, FakeTransport } from '../src/testing/index.js';
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

/** Lets microtasks (a released publisher draining its waiting packets) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface LogEntry {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function capturingLogger(): { logger: Logger; entries: LogEntry[]; warnings: (limit: string) => LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      if (typeof obj === 'string') entries.push({ level, obj: {}, msg: obj });
      else entries.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  const logger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  const warnings = (limit: string) => entries.filter((e) => e.level === 'warn' && e.obj.limit === limit);
  return { logger, entries, warnings };
}

async function limitedBroker(options: BrokerOptions) {
  const log = capturingLogger();
  const { broker, clock } = await createBroker({ logger: log.logger, ...options });
  return { broker, clock, ...log };
}

/** A client on its own transport with `remoteAddress`; CONNECT not sent yet. */
function clientAt(broker: Broker, remoteAddress: string, version: ProtocolVersion = 4): TestClient {
  const transport = new FakeTransport(version, remoteAddress);
  const connection = broker.accept(transport);
  return {
    transport,
    connection,
    send: (packet) => connection.feed(encode(packet, version)),
    take: () => transport.take(),
  };
}

function pipelined(topicName: string, count: number, qos: QoS): Buffer {
  return Buffer.concat(
    Array.from({ length: count }, (_, i) =>
      encode(publishPacket(topicName, String(i), qos, { packetId: i + 1 }), 4),
    ),
  );
}

function countAcks(client: TestClient): number {
  return client.take().filter((p) => p.type === PacketType.Puback).length;
}

describe('limit options', () => {
  it('defaults: every new limit off, 128 levels, 65535 bytes; stats count zero hits', async () => {
    expect(defaultBrokerOptions).toMatchObject({
      maxConnections: 0,
      maxConnectRatePerAddress: 0,
      maxPublishRatePerClient: 0,
      maxTopicLevels: 128,
      maxTopicLength: 65535,
      maxRetainedMessages: 0,
      maxRetainedBytes: 0,
      maxRetainedPayloadBytes: 0,
    });
    const { broker } = await createBroker();
    expect(broker.stats.limitHits).toEqual({
      connections: 0,
      connectRate: 0,
      publishRate: 0,
      topicLevels: 0,
      topicLength: 0,
      retainedMessages: 0,
      retainedBytes: 0,
      retainedPayload: 0,
    });
    expect(broker.stats.retainedBytes).toBe(0);
  });

  it.each([
    [{ maxConnections: -1 }, 'maxConnections = -1 must be an integer from 0 (off) to 9007199254740991'],
    [{ maxConnectRatePerAddress: 1.5 }, 'maxConnectRatePerAddress = 1.5 must be an integer from 0 (off)'],
    [{ maxPublishRatePerClient: -5 }, 'maxPublishRatePerClient = -5'],
    [{ maxTopicLevels: 0 }, 'maxTopicLevels = 0 must be an integer from 1 to 32768'],
    [{ maxTopicLength: 65536 }, 'maxTopicLength = 65536 must be an integer from 1 to 65535'],
    [{ maxRetainedMessages: -1 }, 'maxRetainedMessages = -1'],
    [{ maxRetainedBytes: Number.NaN }, 'maxRetainedBytes = NaN'],
    [{ maxRetainedPayloadBytes: 0.5 }, 'maxRetainedPayloadBytes = 0.5'],
  ])('refuses %j', (options, message) => {
    let caught: unknown;
    try {
      new Broker(options as BrokerOptions);
    } catch (error) {
      caught = error;
    }
    expect(isRouterError(caught) && caught.code).toBe('ROUTER_INVALID_OPTION');
    expect((caught as Error).message).toContain(message);
  });
});

describe('maxConnections', () => {
  it('closes the transport beyond it at once, without CONNACK; the others are served', async () => {
    const { broker, warnings } = await limitedBroker({ maxConnections: 2 });
    const first = connect(broker, { clientId: 'first' });
    const second = clientAt(broker, '10.0.0.2:1000'); // still before CONNECT: counts too
    const refused = clientAt(broker, '10.0.0.3:1000');
    expect(refused.transport.closed).toBe(true);
    refused.send(connectPacket({ clientId: 'refused' }));
    expect(refused.transport.written).toHaveLength(0);
    refused.connection.transportClosed();
    expect(clientAt(broker, '10.0.0.4:1000').transport.closed).toBe(true);
    expect(broker.stats.limitHits.connections).toBe(2);
    expect(broker.stats.connections).toBe(2);
    // One line for the episode, with the limit and the address.
    expect(warnings('maxConnections')).toHaveLength(1);
    expect(warnings('maxConnections')[0]!.obj).toMatchObject({
      remoteAddress: '10.0.0.3:1000',
      maxConnections: 2,
    });

    second.send(connectPacket({ clientId: 'second' }));
    expect(second.take()[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
    subscribe(second, 't');
    first.send(publishPacket('t', 'still served'));
    expect(publishes(second.take()).map((p) => p.payload.toString())).toEqual(['still served']);

    // Room again once one leaves; the next episode is logged again.
    first.connection.transportClosed();
    const third = clientAt(broker, '10.0.0.5:1000');
    expect(third.transport.closed).toBe(false);
    expect(clientAt(broker, '10.0.0.6:1000').transport.closed).toBe(true);
    expect(warnings('maxConnections')).toHaveLength(2);
  });
});

describe('maxConnectRatePerAddress', () => {
  it.each([
    ['127.0.0.1:50000', '127.0.0.1'],
    ['[::1]:50000', '::1'],
    ['[::ffff:10.0.0.1]:1', '::ffff:10.0.0.1'],
    ['unknown', 'unknown'],
  ])('host of %s is %s', (address, host) => {
    expect(hostOf(address)).toBe(host);
  });

  it.each([
    [4, 3],
    [5, 0x9f],
  ] as const)(
    'protocol %i: CONNECT over the rate gets %i and is closed; other hosts are served',
    async (version, code) => {
      const { broker, clock, warnings } = await limitedBroker({ maxConnectRatePerAddress: 2 });
      const attempt = (address: string, clientId: string) => {
        const client = clientAt(broker, address, version);
        client.send(connectPacket({ clientId, version }));
        return client;
      };
      const a = attempt('10.0.0.1:1001', 'a');
      const b = attempt('10.0.0.1:1002', 'b');
      expect(a.take()[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
      expect(b.take()[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
      const c = attempt('10.0.0.1:1003', 'c');
      expect(c.take()).toEqual([expect.objectContaining({ type: PacketType.Connack, reasonCode: code })]);
      expect(c.transport.closed).toBe(true);
      attempt('10.0.0.1:1004', 'd');
      expect(broker.stats.limitHits.connectRate).toBe(2);
      expect(warnings('maxConnectRatePerAddress')).toHaveLength(1);
      expect(warnings('maxConnectRatePerAddress')[0]!.obj).toMatchObject({
        clientId: 'c',
        remoteAddress: '10.0.0.1:1003',
        maxConnectRatePerAddress: 2,
      });
      // Another host has its own bucket; the ones connected are untouched.
      expect(attempt('10.0.0.2:1001', 'e').take()[0]).toMatchObject({ reasonCode: 0 });
      expect(a.transport.closed).toBe(false);
      // Half a second refills one token.
      clock.advance(500);
      expect(attempt('10.0.0.1:1005', 'f').take()[0]).toMatchObject({ reasonCode: 0 });
      expect(attempt('10.0.0.1:1006', 'g').take()[0]).toMatchObject({ reasonCode: code });
    },
  );

  it('forgets idle hosts and tracks a bounded number of them', () => {
    const limiter = new ConnectRateLimiter(1, 3);
    for (const host of ['a', 'b', 'c', 'd', 'e']) expect(limiter.take(host, 0)).toBeUndefined();
    expect(limiter.trackedHosts).toBe(3);
    // 'e' is still tracked: refused.
    expect(limiter.take('e', 10)).toBeDefined();
    // After a second every bucket is full again: forgotten at the next CONNECT.
    expect(limiter.take('x', 1500)).toBeUndefined();
    expect(limiter.trackedHosts).toBe(1);
  });
});

describe('maxPublishRatePerClient', () => {
  it('allocates nothing per connection while off', async () => {
    const { broker } = await createBroker();
    const client = connect(broker);
    expect((client.connection as unknown as { publishRate: unknown }).publishRate).toBeUndefined();
  });

  it('holds a client past its rate and releases it with time, never disconnecting it; others are served', async () => {
    const { broker, clock, warnings } = await limitedBroker({ maxPublishRatePerClient: 10 });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, '#');
    const pub = connect(broker, { clientId: 'pub', keepaliveSeconds: 1 });
    const other = connect(broker, { clientId: 'other' });
    pub.connection.feed(pipelined('fast', 30, 1));
    await settle();
    // The burst (10) goes through, then the client is not read.
    expect(countAcks(pub)).toBe(10);
    expect(pub.transport.paused).toBe(true);
    expect(broker.stats.limitHits.publishRate).toBe(1);
    // Another client is served meanwhile.
    other.send(publishPacket('other', 'x', 1));
    expect(other.take()).toEqual([expect.objectContaining({ type: PacketType.Puback, packetId: 1 })]);
    // Acks from the held client still pass.
    pub.send({ type: PacketType.Pingreq });
    expect(pub.take()).toEqual([{ type: PacketType.Pingresp }]);

    clock.advance(99);
    await settle();
    expect(countAcks(pub)).toBe(0);
    let acks = 0;
    for (let elapsed = 0; elapsed < 2000; elapsed += 100) {
      clock.advance(100);
      await settle();
      acks += countAcks(pub);
    }
    // 10 per second: all 20 left in two seconds, far past the 1.5 s keepalive, still connected.
    expect(acks).toBe(20);
    expect(pub.transport.closed).toBe(false);
    expect(publishes(sub.take()).filter((p) => p.topicName === 'fast')).toHaveLength(30);
    expect(warnings('maxPublishRatePerClient')).toHaveLength(1);
    expect(warnings('maxPublishRatePerClient')[0]!.obj).toMatchObject({
      clientId: 'pub',
      maxPublishRatePerClient: 10,
    });
    expect(broker.stats.publisherPauses).toBe(0);
    expect(broker.stats.messagesDropped).toBe(0);

    // Idle for a second: a full burst again, read at once.
    clock.advance(1000);
    await settle();
    expect(pub.transport.paused).toBe(false);
    pub.connection.feed(pipelined('fast', 9, 1));
    await settle();
    expect(countAcks(pub)).toBe(9);
    expect(pub.transport.paused).toBe(false);
  });

  it('leaves no timer behind when a held client goes away', async () => {
    const { broker, clock } = await limitedBroker({ maxPublishRatePerClient: 5 });
    const pub = connect(broker, { clientId: 'pub' });
    pub.connection.feed(pipelined('t', 8, 0));
    const timers = clock.pendingTimers;
    pub.connection.transportClosed();
    expect(clock.pendingTimers).toBe(timers - 1);
    clock.advance(5000);
    expect(broker.stats.connections).toBe(0);
  });
});

describe('maxTopicLevels and maxTopicLength', () => {
  it.each([
    [4, undefined],
    [5, 0x90],
  ] as const)(
    'protocol %i: a PUBLISH past maxTopicLevels is an invalid topic name',
    async (version, disconnect) => {
      const { broker, warnings } = await limitedBroker({ maxTopicLevels: 3 });
      const sub = connect(broker, { clientId: 'sub' });
      subscribe(sub, '#');
      const pub = connect(broker, { clientId: 'pub', version });
      pub.send(publishPacket('a/b/c', 'ok'));
      pub.send(publishPacket('a/b/c/d', 'deep'));
      expect(pub.transport.closed).toBe(true);
      expect(pub.take()).toEqual(
        disconnect === undefined
          ? []
          : [expect.objectContaining({ type: PacketType.Disconnect, reasonCode: disconnect })],
      );
      expect(publishes(sub.take()).map((p) => p.topicName)).toEqual(['a/b/c']);
      expect(sub.transport.closed).toBe(false);
      expect(broker.stats.limitHits.topicLevels).toBe(1);
      expect(warnings('maxTopicLevels')[0]!.obj).toMatchObject({
        clientId: 'pub',
        maxTopicLevels: 3,
        levels: 4,
      });
    },
  );

  it('the default of 128 levels applies to PUBLISH', async () => {
    const { broker } = await createBroker();
    const pub = connect(broker);
    pub.send(publishPacket(Array(128).fill('x').join('/'), 'ok', 1));
    expect(pub.take()).toHaveLength(1);
    pub.send(publishPacket(Array(129).fill('x').join('/'), 'deep', 1));
    expect(pub.transport.closed).toBe(true);
    expect(broker.stats.limitHits.topicLevels).toBe(1);
  });

  it('a PUBLISH past maxTopicLength (UTF-8 bytes) is an invalid topic name', async () => {
    const { broker, warnings } = await limitedBroker({ maxTopicLength: 10 });
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('ééééé', 'ten bytes', 1));
    expect(pub.take()).toEqual([expect.objectContaining({ type: PacketType.Puback })]);
    pub.send(publishPacket('éééééé', 'twelve bytes', 1, { packetId: 2 }));
    expect(pub.take()).toEqual([expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x90 })]);
    expect(pub.transport.closed).toBe(true);
    expect(broker.stats.limitHits.topicLength).toBe(1);
    expect(warnings('maxTopicLength')[0]!.obj).toMatchObject({
      clientId: 'pub',
      maxTopicLength: 10,
      bytes: 12,
    });
  });

  it.each([
    [4, 0x80],
    [5, 0x8f],
  ] as const)(
    'protocol %i: a filter past either limit gets %i, the others are granted',
    async (version, code) => {
      const { broker, warnings } = await limitedBroker({ maxTopicLevels: 3, maxTopicLength: 20 });
      const sub = connect(broker, { clientId: 'sub', version });
      sub.send({
        type: PacketType.Subscribe,
        packetId: 7,
        subscriptions: ['a/+/#', 'a/b/c/d', 'a/bbbbbbbbbbbbbbbbbbbbbbbb', 'ok'].map((topicFilter) => ({
          topicFilter,
          qos: 1 as const,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0 as const,
        })),
        properties: undefined,
      });
      expect(sub.take()).toEqual([
        expect.objectContaining({ type: PacketType.Suback, reasonCodes: [1, code, code, 1] }),
      ]);
      expect(sub.transport.closed).toBe(false);
      expect(broker.stats.limitHits).toMatchObject({ topicLevels: 1, topicLength: 1 });
      expect(warnings('maxTopicLevels')).toHaveLength(1);
      expect(warnings('maxTopicLength')).toHaveLength(1);
      // Once per connection.
      subscribe(sub, 'x/y/z/w', 1, 8);
      expect(broker.stats.limitHits.topicLevels).toBe(2);
      expect(warnings('maxTopicLevels')).toHaveLength(1);
    },
  );

  it.each([
    [4, undefined],
    [5, 0x90],
  ] as const)('protocol %i: a will topic past the limits refuses the CONNECT', async (version, code) => {
    const { broker } = await limitedBroker({ maxTopicLevels: 2 });
    const transport = new FakeTransport(version);
    const connection = broker.accept(transport);
    connection.feed(
      encode(
        connectPacket({
          clientId: 'w',
          version,
          will: {
            topicName: 'a/b/c',
            payload: Buffer.from('x'),
            qos: 0,
            retain: false,
            properties: undefined,
          },
        }),
        version,
      ),
    );
    expect(transport.take()).toEqual(
      code === undefined ? [] : [expect.objectContaining({ type: PacketType.Connack, reasonCode: code })],
    );
    expect(transport.closed).toBe(true);
    expect(broker.stats.limitHits.topicLevels).toBe(1);
  });

  it('Broker.publish refuses topics past the limits', async () => {
    const { broker } = await createBroker({ maxTopicLevels: 2, maxTopicLength: 8 });
    expect(() => broker.publish({ topicName: 'a/b/c', payload: 'x' })).toThrow(/maxTopicLevels 2/);
    expect(() => broker.publish({ topicName: 'abcdefghi', payload: 'x' })).toThrow(/maxTopicLength 8/);
  });
});

describe('retained limits', () => {
  const retainedTopics = (broker: Broker, clientId: string): string[] => {
    const probe = connect(broker, { clientId });
    subscribe(probe, '#');
    const topics = publishes(probe.take()).map((p) => `${p.topicName}=${p.payload.toString()}`);
    probe.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    return topics.sort();
  };

  it('maxRetainedMessages: one more is delivered but not retained; replacing and deleting still work', async () => {
    const { broker, warnings } = await limitedBroker({ maxRetainedMessages: 2 });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, '#');
    const pub = connect(broker, { clientId: 'pub' });
    const retain = (topic: string, payload: string) =>
      pub.send(publishPacket(topic, payload, 0, { retain: true }));
    retain('a', '1');
    retain('b', '1');
    retain('c', '1');
    expect(publishes(sub.take()).map((p) => p.topicName)).toEqual(['a', 'b', 'c']);
    expect(retainedTopics(broker, 'p1')).toEqual(['a=1', 'b=1']);
    expect(broker.stats.limitHits.retainedMessages).toBe(1);
    retain('a', '2'); // replacing fits
    retain('d', '1');
    expect(retainedTopics(broker, 'p2')).toEqual(['a=2', 'b=1']);
    expect(broker.stats.limitHits.retainedMessages).toBe(2);
    retain('b', ''); // deleting always works
    retain('c', '2');
    expect(retainedTopics(broker, 'p3')).toEqual(['a=2', 'c=2']);
    expect(warnings('maxRetainedMessages')).toHaveLength(1);
    expect(warnings('maxRetainedMessages')[0]!.obj).toMatchObject({
      clientId: 'pub',
      maxRetainedMessages: 2,
      topicName: 'c',
    });
    expect(pub.transport.closed).toBe(false);
  });

  it('maxRetainedBytes counts the payloads, replacing counts the difference', async () => {
    const { broker } = await limitedBroker({ maxRetainedBytes: 10 });
    const pub = connect(broker, { clientId: 'pub' });
    const retain = (topic: string, payload: string) =>
      pub.send(publishPacket(topic, payload, 0, { retain: true }));
    retain('a', '123456');
    retain('b', '12345');
    expect(broker.stats).toMatchObject({ retainedBytes: 6, retainedMessages: 1 });
    expect(broker.stats.limitHits.retainedBytes).toBe(1);
    retain('a', '1234');
    retain('b', '12345');
    expect(broker.stats).toMatchObject({ retainedBytes: 9, retainedMessages: 2 });
    retain('a', '');
    expect(broker.stats.retainedBytes).toBe(5);
  });

  it('maxRetainedPayloadBytes: a larger retained message leaves the retained one as it was, and is not stored', async () => {
    const store = new MemoryStore();
    const { broker } = await limitedBroker({ maxRetainedPayloadBytes: 4, store });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't');
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('t', 'old', 1, { retain: true }));
    pub.send(publishPacket('t', 'too big', 1, { retain: true, packetId: 2 }));
    expect(pub.take().map((p) => p.type)).toEqual([PacketType.Puback, PacketType.Puback]);
    expect(publishes(sub.take()).map((p) => p.payload.toString())).toEqual(['old', 'too big']);
    expect(retainedTopics(broker, 'probe')).toEqual(['t=old']);
    expect((await store.findRetained('#')).map((r) => r.payload.toString())).toEqual(['old']);
    expect(broker.stats.limitHits.retainedPayload).toBe(1);
  });

  it("a retained will past the limits is published, not retained, and logged with its client's id", async () => {
    const { broker, warnings } = await limitedBroker({ maxRetainedPayloadBytes: 1 });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'will');
    const dying = connect(broker, {
      clientId: 'dying',
      will: { topicName: 'will', payload: Buffer.from('bye'), qos: 0, retain: true, properties: undefined },
    });
    dying.connection.transportClosed();
    expect(publishes(sub.take()).map((p) => p.payload.toString())).toEqual(['bye']);
    expect(broker.stats.retainedMessages).toBe(0);
    expect(warnings('maxRetainedPayloadBytes')[0]!.obj).toMatchObject({ clientId: 'dying' });
  });

  it('retained messages restored past a lowered limit are kept; new ones wait for room', async () => {
    const store = new MemoryStore();
    const first = new Broker({ store, clock: new FakeClock() });
    await first.open();
    first.publish({ topicName: 'a', payload: 'x', retain: true });
    first.publish({ topicName: 'b', payload: 'y', retain: true });
    await first.close();
    const second = new Broker({ store, clock: new FakeClock(), maxRetainedMessages: 1 });
    await second.open();
    expect(second.stats).toMatchObject({ retainedMessages: 2, retainedBytes: 2 });
    second.publish({ topicName: 'c', payload: 'z', retain: true });
    expect(second.stats.retainedMessages).toBe(2);
    expect(second.stats.limitHits.retainedMessages).toBe(1);
  });
});

describe('acks keep flowing to a rate-limited subscriber-publisher', () => {
  it('a held client still acknowledges its own deliveries', async () => {
    const { broker, clock } = await limitedBroker({ maxPublishRatePerClient: 2 });
    const both = connect(broker, { clientId: 'both' });
    subscribe(both, 'in', 1);
    const feeder = connect(broker, { clientId: 'feeder' });
    both.connection.feed(pipelined('out', 5, 0));
    feeder.send(publishPacket('in', 'm', 1));
    const [delivery] = publishes(both.take());
    expect(delivery?.packetId).toBeDefined();
    both.send(ack(PacketType.Puback, delivery!.packetId!));
    expect(broker.stats.messagesSent).toBe(1);
    clock.advance(5000);
    await settle();
    expect(both.transport.closed).toBe(false);
  });
});
