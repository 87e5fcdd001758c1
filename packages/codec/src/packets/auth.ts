import { Buffer } from 'node:buffer';
import { checkByte } from '../internal/check.js';
import {
  propertiesLength,
  propertySectionSize,
  readProperties,
  writeProperties,
} from '../internal/properties.js';
import type { Reader } from '../internal/reader.js';
import { writeFixedHeader } from '../internal/varint.js';
import { PacketType, type ProtocolVersion } from '../packet-types.js';
import type { AuthPacket } from '../packets.js';

/*
 * AUTH (5.0 §3.15), MQTT 5.0 only: the decoder rejects it from the fixed header in 3.x.
 * Remaining length 0 means reason code 0 (Success) and no properties. Like DISCONNECT, a
 * reason code without properties is read and written with remaining length 1 (Mosquitto reads
 * it too); the Authentication Method a real AUTH carries is the router's to require.
 */

export const AUTH_SUCCESS_BYTES: Buffer = Buffer.from([0xf0, 0x00]);

export function decodeAuth(r: Reader): AuthPacket {
  const reasonCode = r.pos < r.end ? r.u8('reason code') : 0;
  const properties = r.pos < r.end ? readProperties(r, PacketType.Auth) : undefined;
  return { type: PacketType.Auth, reasonCode, properties };
}

let propertiesBytes = 0;

export function authLength(p: AuthPacket, version: ProtocolVersion): number {
  if (version !== 5) throw new TypeError(`auth exists only in mqtt 5.0, not in protocol level ${version}`);
  checkByte(p.reasonCode, 'auth reasonCode');
  propertiesBytes = propertiesLength(p.properties, PacketType.Auth);
  if (propertiesBytes !== 0) return 1 + propertySectionSize(propertiesBytes);
  return p.reasonCode === 0 ? 0 : 1;
}

export function encodeAuth(
  p: AuthPacket,
  _version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  offset = writeFixedHeader(buf, offset, 0xf0, remaining);
  if (remaining === 0) return offset;
  buf[offset++] = p.reasonCode;
  if (remaining === 1) return offset;
  return writeProperties(buf, offset, p.properties, propertiesBytes);
}
