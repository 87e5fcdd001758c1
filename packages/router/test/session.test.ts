import { PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
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

const will = (topicName: string, payload = 'gone') => ({
  topicName,
  payload: Buffer.from(payload),
  qos: 1 as const,
  retain: false,
  properties: undefined,
});

describe('persistent sessions (§4.1, §4.4)', () => {
  it('[MQTT-3.1.2-4][MQTT-3.1.2-5] keeps subscriptions and queues QoS 1/2 while offline; QoS 0 is not queued', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub', cleanStart: false });
    subscribe(sub, 't', 2);
    sub.connection.transportClosed();
    broker.publish({ topicName: 't', payload: 'q0', qos: 0 });
    broker.publish({ topicName: 't', payload: 'q1', qos: 1 });
    broker.publish({ topicName: 't', payload: 'q2', qos: 2 });
    const back = openClient(broker);
    back.send(connectPacket({ clientId: 'sub', cleanStart: false }));
    const [connack, ...rest] = back.take();
    expect(connack).toMatchObject({ type: PacketType.Connack, sessionPresent: true });
    expect(publishes(rest).map((p) => [p.payload.toString(), p.qos])).toEqual([
      ['q1', 1],
      ['q2', 2],
    ]);
  });

  it('[MQTT-4.4.0-1] re-sends unacknowledged PUBLISH with DUP and PUBREL on reconnect, in order, with the same ids', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub', cleanStart: false });
    subscribe(sub, 't', 2);
    broker.publish({ topicName: 't', payload: 'a', qos: 1 });
    broker.publish({ topicName: 't', payload: 'b', qos: 2 });
    broker.publish({ topicName: 't', payload: 'c', qos: 2 });
    const [a, b, c] = publishes(sub.take());
    sub.send(ack(PacketType.Pubrec, b!.packetId!)); // b now awaits PUBCOMP
    sub.take();
    sub.connection.transportClosed();
    const back = openClient(broker);
    back.send(connectPacket({ clientId: 'sub', cleanStart: false }));
    const [, ...resent] = back.take();
    expect(resent).toEqual([
      expect.objectContaining({ type: PacketType.Publish, packetId: a!.packetId, dup: true }),
      ack(PacketType.Pubrel, b!.packetId!),
      expect.objectContaining({ type: PacketType.Publish, packetId: c!.packetId, dup: true }),
    ]);
  });

  it('bounds the offline queue at maxQueuedMessages, dropping the oldest', async () => {
    const { broker } = await createBroker({ maxQueuedMessages: 3 });
    const sub = connect(broker, { clientId: 'sub', cleanStart: false });
    subscribe(sub, 't', 1);
    sub.connection.transportClosed();
    for (let i = 1; i <= 5; i++) broker.publish({ topicName: 't', payload: String(i), qos: 1 });
    expect(broker.stats.messagesDropped).toBe(2);
    const back = openClient(broker);
    back.send(connectPacket({ clientId: 'sub', cleanStart: false }));
    expect(publishes(back.take()).map((p) => p.payload.toString())).toEqual(['3', '4', '5']);
  });
});

describe('Last Will (§3.1.2.5)', () => {
  it('[MQTT-3.1.2-8] is published when the connection closes without DISCONNECT', async () => {
    const { broker } = await createBroker();
    const watcher = connect(broker, { clientId: 'w' });
    subscribe(watcher, 'will/#', 1);
    const dying = connect(broker, { clientId: 'd', will: will('will/d') });
    dying.connection.transportClosed(new Error('ECONNRESET'));
    const [got] = publishes(watcher.take());
    expect(got).toMatchObject({ topicName: 'will/d', qos: 1 });
    expect(got?.payload.toString()).toBe('gone');
  });

  it('[MQTT-3.1.2-10] is discarded after a clean DISCONNECT', async () => {
    const { broker } = await createBroker();
    const watcher = connect(broker, { clientId: 'w' });
    subscribe(watcher, 'will/#');
    const leaving = connect(broker, { clientId: 'd', will: will('will/d') });
    leaving.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    expect(leaving.transport.closed).toBe(true);
    expect(watcher.take()).toEqual([]);
  });

  it('is published on keepalive timeout', async () => {
    const { broker, clock } = await createBroker();
    const watcher = connect(broker, { clientId: 'w' });
    subscribe(watcher, 'will/#');
    connect(broker, { clientId: 'd', will: will('will/d'), keepaliveSeconds: 2 });
    clock.advance(3000);
    expect(publishes(watcher.take())).toHaveLength(1);
  });

  it('is published on a protocol violation', async () => {
    const { broker } = await createBroker();
    const watcher = connect(broker, { clientId: 'w' });
    subscribe(watcher, 'will/#');
    const bad = connect(broker, { clientId: 'd', will: will('will/d') });
    bad.send(publishPacket('a/#', 'x'));
    expect(bad.transport.closed).toBe(true);
    expect(publishes(watcher.take())).toHaveLength(1);
  });

  it('is published on takeover, and the new connection carries on', async () => {
    const { broker } = await createBroker();
    const watcher = connect(broker, { clientId: 'w' });
    subscribe(watcher, 'will/#');
    connect(broker, { clientId: 'd', will: will('will/d') });
    connect(broker, { clientId: 'd' });
    expect(publishes(watcher.take())).toHaveLength(1);
  });

  it('[MQTT-3.1.2-17] a retained will is retained', async () => {
    const { broker } = await createBroker();
    const dying = connect(broker, { clientId: 'd', will: { ...will('will/r'), retain: true } });
    dying.connection.transportClosed();
    expect(broker.stats.retainedMessages).toBe(1);
  });

  it('is published on broker close', async () => {
    const { broker } = await createBroker();
    const watcher = connect(broker, { clientId: 'w', cleanStart: false });
    subscribe(watcher, 'will/#', 1);
    connect(broker, { clientId: 'd', will: will('will/d') });
    expect(broker.stats.messagesReceived).toBe(0);
    await broker.close();
    expect(broker.stats.connections).toBe(0);
    // The will was routed (to the watcher's persistent session, now offline and queued).
    expect(broker.stats.messagesReceived).toBe(1);
  });
});

describe('will on a $ topic', () => {
  it('is discarded like a PUBLISH to a $ topic', async () => {
    const { broker } = await createBroker();
    const watcher = connect(broker, { clientId: 'w' });
    subscribe(watcher, '$SYS/#');
    const dying = connect(broker, { clientId: 'd', will: will('$SYS/fake') });
    dying.connection.transportClosed();
    expect(watcher.take()).toEqual([]);
    expect(broker.stats.messagesReceived).toBe(0);
  });
});
