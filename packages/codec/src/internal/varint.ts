/** Bytes a Variable Byte Integer takes (MQTT 5.0 §1.5.5); `value` is 0..268435455. */
export function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : 4;
}

/** Writes `value` (0..268435455) as a Variable Byte Integer; returns the offset after it. */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    buf[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[offset++] = value;
  return offset;
}

/** Writes a fixed header (first byte, Remaining Length); returns the offset of the body. */
export function writeFixedHeader(
  buf: Uint8Array,
  offset: number,
  firstByte: number,
  remaining: number,
): number {
  buf[offset] = firstByte;
  return writeVarint(buf, offset + 1, remaining);
}
