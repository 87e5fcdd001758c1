import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startBroker, targetOf } from './conformance-harness.js';
import {
  ALLOWED_CODES,
  bytes5,
  type Client5,
  Clients5,
  connectPacket,
  disconnectPacket,
  expectDisconnect,
  PacketType,
  packet,
  pingreq,
  props,
  publishPacket,
  rawConnect,
  str,
  subscribeOn,
  subscription,
  u16,
  u32,
  uid,
} from './conformance5-harness.js';
import type { TestBroker } from './helpers.js';

// MQTT 5.0 CONNECT, CONNACK, PINGREQ, keepalive and wills (§3.1, §3.2, §3.12) against the built
// broker, over raw sockets. Three brokers: the defaults, `--max-qos 1`, and
// `--allow-anonymous false` (no user: every CONNECT is refused by authentication).

let broker: TestBroker;
let limited: TestBroker;
let locked: TestBroker;
const clients = new Clients5(() => targetOf(broker));
const limitedClients = new Clients5(() => targetOf(limited));
const lockedClients = new Clients5(() => targetOf(locked));

beforeAll(async () => {
  [broker, limited, locked] = await Promise.all([
    startBroker(['--store', 'memory']),
    startBroker(['--store', 'memory', '--max-qos', '1']),
    startBroker(['--store', 'memory', '--allow-anonymous', 'false', '--auth-failure-delay-ms', '0']),
  ]);
});

afterEach(() => {
  clients.closeAll();
  limitedClients.closeAll();
  lockedClients.closeAll();
});

afterAll(async () => {
  await Promise.all([broker?.stop(), limited?.stop(), locked?.stop()]);
});

/** Sends `bytes` on a new connection and resolves with the packets received once closed. */
async function sendAndClose(bytes: Buffer, on = clients) {
  const client = await on.open();
  client.write(bytes);
  return client.packetsUntilClosed();
}

/** Nothing, or one CONNACK refusing with a code in `codes`; never CONNACK 0x00. */
function expectRefusedOrSilent(packets: Awaited<ReturnType<typeof sendAndClose>>, codes: number[]) {
  expect(packets.length).toBeLessThanOrEqual(1);
  if (packets.length === 1) {
    expect(packets[0]).toMatchObject({ type: PacketType.Connack, sessionPresent: false });
    expect(codes).toContain((packets[0] as { reasonCode: number }).reasonCode);
  }
}

/** A subscriber to `topic` at QoS 1 that records what it receives. */
async function watch(topic: string, retainAsPublished = false) {
  return clients.subscriber({ clientId: uid('watch') }, [subscription(topic, { qos: 1, retainAsPublished })]);
}

async function publishesWithin(client: Client5, ms: number) {
  return (await client.collectFor(ms)).filter((p) => p.type === PacketType.Publish);
}

describe('CONNECT (§3.1)', () => {
  it('[MQTT-3.1.0-1] a first packet other than CONNECT closes the connection without a byte', async () => {
    for (const first of [
      bytes5(publishPacket('x', 'y', { properties: { contentType: 'a' } })),
      bytes5(pingreq),
      bytes5({ type: PacketType.Auth, reasonCode: 0x18, properties: { authenticationMethod: 'm' } }),
    ]) {
      expect(await sendAndClose(first)).toEqual([]);
    }
  });

  it('[MQTT-3.1.0-2] a second CONNECT is a protocol error: DISCONNECT 0x82, closed', async () => {
    const client = await clients.connect({ clientId: uid() });
    client.send(connectPacket({ clientId: uid() }));
    await expectDisconnect(client, [0x82]);
  });

  it('[MQTT-3.1.2-1] a protocol name other than "MQTT": closed, at most a CONNACK 0x84', async () => {
    const wrongName = packet(0x10, str('MQTX'), Buffer.from([5, 0x02]), u16(0), props(), str(uid()));
    expectRefusedOrSilent(await sendAndClose(wrongName), [0x84]);
  });

  it('[MQTT-3.1.2-2] protocol version 6: refused with a CONNACK (3.1.1 form 0x01, or 5.0 form 0x84), then closed', async () => {
    const level6 = packet(0x10, str('MQTT'), Buffer.from([6, 0x02]), u16(0), props(), str(uid()));
    const client = await clients.open();
    client.write(level6);
    await client.closed();
    // The broker answers in the 3.1.1 form (20 02 00 01), as Mosquitto 2.0.11 does; a 5.0-form
    // CONNACK 0x84 (20 03 00 84 00) would do too. The MUST is the close.
    expect(['20020001', '2003008400']).toContain(client.raw.bytes().toString('hex'));
  });

  it('[MQTT-3.1.2-3] the reserved connect flag set: closed, never accepted', async () => {
    expectRefusedOrSilent(await sendAndClose(rawConnect(0x03, props(), str(uid()))), [0x81]);
  });

  it('[MQTT-3.1.2-4] Clean Start 1 discards the existing session: Session Present 0, old subscription gone', async () => {
    const id = uid();
    const topic = `${id}/t`;
    const first = await clients.subscriber({ clientId: id, properties: { sessionExpiryInterval: 60 } }, [
      topic,
    ]);
    first.send(disconnectPacket());
    await first.closed();
    const again = await clients.connect({ clientId: id, cleanStart: true });
    expect(again.connack.sessionPresent).toBe(false);
    const publisher = await clients.connect({ clientId: uid() });
    publisher.send(publishPacket(topic, 'after'));
    expect(await publishesWithin(again, 300)).toEqual([]);
  });

  it('[MQTT-3.1.2-5] Clean Start 0 with a session resumes it: its subscription and queued QoS 1 message', async () => {
    const id = uid();
    const topic = `${id}/t`;
    const first = await clients.subscriber({ clientId: id, properties: { sessionExpiryInterval: 60 } }, [
      subscription(topic, { qos: 1 }),
    ]);
    first.send(disconnectPacket());
    await first.closed();
    const publisher = await clients.connect({ clientId: uid() });
    publisher.send(publishPacket(topic, 'queued', { qos: 1, packetId: 3 }));
    await publisher.expect(PacketType.Puback);
    const again = await clients.connect({
      clientId: id,
      cleanStart: false,
      properties: { sessionExpiryInterval: 60 },
    });
    expect(again.connack.sessionPresent).toBe(true);
    const queued = await again.expect(PacketType.Publish);
    expect([queued.topicName, queued.payload.toString(), queued.qos]).toEqual([topic, 'queued', 1]);
    publisher.send(publishPacket(topic, 'live'));
    expect((await again.expect(PacketType.Publish)).payload.toString()).toBe('live');
  });

  it('[MQTT-3.1.2-6] Clean Start 0 without a session creates one: Session Present 0, then 1 on return', async () => {
    const id = uid();
    const first = await clients.connect({
      clientId: id,
      cleanStart: false,
      properties: { sessionExpiryInterval: 60 },
    });
    expect(first.connack.sessionPresent).toBe(false);
    first.send(disconnectPacket());
    await first.closed();
    const again = await clients.connect({
      clientId: id,
      cleanStart: false,
      properties: { sessionExpiryInterval: 60 },
    });
    expect(again.connack.sessionPresent).toBe(true);
  });

  it('[MQTT-3.1.2-7] a will is stored with the session and published when the connection drops', async () => {
    const topic = `${uid()}/will`;
    const watcher = await watch(topic);
    const client = await clients.connect({
      clientId: uid(),
      will: { topicName: topic, payload: Buffer.from('gone') },
    });
    client.destroy();
    const will = await watcher.expect(PacketType.Publish);
    expect([will.topicName, will.payload.toString()]).toEqual([topic, 'gone']);
  });

  it('[MQTT-3.1.2-8] a will with a Will Delay Interval is published once the delay has passed, not before', async () => {
    const topic = `${uid()}/will`;
    const watcher = await watch(topic);
    const client = await clients.connect({
      clientId: uid(),
      properties: { sessionExpiryInterval: 30 },
      will: { topicName: topic, payload: Buffer.from('late'), properties: { willDelayInterval: 1 } },
    });
    client.destroy();
    const droppedAt = performance.now();
    expect(await publishesWithin(watcher, 600)).toEqual([]);
    const will = await watcher.expect(PacketType.Publish, 3000);
    expect(will.payload.toString()).toBe('late');
    expect(performance.now() - droppedAt).toBeGreaterThanOrEqual(950);
  });

  it('[MQTT-3.1.2-9] Will Flag 1 without will properties, topic and payload: closed, never accepted', async () => {
    // Will flag and Clean Start, a client id, then the packet ends.
    expectRefusedOrSilent(await sendAndClose(rawConnect(0x06, props(), str(uid()))), [0x81]);
  });

  it('[MQTT-3.1.2-10] a will is removed once published: a later close of the resumed session publishes nothing', async () => {
    const topic = `${uid()}/will`;
    const id = uid();
    const watcher = await watch(topic);
    const client = await clients.connect({
      clientId: id,
      properties: { sessionExpiryInterval: 30 },
      will: { topicName: topic, payload: Buffer.from('once') },
    });
    client.destroy();
    expect((await watcher.expect(PacketType.Publish)).payload.toString()).toBe('once');
    const again = await clients.connect({
      clientId: id,
      cleanStart: false,
      properties: { sessionExpiryInterval: 30 },
    });
    expect(again.connack.sessionPresent).toBe(true);
    again.destroy();
    expect(await publishesWithin(watcher, 400)).toEqual([]);
  });

  it('[MQTT-3.1.2-11] Will Flag 0 with Will QoS 1: closed, never accepted', async () => {
    expectRefusedOrSilent(await sendAndClose(rawConnect(0x0a, props(), str(uid()))), [0x81, 0x82]);
  });

  it('[MQTT-3.1.2-12] Will QoS 3: closed, never accepted', async () => {
    const willPart = [props(), str('w/t'), str('p')];
    expectRefusedOrSilent(await sendAndClose(rawConnect(0x1e, props(), str(uid()), ...willPart)), [0x81]);
  });

  it('[MQTT-3.1.2-13] Will Flag 0 with Will Retain 1: closed, never accepted', async () => {
    expectRefusedOrSilent(await sendAndClose(rawConnect(0x22, props(), str(uid()))), [0x81, 0x82]);
  });

  it('[MQTT-3.1.2-14] Will Retain 0: the will is published as a non-retained message and not kept', async () => {
    const topic = `${uid()}/will`;
    const watcher = await watch(topic, true);
    const client = await clients.connect({ clientId: uid(), will: { topicName: topic, retain: false } });
    client.destroy();
    expect((await watcher.expect(PacketType.Publish)).retain).toBe(false);
    const late = await watch(topic);
    expect(await publishesWithin(late, 300)).toEqual([]);
  });

  it('[MQTT-3.1.2-15] Will Retain 1: the will is published as a retained message', async () => {
    const topic = `${uid()}/will`;
    const watcher = await watch(topic, true);
    const client = await clients.connect({
      clientId: uid(),
      will: { topicName: topic, retain: true, payload: Buffer.from('kept') },
    });
    client.destroy();
    expect((await watcher.expect(PacketType.Publish)).retain).toBe(true);
    const late = await watch(topic);
    const retained = await late.expect(PacketType.Publish);
    expect([retained.retain, retained.payload.toString()]).toEqual([true, 'kept']);
  });

  it.each([
    ['[MQTT-3.1.2-16] User Name Flag 0 but a user name follows', 0x02, [str('user')]],
    ['[MQTT-3.1.2-17] User Name Flag 1 but no user name', 0x82, []],
    ['[MQTT-3.1.2-18] Password Flag 0 but a password follows', 0x82, [str('user'), str('pw')]],
    ['[MQTT-3.1.2-19] Password Flag 1 but no password', 0xc2, [str('user')]],
  ])('%s: closed, never accepted', async (_name, flags, tail) => {
    expectRefusedOrSilent(await sendAndClose(rawConnect(flags, props(), str(uid()), ...tail)), [0x81]);
  });

  it('[MQTT-3.1.2-22][MQTT-3.2.2-22] Keep Alive 1 without Server Keep Alive: closed after 1.5 s of silence, will published', async () => {
    const topic = `${uid()}/will`;
    const watcher = await watch(topic);
    const client = await clients.connect({
      clientId: uid(),
      keepaliveSeconds: 1,
      will: { topicName: topic },
    });
    expect(client.connack.properties?.serverKeepAlive).toBeUndefined();
    const start = performance.now();
    const packets = await client.packetsUntilClosed(4000);
    const elapsed = performance.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(3000);
    // Closed "as if the network had failed": a DISCONNECT 0x8D first is allowed.
    expect(packets.every((p) => p.type === PacketType.Disconnect && p.reasonCode === 0x8d)).toBe(true);
    expect((await watcher.expect(PacketType.Publish)).topicName).toBe(topic);
  });

  it('[MQTT-3.1.2-28] Request Response Information 0 (or absent): no Response Information in CONNACK', async () => {
    const asked0 = await clients.connect({ clientId: uid(), properties: { requestResponseInformation: 0 } });
    expect(asked0.connack.properties?.responseInformation).toBeUndefined();
    const absent = await clients.connect({ clientId: uid() });
    expect(absent.connack.properties?.responseInformation).toBeUndefined();
  });

  it('[MQTT-3.1.3-4] a client id that is not well-formed UTF-8: closed, never accepted', async () => {
    expectRefusedOrSilent(
      await sendAndClose(rawConnect(0x02, props(), str(Buffer.from([0x61, 0xc3, 0x28])))),
      [0x81, 0x85],
    );
  });

  it('[MQTT-3.1.3-5] client ids of 1 to 23 letters and digits are accepted', async () => {
    const tail = uid('').replace(/[^a-z0-9]/gi, '');
    for (const clientId of ['a', `Z9${tail}`.slice(0, 23).padEnd(23, 'x'), '0123456789abcdefghijKLM']) {
      const client = await clients.connect({ clientId });
      expect(client.connack.reasonCode).toBe(0);
      client.send(disconnectPacket());
    }
  });

  it('[MQTT-3.1.3-6][MQTT-3.2.2-16] an empty client id gets an Assigned Client Identifier, different for each client', async () => {
    const first = await clients.connect({ clientId: '' });
    const second = await clients.connect({ clientId: '' });
    const a = first.connack.properties?.assignedClientIdentifier;
    const b = second.connack.properties?.assignedClientIdentifier;
    expect(typeof a).toBe('string');
    expect(typeof b).toBe('string');
    expect(a).not.toBe('');
    expect(a).not.toBe(b);
  });

  it('[MQTT-3.1.3-7] the CONNECT is processed as if the client had sent the assigned id: a CONNECT with it takes over', async () => {
    const first = await clients.connect({ clientId: '', properties: { sessionExpiryInterval: 60 } });
    const assigned = first.connack.properties?.assignedClientIdentifier;
    expect(assigned).toBeTruthy();
    const topic = `${uid()}/t`;
    await subscribeOn(first, 1, [subscription(topic, { qos: 1 })]);
    const second = await clients.connect({
      clientId: assigned!,
      cleanStart: false,
      properties: { sessionExpiryInterval: 60 },
    });
    expect(second.connack.sessionPresent).toBe(true);
    expect(second.connack.properties?.assignedClientIdentifier).toBeUndefined();
    await expectDisconnect(first, [0x8e]);
  });

  it('[MQTT-3.1.3-10] the will is published with its User Properties in their order', async () => {
    const topic = `${uid()}/will`;
    const watcher = await watch(topic);
    const userProperties: Array<[string, string]> = [
      ['b', '1'],
      ['a', '2'],
      ['b', '3'],
      ['a', '1'],
    ];
    const client = await clients.connect({
      clientId: uid(),
      will: { topicName: topic, properties: { userProperties } },
    });
    client.destroy();
    expect((await watcher.expect(PacketType.Publish)).properties?.userProperties).toEqual(userProperties);
  });

  it('[MQTT-3.1.3-11] a will topic that is not well-formed UTF-8: closed, never accepted', async () => {
    const will = [props(), str(Buffer.from([0x77, 0xed, 0xa0, 0x80])), str('p')];
    expectRefusedOrSilent(await sendAndClose(rawConnect(0x06, props(), str(uid()), ...will)), [0x81]);
  });

  it('[MQTT-3.1.3-12] a user name that is not well-formed UTF-8: closed, never accepted', async () => {
    const bad = rawConnect(0x82, props(), str(uid()), str(Buffer.from([0x75, 0xff])));
    expectRefusedOrSilent(await sendAndClose(bad), [0x81]);
  });
});

describe('CONNECT processing (§3.1.4)', () => {
  it.each([
    ['a property CONNECT may not carry (Topic Alias)', props([0x23, u16(1)]), [0x81, 0x82]],
    ['Receive Maximum 0', props([0x21, u16(0)]), [0x81, 0x82]],
    ['Maximum Packet Size 0', props([0x27, u32(0)]), [0x81, 0x82]],
    ['Session Expiry Interval twice', props([0x11, u32(1)], [0x11, u32(2)]), [0x81, 0x82]],
    ['Request Problem Information 2', props([0x17, Buffer.from([2])]), [0x81, 0x82]],
    ['a property length past the end of the packet', Buffer.from([0x40]), [0x81]],
  ])('[MQTT-3.1.4-1] %s: closed, never accepted', async (_name, properties, codes) => {
    expectRefusedOrSilent(await sendAndClose(rawConnect(0x02, properties, str(uid()))), codes);
  });

  it('[MQTT-3.1.4-2] a CONNECT that fails authentication (anonymous, --allow-anonymous false): refused, closed', async () => {
    const packets = await sendAndClose(bytes5(connectPacket({ clientId: uid() })), lockedClients);
    expect(packets).toHaveLength(1);
    expect(packets[0]).toMatchObject({ type: PacketType.Connack, sessionPresent: false });
    expect([0x86, 0x87]).toContain((packets[0] as { reasonCode: number }).reasonCode);
  });

  it('[MQTT-3.1.4-3] a CONNECT with the client id of a connected client: DISCONNECT 0x8E to the old one, closed', async () => {
    const id = uid();
    const first = await clients.connect({ clientId: id });
    const second = await clients.connect({ clientId: id });
    const disconnect = await expectDisconnect(first, [0x8e]);
    expect(disconnect.reasonCode).toBe(0x8e);
    second.send(pingreq);
    await second.expect(PacketType.Pingresp);
  });

  it('[MQTT-3.1.4-4] Clean Start is applied: 0 keeps the session across connections, 1 starts afresh', async () => {
    const id = uid();
    const options = { clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 60 } };
    const a = await clients.connect(options);
    a.send(disconnectPacket());
    await a.closed();
    const b = await clients.connect(options);
    b.send(disconnectPacket());
    await b.closed();
    const c = await clients.connect({ ...options, cleanStart: true });
    expect([a.connack.sessionPresent, b.connack.sessionPresent, c.connack.sessionPresent]).toEqual([
      false,
      true,
      false,
    ]);
  });

  it('[MQTT-3.1.4-5][MQTT-3.2.2-1] a valid CONNECT gets CONNACK 0x00, acknowledge flags 0000000x', async () => {
    const client = await clients.open();
    client.send(connectPacket({ clientId: uid() }));
    const { packet: connack, frame } = await client.nextReceived();
    expect(connack).toMatchObject({ type: PacketType.Connack, reasonCode: 0, sessionPresent: false });
    expect(frame.bytes[0]).toBe(0x20);
    expect(frame.body[0]! & 0xfe).toBe(0);
  });

  it('[MQTT-3.1.4-6] packets pipelined behind a refused CONNECT are not processed', async () => {
    const topic = `${uid()}/after-refusal`;
    const refused = connectPacket({
      clientId: uid(),
      // A will payload said to be UTF-8 that is not: refused with CONNACK 0x99.
      will: {
        topicName: `${topic}/w`,
        payload: Buffer.from([0xff]),
        properties: { payloadFormatIndicator: 1 },
      },
    });
    const packets = await sendAndClose(
      Buffer.concat([
        bytes5(refused),
        bytes5(publishPacket(topic, 'must not be retained', { qos: 1, retain: true })),
      ]),
    );
    expect(packets).toHaveLength(1);
    expect(packets[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0x99 });
    const late = await watch(topic);
    expect(await publishesWithin(late, 300)).toEqual([]);
  });
});

describe('CONNACK (§3.2)', () => {
  it('[MQTT-3.2.0-1] CONNACK comes first, before the messages queued for a resumed session', async () => {
    const id = uid();
    const topic = `${id}/t`;
    const first = await clients.subscriber({ clientId: id, properties: { sessionExpiryInterval: 60 } }, [
      subscription(topic, { qos: 1 }),
    ]);
    first.send(disconnectPacket());
    await first.closed();
    const publisher = await clients.connect({ clientId: uid() });
    for (let i = 1; i <= 3; i++) publisher.send(publishPacket(topic, `m${i}`, { qos: 1, packetId: i }));
    for (let i = 0; i < 3; i++) await publisher.expect(PacketType.Puback);
    const again = await clients.open();
    again.send(connectPacket({ clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 60 } }));
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await again.next()).type);
    expect(order).toEqual([PacketType.Connack, PacketType.Publish, PacketType.Publish, PacketType.Publish]);
  });

  it('[MQTT-3.2.0-2] one CONNACK per connection: a second CONNECT gets no second CONNACK', async () => {
    const client = await clients.connect({ clientId: uid() });
    client.send(connectPacket({ clientId: uid() }));
    const packets = await client.packetsUntilClosed();
    expect(packets.filter((p) => p.type === PacketType.Connack)).toEqual([]);
  });

  it('[MQTT-3.2.2-2] Clean Start 1 is accepted with Session Present 0, even when a session existed', async () => {
    const id = uid();
    const first = await clients.connect({ clientId: id, properties: { sessionExpiryInterval: 60 } });
    first.send(disconnectPacket());
    await first.closed();
    const again = await clients.connect({ clientId: id, cleanStart: true });
    expect([again.connack.reasonCode, again.connack.sessionPresent]).toEqual([0, false]);
  });

  it('[MQTT-3.2.2-3] Clean Start 0: Session Present 1 when a session exists, else 0; Reason Code 0x00', async () => {
    const id = uid();
    const options = { clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 60 } };
    const a = await clients.connect(options);
    a.destroy();
    await sleep(50);
    const b = await clients.connect(options);
    expect([a.connack.reasonCode, a.connack.sessionPresent]).toEqual([0, false]);
    expect([b.connack.reasonCode, b.connack.sessionPresent]).toEqual([0, true]);
  });

  it('[MQTT-3.2.2-6][MQTT-3.2.2-7] a refusing CONNACK has Session Present 0 although a session exists, and the connection closes', async () => {
    const id = uid();
    const first = await clients.connect({ clientId: id, properties: { sessionExpiryInterval: 60 } });
    first.send(disconnectPacket());
    await first.closed();
    const refused = connectPacket({
      clientId: id,
      cleanStart: false,
      properties: { sessionExpiryInterval: 60 },
      will: { topicName: 'w', payload: Buffer.from([0xc3, 0x28]), properties: { payloadFormatIndicator: 1 } },
    });
    const packets = await sendAndClose(bytes5(refused));
    expect(packets).toEqual([expect.objectContaining({ type: PacketType.Connack, sessionPresent: false })]);
    expect((packets[0] as { reasonCode: number }).reasonCode).toBeGreaterThanOrEqual(0x80);
  });

  it('[MQTT-3.2.2-8] every CONNACK code the broker sends is a Connect Reason Code', async () => {
    const seen: number[] = [];
    const record = (packets: Awaited<ReturnType<typeof sendAndClose>>) => {
      for (const p of packets) if (p.type === PacketType.Connack) seen.push(p.reasonCode);
    };
    const badWill = {
      topicName: 'w',
      payload: Buffer.from([0xff]),
      properties: { payloadFormatIndicator: 1 },
    };
    record(await sendAndClose(bytes5(connectPacket({ clientId: uid(), will: badWill }))));
    record(await sendAndClose(bytes5(connectPacket({ clientId: uid() })), lockedClients));
    record(
      await sendAndClose(
        bytes5(connectPacket({ clientId: uid(), will: { topicName: 'w', qos: 2 } })),
        limitedClients,
      ),
    );
    expect(seen).toHaveLength(3);
    for (const code of seen) expect(ALLOWED_CODES.connack).toContain(code);
  });

  it('[MQTT-3.2.2-9] a broker without QoS 2 (--max-qos 1) says Maximum QoS 1; the default one sends none', async () => {
    const capped = await limitedClients.connect({ clientId: uid() });
    expect(capped.connack.properties?.maximumQoS).toBe(1);
    const full = await clients.connect({ clientId: uid() });
    expect(full.connack.properties?.maximumQoS).toBeUndefined();
  });

  it('[MQTT-3.2.2-10] that broker still accepts SUBSCRIBE at QoS 0, 1 and 2 (granted 0, 1, 1)', async () => {
    const client = await limitedClients.connect({ clientId: uid() });
    const id = uid();
    const suback = await subscribeOn(client, 7, [
      subscription(`${id}/0`, { qos: 0 }),
      subscription(`${id}/1`, { qos: 1 }),
      subscription(`${id}/2`, { qos: 2 }),
    ]);
    expect(suback.reasonCodes).toEqual([0, 1, 1]);
  });

  it('[MQTT-3.2.2-11] (a client obligation) a PUBLISH above the Maximum QoS: DISCONNECT 0x9B, not delivered', async () => {
    const topic = `${uid()}/q2`;
    const watcher = await limitedClients.subscriber({ clientId: uid() }, [subscription(topic, { qos: 1 })]);
    const client = await limitedClients.connect({ clientId: uid() });
    client.send(publishPacket(topic, 'x', { qos: 2, packetId: 1 }));
    await expectDisconnect(client, [0x9b]);
    expect(await publishesWithin(watcher, 150)).toEqual([]);
  });

  it('[MQTT-3.2.2-12] a Will QoS above the Maximum QoS: CONNACK 0x9B, closed', async () => {
    const packets = await sendAndClose(
      bytes5(connectPacket({ clientId: uid(), will: { topicName: 'w', qos: 2 } })),
      limitedClients,
    );
    expect(packets).toEqual([expect.objectContaining({ type: PacketType.Connack, reasonCode: 0x9b })]);
  });
});

describe('CONNACK size', () => {
  it('[MQTT-3.2.2-20] CONNACK carries no User Property; an accepted one fits a Maximum Packet Size of 24', async () => {
    const client = await clients.open();
    client.send(connectPacket({ clientId: uid(), properties: { maximumPacketSize: 24 } }));
    const { packet: connack, frame } = await client.nextReceived();
    expect(connack).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
    expect(connack.type === PacketType.Connack && connack.properties?.userProperties).toBeFalsy();
    expect(frame.bytes.length).toBeLessThanOrEqual(24);
  });
});

describe('PINGREQ and DISCONNECT before CONNACK', () => {
  it('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP d0 00', async () => {
    const client = await clients.connect({ clientId: uid() });
    client.send(pingreq, pingreq);
    const frames = await client.raw.take(2);
    expect(frames.map((f) => f.bytes.toString('hex'))).toEqual(['d000', 'd000']);
  });

  it('[MQTT-3.14.0-1] a broken or refused CONNECT never gets a DISCONNECT (no CONNACK 0x00 came first)', async () => {
    const cases = [
      rawConnect(0x03, props(), str(uid())),
      rawConnect(0x02, props([0x21, u16(0)]), str(uid())),
      bytes5(
        connectPacket({
          clientId: uid(),
          will: { topicName: 'w', payload: Buffer.from([0xff]), properties: { payloadFormatIndicator: 1 } },
        }),
      ),
    ];
    for (const bytes of cases) {
      const packets = await sendAndClose(bytes);
      expect(packets.filter((p) => p.type === PacketType.Disconnect)).toEqual([]);
    }
  });
});

/** A will payload said to be UTF-8 that is not: the broker refuses the CONNECT with 0x99. */
const notUtf8Will = {
  topicName: 'w',
  payload: Buffer.from([0xff]),
  properties: { payloadFormatIndicator: 1 },
};

describe('CONNACK and the Maximum Packet Size of the client', () => {
  it('[MQTT-3.2.2-19] a refusing CONNACK leaves out its Reason String to fit the Maximum Packet Size', async () => {
    const open = await clients.open();
    open.send(connectPacket({ clientId: uid(), will: notUtf8Will }));
    const said = await open.expect(PacketType.Connack);
    // Without a limit the broker says why, so there is a Reason String to leave out.
    expect(said.reasonCode).toBe(0x99);
    expect(said.properties?.reasonString).toBeTruthy();
    const client = await clients.open();
    client.send(connectPacket({ clientId: uid(), will: notUtf8Will, properties: { maximumPacketSize: 8 } }));
    await client.closed();
    const frames = client.raw.frames;
    expect(frames.map((f) => f.type)).toEqual([PacketType.Connack]);
    expect(frames[0]!.bytes.length).toBeLessThanOrEqual(8);
  });

  it('[MQTT-3.1.2-24] no packet over the Maximum Packet Size, CONNACK included (limit 5)', async () => {
    const client = await clients.open();
    client.send(connectPacket({ clientId: uid(), properties: { maximumPacketSize: 5 } }));
    const frames = await client.raw.collectFor(300);
    for (const frame of frames) expect(frame.bytes.length).toBeLessThanOrEqual(5);
  });
});
