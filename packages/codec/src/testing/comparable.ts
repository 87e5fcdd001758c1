import { Buffer } from 'node:buffer';

/**
 * A deep copy of `value` for `toStrictEqual`: Buffers and other byte arrays become tagged
 * hex strings (fast to compare, readable in a diff, and a Uint8Array where a Buffer is
 * expected still differs), and `undefined` entries inside 5.0 `properties` objects are
 * dropped (the decoder may allocate every property key; the model makes them optional).
 * Every other `undefined` field is kept, so a missing packet field still fails.
 */
export function comparable(value: unknown, inProperties = false): unknown {
  if (Buffer.isBuffer(value)) return `Buffer<${value.toString('hex')}>`;
  if (value instanceof Uint8Array) return `${value.constructor.name}<${Buffer.from(value).toString('hex')}>`;
  if (Array.isArray(value)) return value.map((item) => comparable(item));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (inProperties && item === undefined) continue;
      out[key] = comparable(item, key === 'properties');
    }
    return out;
  }
  return value;
}
