import { connect as netConnect, type Socket } from 'node:net';
import {
  type AckPacketType,
  Decoder,
  encode,
  type Packet,
  PacketType,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
} from '@mqtt-adapt/codec';
import { sleep, startBroker } from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import type { Target } from './mqtt-wire.js';

/*
 * Raw-socket clients for the flow-control and large-packet suites (`flow-control.test.ts`,
 * `large-packets.test.ts`): packets built with `@mqtt-adapt/codec`'s `encode` (one allocation
 * per packet, fast enough to pipeline tens of thousands) and read back with its `Decoder`.
 * Unlike `mqtt-wire.ts`, which is independent of the codec on purpose for the conformance
 * suites, these tests are about the broker's flow control, not about the bytes.
 */

export function connectBytes(
  clientId: string,
  options: { cleanStart?: boolean; keepaliveSeconds?: number; protocolVersion?: ProtocolVersion } = {},
): Buffer {
  const protocolVersion = options.protocolVersion ?? 4;
  return encode(
    {
      type: PacketType.Connect,
      protocolName: 'MQTT',
      protocolVersion,
      cleanStart: options.cleanStart ?? true,
      keepaliveSeconds: options.keepaliveSeconds ?? 0,
      clientId,
      will: undefined,
      username: undefined,
      password: undefined,
      properties: undefined,
    },
    protocolVersion,
  );
}

export function publishBytes(
  topicName: string,
  payload: Buffer | string,
  qos: QoS,
  packetId: number | undefined,
  protocolVersion: ProtocolVersion = 4,
): Buffer {
  return encode(
    {
      type: PacketType.Publish,
      dup: false,
      qos,
      retain: false,
      topicName,
      packetId: qos === 0 ? undefined : packetId,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      properties: undefined,
    },
    protocolVersion,
  );
}

export function subscribeBytes(
  packetId: number,
  topicFilter: string,
  qos: QoS,
  protocolVersion: ProtocolVersion = 4,
): Buffer {
  return encode(
    {
      type: PacketType.Subscribe,
      packetId,
      subscriptions: [{ topicFilter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
      properties: undefined,
    },
    protocolVersion,
  );
}

export function ackBytes(
  type: AckPacketType,
  packetId: number,
  protocolVersion: ProtocolVersion = 4,
): Buffer {
  return encode({ type, packetId, reasonCode: 0, properties: undefined }, protocolVersion);
}

/** Packet ids 1..65535, wrapping: the `n`th (0-based) packet id of a long run. */
export function packetIdOf(n: number): number {
  return (n % 65_535) + 1;
}

/**
 * A raw MQTT connection that decodes everything it receives with the codec's `Decoder` and
 * hands each packet to `onPacket` (set by the test), counting them by type. Every wait is bounded.
 */
export class FlowClient {
  /** Packets received, by type (index = packet type). */
  readonly counts: number[] = new Array(16).fill(0);
  /** Called for each packet received after CONNACK, in order. */
  onPacket: (packet: Packet) => void = () => {};
  /** Set when the broker sent bytes the codec rejects. */
  decodeError: Error | undefined = undefined;
  /** Every packet other than PUBLISH and the acks (CONNACK, SUBACK, DISCONNECT...), in order. */
  readonly control: Packet[] = [];
  private closedAtMs: number | undefined = undefined;
  private corked = false;
  private readonly decoder: Decoder;
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: Socket,
    readonly protocolVersion: ProtocolVersion,
  ) {
    this.decoder = new Decoder({
      protocolVersion,
      onPacket: (packet) => {
        this.counts[packet.type]!++;
        if (packet.type < PacketType.Publish || packet.type > PacketType.Pubcomp) this.control.push(packet);
        this.onPacket(packet);
      },
      onError: (error) => {
        this.decodeError = error;
      },
    });
    socket.on('data', (chunk: Buffer) => this.decoder.feed(chunk));
    // A reset by the broker is a way of closing too: 'close' follows the error.
    socket.on('error', () => socket.destroy());
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.closedAtMs = performance.now();
        resolve();
      });
    });
  }

  /** Opens a TCP connection; nothing is sent. */
  static open(target: Target, protocolVersion: ProtocolVersion = 4): Promise<FlowClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: target.host, port: target.port }, () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new FlowClient(socket, protocolVersion));
      });
      socket.once('error', reject);
    });
  }

  /** Opens a connection, sends CONNECT and waits for a CONNACK that accepts it. */
  static async connect(
    target: Target,
    clientId: string,
    options: { cleanStart?: boolean; protocolVersion?: ProtocolVersion } = {},
  ): Promise<FlowClient> {
    const client = await FlowClient.open(target, options.protocolVersion);
    client.socket.write(connectBytes(clientId, options));
    const connack = await client.expectControl(PacketType.Connack, `CONNACK for ${clientId}`);
    if (connack.type !== PacketType.Connack || connack.reasonCode !== 0) {
      client.destroy();
      throw new Error(`CONNECT of ${clientId} refused: ${JSON.stringify(connack)}`);
    }
    return client;
  }

  /** Subscribes to one filter and checks the SUBACK granted `qos`. */
  async subscribe(packetId: number, topicFilter: string, qos: QoS): Promise<void> {
    this.socket.write(subscribeBytes(packetId, topicFilter, qos, this.protocolVersion));
    const suback = await this.expectControl(PacketType.Suback, `SUBACK for ${topicFilter}`);
    if (suback.type !== PacketType.Suback || suback.reasonCodes[0] !== qos) {
      throw new Error(`SUBSCRIBE ${topicFilter} not granted QoS ${qos}: ${JSON.stringify(suback)}`);
    }
  }

  get isClosed(): boolean {
    return this.closedAtMs !== undefined;
  }

  /** `performance.now()` when the socket closed. */
  get closedAt(): number | undefined {
    return this.closedAtMs;
  }

  /**
   * Writes `bytes`, waiting for 'drain' when the socket is past its high-water mark (so the
   * broker's TCP backpressure holds the writer). Resolves false if the socket closed meanwhile.
   */
  async send(bytes: Buffer): Promise<boolean> {
    if (this.socket.destroyed) return false;
    if (this.socket.write(bytes)) return true;
    return new Promise((resolve) => {
      const done = (written: boolean) => {
        this.socket.off('drain', onDrain);
        this.socket.off('close', onClose);
        resolve(written);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  /**
   * Writes a small packet (an ack) without waiting: the writes of one event-loop turn are corked
   * and leave in one syscall, as the broker does, so acking tens of thousands stays cheap.
   */
  reply(bytes: Buffer): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
  }

  /** Resolves true once every byte written so far left this process, false if the socket closed. */
  flushed(): Promise<boolean> {
    if (this.socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(Buffer.alloc(0), (error) => resolve(!error)));
  }

  /** Resolves once the peer closed the connection; false after `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.closed.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async expectControl(type: number, what: string, timeoutMs = 5000): Promise<Packet> {
    const before = this.control.length;
    const deadline = performance.now() + timeoutMs;
    while (this.control.length === before) {
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}`);
      if (performance.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await sleep(5);
    }
    const packet = this.control[before]!;
    if (packet.type !== type) throw new Error(`expected ${what}, got ${JSON.stringify(packet)}`);
    return packet;
  }
}

/** The PUBLISH, narrowed. */
export function isPublish(packet: Packet): packet is PublishPacket {
  return packet.type === PacketType.Publish;
}

/**
 * Waits until `count()` reaches `target`, giving up (without throwing) once it has not moved for
 * `stallMs` or after `maxMs`: the test then asserts on the count, so a failure says how far it got.
 */
export async function waitForCount(
  count: () => number,
  target: number,
  { stallMs = 3000, maxMs = 20_000 }: { stallMs?: number; maxMs?: number } = {},
): Promise<number> {
  const deadline = performance.now() + maxMs;
  let last = count();
  let movedAt = performance.now();
  while (count() < target && performance.now() < deadline) {
    await sleep(20);
    const now = count();
    if (now !== last) {
      last = now;
      movedAt = performance.now();
    } else if (performance.now() - movedAt > stallMs) {
      break;
    }
  }
  return count();
}

/**
 * Starts brokers side by side (`startBroker()` each). If one cannot start, those that did are
 * stopped before the error is rethrown: the suite's `afterAll` never got them, so they would
 * otherwise outlive the run.
 */
export async function startBrokers(argsList: ReadonlyArray<readonly string[]>): Promise<TestBroker[]> {
  const results = await Promise.allSettled(argsList.map((args) => startBroker(args)));
  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.all(started.map((broker) => broker.stop()));
    throw failure.reason;
  }
  return started;
}
