import {
  type ConnackPacket,
  type ConnectPacket,
  type DisconnectPacket,
  decodePackets,
  encode,
  type Packet,
  PacketType,
  type Properties,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type Subscription,
  type UnsubackPacket,
  type Will,
} from '@mqtt-adapt/codec';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startBroker, targetOf } from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import { type Frame, packet, RawClient, str, type Target, u16, varint } from './mqtt-wire.js';

/*
 * MQTT 5.0 pieces of the `conformance5-*` suites. Well-formed packets are encoded with
 * `@mqtt-adapt/codec` (which speaks 5.0) and what the broker sends back is split into frames by
 * `RawClient` (mqtt-wire.ts, independent of the codec) and then decoded by the codec, so a test
 * can assert on the decoded packet and on its bytes. Malformed input is built by hand from the
 * mqtt-wire byte helpers plus `props()` below, because the encoder refuses to write it.
 */

export const V5 = 5 as const;

/** Reason codes the spec allows in each packet the server sends (Tables 3-1 … 3-10). */
export const ALLOWED_CODES = {
  connack: [
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99,
    0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
  ],
  puback: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrec: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrel: [0x00, 0x92],
  pubcomp: [0x00, 0x92],
  suback: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
  unsuback: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
  disconnect: [
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96,
    0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
  ],
} as const;

export interface Connect5Options {
  clientId?: string;
  cleanStart?: boolean;
  keepaliveSeconds?: number;
  will?: Partial<Will> & { topicName: string };
  username?: string;
  password?: Buffer;
  properties?: Properties;
}

export function connectPacket(options: Connect5Options = {}): ConnectPacket {
  const will = options.will;
  return {
    type: PacketType.Connect,
    protocolName: 'MQTT',
    protocolVersion: V5,
    cleanStart: options.cleanStart ?? true,
    keepaliveSeconds: options.keepaliveSeconds ?? 0,
    clientId: options.clientId ?? '',
    will:
      will === undefined
        ? undefined
        : {
            topicName: will.topicName,
            payload: will.payload ?? Buffer.from('will'),
            qos: will.qos ?? 0,
            retain: will.retain ?? false,
            properties: will.properties,
          },
    username: options.username,
    password: options.password,
    properties: options.properties,
  };
}

export interface Publish5Options {
  qos?: QoS;
  retain?: boolean;
  dup?: boolean;
  packetId?: number;
  properties?: Properties;
}

export function publishPacket(
  topicName: string,
  payload: string | Buffer,
  options: Publish5Options = {},
): PublishPacket {
  const qos = options.qos ?? 0;
  return {
    type: PacketType.Publish,
    dup: options.dup ?? false,
    qos,
    retain: options.retain ?? false,
    topicName,
    packetId: qos === 0 ? undefined : (options.packetId ?? 1),
    payload: Buffer.from(payload),
    properties: options.properties,
  };
}

export type SubscriptionOptions = Partial<Omit<Subscription, 'topicFilter'>>;

export function subscription(topicFilter: string, options: SubscriptionOptions = {}): Subscription {
  return {
    topicFilter,
    qos: options.qos ?? 0,
    noLocal: options.noLocal ?? false,
    retainAsPublished: options.retainAsPublished ?? false,
    retainHandling: options.retainHandling ?? 0,
  };
}

/** An ack (PUBACK … PUBCOMP) with an optional reason code. */
export function ack(
  type: 4 | 5 | 6 | 7,
  packetId: number,
  reasonCode = 0,
  properties: Properties | undefined = undefined,
): Packet {
  return { type, packetId, reasonCode, properties } as Packet;
}

export function disconnectPacket(reasonCode = 0, properties: Properties | undefined = undefined): Packet {
  return { type: PacketType.Disconnect, reasonCode, properties };
}

export const pingreq: Packet = { type: PacketType.Pingreq };

export function bytes5(p: Packet): Buffer {
  return encode(p, V5);
}

/**
 * A 5.0 property block built by hand: Property Length, then each `[id, value]` with the value's
 * bytes given as is (for properties the encoder would refuse: duplicates, wrong packet, bad UTF-8).
 */
export function props(...entries: Array<[id: number, value: Buffer]>): Buffer {
  const body = Buffer.concat(entries.map(([id, value]) => Buffer.concat([varint(id), value])));
  return Buffer.concat([varint(body.length), body]);
}

export { packet, str, u16, varint };

/** Four-byte integer. */
export function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

/** A hand-built 5.0 CONNECT: variable header with `flags`, `properties` bytes, then `payload`. */
export function rawConnect(flags: number, properties: Buffer, ...payload: Buffer[]): Buffer {
  return packet(0x10, str('MQTT'), Buffer.from([5, flags]), u16(0), properties, ...payload);
}

/** A hand-built 5.0 PUBLISH. */
export function rawPublish(
  firstByte: number,
  topic: Buffer | string,
  packetId: number | undefined,
  properties: Buffer,
  payload: Buffer | string = '',
): Buffer {
  const parts = [str(topic)];
  if (packetId !== undefined) parts.push(u16(packetId));
  return packet(firstByte, ...parts, properties, Buffer.from(payload));
}

/** One packet the broker sent: decoded, with its frame (bytes). */
export interface Received {
  packet: Packet;
  frame: Frame;
}

type ByType<T extends Packet['type']> = Extract<Packet, { type: T }>;

const NAMES: Record<number, string> = {
  1: 'CONNECT',
  2: 'CONNACK',
  3: 'PUBLISH',
  4: 'PUBACK',
  5: 'PUBREC',
  6: 'PUBREL',
  7: 'PUBCOMP',
  8: 'SUBSCRIBE',
  9: 'SUBACK',
  10: 'UNSUBSCRIBE',
  11: 'UNSUBACK',
  12: 'PINGREQ',
  13: 'PINGRESP',
  14: 'DISCONNECT',
  15: 'AUTH',
};

export function nameOf(type: number): string {
  return NAMES[type] ?? `type ${type}`;
}

function decodeFrame(frame: Frame): Packet {
  const [decoded] = decodePackets(frame.bytes, V5);
  if (decoded === undefined) throw new Error(`undecodable frame ${frame.bytes.toString('hex')}`);
  return decoded;
}

/** A raw 5.0 connection: sends codec-encoded packets or bytes, reads decoded packets back. */
export class Client5 {
  private constructor(readonly raw: RawClient) {}

  static async open(target: Target): Promise<Client5> {
    return new Client5(await RawClient.open(target));
  }

  get isClosed(): boolean {
    return this.raw.isClosed;
  }

  send(...packets: Packet[]): void {
    this.raw.write(...packets.map(bytes5));
  }

  write(...buffers: Buffer[]): void {
    this.raw.write(...buffers);
  }

  async nextReceived(timeoutMs = 3000): Promise<Received> {
    const frame = await this.raw.next(timeoutMs);
    return { packet: decodeFrame(frame), frame };
  }

  async next(timeoutMs = 3000): Promise<Packet> {
    return (await this.nextReceived(timeoutMs)).packet;
  }

  /** The next packet, which must be of `type`. */
  async expect<T extends Packet['type']>(type: T, timeoutMs = 3000): Promise<ByType<T>> {
    const got = await this.next(timeoutMs);
    if (got.type !== type) {
      throw new Error(`expected ${nameOf(type)}, got ${nameOf(got.type)} ${summary(got)}`);
    }
    return got as ByType<T>;
  }

  /** Waits `ms` and returns the packets that arrived meanwhile. */
  async collectFor(ms: number): Promise<Packet[]> {
    return (await this.raw.collectFor(ms)).map(decodeFrame);
  }

  /**
   * Waits for `count` PUBLISH packets (other packets in between are dropped), then `quietMs` more
   * for any extra one; returns every PUBLISH. Robust on a loaded machine, unlike a fixed window.
   */
  async publishes(count: number, quietMs = 150, timeoutMs = 3000): Promise<PublishPacket[]> {
    const got: PublishPacket[] = [];
    while (got.length < count) {
      const p = await this.next(timeoutMs);
      if (p.type === PacketType.Publish) got.push(p);
    }
    for (const p of await this.collectFor(quietMs)) if (p.type === PacketType.Publish) got.push(p);
    return got;
  }

  async closed(timeoutMs = 3000): Promise<void> {
    await this.raw.closed(timeoutMs);
  }

  /**
   * Resolves with every packet still unread once the broker closed the connection; rejects if
   * it is still open after `timeoutMs`.
   */
  async packetsUntilClosed(timeoutMs = 3000): Promise<Packet[]> {
    await this.raw.closed(timeoutMs);
    return this.raw.unread().map(decodeFrame);
  }

  destroy(): void {
    this.raw.destroy();
  }
}

/** A compact view of a packet for failure messages. */
export function summary(p: Packet): string {
  return JSON.stringify(p, (_key, value) =>
    value && value.type === 'Buffer' && Array.isArray(value.data)
      ? Buffer.from(value.data).toString('hex')
      : value,
  );
}

/** The clients of one test file, all destroyed by `closeAll()`. */
export class Clients5 {
  private readonly clients: Client5[] = [];

  constructor(private readonly target: () => Target) {}

  async open(): Promise<Client5> {
    const client = await Client5.open(this.target());
    this.clients.push(client);
    return client;
  }

  /** Opens, sends CONNECT and returns the client with its CONNACK, whatever its code. */
  async connectRaw(options: Connect5Options = {}): Promise<{ client: Client5; connack: ConnackPacket }> {
    const client = await this.open();
    client.send(connectPacket(options));
    const connack = await client.expect(PacketType.Connack);
    return { client, connack };
  }

  /** Connects and requires CONNACK 0x00. */
  async connect(options: Connect5Options = {}): Promise<Client5 & { connack: ConnackPacket }> {
    const { client, connack } = await this.connectRaw(options);
    if (connack.reasonCode !== 0) {
      throw new Error(`CONNECT of ${options.clientId} refused: ${summary(connack)}`);
    }
    return Object.assign(client, { connack });
  }

  /** Connects and subscribes to `filters` (packet id 1); returns once the SUBACK granted them all. */
  async subscriber(
    options: Connect5Options,
    filters: Array<string | Subscription>,
    properties: Properties | undefined = undefined,
  ): Promise<Client5 & { connack: ConnackPacket }> {
    const client = await this.connect(options);
    const suback = await subscribeOn(client, 1, filters, properties);
    if (suback.reasonCodes.some((code) => code >= 0x80)) {
      throw new Error(`SUBSCRIBE refused: ${summary(suback)}`);
    }
    return client;
  }

  closeAll(): void {
    for (const client of this.clients) client.destroy();
    this.clients.length = 0;
  }
}

export async function subscribeOn(
  client: Client5,
  packetId: number,
  filters: Array<string | Subscription>,
  properties: Properties | undefined = undefined,
): Promise<SubackPacket> {
  client.send({
    type: PacketType.Subscribe,
    packetId,
    subscriptions: filters.map((f) => (typeof f === 'string' ? subscription(f) : f)),
    properties,
  });
  return client.expect(PacketType.Suback);
}

export async function unsubscribeOn(
  client: Client5,
  packetId: number,
  topicFilters: string[],
): Promise<UnsubackPacket> {
  client.send({ type: PacketType.Unsubscribe, packetId, topicFilters, properties: undefined });
  return client.expect(PacketType.Unsuback);
}

/**
 * What a server must do with a Malformed Packet or a Protocol Error after CONNACK (§4.13): close
 * the connection, after a DISCONNECT with the reason code (a SHOULD). Asserted strictly: exactly
 * one DISCONNECT whose code is in `codes`, then the close. Returns the DISCONNECT.
 */
export async function expectDisconnect(
  client: Client5,
  codes: readonly number[],
  timeoutMs = 3000,
): Promise<DisconnectPacket> {
  const packets = await client.packetsUntilClosed(timeoutMs);
  // Deliveries already on their way may come first; nothing may follow the DISCONNECT.
  const rest = packets.filter((p) => p.type !== PacketType.Publish);
  const last = packets[packets.length - 1];
  if (rest.length !== 1 || last?.type !== PacketType.Disconnect) {
    throw new Error(
      `expected one DISCONNECT (${codes.map(hex).join('/')}) then the close, got ${JSON.stringify(packets.map(summary))}`,
    );
  }
  const disconnect = last;
  if (!codes.includes(disconnect.reasonCode)) {
    throw new Error(`expected DISCONNECT ${codes.map(hex).join('/')}, got ${hex(disconnect.reasonCode)}`);
  }
  return disconnect;
}

export function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')}`;
}

/** A random run id, so that topics and client ids never meet those of another test. */
export function uid(prefix = 'c5'): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
}

export type { ConnackPacket, DisconnectPacket, Packet, Properties, PublishPacket, Subscription };
export { PacketType };

/**
 * One broker (in-memory store, plus `args`) for a whole test file: started before its tests,
 * stopped after them, with the clients of each test closed after it.
 */
export function useBroker(args: readonly string[] = []): Clients5 {
  let broker: TestBroker | undefined;
  const clients = new Clients5(() => targetOf(broker!));
  beforeAll(async () => {
    broker = await startBroker(['--store', 'memory', ...args]);
  });
  afterEach(() => clients.closeAll());
  afterAll(async () => {
    await broker?.stop();
  });
  return clients;
}

/** The PUBLISH packets among `packets`. */
export function publishes(packets: Packet[]): PublishPacket[] {
  return packets.filter((p): p is PublishPacket => p.type === PacketType.Publish);
}
