import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttJsClients, startBroker, targetOf } from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import {
  type ConnectOptions,
  connect,
  DISCONNECT,
  PINGREQ,
  parsePublish,
  puback,
  pubcomp,
  publish,
  pubrec,
  pubrel,
  RawClient,
  runId,
  subscribe,
  type Target,
  Type,
} from './mqtt-wire.js';

// Sessions (MQTT 3.1.1 §3.1.2.4, §4.1, §4.4): persistent sessions across connections, the
// re-delivery of unacknowledged messages on reconnect, and session takeover.

let broker: TestBroker;
let target: Target;
const run = runId();
const raws: RawClient[] = [];
const mqttjs = new MqttJsClients(() => broker.url);

beforeAll(async () => {
  broker = await startBroker();
  target = targetOf(broker);
});

afterAll(async () => {
  for (const client of raws) client.destroy();
  await mqttjs.closeAll();
  await broker?.stop();
});

async function raw(clientId: string, options: Partial<ConnectOptions> = {}): Promise<RawClient> {
  const client = await RawClient.connect(target, { clientId, ...options });
  raws.push(client);
  return client;
}

/** Opens a connection with CONNECT and returns it with the CONNACK bytes (hex). */
async function reconnect(clientId: string, clean: boolean): Promise<[RawClient, string]> {
  const client = await RawClient.open(target);
  raws.push(client);
  client.write(connect({ clientId, clean }));
  return [client, (await client.next()).bytes.toString('hex')];
}

async function gone(client: RawClient): Promise<void> {
  client.socket.resetAndDestroy();
  await client.closed();
}

describe('persistent sessions (clean session 0)', () => {
  it('[MQTT-3.1.2-4][MQTT-3.1.2-5][MQTT-4.6.0-6] QoS 1 messages published while the subscriber is away are all delivered on its return, in order', async () => {
    const clientId = `${run}-offline`;
    const topic = `${run}/offline`;
    const first = await mqttjs.connect({ clientId, clean: false });
    expect(first.sessionPresent).toBe(false);
    await first.client.subscribeAsync(topic, { qos: 1 });
    await first.client.endAsync();

    const publisher = await mqttjs.connect({ clientId: `${run}-offline-pub` });
    for (let i = 1; i <= 5; i++) await publisher.client.publishAsync(topic, `m${i}`, { qos: 1 });

    const back = await mqttjs.connect({ clientId, clean: false });
    expect(back.sessionPresent).toBe(true);
    const messages = await back.received(5);
    expect(messages.map((m) => [m.topic, m.payload.toString(), m.qos])).toEqual(
      [1, 2, 3, 4, 5].map((i) => [topic, `m${i}`, 1]),
    );
    // The subscription is part of the session: a new publish arrives too.
    await publisher.client.publishAsync(topic, 'after', { qos: 1 });
    expect((await back.received(6))[5]!.payload.toString()).toBe('after');
  });

  it('[MQTT-4.4.0-1][MQTT-3.3.1-1][MQTT-4.6.0-1][MQTT-4.3.3-1] unacknowledged PUBLISH are re-sent on reconnect with DUP 1 and their ids, in order; a PUBREL replaces a PUBLISH already PUBREC-ed', async () => {
    const clientId = `${run}-resend`;
    const topic = `${run}/resend`;
    const subscriber = await raw(clientId, { clean: false });
    subscriber.write(subscribe(1, [[`${topic}/#`, 2]]));
    expect((await subscriber.next()).type).toBe(Type.Suback);
    const publisher = await raw(`${run}-resend-pub`);
    for (let i = 1; i <= 3; i++) {
      publisher.write(publish({ topic: `${topic}/q1`, payload: `m${i}`, qos: 1, packetId: i }));
    }
    publisher.write(publish({ topic: `${topic}/q2`, payload: 'released', qos: 2, packetId: 4 }), pubrel(4));
    publisher.write(publish({ topic: `${topic}/q2`, payload: 'unreleased', qos: 2, packetId: 5 }), pubrel(5));

    const sent = await subscriber.take(5);
    const original = sent.map(parsePublish);
    expect(original.map((m) => [m.payload.toString(), m.qos, m.dup])).toEqual([
      ['m1', 1, false],
      ['m2', 1, false],
      ['m3', 1, false],
      ['released', 2, false],
      ['unreleased', 2, false],
    ]);
    const ids = original.map((m) => m.packetId!);
    subscriber.write(pubrec(ids[3]!));
    expect((await subscriber.next()).bytes.toString('hex')).toBe(
      `6202${ids[3]!.toString(16).padStart(4, '0')}`,
    );
    await gone(subscriber);

    const [back, connack] = await reconnect(clientId, false);
    expect(connack).toBe('20020100');
    const resent = await back.take(5);
    const publishes = resent.filter((frame) => frame.type === Type.Publish).map(parsePublish);
    expect(publishes.map((m) => [m.payload.toString(), m.qos, m.dup, m.packetId])).toEqual([
      ['m1', 1, true, ids[0]],
      ['m2', 1, true, ids[1]],
      ['m3', 1, true, ids[2]],
      ['unreleased', 2, true, ids[4]],
    ]);
    const pubrels = resent
      .filter((frame) => frame.type === Type.Pubrel)
      .map((frame) => frame.bytes.toString('hex'));
    expect(pubrels).toEqual([`6202${ids[3]!.toString(16).padStart(4, '0')}`]);

    // Acknowledged now: nothing is owed any more.
    back.write(puback(ids[0]!), puback(ids[1]!), puback(ids[2]!), pubcomp(ids[3]!), pubrec(ids[4]!));
    expect((await back.next()).type).toBe(Type.Pubrel);
    back.write(pubcomp(ids[4]!));
    back.write(DISCONNECT);
    await back.closed();
    const [again, connack2] = await reconnect(clientId, false);
    expect(connack2).toBe('20020100');
    again.write(PINGREQ);
    expect((await again.next()).bytes.toString('hex')).toBe('d000');
  });

  it('[MQTT-4.3.3-2][MQTT-4.4.0-1] a QoS 2 PUBLISH re-sent after the publisher reconnects is still forwarded once', async () => {
    const topic = `${run}/inbound-q2`;
    const watcher = await raw(`${run}-inbound-q2-sub`);
    watcher.write(subscribe(1, [[`${topic}/#`, 0]]));
    await watcher.next();
    const clientId = `${run}-inbound-q2-pub`;
    const publisher = await raw(clientId, { clean: false });
    publisher.write(publish({ topic, payload: 'exactly once', qos: 2, packetId: 7 }));
    expect((await publisher.next()).bytes.toString('hex')).toBe('50020007');
    await gone(publisher);

    const [back, connack] = await reconnect(clientId, false);
    expect(connack).toBe('20020100');
    back.write(publish({ topic, payload: 'exactly once', qos: 2, packetId: 7, dup: true }));
    expect((await back.next()).bytes.toString('hex')).toBe('50020007');
    back.write(pubrel(7), publish({ topic: `${topic}/end`, payload: 'sentinel' }));
    expect((await back.next()).bytes.toString('hex')).toBe('70020007');
    const payloads = [
      (await watcher.nextPublish()).payload.toString(),
      (await watcher.nextPublish()).payload.toString(),
    ];
    expect(payloads).toEqual(['exactly once', 'sentinel']);
  });

  it('[MQTT-3.1.2-6] clean session 1 discards the stored session: no queued messages, no subscriptions', async () => {
    const clientId = `${run}-discard`;
    const topic = `${run}/discard`;
    const first = await raw(clientId, { clean: false });
    first.write(subscribe(1, [[topic, 1]]));
    await first.next();
    await gone(first);
    const publisher = await raw(`${run}-discard-pub`);
    publisher.write(publish({ topic, payload: 'queued', qos: 1, packetId: 1 }));
    expect((await publisher.next()).type).toBe(Type.Puback);

    const [clean, connack] = await reconnect(clientId, true);
    expect(connack).toBe('20020000');
    clean.write(PINGREQ);
    expect((await clean.next()).bytes.toString('hex')).toBe('d000');
    publisher.write(publish({ topic, payload: 'later', qos: 1, packetId: 2 }));
    expect((await publisher.next()).type).toBe(Type.Puback);
    clean.write(PINGREQ);
    expect((await clean.next()).bytes.toString('hex')).toBe('d000');
  });

  it('[MQTT-3.1.2-7] retained messages are not session state: they outlive the session that published them', async () => {
    const topic = `${run}/retained-outlives`;
    const publisher = await raw(`${run}-retained-outlives`);
    publisher.write(publish({ topic, payload: 'still here', qos: 1, packetId: 1, retain: true }));
    expect((await publisher.next()).type).toBe(Type.Puback);
    publisher.write(DISCONNECT);
    await publisher.closed();
    const late = await raw(`${run}-retained-outlives-late`);
    late.write(subscribe(1, [[topic, 1]]));
    await late.next();
    const retained = await late.nextPublish();
    expect([retained.payload.toString(), retained.retain]).toEqual(['still here', true]);
  });
});

describe('session takeover (§3.1.4)', () => {
  it('[MQTT-4.4.0-1] takeover of a persistent session re-sends its unacknowledged PUBLISH on the new connection, DUP 1', async () => {
    const clientId = `${run}-takeover-resend`;
    const topic = `${run}/takeover-resend`;
    const first = await raw(clientId, { clean: false });
    first.write(subscribe(1, [[topic, 1]]));
    await first.next();
    const publisher = await raw(`${run}-takeover-resend-pub`);
    publisher.write(publish({ topic, payload: 'unacked', qos: 1, packetId: 1 }));
    const original = await first.nextPublish();
    const [second, connack] = await reconnect(clientId, false);
    expect(connack).toBe('20020100');
    await first.closed();
    const resent = await second.nextPublish();
    expect([resent.payload.toString(), resent.qos, resent.dup, resent.packetId]).toEqual([
      'unacked',
      1,
      true,
      original.packetId,
    ]);
  });

  it('[MQTT-3.1.4-3][MQTT-3.2.2-3] taking over a clean session with clean session 0: session present 0', async () => {
    const clientId = `${run}-takeover-clean`;
    const first = await raw(clientId, { clean: true });
    const [, connack] = await reconnect(clientId, false);
    expect(connack).toBe('20020000');
    await first.closed();
  });

  it('[MQTT-3.1.4-2] a CONNECT with the client id of a connected client closes the first connection', async () => {
    const clientId = `${run}-takeover`;
    const first = await raw(clientId);
    const [second, connack] = await reconnect(clientId, true);
    expect(connack).toBe('20020000');
    await first.closed();
    expect(first.bytes().toString('hex')).toBe('20020000');
    second.write(PINGREQ);
    expect((await second.next()).bytes.toString('hex')).toBe('d000');
    expect(second.isClosed).toBe(false);
  });

  it('[MQTT-3.1.4-2][MQTT-3.2.2-2] takeover of a persistent session: session present 1, its subscriptions carry on', async () => {
    const clientId = `${run}-takeover-persistent`;
    const topic = `${run}/takeover-persistent`;
    const first = await raw(clientId, { clean: false });
    first.write(subscribe(1, [[topic, 1]]));
    await first.next();
    const [second, connack] = await reconnect(clientId, false);
    expect(connack).toBe('20020100');
    await first.closed();
    const publisher = await raw(`${run}-takeover-persistent-pub`);
    publisher.write(publish({ topic, payload: 'to the new connection', qos: 1, packetId: 1 }));
    const message = await second.nextPublish();
    expect([message.payload.toString(), message.qos]).toEqual(['to the new connection', 1]);
  });
});
