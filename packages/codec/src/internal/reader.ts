import { Buffer } from 'node:buffer';
import { type CodecErrorCode, MalformedPacketError } from '../errors.js';
import { EMPTY_BUFFER, MALFORMED, PACKET_NAMES, PROTOCOL_ERROR } from './constants.js';
import { decodeUtf8, describeUtf8Problem } from './utf8.js';

/**
 * A cursor over the body of one packet, `buf[pos, end)`. The decoder keeps one per connection
 * and points it at each packet in turn, so decoding allocates nothing but the packet itself.
 * Every read checks the bounds and throws `MalformedPacketError`, which the decoder catches and
 * reports: the packet decoders read straight through without checking anything themselves.
 * `what` arguments name the field for error messages only.
 */
export class Reader {
  buf: Buffer = EMPTY_BUFFER;
  pos = 0;
  end = 0;
  /** Packet type and fixed-header flags of the packet being read. */
  type = 0;
  flags = 0;
  /** Protocol level the packet is read with (the decoder's; CONNECT uses its own). */
  version = 0;

  /** Points the reader at one packet body. */
  reset(buf: Buffer, start: number, end: number, firstByte: number, version: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.type = firstByte >> 4;
    this.flags = firstByte & 0x0f;
    this.version = version;
  }

  get name(): string {
    return PACKET_NAMES[this.type]!;
  }

  u8(what: string): number {
    if (this.pos >= this.end) this.overrun(what, 1);
    return this.buf[this.pos++]!;
  }

  u16(what: string): number {
    const pos = this.pos;
    if (pos + 2 > this.end) this.overrun(what, 2);
    this.pos = pos + 2;
    return (this.buf[pos]! << 8) | this.buf[pos + 1]!;
  }

  u32(what: string): number {
    const pos = this.pos;
    if (pos + 4 > this.end) this.overrun(what, 4);
    this.pos = pos + 4;
    return this.buf.readUInt32BE(pos);
  }

  /** A Variable Byte Integer: at most 4 bytes, in its shortest form. */
  varint(what: string): number {
    let value = 0;
    let multiplier = 1;
    for (let count = 1; ; count++) {
      const byte = this.u8(what);
      value += (byte & 0x7f) * multiplier;
      if (byte < 0x80) {
        if (byte === 0 && count > 1) {
          this.fail('CODEC_MALFORMED_VARINT', MALFORMED, `${this.name} ${what} is not in its shortest form`);
        }
        return value;
      }
      if (count === 4) {
        this.fail('CODEC_MALFORMED_VARINT', MALFORMED, `${this.name} ${what} is longer than 4 bytes`);
      }
      multiplier *= 0x80;
    }
  }

  /** A non-zero Packet Identifier. */
  packetId(): number {
    const id = this.u16('packet identifier');
    if (id === 0) this.fail('CODEC_PACKET_ID_ZERO', PROTOCOL_ERROR, `${this.name} packet identifier is 0`);
    return id;
  }

  /** A UTF-8 Encoded String with its two-byte length. */
  utf8(what: string): string {
    const length = this.u16(what);
    const start = this.pos;
    const end = start + length;
    if (end > this.end) this.overrun(what, length);
    this.pos = end;
    const value = decodeUtf8(this.buf, start, end);
    if (value === null) {
      const problem = describeUtf8Problem(this.buf, start, end);
      this.fail('CODEC_INVALID_UTF8', MALFORMED, `${this.name} ${what} ${problem}`);
    }
    return value;
  }

  /** Binary Data with its two-byte length, copied: such fields are small and usually kept. */
  binary(what: string): Buffer {
    const length = this.u16(what);
    const start = this.pos;
    if (start + length > this.end) this.overrun(what, length);
    this.pos = start + length;
    return Buffer.copyBytesFrom(this.buf, start, length);
  }

  fail(code: CodecErrorCode, reasonCode: number, message: string): never {
    throw new MalformedPacketError(code, reasonCode, message, this.type);
  }

  private overrun(what: string, wanted: number): never {
    const left = this.end - this.pos;
    this.fail(
      'CODEC_LENGTH_OVERRUN',
      MALFORMED,
      `${this.name} ${what} needs ${wanted} bytes but only ${left} remain in the packet`,
    );
  }
}
