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
import type { DisconnectPacket } from '../packets.js';

/*
 * DISCONNECT (3.1.1 §3.14, 5.0 §3.14). 3.x: remaining length 0 (checked from the fixed
 * header). 5.0: remaining length 0 means reason code 0 and no properties, 1 means a reason
 * code and no properties; the encoder uses the shortest form.
 */

/** The whole of a 3.x DISCONNECT, and of a 5.0 one with reason code 0 and no properties. */
export const DISCONNECT_BYTES: Buffer = Buffer.from([0xe0, 0x00]);

export function decodeDisconnect(r: Reader): DisconnectPacket {
  const reasonCode = r.pos < r.end ? r.u8('reason code') : 0;
  const properties = r.pos < r.end ? readProperties(r, PacketType.Disconnect) : undefined;
  return { type: PacketType.Disconnect, reasonCode, properties };
}

let propertiesBytes = 0;

export function disconnectLength(p: DisconnectPacket, version: ProtocolVersion): number {
  if (version !== 5) return 0;
  checkByte(p.reasonCode, 'disconnect reasonCode');
  propertiesBytes = propertiesLength(p.properties, PacketType.Disconnect);
  if (propertiesBytes !== 0) return 1 + propertySectionSize(propertiesBytes);
  return p.reasonCode === 0 ? 0 : 1;
}

export function encodeDisconnect(
  p: DisconnectPacket,
  _version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  offset = writeFixedHeader(buf, offset, 0xe0, remaining);
  if (remaining === 0) return offset;
  buf[offset++] = p.reasonCode;
  if (remaining === 1) return offset;
  return writeProperties(buf, offset, p.properties, propertiesBytes);
}
