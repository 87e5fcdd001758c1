import {
  type ConnectPacket,
  encode,
  type Packet,
  PacketType,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  type Will,
} from '@mqtt-adapt/codec';
import { Broker, type BrokerOptions, type ClientConnection } from '../src/index.js';
import { FakeClock, FakeTransport } from '../src/testing/index.js';

export interface TestClient {
  transport: FakeTransport;
  connection: ClientConnection;
  send(packet: Packet): void;
  /** Packets the broker sent since the last call. */
  take(): Packet[];
}

export async function createBroker(
  options: BrokerOptions = {},
): Promise<{ broker: Broker; clock: FakeClock }> {
  const clock = new FakeClock();
  const broker = new Broker({ clock, ...options });
  await broker.open();
  return { broker, clock };
}

export function openClient(broker: Broker, version: ProtocolVersion = 4): TestClient {
  const transport = new FakeTransport(version);
  const connection = broker.accept(transport);
  return {
    transport,
    connection,
    send: (packet) => connection.feed(encode(packet, version)),
    take: () => transport.take(),
  };
}

export interface ConnectOptions {
  clientId?: string;
  cleanStart?: boolean;
  keepaliveSeconds?: number;
  will?: Will;
  username?: string;
  password?: Buffer;
  version?: ProtocolVersion;
  /** 5.0 CONNECT properties (Session Expiry Interval, Receive Maximum, ...). */
  properties?: Properties;
}

export function connectPacket(options: ConnectOptions = {}): ConnectPacket {
  const version = options.version ?? 4;
  return {
    type: PacketType.Connect,
    protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    cleanStart: options.cleanStart ?? true,
    keepaliveSeconds: options.keepaliveSeconds ?? 0,
    clientId: options.clientId ?? 'client',
    will: options.will,
    username: options.username,
    password: options.password,
    properties: options.properties,
  };
}

/** Opens a client, sends CONNECT and consumes the CONNACK. */
export function connect(broker: Broker, options: ConnectOptions = {}): TestClient {
  const client = openClient(broker, options.version ?? 4);
  client.send(connectPacket(options));
  const [connack] = client.take();
  if (connack?.type !== PacketType.Connack || connack.reasonCode !== 0) {
    throw new Error(`expected an accepting CONNACK, got ${JSON.stringify(connack)}`);
  }
  return client;
}

export function publishPacket(
  topicName: string,
  payload: string,
  qos: QoS = 0,
  options: { packetId?: number; retain?: boolean; dup?: boolean } = {},
): PublishPacket {
  return {
    type: PacketType.Publish,
    dup: options.dup ?? false,
    qos,
    retain: options.retain ?? false,
    topicName,
    packetId: qos === 0 ? undefined : (options.packetId ?? 1),
    payload: Buffer.from(payload),
    properties: undefined,
  };
}

export function subscribe(client: TestClient, topicFilter: string, qos: QoS = 0, packetId = 1): number[] {
  client.send({
    type: PacketType.Subscribe,
    packetId,
    subscriptions: [{ topicFilter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
    properties: undefined,
  });
  const [suback, ...rest] = client.take();
  if (suback?.type !== PacketType.Suback) throw new Error(`expected SUBACK, got ${JSON.stringify(suback)}`);
  // Retained messages follow the SUBACK: leave them for the test to take.
  client.transport.received.push(...rest);
  return suback.reasonCodes;
}

export function publishes(packets: Packet[]): PublishPacket[] {
  return packets.filter((packet): packet is PublishPacket => packet.type === PacketType.Publish);
}

export function ack(type: 4 | 5 | 6 | 7, packetId: number): Packet {
  return { type, packetId, reasonCode: 0, properties: undefined };
}
