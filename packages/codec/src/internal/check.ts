/*
 * Argument checks for the encoder. A packet the encoder cannot write faithfully is a bug in
 * the caller, so these throw TypeError / RangeError at once (STYLE §4).
 */

export function checkPacketId(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffff) {
    throw new RangeError(`${what} packetId must be an integer in 1..65535, got ${String(value)}`);
  }
  return value;
}

export function checkQoS(value: unknown, what: string): number {
  if (value !== 0 && value !== 1 && value !== 2) {
    throw new RangeError(`${what} qos must be 0, 1 or 2, got ${String(value)}`);
  }
  return value;
}

export function checkByte(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new RangeError(`${what} must be an integer in 0..255, got ${String(value)}`);
  }
  return value;
}

export function checkTwoByte(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`${what} must be an integer in 0..65535, got ${String(value)}`);
  }
  return value;
}

export function checkArrayOf(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${what} must be an array`);
  return value;
}
