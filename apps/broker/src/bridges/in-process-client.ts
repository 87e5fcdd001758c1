import {
  type AckPacket,
  Decoder,
  encode,
  type Packet,
  PacketType,
  type Properties,
  type PublishPacket,
  type QoS,
} from '@mqtt-adapt/codec';
import { rejected, unavailable } from '@mqtt-adapt/mq';
import type { Broker, ClientConnection, Transport } from '@mqtt-adapt/router';

export interface InProcessClientOptions {
  readonly clientId: string;
  /** `Transport.remoteAddress`, e.g. `in-process:bridge/plant`; hooks recognise bridges by it. */
  readonly remoteAddress: string;
  /** Clean Start 0 and a Session Expiry Interval of "never": the session outlives the connection. */
  readonly persistent: boolean;
  /**
   * Accepted with the router's `AcceptOptions.lossless`: never disconnected as a stalled
   * subscriber, and a full queue holds the publishers feeding it instead of dropping messages.
   */
  readonly lossless: boolean;
  /** MQTT 5 Receive Maximum: the broker sends at most this many QoS 1/2 messages unacknowledged. */
  readonly receiveMaximum: number;
  /** A PUBLISH from the broker. Acknowledge it with `acknowledge(packet)` (or never, to have it redelivered). */
  onPublish(packet: PublishPacket, client: InProcessClient): void;
  /** The broker closed the connection (takeover, stalled subscriber unless lossless, shutdown), or `disconnect()` did. */
  onClose(client: InProcessClient): void;
}

interface Waiter {
  resolve(packet: Packet): void;
  reject(error: Error): void;
}

const NEVER_EXPIRES = 0xffff_ffff;

/**
 * An MQTT 5 client living in the broker's process: it is accepted by `broker.accept()` over this
 * object as its `Transport`, and speaks encoded packets (the codec) both ways, so the router
 * treats it like any other client: persistent session in the store, QoS flows, flow control.
 * Packets from the broker are handled on a microtask, never inside the router's call; packets
 * to the broker wait while the router paused this transport.
 */
export class InProcessClient implements Transport {
  readonly remoteAddress: string;
  readonly #options: InProcessClientOptions;
  readonly #decoder: Decoder;
  readonly #waiters = new Map<string, Waiter>();
  readonly #inbox: Packet[] = [];
  readonly #outbox: Buffer[] = [];
  #connection: ClientConnection | undefined;
  #paused = false;
  #closed = false;
  #draining = false;
  #nextPacketId = 1;

  private constructor(options: InProcessClientOptions) {
    this.#options = options;
    this.remoteAddress = options.remoteAddress;
    this.#decoder = new Decoder({
      protocolVersion: 5,
      onPacket: (packet) => {
        // Handled later and kept while a destination confirms: copy off the router's buffer.
        if (packet.type === PacketType.Publish) packet.payload = Buffer.from(packet.payload);
        this.#inbox.push(packet);
      },
      onError: () => this.#end(),
    });
  }

  /** Connects; resolves with the CONNACK's Session Present once the broker accepted it. */
  static async connect(
    broker: Broker,
    options: InProcessClientOptions,
  ): Promise<{ client: InProcessClient; sessionPresent: boolean }> {
    const client = new InProcessClient(options);
    client.#connection = broker.accept(client, { lossless: options.lossless });
    const connack = client.#wait('connack');
    client.#send({
      type: PacketType.Connect,
      protocolName: 'MQTT',
      protocolVersion: 5,
      cleanStart: !options.persistent,
      keepaliveSeconds: 0,
      clientId: options.clientId,
      will: undefined,
      username: undefined,
      password: undefined,
      properties: {
        ...(options.persistent ? { sessionExpiryInterval: NEVER_EXPIRES } : {}),
        receiveMaximum: Math.min(65_535, Math.max(1, options.receiveMaximum)),
      },
    });
    const packet = await connack;
    if (packet.type !== PacketType.Connack || packet.reasonCode !== 0) {
      client.disconnect();
      const code = packet.type === PacketType.Connack ? packet.reasonCode : -1;
      throw unavailable(`bridge session ${options.clientId}`, `CONNACK 0x${code.toString(16)}`);
    }
    return { client, sessionPresent: packet.sessionPresent };
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** SUBSCRIBE; rejects unless the broker granted it. Retained messages are not sent (Retain Handling 2). */
  async subscribe(topicFilter: string, qos: QoS): Promise<void> {
    const packetId = this.#packetId();
    const suback = this.#wait(`${PacketType.Suback}:${packetId}`);
    this.#send({
      type: PacketType.Subscribe,
      packetId,
      subscriptions: [{ topicFilter, qos, noLocal: false, retainAsPublished: true, retainHandling: 2 }],
      properties: undefined,
    });
    const packet = await suback;
    const code = packet.type === PacketType.Suback ? (packet.reasonCodes[0] ?? 0x80) : 0x80;
    if (code >= 0x80) throw rejected(`subscribe to ${topicFilter}`, `SUBACK 0x${code.toString(16)}`);
  }

  async unsubscribe(topicFilter: string): Promise<void> {
    const packetId = this.#packetId();
    const unsuback = this.#wait(`${PacketType.Unsuback}:${packetId}`);
    this.#send({
      type: PacketType.Unsubscribe,
      packetId,
      topicFilters: [topicFilter],
      properties: undefined,
    });
    await unsuback;
  }

  /**
   * PUBLISH; resolves when the broker owns the message: at once for QoS 0, on PUBACK (QoS 1) or
   * PUBREC (QoS 2; PUBREL and PUBCOMP follow), which the broker sends once its store has it.
   */
  async publish(
    topicName: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    properties: Properties | undefined,
  ): Promise<void> {
    const packetId = qos === 0 ? undefined : this.#packetId();
    const type = qos === 1 ? PacketType.Puback : PacketType.Pubrec;
    const acked = packetId === undefined ? undefined : this.#wait(`${type}:${packetId}`);
    this.#send({
      type: PacketType.Publish,
      dup: false,
      qos,
      retain,
      topicName,
      packetId,
      payload,
      properties,
    });
    if (acked === undefined) return;
    const ack = (await acked) as AckPacket;
    if (qos === 2 && ack.reasonCode < 0x80) this.#send(ackPacket(PacketType.Pubrel, ack.packetId));
    if (ack.reasonCode >= 0x80) {
      throw rejected(`publish to ${topicName}`, `reason code 0x${ack.reasonCode.toString(16)}`);
    }
  }

  /** Acknowledges a PUBLISH from the broker: PUBACK (QoS 1) or PUBREC (QoS 2, PUBCOMP follows its PUBREL). */
  acknowledge(packet: PublishPacket): void {
    if (packet.qos === 0 || this.#closed) return;
    this.#send(ackPacket(packet.qos === 1 ? PacketType.Puback : PacketType.Pubrec, packet.packetId!));
  }

  /** A normal DISCONNECT: a persistent session stays, with what it has not acknowledged. */
  disconnect(): void {
    if (this.#closed) return;
    this.#send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    this.#flushNow();
    this.#end();
  }

  // Transport, called by the router.

  write(data: Buffer): boolean {
    if (this.#closed) return true;
    this.#decoder.feed(data);
    if (this.#inbox.length > 0 && !this.#draining) {
      this.#draining = true;
      queueMicrotask(() => this.#drainInbox());
    }
    return true;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    // Called from inside the router: feed it later, never re-entrantly.
    if (this.#outbox.length > 0) queueMicrotask(() => this.#flushNow());
  }

  /** The router ends the connection. */
  close(): void {
    this.#end();
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outbox.length = 0;
    const error = unavailable(`bridge session ${this.#options.clientId}`, 'connection closed');
    for (const waiter of this.#waiters.values()) waiter.reject(error);
    this.#waiters.clear();
    const connection = this.#connection;
    queueMicrotask(() => {
      connection?.transportClosed();
      this.#options.onClose(this);
    });
  }

  #drainInbox(): void {
    this.#draining = false;
    const packets = this.#inbox.splice(0);
    for (const packet of packets) {
      if (this.#closed) return;
      this.#handle(packet);
    }
  }

  #handle(packet: Packet): void {
    switch (packet.type) {
      case PacketType.Publish:
        this.#options.onPublish(packet, this);
        return;
      case PacketType.Pubrel:
        this.#send(ackPacket(PacketType.Pubcomp, packet.packetId));
        return;
      case PacketType.Connack:
        this.#settle('connack', packet);
        return;
      case PacketType.Puback:
      case PacketType.Pubrec:
      case PacketType.Suback:
      case PacketType.Unsuback:
        this.#settle(`${packet.type}:${packet.packetId}`, packet);
        return;
      case PacketType.Disconnect:
        this.#end();
        return;
      default:
        return; // PUBCOMP of our QoS 2 publishes, PINGRESP: nothing waits for them
    }
  }

  #settle(key: string, packet: Packet): void {
    const waiter = this.#waiters.get(key);
    if (waiter === undefined) return;
    this.#waiters.delete(key);
    waiter.resolve(packet);
  }

  #wait(key: string): Promise<Packet> {
    if (this.#closed)
      return Promise.reject(unavailable(`bridge session ${this.#options.clientId}`, 'closed'));
    return new Promise((resolve, reject) => this.#waiters.set(key, { resolve, reject }));
  }

  #packetId(): number {
    for (let i = 0; i < 65_535; i++) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 65_535 ? 1 : id + 1;
      if (
        !this.#waiters.has(`${PacketType.Puback}:${id}`) &&
        !this.#waiters.has(`${PacketType.Pubrec}:${id}`) &&
        !this.#waiters.has(`${PacketType.Suback}:${id}`) &&
        !this.#waiters.has(`${PacketType.Unsuback}:${id}`)
      ) {
        return id;
      }
    }
    throw unavailable(`bridge session ${this.#options.clientId}`, '65535 packets in flight');
  }

  #send(packet: Packet): void {
    if (this.#closed) return;
    this.#outbox.push(encode(packet, 5));
    if (!this.#paused && this.#outbox.length === 1) queueMicrotask(() => this.#flushNow());
  }

  #flushNow(): void {
    if (this.#paused || this.#closed) return;
    const chunks = this.#outbox.splice(0);
    for (const chunk of chunks) {
      if (this.#closed) return;
      this.#connection!.feed(chunk);
    }
  }
}

function ackPacket(
  type:
    | typeof PacketType.Puback
    | typeof PacketType.Pubrec
    | typeof PacketType.Pubrel
    | typeof PacketType.Pubcomp,
  packetId: number,
): AckPacket {
  return { type, packetId, reasonCode: 0, properties: undefined };
}
