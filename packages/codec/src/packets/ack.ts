import { checkByte, checkPacketId } from '../internal/check.js';
import { PACKET_NAMES } from '../internal/constants.js';
import {
  propertiesLength,
  propertySectionSize,
  readProperties,
  writeProperties,
} from '../internal/properties.js';
import type { Reader } from '../internal/reader.js';
import { writeFixedHeader } from '../internal/varint.js';
import { PacketType, type ProtocolVersion } from '../packet-types.js';
import type { AckPacket, AckPacketType } from '../packets.js';

/*
 * PUBACK, PUBREC, PUBREL and PUBCOMP (5.0 §3.4-3.7): one layout, so one module (as Mosquitto's
 * `send_*`/`handle_*` share theirs). In 5.0 the reason code and the property length may be
 * left out: remaining length 2 means reason code 0 and no properties, 3 means no properties.
 * In 3.x the remaining length is always 2 (checked from the fixed header).
 */

export function decodeAck(r: Reader): AckPacket {
  const type = r.type as AckPacketType;
  const packetId = r.packetId();
  if (r.version !== 5) return { type, packetId, reasonCode: 0, properties: undefined };
  const reasonCode = r.pos < r.end ? r.u8('reason code') : 0;
  const properties = r.pos < r.end ? readProperties(r, type) : undefined;
  return { type, packetId, reasonCode, properties };
}

let propertiesBytes = 0;

export function ackLength(p: AckPacket, version: ProtocolVersion): number {
  const name = PACKET_NAMES[p.type]!;
  checkPacketId(p.packetId, name);
  if (version !== 5) return 2;
  checkByte(p.reasonCode, `${name} reasonCode`);
  propertiesBytes = propertiesLength(p.properties, p.type);
  if (propertiesBytes !== 0) return 3 + propertySectionSize(propertiesBytes);
  return p.reasonCode === 0 ? 2 : 3;
}

export function encodeAck(
  p: AckPacket,
  _version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  offset = writeFixedHeader(buf, offset, p.type === PacketType.Pubrel ? 0x62 : p.type << 4, remaining);
  buf[offset] = p.packetId >>> 8;
  buf[offset + 1] = p.packetId & 0xff;
  offset += 2;
  if (remaining === 2) return offset;
  buf[offset++] = p.reasonCode;
  if (remaining === 3) return offset;
  return writeProperties(buf, offset, p.properties, propertiesBytes);
}
