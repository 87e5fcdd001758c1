import type { Properties } from '@mqtt-adapt/codec';

/**
 * MQTT 5.0 properties as JSON text. Binary values (correlationData, authenticationData) become
 * `{"$base64": "..."}` and come back as `Buffer`s; arrays (userProperties, in wire order with
 * repeated names, subscriptionIdentifiers) and key order are kept as they are.
 */
export function propertiesToJson(properties: Properties | undefined): string | null {
  return properties === undefined ? null : JSON.stringify(properties, replaceBinary);
}

export function propertiesFromJson(json: string | null): Properties | undefined {
  return json === null ? undefined : (JSON.parse(json, reviveBinary) as Properties);
}

// `Buffer.prototype.toJSON` runs before a replacer sees the value, so the replacer looks at the
// original value on its holder (`this`).
function replaceBinary(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  if (original instanceof Uint8Array) {
    return {
      $base64: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64'),
    };
  }
  return value;
}

function reviveBinary(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const encoded = (value as { $base64?: unknown }).$base64;
    if (typeof encoded === 'string' && Object.keys(value).length === 1) return Buffer.from(encoded, 'base64');
  }
  return value;
}
