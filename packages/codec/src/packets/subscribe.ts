import { checkArrayOf, checkPacketId, checkQoS } from '../internal/check.js';
import { hex, MALFORMED, PROTOCOL_ERROR } from '../internal/constants.js';
import {
  propertiesLength,
  propertySectionSize,
  readProperties,
  writeProperties,
} from '../internal/properties.js';
import type { Reader } from '../internal/reader.js';
import { utf8Length, writeUtf8 } from '../internal/utf8.js';
import { writeFixedHeader } from '../internal/varint.js';
import { PacketType, type ProtocolVersion, type QoS, type RetainHandling } from '../packet-types.js';
import type { SubscribePacket, Subscription } from '../packets.js';

/*
 * SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8). Topic filters are checked for UTF-8 only; filter syntax
 * belongs to the router. Subscription options: 3.x has only QoS (bits 2-7 reserved); 5.0 adds
 * No Local (bit 2), Retain As Published (bit 3), Retain Handling (bits 4-5), bits 6-7 reserved.
 * The spec calls QoS 3 and Retain Handling 3 a Protocol Error (0x82) in 5.0 and reserved bits
 * malformed (0x81).
 */

export function decodeSubscribe(r: Reader): SubscribePacket {
  const packetId = r.packetId();
  const properties = r.version === 5 ? readProperties(r, PacketType.Subscribe) : undefined;
  if (r.pos === r.end)
    r.fail('CODEC_EMPTY_SUBSCRIPTION_LIST', PROTOCOL_ERROR, 'subscribe has no topic filter');
  const subscriptions: Subscription[] = [];
  while (r.pos < r.end) {
    const topicFilter = r.utf8('topic filter');
    subscriptions.push(readOptions(r, topicFilter, r.u8('subscription options')));
  }
  return { type: PacketType.Subscribe, packetId, subscriptions, properties };
}

function readOptions(r: Reader, topicFilter: string, options: number): Subscription {
  const v5 = r.version === 5;
  const reserved = options & (v5 ? 0xc0 : 0xfc);
  if (reserved !== 0) {
    r.fail('CODEC_RESERVED_FLAGS', MALFORMED, `subscription options ${hex(options)} have reserved bits set`);
  }
  const qos = options & 3;
  if (qos === 3) r.fail('CODEC_INVALID_QOS', v5 ? PROTOCOL_ERROR : MALFORMED, 'subscription qos is 3');
  const retainHandling = (options >> 4) & 3;
  if (retainHandling === 3)
    r.fail('CODEC_INVALID_VALUE', PROTOCOL_ERROR, 'subscription retain handling is 3');
  return {
    topicFilter,
    qos: qos as QoS,
    noLocal: (options & 4) !== 0,
    retainAsPublished: (options & 8) !== 0,
    retainHandling: retainHandling as RetainHandling,
  };
}

let propertiesBytes = 0;

export function subscribeLength(p: SubscribePacket, version: ProtocolVersion): number {
  checkPacketId(p.packetId, 'subscribe');
  const subscriptions = checkArrayOf(p.subscriptions, 'subscribe subscriptions') as Subscription[];
  if (subscriptions.length === 0) throw new RangeError('subscribe subscriptions must not be empty');
  let length = 2;
  for (const s of subscriptions) {
    checkQoS(s.qos, 'subscription');
    if (version === 5 && s.retainHandling !== 0 && s.retainHandling !== 1 && s.retainHandling !== 2) {
      throw new RangeError(`subscription retainHandling must be 0, 1 or 2, got ${String(s.retainHandling)}`);
    }
    length += 3 + utf8Length(s.topicFilter, 'subscription topicFilter');
  }
  if (version === 5) {
    propertiesBytes = propertiesLength(p.properties, PacketType.Subscribe);
    length += propertySectionSize(propertiesBytes);
  }
  return length;
}

export function encodeSubscribe(
  p: SubscribePacket,
  version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  offset = writeFixedHeader(buf, offset, 0x82, remaining);
  buf[offset] = p.packetId >>> 8;
  buf[offset + 1] = p.packetId & 0xff;
  offset += 2;
  if (version === 5) offset = writeProperties(buf, offset, p.properties, propertiesBytes);
  for (const s of p.subscriptions) {
    offset = writeUtf8(buf, offset, s.topicFilter);
    let options = s.qos;
    if (version === 5) {
      options |= (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | (s.retainHandling << 4);
    }
    buf[offset++] = options;
  }
  return offset;
}
