import { checkArrayOf, checkPacketId } from '../internal/check.js';
import { PROTOCOL_ERROR } from '../internal/constants.js';
import {
  propertiesLength,
  propertySectionSize,
  readProperties,
  writeProperties,
} from '../internal/properties.js';
import type { Reader } from '../internal/reader.js';
import { utf8Length, writeUtf8 } from '../internal/utf8.js';
import { writeFixedHeader } from '../internal/varint.js';
import { PacketType, type ProtocolVersion } from '../packet-types.js';
import type { UnsubscribePacket } from '../packets.js';

/* UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10). Topic filters are checked for UTF-8 only. */

export function decodeUnsubscribe(r: Reader): UnsubscribePacket {
  const packetId = r.packetId();
  const properties = r.version === 5 ? readProperties(r, PacketType.Unsubscribe) : undefined;
  if (r.pos === r.end) {
    r.fail('CODEC_EMPTY_SUBSCRIPTION_LIST', PROTOCOL_ERROR, 'unsubscribe has no topic filter');
  }
  const topicFilters: string[] = [];
  while (r.pos < r.end) topicFilters.push(r.utf8('topic filter'));
  return { type: PacketType.Unsubscribe, packetId, topicFilters, properties };
}

let propertiesBytes = 0;

export function unsubscribeLength(p: UnsubscribePacket, version: ProtocolVersion): number {
  checkPacketId(p.packetId, 'unsubscribe');
  const filters = checkArrayOf(p.topicFilters, 'unsubscribe topicFilters') as string[];
  if (filters.length === 0) throw new RangeError('unsubscribe topicFilters must not be empty');
  let length = 2;
  for (const filter of filters) length += 2 + utf8Length(filter, 'unsubscribe topicFilter');
  if (version === 5) {
    propertiesBytes = propertiesLength(p.properties, PacketType.Unsubscribe);
    length += propertySectionSize(propertiesBytes);
  }
  return length;
}

export function encodeUnsubscribe(
  p: UnsubscribePacket,
  version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  offset = writeFixedHeader(buf, offset, 0xa2, remaining);
  buf[offset] = p.packetId >>> 8;
  buf[offset + 1] = p.packetId & 0xff;
  offset += 2;
  if (version === 5) offset = writeProperties(buf, offset, p.properties, propertiesBytes);
  for (const filter of p.topicFilters) offset = writeUtf8(buf, offset, filter);
  return offset;
}
