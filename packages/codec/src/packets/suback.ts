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
import type { SubackPacket } from '../packets.js';
import { readReasonCodes, writeReasonCodes } from './reason-code-list.js';

/* SUBACK (3.1.1 §3.9, 5.0 §3.9): one reason code per subscription, values not checked. */

export function decodeSuback(r: Reader): SubackPacket {
  const packetId = r.packetId();
  const properties = r.version === 5 ? readProperties(r, PacketType.Suback) : undefined;
  return { type: PacketType.Suback, packetId, reasonCodes: readReasonCodes(r), properties };
}

let propertiesBytes = 0;

export function subackLength(p: SubackPacket, version: ProtocolVersion): number {
  checkPacketId(p.packetId, 'suback');
  const codes = checkArrayOf(p.reasonCodes, 'suback reasonCodes');
  for (const code of codes) checkByte(code, 'suback reason code');
  let length = 2 + codes.length;
  if (version === 5) {
    propertiesBytes = propertiesLength(p.properties, PacketType.Suback);
    length += propertySectionSize(propertiesBytes);
  }
  return length;
}

export function encodeSuback(
  p: SubackPacket,
  version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  offset = writeFixedHeader(buf, offset, 0x90, remaining);
  buf[offset] = p.packetId >>> 8;
  buf[offset + 1] = p.packetId & 0xff;
  offset += 2;
  if (version === 5) offset = writeProperties(buf, offset, p.properties, propertiesBytes);
  return writeReasonCodes(buf, offset, p.reasonCodes);
}
