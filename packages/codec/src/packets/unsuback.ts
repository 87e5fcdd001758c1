import { checkArrayOf, checkByte, checkPacketId } from '../internal/check.js';
import {
  propertiesLength,
  propertySectionSize,
  readProperties,
  writeProperties,
} from '../internal/properties.js';
import type { Reader } from '../internal/reader.js';
import { writeFixedHeader } from '../internal/varint.js';
import { PacketType, type ProtocolVersion } from '../packet-types.js';
import type { UnsubackPacket } from '../packets.js';
import { readReasonCodes, writeReasonCodes } from './reason-code-list.js';

/*
 * UNSUBACK (3.1.1 §3.11, 5.0 §3.11). 3.x has only the packet identifier (remaining length 2,
 * checked from the fixed header): `reasonCodes` decodes as [] and is not written.
 */

export function decodeUnsuback(r: Reader): UnsubackPacket {
  const packetId = r.packetId();
  if (r.version !== 5) return { type: PacketType.Unsuback, packetId, reasonCodes: [], properties: undefined };
  const properties = readProperties(r, PacketType.Unsuback);
  return { type: PacketType.Unsuback, packetId, reasonCodes: readReasonCodes(r), properties };
}

let propertiesBytes = 0;

export function unsubackLength(p: UnsubackPacket, version: ProtocolVersion): number {
  checkPacketId(p.packetId, 'unsuback');
  if (version !== 5) return 2;
  const codes = checkArrayOf(p.reasonCodes, 'unsuback reasonCodes');
  for (const code of codes) checkByte(code, 'unsuback reason code');
  propertiesBytes = propertiesLength(p.properties, PacketType.Unsuback);
  return 2 + propertySectionSize(propertiesBytes) + codes.length;
}

export function encodeUnsuback(
  p: UnsubackPacket,
  version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  offset = writeFixedHeader(buf, offset, 0xb0, remaining);
  buf[offset] = p.packetId >>> 8;
  buf[offset + 1] = p.packetId & 0xff;
  offset += 2;
  if (version !== 5) return offset;
  offset = writeProperties(buf, offset, p.properties, propertiesBytes);
  return writeReasonCodes(buf, offset, p.reasonCodes);
}
