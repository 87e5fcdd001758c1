import { Buffer, isUtf8 } from 'node:buffer';

// `Buffer` is imported rather than global: the global is an accessor that costs a call on
// every use (measured in profiles of the encoder). The same holds in every codec module.

/*
 * UTF-8 strings (MQTT 5.0 §1.5.4): well-formed UTF-8, no U+0000, no surrogates.
 *
 * Decoding, measured on Node 20 (see the package README): strings of up to 12 ASCII bytes are
 * built with a byte loop and `String.fromCharCode` (about 3x faster than a native call, and
 * short enough that V8 makes a flat string). Longer strings go through `toString('utf8')`
 * (simdutf), which turns every ill-formed sequence (overlong forms, encoded surrogates, bytes
 * past U+10FFFF) into U+FFFD: so a result without U+0000 and U+FFFD is valid as is, and only a
 * result holding U+FFFD needs the full `isUtf8` check (the input may hold a real U+FFFD). This
 * beat `isUtf8` + a zero scan + `toString` by 40-60 ns per string.
 */

const SHORT_STRING = 12;

/** Decodes `buf[start, end)` as an MQTT UTF-8 string, or returns `null` when it is not one. */
export function decodeUtf8(buf: Buffer, start: number, end: number): string | null {
  if (end - start <= SHORT_STRING) {
    let result = '';
    let i = start;
    for (; i < end; i++) {
      const byte = buf[i]!;
      if (byte === 0 || byte > 0x7f) break;
      result += String.fromCharCode(byte);
    }
    if (i === end) return result;
    if (buf[i] === 0) return null;
  }
  const result = buf.toString('utf8', start, end);
  if (result.indexOf('\0') !== -1) return null;
  if (result.indexOf('\ufffd') !== -1 && !isUtf8(buf.subarray(start, end))) return null;
  return result;
}

/** Why `buf[start, end)` is not an MQTT UTF-8 string (called on the error path only). */
export function describeUtf8Problem(buf: Buffer, start: number, end: number): string {
  const zero = buf.indexOf(0, start);
  if (zero !== -1 && zero < end) return `contains u+0000 at byte ${zero - start}`;
  return 'is not well-formed utf-8';
}

/**
 * Byte length of `value` as UTF-8, after checking that it may be sent as an MQTT UTF-8 string.
 * Throws TypeError (not a string, U+0000, lone surrogate) or RangeError (over 65535 bytes).
 */
export function utf8Length(value: string, what: string): number {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, got ${typeof value}`);
  const length = Buffer.byteLength(value, 'utf8');
  if (length > 0xffff) throw new RangeError(`${what} is ${length} bytes of utf-8, over the limit of 65535`);
  if (length === value.length) {
    // Only ASCII gives one byte per UTF-16 unit.
    if (value.indexOf('\0') !== -1) throw new TypeError(`${what} contains u+0000`);
  } else {
    checkWellFormed(value, what);
  }
  return length;
}

function checkWellFormed(value: string, what: string): void {
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit === 0) throw new TypeError(`${what} contains u+0000`);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = value.charCodeAt(i + 1);
    if (unit > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) {
      throw new TypeError(`${what} contains a lone surrogate at index ${i}`);
    }
    i++;
  }
}

/**
 * Writes `value` with its two-byte length prefix at `offset`; returns the offset after it.
 * The caller has checked it with `utf8Length`. The string is written first and the prefix from
 * the byte count `write` returns, so no byte length is kept between the two passes.
 */
export function writeUtf8(buf: Buffer, offset: number, value: string): number {
  const units = value.length;
  if (units <= 16) {
    let i = 0;
    for (; i < units; i++) {
      const unit = value.charCodeAt(i);
      if (unit > 0x7f) break;
      buf[offset + 2 + i] = unit;
    }
    if (i === units) {
      buf[offset] = 0;
      buf[offset + 1] = units;
      return offset + 2 + units;
    }
  }
  const written = buf.write(value, offset + 2, 'utf8');
  buf[offset] = written >>> 8;
  buf[offset + 1] = written & 0xff;
  return offset + 2 + written;
}

/** Checks Binary Data (§1.5.6) for encoding; returns its length. */
export function binaryLength(value: Uint8Array, what: string): number {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Buffer or Uint8Array`);
  if (value.length > 0xffff)
    throw new RangeError(`${what} is ${value.length} bytes, over the limit of 65535`);
  return value.length;
}

/** Writes Binary Data with its two-byte length prefix; returns the offset after it. */
export function writeBinary(buf: Buffer, offset: number, value: Uint8Array): number {
  const length = value.length;
  buf[offset] = length >>> 8;
  buf[offset + 1] = length & 0xff;
  buf.set(value, offset + 2);
  return offset + 2 + length;
}
