import type { Properties } from '@mqtt-adapt/codec';

/** Tag of a Buffer inside stored JSON: `{ "$base64": "..." }`. */
const bufferTag = '$base64';

/**
 * Properties as JSON text for a `jsonb` column, or null. Buffers (correlationData,
 * authenticationData) become `{ "$base64": ... }`; arrays keep their order and duplicates
 * (userProperties), `undefined` fields are left out.
 */
export function encodeProperties(properties: Properties | undefined): string | null {
  if (properties === undefined) return null;
  return JSON.stringify(toJson(properties));
}

/** The inverse of `encodeProperties`, from the value node-postgres parsed out of `jsonb`. */
export function decodeProperties(value: unknown): Properties | undefined {
  if (value === null || value === undefined) return undefined;
  return fromJson(value) as Properties;
}

function toJson(value: unknown): unknown {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    return { [bufferTag]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) if (field !== undefined) out[key] = toJson(field);
    return out;
  }
  return value;
}

function fromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    const tagged = record[bufferTag];
    if (keys.length === 1 && typeof tagged === 'string') return Buffer.from(tagged, 'base64');
    const out: Record<string, unknown> = {};
    for (const key of keys) out[key] = fromJson(record[key]);
    return out;
  }
  return value;
}
