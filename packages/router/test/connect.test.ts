import { encode, PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { connect, connectPacket, createBroker, openClient, publishPacket, subscribe } from './helpers.js';

describe('CONNECT and CONNACK (MQTT 3.1.1 §3.1, §3.2)', () => {
  it('[MQTT-3.2.0-1] answers CONNECT with CONNACK 0 and session present 0 for a new session', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker);
    client.send(connectPacket({ clientId: 'a' }));
    expect(client.take()).toEqual([
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 0, properties: undefined },
    ]);
    expect(broker.stats.sessions).toBe(1);
  });

  it('[MQTT-3.1.0-1] closes a connection whose first packet is not CONNECT', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker);
    client.send(publishPacket('a', 'x'));
    expect(client.transport.closed).toBe(true);
    expect(client.take()).toEqual([]);
  });

  it('[MQTT-3.1.0-2] treats a second CONNECT as a protocol violation and disconnects', async () => {
    const { broker } = await createBroker();
    const client = connect(broker, { clientId: 'a' });
    client.send(connectPacket({ clientId: 'a' }));
    expect(client.transport.closed).toBe(true);
  });

  it('[MQTT-3.1.2-2] answers an unsupported protocol level with CONNACK 0x01 and disconnects', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker);
    const bytes = encode(connectPacket({ clientId: 'a' }), 4);
    bytes[8] = 6; // protocol level byte after "\0\x04MQTT"
    client.connection.feed(bytes);
    expect(client.take()).toEqual([
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 1, properties: undefined },
    ]);
    expect(client.transport.closed).toBe(true);
  });

  it('[MQTT-3.1.3-8] refuses an empty client id with clean session 0 (CONNACK 0x02) and closes', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker);
    client.send(connectPacket({ clientId: '', cleanStart: false }));
    expect(client.take()).toEqual([
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 2, properties: undefined },
    ]);
    expect(client.transport.closed).toBe(true);
  });

  it('[MQTT-3.1.3-6] assigns a unique client id to an empty id with clean session 1', async () => {
    const { broker } = await createBroker();
    const first = openClient(broker);
    first.send(connectPacket({ clientId: '' }));
    const second = openClient(broker);
    second.send(connectPacket({ clientId: '' }));
    expect(first.take()[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
    expect(second.take()[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
    expect(broker.stats.sessions).toBe(2);
  });

  it('3.1 (MQIsdp) refuses an empty client id with CONNACK 0x02', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker, 3);
    client.send(connectPacket({ clientId: '', version: 3 }));
    expect(client.take()[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 2 });
  });

  it('closes a connection that sends no CONNECT within connectTimeoutMs', async () => {
    const { broker, clock } = await createBroker({ connectTimeoutMs: 5000 });
    const client = openClient(broker);
    clock.advance(4999);
    expect(client.transport.closed).toBe(false);
    clock.advance(1);
    expect(client.transport.closed).toBe(true);
  });

  it('[MQTT-3.1.4-2] a second connection with the same client id closes the first', async () => {
    const { broker } = await createBroker();
    const first = connect(broker, { clientId: 'same' });
    const second = connect(broker, { clientId: 'same' });
    expect(first.transport.closed).toBe(true);
    expect(second.transport.closed).toBe(false);
    expect(broker.stats.connections).toBe(1);
  });

  it('[MQTT-3.2.2-2] session present 1 when resuming a persistent session', async () => {
    const { broker } = await createBroker();
    const first = connect(broker, { clientId: 'p', cleanStart: false });
    first.connection.transportClosed();
    const second = openClient(broker);
    second.send(connectPacket({ clientId: 'p', cleanStart: false }));
    expect(second.take()[0]).toMatchObject({ type: PacketType.Connack, sessionPresent: true, reasonCode: 0 });
  });

  it('[MQTT-3.1.2-6][MQTT-3.2.2-1] clean session 1 discards a stored session: session present 0, no subscriptions', async () => {
    const { broker } = await createBroker();
    const first = connect(broker, { clientId: 'p', cleanStart: false });
    subscribe(first, 't', 1);
    first.connection.transportClosed();
    const second = openClient(broker);
    second.send(connectPacket({ clientId: 'p', cleanStart: true }));
    expect(second.take()[0]).toMatchObject({ sessionPresent: false });
    expect(broker.stats.subscriptions).toBe(0);
  });

  it('[MQTT-3.1.2-6] a clean session ends with its connection', async () => {
    const { broker } = await createBroker();
    const client = connect(broker, { clientId: 'c' });
    subscribe(client, 't');
    client.connection.transportClosed();
    expect(broker.stats.sessions).toBe(0);
    expect(broker.stats.subscriptions).toBe(0);
  });
});

describe('keepalive (§3.1.2.10, §3.12)', () => {
  it('[MQTT-3.12.4-1] answers PINGREQ with PINGRESP', async () => {
    const { broker } = await createBroker();
    const client = connect(broker);
    client.send({ type: PacketType.Pingreq });
    expect(client.take()).toEqual([{ type: PacketType.Pingresp }]);
  });

  it('[MQTT-3.1.2-24] disconnects after 1.5x keepalive of silence, not before', async () => {
    const { broker, clock } = await createBroker();
    const client = connect(broker, { keepaliveSeconds: 10 });
    clock.advance(14_999);
    expect(client.transport.closed).toBe(false);
    clock.advance(1);
    expect(client.transport.closed).toBe(true);
  });

  it('any packet restarts the keepalive period', async () => {
    const { broker, clock } = await createBroker();
    const client = connect(broker, { keepaliveSeconds: 10 });
    clock.advance(10_000);
    client.send({ type: PacketType.Pingreq });
    clock.advance(10_000);
    expect(client.transport.closed).toBe(false);
    clock.advance(5_000);
    expect(client.transport.closed).toBe(true);
  });

  it('keepalive 0 turns supervision off', async () => {
    const { broker, clock } = await createBroker();
    const client = connect(broker, { keepaliveSeconds: 0 });
    clock.advance(10_000_000);
    expect(client.transport.closed).toBe(false);
  });
});

describe('authentication hook', () => {
  it('[MQTT-3.2.2-5] a refused CONNECT gets CONNACK 0x04 and the connection closes', async () => {
    const { broker } = await createBroker({ hooks: { authenticate: ({ username }) => username === 'good' } });
    const bad = openClient(broker);
    bad.send(connectPacket({ username: 'bad', password: Buffer.from('x') }));
    expect(bad.take()).toEqual([
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 4, properties: undefined },
    ]);
    expect(bad.transport.closed).toBe(true);
    const good = openClient(broker);
    good.send(connectPacket({ username: 'good' }));
    expect(good.take()[0]).toMatchObject({ reasonCode: 0 });
  });

  it('an async hook holds the packets pipelined behind CONNECT and handles them in order', async () => {
    let release: (ok: boolean) => void = () => {};
    const { broker } = await createBroker({
      hooks: { authenticate: () => new Promise<boolean>((resolve) => (release = resolve)) },
    });
    const client = openClient(broker);
    client.send(connectPacket({ clientId: 'slow' }));
    client.send(publishPacket('t', 'one', 1, { packetId: 1 }));
    client.send({ type: PacketType.Pingreq });
    expect(client.take()).toEqual([]);
    release(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.take().map((packet) => packet.type)).toEqual([
      PacketType.Connack,
      PacketType.Puback,
      PacketType.Pingresp,
    ]);
  });

  it('a hook that never answers refuses with CONNACK 0x03 after authenticateTimeoutMs; a late answer is ignored', async () => {
    let answer: ((value: boolean) => void) | undefined;
    const { broker, clock } = await createBroker({
      authenticateTimeoutMs: 2000,
      hooks: { authenticate: () => new Promise<boolean>((resolve) => (answer = resolve)) },
    });
    const client = openClient(broker);
    client.send(connectPacket({ clientId: 'slow-backend' }));
    clock.advance(1999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.take()).toEqual([]);
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.take()).toEqual([
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 3, properties: undefined },
    ]);
    expect(client.transport.closed).toBe(true);
    answer?.(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(broker.stats.sessions).toBe(0);
  });

  it('a malformed packet pipelined behind a CONNECT whose hook is pending: CONNACK first, then the close', async () => {
    const { broker } = await createBroker({ hooks: { authenticate: async () => true } });
    const client = openClient(broker);
    const garbage = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]); // 5-byte remaining length
    client.connection.feed(Buffer.concat([encode(connectPacket({ clientId: 'c' }), 4), garbage]));
    expect(client.transport.closed).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.take()).toEqual([
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 0, properties: undefined },
    ]);
    expect(client.transport.closed).toBe(true);
  });

  it('a throwing hook refuses with CONNACK 0x03 (server unavailable)', async () => {
    const { broker } = await createBroker({
      hooks: {
        authenticate: () => {
          throw new Error('db down');
        },
      },
    });
    const client = openClient(broker);
    client.send(connectPacket());
    expect(client.take()[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 3 });
  });
});

describe('will topic', () => {
  it('a will topic with a wildcard is a protocol violation: no CONNACK, connection closed', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker);
    client.send(
      connectPacket({
        will: { topicName: 'a/#', payload: Buffer.from('x'), qos: 0, retain: false, properties: undefined },
      }),
    );
    expect(client.take()).toEqual([]);
    expect(client.transport.closed).toBe(true);
  });
});
