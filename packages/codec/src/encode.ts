import { Buffer } from 'node:buffer';
import { MAX_REMAINING_LENGTH } from './internal/constants.js';
import { varintSize } from './internal/varint.js';
import { PacketType, type ProtocolVersion } from './packet-types.js';
import { ackLength, encodeAck } from './packets/ack.js';
import { AUTH_SUCCESS_BYTES, authLength, encodeAuth } from './packets/auth.js';
import { connackLength, encodeConnack } from './packets/connack.js';
import { connectLength, encodeConnect } from './packets/connect.js';
import { DISCONNECT_BYTES, disconnectLength, encodeDisconnect } from './packets/disconnect.js';
import { encodePing, PINGREQ_BYTES, PINGRESP_BYTES, pingLength } from './packets/ping.js';
import { encodePublish, publishLength } from './packets/publish.js';
import { encodeSuback, subackLength } from './packets/suback.js';
import { encodeSubscribe, subscribeLength } from './packets/subscribe.js';
import { encodeUnsuback, unsubackLength } from './packets/unsuback.js';
import { encodeUnsubscribe, unsubscribeLength } from './packets/unsubscribe.js';
import type { Packet } from './packets.js';

/*
 * Encoding is two passes over the packet: `remainingLength` checks it and computes its size
 * (each packet module keeps what the second pass needs, such as property lengths, in a module
 * variable), then one buffer of exactly that size is written front to back. Both passes run
 * back to back without calling out, so that state cannot be overwritten in between.
 */

/** The bytes of `packet` in `protocolVersion`. Throws TypeError/RangeError on a bad packet. */
export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  const remaining = remainingLength(packet, protocolVersion);
  if (remaining === 0) {
    // Constant packets: shared, prebuilt at module load. Do not modify the returned bytes.
    const constant = constantBytes(packet.type);
    if (constant !== undefined) return constant;
  }
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  writePacket(packet, protocolVersion, buf, 0, remaining);
  return buf;
}

/**
 * Writes `packet` into `target` at `offset` and returns the number of bytes written. Throws
 * RangeError when it does not fit (nothing is written then).
 */
export function encodeInto(
  packet: Packet,
  protocolVersion: ProtocolVersion,
  target: Uint8Array,
  offset = 0,
): number {
  if (!(target instanceof Uint8Array))
    throw new TypeError('encodeInto target must be a Buffer or Uint8Array');
  if (!Number.isInteger(offset) || offset < 0 || offset > target.length) {
    throw new RangeError(`encodeInto offset ${offset} is outside the target of ${target.length} bytes`);
  }
  const remaining = remainingLength(packet, protocolVersion);
  const total = 1 + varintSize(remaining) + remaining;
  if (offset + total > target.length) {
    throw new RangeError(
      `packet of ${total} bytes does not fit in ${target.length - offset} bytes at offset ${offset}`,
    );
  }
  const buf = Buffer.isBuffer(target)
    ? target
    : Buffer.from(target.buffer, target.byteOffset, target.byteLength);
  writePacket(packet, protocolVersion, buf, offset, remaining);
  return total;
}

/** The number of bytes `encode(packet, protocolVersion)` returns, checking the packet alike. */
export function encodedLength(packet: Packet, protocolVersion: ProtocolVersion): number {
  const remaining = remainingLength(packet, protocolVersion);
  return 1 + varintSize(remaining) + remaining;
}

function constantBytes(type: number): Buffer | undefined {
  switch (type) {
    case PacketType.Pingreq:
      return PINGREQ_BYTES;
    case PacketType.Pingresp:
      return PINGRESP_BYTES;
    case PacketType.Disconnect:
      return DISCONNECT_BYTES;
    case PacketType.Auth:
      return AUTH_SUCCESS_BYTES;
    default:
      return undefined;
  }
}

function remainingLength(packet: Packet, version: ProtocolVersion): number {
  if (version !== 3 && version !== 4 && version !== 5) {
    throw new RangeError(`protocolVersion must be 3, 4 or 5, got ${String(version)}`);
  }
  if (typeof packet !== 'object' || packet === null) throw new TypeError('packet must be an object');
  const length = bodyLength(packet, version);
  if (length > MAX_REMAINING_LENGTH) {
    throw new RangeError(`remaining length ${length} exceeds the mqtt maximum ${MAX_REMAINING_LENGTH}`);
  }
  return length;
}

function bodyLength(packet: Packet, version: ProtocolVersion): number {
  switch (packet.type) {
    case PacketType.Publish:
      return publishLength(packet, version);
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return ackLength(packet, version);
    case PacketType.Connect:
      return connectLength(packet, version);
    case PacketType.Connack:
      return connackLength(packet, version);
    case PacketType.Subscribe:
      return subscribeLength(packet, version);
    case PacketType.Suback:
      return subackLength(packet, version);
    case PacketType.Unsubscribe:
      return unsubscribeLength(packet, version);
    case PacketType.Unsuback:
      return unsubackLength(packet, version);
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return pingLength();
    case PacketType.Disconnect:
      return disconnectLength(packet, version);
    case PacketType.Auth:
      return authLength(packet, version);
    default:
      throw new TypeError(`unknown packet type ${String((packet as { type: unknown }).type)}`);
  }
}

function writePacket(
  packet: Packet,
  version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  switch (packet.type) {
    case PacketType.Publish:
      return encodePublish(packet, version, buf, offset, remaining);
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return encodeAck(packet, version, buf, offset, remaining);
    case PacketType.Connect:
      return encodeConnect(packet, version, buf, offset, remaining);
    case PacketType.Connack:
      return encodeConnack(packet, version, buf, offset, remaining);
    case PacketType.Subscribe:
      return encodeSubscribe(packet, version, buf, offset, remaining);
    case PacketType.Suback:
      return encodeSuback(packet, version, buf, offset, remaining);
    case PacketType.Unsubscribe:
      return encodeUnsubscribe(packet, version, buf, offset, remaining);
    case PacketType.Unsuback:
      return encodeUnsuback(packet, version, buf, offset, remaining);
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return encodePing(packet, buf, offset);
    case PacketType.Disconnect:
      return encodeDisconnect(packet, version, buf, offset, remaining);
    default:
      return encodeAuth(packet, version, buf, offset, remaining);
  }
}
