import { checkByte } from '../internal/check.js';
import { hex, MALFORMED } from '../internal/constants.js';
import {
  propertiesLength,
  propertySectionSize,
  readProperties,
  writeProperties,
} from '../internal/properties.js';
import type { Reader } from '../internal/reader.js';
import { writeFixedHeader } from '../internal/varint.js';
import { PacketType, type ProtocolVersion } from '../packet-types.js';
import type { ConnackPacket } from '../packets.js';

/* CONNACK (3.1.1 §3.2, 5.0 §3.2). In 3.x `reasonCode` is the return code. */

export function decodeConnack(r: Reader): ConnackPacket {
  const ackFlags = r.u8('acknowledge flags');
  if ((ackFlags & 0xfe) !== 0) {
    r.fail(
      'CODEC_RESERVED_FLAGS',
      MALFORMED,
      `connack acknowledge flags ${hex(ackFlags)} have reserved bits set`,
    );
  }
  const reasonCode = r.u8('reason code');
  // A 5.0 CONNACK always carries a property length, but a 3.1.1-only server answers a 5.0
  // CONNECT with a 2-byte CONNACK (return code 1): read that as having no properties.
  const properties = r.version === 5 && r.pos < r.end ? readProperties(r, PacketType.Connack) : undefined;
  return { type: PacketType.Connack, sessionPresent: (ackFlags & 1) !== 0, reasonCode, properties };
}

let propertiesBytes = 0;

export function connackLength(p: ConnackPacket, version: ProtocolVersion): number {
  checkByte(p.reasonCode, 'connack reasonCode');
  if (version !== 5) return 2;
  propertiesBytes = propertiesLength(p.properties, PacketType.Connack);
  return 2 + propertySectionSize(propertiesBytes);
}

export function encodeConnack(
  p: ConnackPacket,
  version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  offset = writeFixedHeader(buf, offset, 0x20, remaining);
  buf[offset++] = p.sessionPresent ? 1 : 0;
  buf[offset++] = p.reasonCode;
  if (version === 5) offset = writeProperties(buf, offset, p.properties, propertiesBytes);
  return offset;
}
