/*
 * Broker-level property test: sequences of valid MQTT packets of every version (every property
 * each packet allows, wills with every will property, subscription options, topic aliases, odd
 * client ids), takeovers, abrupt closes, congestion and time, driven through the router with a
 * fake transport and clock. Whatever the sequence, no exception escapes, no internal error is
 * counted, and a well-behaved client on the side is still served.
 *
 * CI runs it with a fixed seed. A long hunt: `FUZZ_RUNS=20000 FUZZ_SEED=random
 * npx -y pnpm@12.4.2 --filter @mqtt-adapt/router fuzz` (prints the seed of a failure).
 */
import {
  type ConnectPacket,
  encode,
  type Packet,
  PacketType,
  type ProtocolVersion,
  type PublishPacket,
  type SubscribePacket,
} from '@mqtt-adapt/codec';
import {
  connectArbitrary,
  disconnectArbitrary,
  packetArbitraries,
  publishArbitrary,
  subscribeArbitrary,
  unsubscribeArbitrary,
} from '@mqtt-adapt/codec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Broker, type ClientConnection } from '../src/index.js';
import { FakeClock, FakeTransport } from '../src/testing/index.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED === 'random' ? undefined : Number(process.env.FUZZ_SEED ?? 20261205);

/** Topics and filters from a small pool, so that publishes meet subscriptions. */
const TOPICS = ['a', 'a/b', 'a/b/c', 'x/y', 'probe/fuzz', '$SYS/x', 'a//b'];
const FILTERS = ['#', 'a/#', '+/b', 'a/+/c', '$share/g/a/#', '$share/h/#', 'x/y', '$SYS/#', '+'];
/** Client ids that collide across slots (takeovers), odd ones included. */
const CLIENT_IDS = ['', 'a', 'b', 'ü-☃-𝄞', 'x'.repeat(200)];

type Action =
  | { kind: 'connect'; slot: number; packet: Packet }
  | { kind: 'packet'; slot: number; packet: Packet }
  | { kind: 'close'; slot: number; withError: boolean }
  | { kind: 'ackAll'; slot: number }
  | { kind: 'congest'; slot: number; congested: boolean }
  | { kind: 'advance'; ms: number };

function withPooledTopic(packet: PublishPacket, index: number | undefined): PublishPacket {
  if (index === undefined || packet.topicName === '') return packet;
  return { ...packet, topicName: TOPICS[index % TOPICS.length]! };
}

function withPooledFilters(packet: SubscribePacket, index: number | undefined): SubscribePacket {
  if (index === undefined) return packet;
  const subscriptions = packet.subscriptions.map((s, i) => ({
    ...s,
    topicFilter: FILTERS[(index + i) % FILTERS.length]!,
  }));
  return { ...packet, subscriptions };
}

/** Packets a client sends after CONNECT, in `version`, weighted toward the interesting ones. */
function clientPacketArbitrary(version: ProtocolVersion): fc.Arbitrary<Packet> {
  const all = packetArbitraries(version);
  const pooled = fc.option(fc.nat(), { nil: undefined, freq: 3 });
  const choices: Array<fc.WeightedArbitrary<Packet>> = [
    {
      weight: 6,
      arbitrary: fc.tuple(publishArbitrary(version), pooled).map(([p, i]) => withPooledTopic(p, i)),
    },
    {
      weight: 3,
      arbitrary: fc.tuple(subscribeArbitrary(version), pooled).map(([p, i]) => withPooledFilters(p, i)),
    },
    { weight: 1, arbitrary: unsubscribeArbitrary(version) },
    { weight: 1, arbitrary: all.puback! },
    { weight: 1, arbitrary: all.pubrec! },
    { weight: 1, arbitrary: all.pubrel! },
    { weight: 1, arbitrary: all.pubcomp! },
    { weight: 1, arbitrary: all.pingreq! },
    { weight: 1, arbitrary: disconnectArbitrary(version) },
    // Packets only a server sends, and a second CONNECT: protocol errors, never crashes.
    { weight: 1, arbitrary: fc.oneof(all.connack!, all.suback!, all.connect!) },
  ];
  if (all.auth !== undefined) choices.push({ weight: 1, arbitrary: all.auth });
  return fc.oneof(...choices);
}

function connectFor(version: ProtocolVersion): fc.Arbitrary<Packet> {
  const pooled = fc.option(fc.nat(), { freq: 2, nil: undefined });
  return fc
    .tuple(
      connectArbitrary(version),
      fc.option(fc.constantFrom(...CLIENT_IDS), { freq: 2, nil: undefined }),
      pooled,
    )
    .map(([packet, clientId, topicIndex]): ConnectPacket => {
      const will =
        packet.will === undefined || topicIndex === undefined
          ? packet.will
          : { ...packet.will, topicName: TOPICS[topicIndex % TOPICS.length]! };
      return { ...packet, clientId: clientId ?? packet.clientId, will };
    });
}

function actionArbitrary(versions: readonly ProtocolVersion[]): fc.Arbitrary<Action> {
  const slot = fc.nat({ max: versions.length - 1 });
  const perSlot = (make: (slot: number, version: ProtocolVersion) => fc.Arbitrary<Action>) =>
    slot.chain((s) => make(s, versions[s]!));
  return fc.oneof(
    {
      weight: 3,
      arbitrary: perSlot((s, v) => connectFor(v).map((packet) => ({ kind: 'connect', slot: s, packet }))),
    },
    {
      weight: 10,
      arbitrary: perSlot((s, v) =>
        clientPacketArbitrary(v).map((packet) => ({ kind: 'packet', slot: s, packet })),
      ),
    },
    {
      weight: 1,
      arbitrary: perSlot((s) => fc.boolean().map((withError) => ({ kind: 'close', slot: s, withError }))),
    },
    { weight: 3, arbitrary: perSlot((s) => fc.constant({ kind: 'ackAll', slot: s })) },
    {
      weight: 1,
      arbitrary: perSlot((s) => fc.boolean().map((congested) => ({ kind: 'congest', slot: s, congested }))),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 120_000 }).map((ms): Action => ({ kind: 'advance', ms })),
    },
  );
}

interface Slot {
  version: ProtocolVersion;
  transport: FakeTransport | undefined;
  connection: ClientConnection | undefined;
}

/** A client that behaves: subscribes to probe/# and #, acknowledges everything. */
class Observer {
  readonly transport = new FakeTransport(5);
  readonly connection: ClientConnection;
  readonly received: string[] = [];

  constructor(broker: Broker) {
    this.connection = broker.accept(this.transport);
    this.send({
      type: PacketType.Connect,
      protocolName: 'MQTT',
      protocolVersion: 5,
      cleanStart: true,
      keepaliveSeconds: 0,
      clientId: 'observer-side-client',
      will: undefined,
      username: undefined,
      password: undefined,
      properties: undefined,
    });
    this.send({
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [
        { topicFilter: 'probe/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        // Everything else too, at QoS 2: every message the fuzzed clients publish reaches it.
        { topicFilter: '#', qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 0 },
      ],
      properties: undefined,
    });
  }

  send(packet: Packet): void {
    this.connection.feed(encode(packet, 5));
  }

  /** Acks what arrived and remembers the payloads. */
  serve(): void {
    for (const packet of this.transport.take()) {
      if (packet.type === PacketType.Pubrel) {
        this.send({
          type: PacketType.Pubcomp,
          packetId: packet.packetId,
          reasonCode: 0,
          properties: undefined,
        });
      }
      if (packet.type !== PacketType.Publish) continue;
      this.received.push(packet.payload.toString());
      if (packet.qos === 1)
        this.send({
          type: PacketType.Puback,
          packetId: packet.packetId!,
          reasonCode: 0,
          properties: undefined,
        });
      if (packet.qos === 2)
        this.send({
          type: PacketType.Pubrec,
          packetId: packet.packetId!,
          reasonCode: 0,
          properties: undefined,
        });
    }
  }
}

function ackAll(slot: Slot): void {
  const { transport, connection } = slot;
  if (transport === undefined || connection === undefined) return;
  for (const packet of transport.take()) {
    let answer: Packet | undefined;
    if (packet.type === PacketType.Publish && packet.qos > 0) {
      answer = {
        type: packet.qos === 1 ? PacketType.Puback : PacketType.Pubrec,
        packetId: packet.packetId!,
        reasonCode: 0,
        properties: undefined,
      };
    } else if (packet.type === PacketType.Pubrel) {
      answer = { type: PacketType.Pubcomp, packetId: packet.packetId, reasonCode: 0, properties: undefined };
    }
    if (answer !== undefined) connection.feed(encode(answer, slot.version));
  }
}

function run(broker: Broker, clock: FakeClock, slots: Slot[], action: Action): void {
  if (action.kind === 'advance') {
    clock.advance(action.ms);
    return;
  }
  const slot = slots[action.slot]!;
  switch (action.kind) {
    case 'connect': {
      slot.transport = new FakeTransport(slot.version);
      slot.connection = broker.accept(slot.transport);
      slot.connection.feed(encode(action.packet, slot.version));
      return;
    }
    case 'packet':
      slot.connection?.feed(encode(action.packet, slot.version));
      return;
    case 'close':
      slot.connection?.transportClosed(action.withError ? new Error('connection reset') : undefined);
      slot.transport = undefined;
      slot.connection = undefined;
      return;
    case 'ackAll':
      ackAll(slot);
      return;
    case 'congest':
      if (slot.transport === undefined) return;
      slot.transport.highWaterMark = action.congested ? 0 : Number.POSITIVE_INFINITY;
      if (!action.congested) {
        slot.transport.drain();
        slot.connection?.drained();
      }
      return;
  }
}

describe('no sequence of client packets stops the broker', () => {
  it(
    'no exception escapes, no internal error, and a well-behaved client is still served',
    async () => {
      const scenario = fc
        .tuple(
          fc.constantFrom<ProtocolVersion>(3, 4, 5),
          fc.constantFrom<ProtocolVersion>(4, 5),
          fc.constant<ProtocolVersion>(5),
        )
        .chain((versions) =>
          fc.record({
            versions: fc.constant(versions),
            actions: fc.array(actionArbitrary(versions), { minLength: 1, maxLength: 40 }),
          }),
        );
      await fc.assert(
        fc.asyncProperty(scenario, async ({ versions, actions }) => {
          const clock = new FakeClock();
          const broker = new Broker({ clock, maxQueuedMessages: 20, maxInflightMessages: 4 });
          await broker.open();
          const observer = new Observer(broker);
          const slots: Slot[] = versions.map((version) => ({
            version,
            transport: undefined,
            connection: undefined,
          }));
          for (const action of actions) {
            run(broker, clock, slots, action);
            observer.serve();
            // Released publishers resume in a microtask.
            await Promise.resolve();
          }
          // The side client is still served: a probe published now reaches it.
          const probe = new FakeTransport(4);
          const probeConnection = broker.accept(probe);
          const encodeProbe = (packet: Packet) => probeConnection.feed(encode(packet, 4));
          encodeProbe({
            type: PacketType.Connect,
            protocolName: 'MQTT',
            protocolVersion: 4,
            cleanStart: true,
            keepaliveSeconds: 0,
            clientId: 'probe-side-client',
            will: undefined,
            username: undefined,
            password: undefined,
            properties: undefined,
          });
          encodeProbe({
            type: PacketType.Publish,
            dup: false,
            qos: 1,
            retain: false,
            topicName: 'probe/end',
            packetId: 9,
            payload: Buffer.from('still-served'),
            properties: undefined,
          });
          await new Promise((resolve) => setImmediate(resolve));
          observer.serve();
          expect(probe.take().map((p) => p.type)).toEqual([PacketType.Connack, PacketType.Puback]);
          expect(observer.received).toContain('still-served');
          expect(observer.transport.closed).toBe(false);
          expect(broker.stats.internalErrors).toBe(0);
          await broker.close();
        }),
        { numRuns: RUNS, seed: SEED },
      );
    },
    60_000 + RUNS * 10,
  );
});
