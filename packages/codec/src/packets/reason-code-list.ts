import type { Reader } from '../internal/reader.js';

/* The payload of SUBACK and 5.0 UNSUBACK: one reason code byte per topic filter. */

export function readReasonCodes(r: Reader): number[] {
  const codes: number[] = [];
  const buf = r.buf;
  for (let i = r.pos; i < r.end; i++) codes.push(buf[i]!);
  r.pos = r.end;
  return codes;
}

export function writeReasonCodes(buf: Buffer, offset: number, codes: readonly number[]): number {
  for (const code of codes) buf[offset++] = code;
  return offset;
}
