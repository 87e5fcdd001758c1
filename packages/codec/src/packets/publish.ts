import { checkPacketId, checkQoS } from '../internal/check.js';
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
import { PacketType, type ProtocolVersion, type QoS } from '../packet-types.js';
import type { PublishPacket } from '../packets.js';

/*
 * PUBLISH (3.1.1 §3.3, 5.0 §3.3). The decoder has already checked the fixed-header flags
 * (QoS 3, DUP with QoS 0). Topic names are checked for UTF-8 only: wildcards and other
 * topic-level rules (reason code 0x90) belong to the router.
 */

export function decodePublish(r: Reader): PublishPacket {
  const flags = r.flags;
  const qos = ((flags >> 1) & 3) as QoS;
  const topicName = r.utf8('topic name');
  const packetId = qos === 0 ? undefined : r.packetId();
  const properties = r.version === 5 ? readProperties(r, PacketType.Publish) : undefined;
  if (topicName.length === 0 && (properties === undefined || properties.topicAlias === undefined)) {
    r.fail(
      'CODEC_INVALID_VALUE',
      PROTOCOL_ERROR,
      r.version === 5
        ? 'publish topic name is empty and there is no topic alias'
        : 'publish topic name is empty',
    );
  }
  // The payload is a view into the received bytes, never a copy.
  const payload = r.buf.subarray(r.pos, r.end);
  r.pos = r.end;
  return {
    type: PacketType.Publish,
    dup: (flags & 8) !== 0,
    qos,
    retain: (flags & 1) !== 0,
    topicName,
    packetId,
    payload,
    properties,
  };
}

let propertiesBytes = 0;

export function publishLength(p: PublishPacket, version: ProtocolVersion): number {
  const qos = checkQoS(p.qos, 'publish');
  if (qos === 0 && p.dup) throw new RangeError('publish dup must be false for qos 0');
  if (!(p.payload instanceof Uint8Array))
    throw new TypeError('publish payload must be a Buffer or Uint8Array');
  let length = 2 + utf8Length(p.topicName, 'publish topicName') + p.payload.length;
  if (qos !== 0) {
    checkPacketId(p.packetId, 'publish');
    length += 2;
  }
  if (version === 5) {
    propertiesBytes = propertiesLength(p.properties, PacketType.Publish);
    length += propertySectionSize(propertiesBytes);
    if (p.topicName.length === 0 && p.properties?.topicAlias === undefined) {
      throw new RangeError('publish topicName may be empty only with a topicAlias property');
    }
  } else if (p.topicName.length === 0) {
    throw new RangeError(`publish topicName must not be empty in protocol level ${version}`);
  }
  return length;
}

export function encodePublish(
  p: PublishPacket,
  version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  const firstByte = 0x30 | (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
  offset = writeFixedHeader(buf, offset, firstByte, remaining);
  offset = writeUtf8(buf, offset, p.topicName);
  if (p.qos !== 0) {
    const id = p.packetId as number;
    buf[offset] = id >>> 8;
    buf[offset + 1] = id & 0xff;
    offset += 2;
  }
  if (version === 5) offset = writeProperties(buf, offset, p.properties, propertiesBytes);
  buf.set(p.payload, offset);
  return offset + p.payload.length;
}
