import type { Socket } from 'node:net';
import { openSocket } from './helpers.js';

/*
 * MQTT 3.1.1 bytes built by hand, and a small independent parser for what a broker sends back.
 * Deliberately not `@mqtt-adapt/codec`: a conformance test must not share the encoder or the
 * decoder under test, and the same helpers drive the Mosquitto reference broker.
 */

export const PINGREQ = Buffer.from([0xc0, 0x00]);
export const PINGRESP = Buffer.from([0xd0, 0x00]);
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

export const Type = {
  Connect: 1,
  Connack: 2,
  Publish: 3,
  Puback: 4,
  Pubrec: 5,
  Pubrel: 6,
  Pubcomp: 7,
  Subscribe: 8,
  Suback: 9,
  Unsubscribe: 10,
  Unsuback: 11,
  Pingreq: 12,
  Pingresp: 13,
  Disconnect: 14,
} as const;

/** Remaining Length as a variable byte integer (§2.2.3). */
export function varint(value: number): Buffer {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Buffer.from(out);
}

/** A length-prefixed string; a Buffer is written as is (for ill-formed UTF-8). */
export function str(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

export function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}

/** One packet: first byte (type << 4 | flags), Remaining Length, body. */
export function packet(firstByte: number, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  return Buffer.concat([Buffer.from([firstByte]), varint(payload.length), payload]);
}

export interface WillOptions {
  topic: string | Buffer;
  payload: string | Buffer;
  qos?: 0 | 1 | 2;
  retain?: boolean;
}

export interface ConnectOptions {
  clientId: string;
  /** Clean Session; default true. */
  clean?: boolean;
  keepaliveSeconds?: number;
  will?: WillOptions;
  username?: string;
  password?: string;
  /** Protocol level; default 4 (3.1.1). */
  level?: number;
  protocolName?: string;
  /** OR-ed into the computed connect flags (to set reserved or inconsistent bits). */
  extraFlags?: number;
}

export function connect(options: ConnectOptions): Buffer {
  let flags = options.clean === false ? 0 : 0x02;
  const payload: Buffer[] = [str(options.clientId)];
  if (options.will) {
    flags |= 0x04 | ((options.will.qos ?? 0) << 3) | (options.will.retain ? 0x20 : 0);
    payload.push(str(options.will.topic), str(Buffer.from(options.will.payload)));
  }
  if (options.username !== undefined) {
    flags |= 0x80;
    payload.push(str(options.username));
  }
  if (options.password !== undefined) {
    flags |= 0x40;
    payload.push(str(options.password));
  }
  flags |= options.extraFlags ?? 0;
  return packet(
    0x10,
    str(options.protocolName ?? 'MQTT'),
    Buffer.from([options.level ?? 4, flags]),
    u16(options.keepaliveSeconds ?? 0),
    ...payload,
  );
}

export interface PublishOptions {
  topic: string | Buffer;
  payload?: string | Buffer;
  qos?: 0 | 1 | 2 | 3;
  retain?: boolean;
  dup?: boolean;
  packetId?: number;
}

export function publish(options: PublishOptions): Buffer {
  const qos = options.qos ?? 0;
  const first = 0x30 | (options.dup ? 0x08 : 0) | (qos << 1) | (options.retain ? 0x01 : 0);
  const parts = [str(options.topic)];
  if (qos > 0) parts.push(u16(options.packetId ?? 1));
  parts.push(Buffer.from(options.payload ?? ''));
  return packet(first, ...parts);
}

export function subscribe(
  packetId: number,
  filters: ReadonlyArray<readonly [string | Buffer, number]>,
): Buffer {
  const parts = [u16(packetId)];
  for (const [filter, qos] of filters) parts.push(str(filter), Buffer.from([qos]));
  return packet(0x82, ...parts);
}

export function unsubscribe(packetId: number, filters: ReadonlyArray<string>): Buffer {
  return packet(0xa2, u16(packetId), ...filters.map((filter) => str(filter)));
}

export const puback = (packetId: number): Buffer => packet(0x40, u16(packetId));
export const pubrec = (packetId: number): Buffer => packet(0x50, u16(packetId));
export const pubrel = (packetId: number): Buffer => packet(0x62, u16(packetId));
export const pubcomp = (packetId: number): Buffer => packet(0x70, u16(packetId));

/** One packet as received: the fixed header split out, `bytes` the whole packet. */
export interface Frame {
  type: number;
  flags: number;
  body: Buffer;
  bytes: Buffer;
}

export interface ReceivedPublish {
  topic: string;
  payload: Buffer;
  qos: number;
  dup: boolean;
  retain: boolean;
  packetId: number | undefined;
}

export function parsePublish(frame: Frame): ReceivedPublish {
  if (frame.type !== Type.Publish) throw new Error(`expected PUBLISH, got ${describe(frame)}`);
  const qos = (frame.flags >> 1) & 3;
  const topicLength = frame.body.readUInt16BE(0);
  const topic = frame.body.subarray(2, 2 + topicLength).toString('utf8');
  let offset = 2 + topicLength;
  let packetId: number | undefined;
  if (qos > 0) {
    packetId = frame.body.readUInt16BE(offset);
    offset += 2;
  }
  return {
    topic,
    payload: Buffer.from(frame.body.subarray(offset)),
    qos,
    dup: (frame.flags & 0x08) !== 0,
    retain: (frame.flags & 0x01) !== 0,
    packetId,
  };
}

const NAMES = [
  'reserved(0)',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'reserved(15)',
];

export function describe(frame: Frame): string {
  return `${NAMES[frame.type]} ${frame.bytes.subarray(0, 24).toString('hex')}${frame.bytes.length > 24 ? '…' : ''}`;
}

export interface Target {
  readonly host: string;
  readonly port: number;
}

/**
 * A raw TCP MQTT client: writes whatever bytes it is given and splits what comes back into
 * frames, in order. Every wait is bounded.
 */
export class RawClient {
  readonly frames: Frame[] = [];
  readonly chunks: Buffer[] = [];
  /** Index of the next frame `next()` returns. */
  private cursor = 0;
  private pending: Buffer = Buffer.alloc(0);
  private notify: (() => void) | undefined = undefined;
  private closedAtMs: number | undefined = undefined;
  private readonly closedPromise: Promise<void>;
  /** Set when the peer sent bytes that do not frame (a remaining length over 4 bytes). */
  frameError: string | undefined = undefined;

  private constructor(readonly socket: Socket) {
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.closedAtMs = performance.now();
        this.notify?.();
        resolve();
      });
    });
  }

  static async open(target: Target): Promise<RawClient> {
    return new RawClient(await openSocket(target.port, target.host));
  }

  /** Opens a socket, sends CONNECT and waits for CONNACK; checks it accepted. */
  static async connect(target: Target, options: ConnectOptions): Promise<RawClient> {
    const client = await RawClient.open(target);
    client.write(connect(options));
    const connack = await client.next();
    if (connack.type !== Type.Connack || connack.body[1] !== 0) {
      client.destroy();
      throw new Error(`CONNECT of ${options.clientId} refused: ${describe(connack)}`);
    }
    return client;
  }

  get isClosed(): boolean {
    return this.closedAtMs !== undefined;
  }

  /** `performance.now()` when the socket closed. */
  get closedAt(): number | undefined {
    return this.closedAtMs;
  }

  write(...buffers: Buffer[]): void {
    if (!this.socket.destroyed)
      this.socket.write(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers));
  }

  /** Every byte received so far. */
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The next frame not yet returned; rejects after `timeoutMs` or when the socket closed. */
  async next(timeoutMs = 3000): Promise<Frame> {
    if (this.notify !== undefined) throw new Error('RawClient.next() called while another wait is pending');
    const deadline = performance.now() + timeoutMs;
    while (this.cursor >= this.frames.length) {
      if (this.isClosed) throw new Error(`connection closed while waiting for a packet${this.history()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms${this.history()}`);
      await this.wait(left);
    }
    return this.frames[this.cursor++]!;
  }

  /** The next frame, which must be a PUBLISH. */
  async nextPublish(timeoutMs = 3000): Promise<ReceivedPublish> {
    return parsePublish(await this.next(timeoutMs));
  }

  /** The next `count` frames. */
  async take(count: number, timeoutMs = 3000): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  /** Frames received and not yet returned by `next()`. */
  unread(): Frame[] {
    return this.frames.slice(this.cursor);
  }

  /** Waits `ms` and returns the frames that arrived meanwhile (consumed). */
  async collectFor(ms: number): Promise<Frame[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const out = this.frames.slice(this.cursor);
    this.cursor = this.frames.length;
    return out;
  }

  /** Resolves once the peer closed the connection; rejects after `timeoutMs`. */
  async closed(timeoutMs = 3000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`connection still open after ${timeoutMs} ms${this.history()}`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private history(): string {
    const frames = this.frames.map(describe);
    return `; received so far: [${frames.join(', ')}]${this.isClosed ? ' (closed)' : ''}`;
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        if (self.notify === done) self.notify = undefined;
        resolve();
      }
      this.notify = done;
    });
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.frameError === undefined) {
      const header = readFixedHeader(this.pending);
      if (header === undefined) break;
      if (header === 'malformed') {
        this.frameError = `remaining length over 4 bytes: ${this.pending.subarray(0, 6).toString('hex')}`;
        break;
      }
      const total = header.headerSize + header.remainingLength;
      if (this.pending.length < total) break;
      const bytes = this.pending.subarray(0, total);
      this.frames.push({
        type: bytes[0]! >> 4,
        flags: bytes[0]! & 0x0f,
        body: bytes.subarray(header.headerSize),
        bytes,
      });
      this.pending = this.pending.subarray(total);
    }
    this.notify?.();
  }
}

function readFixedHeader(
  buf: Buffer,
): { headerSize: number; remainingLength: number } | 'malformed' | undefined {
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i < 5; i++) {
    if (i >= buf.length) return undefined;
    const byte = buf[i]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { headerSize: i + 1, remainingLength: value };
    multiplier *= 128;
  }
  return 'malformed';
}

/** A random run id, so that topics and client ids never meet those of another run. */
export function runId(): string {
  return `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
