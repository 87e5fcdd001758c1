import { Buffer } from 'node:buffer';
import { MalformedPacketError } from './errors.js';
import {
  EMPTY_BUFFER,
  MALFORMED,
  MAX_PACKET_SIZE,
  PACKET_NAMES,
  PACKET_TOO_LARGE,
  PROTOCOL_ERROR,
} from './internal/constants.js';
import { decodePacket } from './internal/decode-packet.js';
import { Reader } from './internal/reader.js';
import { PacketType, type ProtocolVersion } from './packet-types.js';
import type { Packet } from './packets.js';

export interface DecoderOptions {
  /** Protocol level of the connection; `undefined` learns it from the first CONNECT (server side). */
  protocolVersion?: ProtocolVersion;
  /** Largest whole packet accepted, fixed header included. Default 268435460, the protocol maximum. */
  maxPacketSize?: number;
  /** Largest CONNECT accepted, fixed header included. Default `maxPacketSize`. */
  maxConnectPacketSize?: number;
  /** Reject a first packet other than CONNECT (server side). Default false. */
  requireConnectFirst?: boolean;
  /** Called with each packet, in order. */
  onPacket: (packet: Packet) => void;
  /** Called at most once, for the first malformed packet; the decoder then ignores all input. */
  onError: (error: MalformedPacketError) => void;
}

const STATE_HEADER = 0;
const STATE_BODY = 1;
const STATE_FAILED = 2;
/** Between packets, with the start of a fixed header split across chunks in `split`. */
const STATE_SPLIT_HEADER = 3;

/** Remaining length each packet type must have (-1: variable), by type, in 3.x and in 5.0. */
const FIXED_LENGTH_V3 = [-1, -1, 2, -1, 2, 2, 2, 2, -1, -1, -1, 2, 0, 0, 0, -1];
const FIXED_LENGTH_V5 = [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, -1, -1];
/** Fixed-header flags each type must have (-1: PUBLISH, checked apart), by type (§2.1.3). */
const REQUIRED_FLAGS = [0, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];
/** Weight of each Remaining Length byte. */
const VARINT_WEIGHT = [1, 0x80, 0x4000, 0x20_0000];
/**
 * A split body up to this size gets its whole buffer at once; a larger one grows with the bytes
 * received, so a 5-byte header announcing 256 MiB does not allocate 256 MiB.
 */
const EAGER_BODY_BYTES = 1024 * 1024;

/**
 * One reader for every decoder: it is pointed at a packet, read through and cleared within one
 * `deliver`, before `onPacket` runs, so no two decoders can use it at once.
 */
const sharedReader = new Reader();

/**
 * A packet split across chunks: the start of its fixed header, or its header and the body so far.
 * Allocated at a decoder's first split packet and kept for the next ones; a connection whose
 * packets each arrive in one chunk (most idle ones) never has one.
 */
class SplitPacket {
  /** First byte of a fixed header split across chunks. */
  headerByte = 0;
  /** Remaining Length of a split fixed header: value so far and bytes read. */
  lengthValue = 0;
  lengthBytes = 0;
  /** A packet body split across chunks: first byte, header size, remaining length, buffer, fill. */
  bodyHeader = 0;
  bodyHeaderSize = 0;
  bodyLength = 0;
  /** `bodyLength` bytes, or fewer while a large body grows (see `EAGER_BODY_BYTES`). */
  body: Buffer = EMPTY_BUFFER;
  bodyFilled = 0;
}

/**
 * Streaming MQTT decoder for one connection: feed it socket chunks of any size, get packets
 * through `onPacket`, and at most one `onError`. A malformed stream cannot be re-synchronised,
 * so after an error the decoder is `failed` and ignores input until `reset()`.
 *
 * Limits are checked from the fixed header, before the body is buffered. A packet complete
 * inside one chunk is decoded in place (a PUBLISH payload is a view into the chunk); only a
 * packet split across chunks is copied, into one buffer of its remaining length. Above 1 MiB
 * that buffer starts at max(1 MiB, twice the bytes in hand) and doubles as chunks arrive, so
 * memory follows what the peer actually sent.
 *
 * A decoder is one small object: the state of a packet split across chunks is allocated at the
 * first such packet (see `SplitPacket`) and the reader is shared by all decoders. Between
 * packets, a decoder whose `bufferedBytes` is 0 holds nothing of the stream but the protocol
 * version and whether the first packet was seen.
 */
export class Decoder {
  private readonly onPacket: (packet: Packet) => void;
  private readonly onError: (error: MalformedPacketError) => void;
  private readonly maxPacketSize: number;
  private readonly maxConnectPacketSize: number;
  private readonly requireConnectFirst: boolean;
  private readonly initialVersion: number;
  /** Protocol level, 0 while unknown. */
  private version: number;
  private state = STATE_HEADER;
  /** A packet split across chunks (`STATE_SPLIT_HEADER`, `STATE_BODY`); kept once allocated. */
  private split: SplitPacket | undefined = undefined;
  private seenFirstPacket = false;
  /** Set while `onPacket` runs, to tell its exceptions from ours. */
  private delivering = false;
  /** Incremented by `reset()`, so a reset from inside `onPacket` stops the current `feed`. */
  private epoch = 0;

  constructor(options: DecoderOptions) {
    if (typeof options?.onPacket !== 'function' || typeof options.onError !== 'function') {
      throw new TypeError('decoder options need onPacket and onError functions');
    }
    this.onPacket = options.onPacket;
    this.onError = options.onError;
    this.maxPacketSize = checkSize(options.maxPacketSize ?? MAX_PACKET_SIZE, 'maxPacketSize');
    this.maxConnectPacketSize = checkSize(
      options.maxConnectPacketSize ?? this.maxPacketSize,
      'maxConnectPacketSize',
    );
    this.requireConnectFirst = options.requireConnectFirst === true;
    this.initialVersion = checkVersion(options.protocolVersion);
    this.version = this.initialVersion;
  }

  /** The protocol level packets are decoded with; learnt from the first CONNECT if not given. */
  get protocolVersion(): ProtocolVersion | undefined {
    return this.version === 0 ? undefined : (this.version as ProtocolVersion);
  }

  set protocolVersion(version: ProtocolVersion | undefined) {
    this.version = checkVersion(version);
  }

  /** True after a malformed packet: input is ignored until `reset()`. */
  get failed(): boolean {
    return this.state === STATE_FAILED;
  }

  /** Bytes received of a packet split across chunks (fixed header included); 0 between packets. */
  get bufferedBytes(): number {
    if (this.state === STATE_BODY) return this.split!.bodyHeaderSize + this.split!.bodyFilled;
    return this.state === STATE_SPLIT_HEADER ? 1 + this.split!.lengthBytes : 0;
  }

  /**
   * Experimental, may change or go away: bytes allocated for the body of a packet split across
   * chunks, 0 when none. At most the packet's remaining length; above 1 MiB, at most about
   * twice the bytes received. For tests and memory accounting.
   */
  get experimental_bufferCapacity(): number {
    return this.split === undefined ? 0 : this.split.body.length;
  }

  /** Drops buffered bytes and the failed state, and forgets a learnt protocol version. */
  reset(): void {
    this.epoch++;
    this.state = STATE_HEADER;
    this.dropSplit();
    this.version = this.initialVersion;
    this.seenFirstPacket = false;
    // `delivering` is left alone: reset() may run inside onPacket, which has not returned yet.
  }

  /**
   * Decodes what `chunk` completes. Malformed input is reported through `onError`, never
   * thrown; an exception thrown by `onPacket` propagates and leaves the decoder failed.
   */
  feed(chunk: Uint8Array): void {
    if (this.state === STATE_FAILED) return;
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    try {
      this.run(buf);
    } catch (error) {
      this.state = STATE_FAILED;
      this.dropSplit();
      sharedReader.buf = EMPTY_BUFFER;
      if (this.delivering || !(error instanceof MalformedPacketError)) {
        this.delivering = false;
        throw error;
      }
      this.onError(error);
    }
  }

  /** Forgets a split packet's bytes; the (small) `SplitPacket` itself stays for the next one. */
  private dropSplit(): void {
    const split = this.split;
    if (split === undefined) return;
    split.body = EMPTY_BUFFER;
    split.bodyFilled = 0;
  }

  /*
   * The byte loop. It is longer than the usual ~50 lines on purpose (STYLE §3): the fixed
   * header is parsed inline because this runs once per packet, as in nats.js's parser.
   */
  private run(buf: Buffer): void {
    const end = buf.length;
    const epoch = this.epoch;
    let pos = 0;
    while (pos < end) {
      if (this.state === STATE_BODY) {
        pos = this.fillBody(buf, pos, end);
        if (this.epoch !== epoch) return;
        continue;
      }
      // Fixed header: first byte, then 1 to 4 bytes of Remaining Length, possibly resumed
      // from an earlier chunk.
      let firstByte: number;
      let length: number;
      let lengthBytes: number;
      if (this.state === STATE_HEADER) {
        firstByte = buf[pos++]!;
        length = 0;
        lengthBytes = 0;
      } else {
        const split = this.split!;
        firstByte = split.headerByte;
        length = split.lengthValue;
        lengthBytes = split.lengthBytes;
        this.state = STATE_HEADER;
      }
      let complete = false;
      while (pos < end) {
        const byte = buf[pos++]!;
        length += (byte & 0x7f) * VARINT_WEIGHT[lengthBytes]!;
        lengthBytes++;
        if (byte < 0x80) {
          if (byte === 0 && lengthBytes > 1) this.badVarint(firstByte, 'is not in its shortest form');
          complete = true;
          break;
        }
        if (lengthBytes === 4) this.badVarint(firstByte, 'is longer than 4 bytes');
      }
      if (!complete) {
        this.split ??= new SplitPacket();
        const split = this.split;
        split.headerByte = firstByte;
        split.lengthValue = length;
        split.lengthBytes = lengthBytes;
        this.state = STATE_SPLIT_HEADER;
        return;
      }
      this.checkHeader(firstByte, length, 1 + lengthBytes);
      if (pos + length <= end) {
        this.deliver(firstByte, buf, pos, pos + length);
        pos += length;
        if (this.epoch !== epoch) return;
      } else {
        // Split frame: one buffer of the announced size, filled as chunks arrive; a large one
        // starts smaller and grows in fillBody.
        this.split ??= new SplitPacket();
        const split = this.split;
        this.state = STATE_BODY;
        split.bodyHeader = firstByte;
        split.bodyHeaderSize = 1 + lengthBytes;
        split.bodyLength = length;
        split.body = Buffer.allocUnsafe(
          length <= EAGER_BODY_BYTES ? length : Math.min(length, Math.max(EAGER_BODY_BYTES, 2 * (end - pos))),
        );
        split.bodyFilled = buf.copy(split.body, 0, pos, end);
        return;
      }
    }
  }

  private fillBody(buf: Buffer, pos: number, end: number): number {
    const split = this.split!;
    const length = split.bodyLength;
    const wanted = length - split.bodyFilled;
    if (end - pos < wanted) {
      const filled = split.bodyFilled + (end - pos);
      if (filled > split.body.length)
        growBody(split, Math.min(length, Math.max(2 * split.body.length, filled)));
      split.bodyFilled += buf.copy(split.body, split.bodyFilled, pos, end);
      return end;
    }
    if (split.body.length !== length) growBody(split, length);
    const body = split.body;
    buf.copy(body, split.bodyFilled, pos, pos + wanted);
    this.state = STATE_HEADER;
    split.body = EMPTY_BUFFER;
    split.bodyFilled = 0;
    this.deliver(split.bodyHeader, body, 0, length);
    return pos + wanted;
  }

  private deliver(firstByte: number, buf: Buffer, start: number, end: number): void {
    const r = sharedReader;
    r.reset(buf, start, end, firstByte, this.version);
    let packet: Packet;
    try {
      packet = decodePacket(r);
    } finally {
      r.buf = EMPTY_BUFFER;
    }
    if (this.version === 0 && packet.type === PacketType.Connect) this.version = packet.protocolVersion;
    this.delivering = true;
    this.onPacket(packet);
    this.delivering = false;
  }

  /** Every check the fixed header allows, made before any of the body is buffered. */
  private checkHeader(firstByte: number, length: number, headerSize: number): void {
    const type = firstByte >> 4;
    const flags = firstByte & 0x0f;
    const name = PACKET_NAMES[type]!;
    if (type === 0) this.fail('CODEC_INVALID_PACKET_TYPE', MALFORMED, 'packet type 0 is reserved', type);
    if (!this.seenFirstPacket) {
      if (this.requireConnectFirst && type !== PacketType.Connect) {
        this.fail('CODEC_CONNECT_EXPECTED', PROTOCOL_ERROR, `first packet is ${name}, not connect`, type);
      }
      this.seenFirstPacket = true;
    }
    const version = this.version;
    if (type !== PacketType.Connect) {
      if (version === 0) {
        this.fail(
          'CODEC_VERSION_UNKNOWN',
          PROTOCOL_ERROR,
          `${name} before connect: protocol version unknown`,
          type,
        );
      }
      if (type === PacketType.Auth && version !== 5) {
        this.fail(
          'CODEC_INVALID_PACKET_TYPE',
          MALFORMED,
          `auth (type 15) is not a packet in protocol level ${version}`,
          type,
        );
      }
    }
    this.checkFlags(type, flags, version);
    const size = headerSize + length;
    const isConnect = type === PacketType.Connect;
    const max = isConnect ? this.maxConnectPacketSize : this.maxPacketSize;
    if (size > max) {
      const limit = isConnect ? 'maxConnectPacketSize' : 'maxPacketSize';
      this.fail(
        'CODEC_PACKET_TOO_LARGE',
        PACKET_TOO_LARGE,
        `${name} packet of ${size} bytes exceeds ${limit} ${max}`,
        type,
      );
    }
    const fixed = (version === 5 ? FIXED_LENGTH_V5 : FIXED_LENGTH_V3)[type]!;
    if (fixed !== -1 && length !== fixed) {
      this.fail(
        'CODEC_LENGTH_OVERRUN',
        MALFORMED,
        `${name} remaining length is ${length}, must be ${fixed}`,
        type,
      );
    }
  }

  private checkFlags(type: number, flags: number, version: number): void {
    if (type === PacketType.Publish) {
      const qos = (flags >> 1) & 3;
      if (qos === 3) this.fail('CODEC_INVALID_QOS', MALFORMED, 'publish qos is 3', type);
      if (qos === 0 && (flags & 8) !== 0)
        this.fail('CODEC_INVALID_QOS', MALFORMED, 'publish qos 0 has dup set', type);
      return;
    }
    const required = REQUIRED_FLAGS[type]!;
    // MQTT 3.1 sent PUBREL, SUBSCRIBE and UNSUBSCRIBE as QoS 1 messages that may carry DUP.
    if (flags === required || (version === 3 && required === 2 && flags === 0x0a)) return;
    const expected = required.toString(2).padStart(4, '0');
    const got = flags.toString(2).padStart(4, '0');
    this.fail(
      'CODEC_RESERVED_FLAGS',
      MALFORMED,
      `${PACKET_NAMES[type]} fixed header flags are ${got}, must be ${expected}`,
      type,
    );
  }

  private badVarint(firstByte: number, problem: string): never {
    this.fail('CODEC_MALFORMED_VARINT', MALFORMED, `remaining length ${problem}`, firstByte >> 4);
  }

  private fail(code: MalformedPacketError['code'], reasonCode: number, message: string, type: number): never {
    throw new MalformedPacketError(code, reasonCode, message, type);
  }
}

/** Moves the bytes received so far of a large split body into a buffer of `capacity`. */
function growBody(split: SplitPacket, capacity: number): void {
  const body = Buffer.allocUnsafe(capacity);
  split.body.copy(body, 0, 0, split.bodyFilled);
  split.body = body;
}

function checkSize(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 2 || value > MAX_PACKET_SIZE) {
    throw new RangeError(`${what} must be an integer in 2..${MAX_PACKET_SIZE}, got ${String(value)}`);
  }
  return value;
}

function checkVersion(version: ProtocolVersion | undefined): number {
  if (version === undefined) return 0;
  if (version !== 3 && version !== 4 && version !== 5) {
    throw new RangeError(`protocolVersion must be 3, 4, 5 or undefined, got ${String(version)}`);
  }
  return version;
}

/**
 * Decodes a complete byte sequence into packets. Throws the `MalformedPacketError` the stream
 * decoder would report; bytes of an incomplete last packet are a CODEC_LENGTH_OVERRUN.
 */
export function decodePackets(
  bytes: Uint8Array,
  protocolVersion?: ProtocolVersion,
  options?: Omit<DecoderOptions, 'onPacket' | 'onError' | 'protocolVersion'>,
): Packet[] {
  const packets: Packet[] = [];
  let failure: MalformedPacketError | undefined;
  const decoder = new Decoder({
    ...options,
    protocolVersion,
    onPacket: (packet) => packets.push(packet),
    onError: (error) => {
      failure = error;
    },
  });
  decoder.feed(bytes);
  if (failure !== undefined) throw failure;
  if (decoder.bufferedBytes !== 0) {
    throw new MalformedPacketError(
      'CODEC_LENGTH_OVERRUN',
      MALFORMED,
      `input ends inside a packet: ${decoder.bufferedBytes} bytes of it were received`,
    );
  }
  return packets;
}
