import { checkQoS, checkTwoByte } from '../internal/check.js';
import { MALFORMED, PROTOCOL_ERROR, UNSUPPORTED_PROTOCOL_VERSION } from '../internal/constants.js';
import {
  propertiesLength,
  propertySectionSize,
  readProperties,
  WILL_PROPERTIES,
  writeProperties,
} from '../internal/properties.js';
import type { Reader } from '../internal/reader.js';
import { binaryLength, utf8Length, writeBinary, writeUtf8 } from '../internal/utf8.js';
import { writeFixedHeader } from '../internal/varint.js';
import { PacketType, type ProtocolVersion, type QoS } from '../packet-types.js';
import type { ConnectPacket, Will } from '../packets.js';
import type { Properties } from '../properties.js';

/* CONNECT (MQTT 3.1 §3.1, 3.1.1 §3.1, 5.0 §3.1). */

const USERNAME = 0x80;
const PASSWORD = 0x40;
const WILL_RETAIN = 0x20;
const WILL = 0x04;
const CLEAN_START = 0x02;

export function decodeConnect(r: Reader): ConnectPacket {
  const protocolName = readProtocolName(r);
  const level = r.u8('protocol level');
  checkProtocol(r, protocolName, level);
  const version = level as ProtocolVersion;
  const flags = r.u8('connect flags');
  checkFlags(r, flags, version);
  const keepaliveSeconds = r.u16('keep alive');
  const properties = version === 5 ? readProperties(r, PacketType.Connect) : undefined;
  if (properties !== undefined) checkAuthentication(r, properties);
  const clientId = r.utf8('client identifier');
  let will: Will | undefined;
  if ((flags & WILL) !== 0) {
    const willProperties = version === 5 ? readProperties(r, WILL_PROPERTIES) : undefined;
    will = {
      topicName: r.utf8('will topic'),
      payload: r.binary('will payload'),
      qos: ((flags >> 3) & 3) as QoS,
      retain: (flags & WILL_RETAIN) !== 0,
      properties: willProperties,
    };
  }
  // MQTT 3.1 clients may set the username/password flags without sending the field (Mosquitto
  // accepts this too): a missing field at the end of a 3.1 CONNECT is read as absent.
  const lenient = version === 3;
  const username =
    (flags & USERNAME) !== 0 && !(lenient && r.pos === r.end) ? r.utf8('user name') : undefined;
  const password =
    (flags & PASSWORD) !== 0 && !(lenient && r.pos === r.end) ? r.binary('password') : undefined;
  return {
    type: PacketType.Connect,
    protocolName,
    protocolVersion: version,
    cleanStart: (flags & CLEAN_START) !== 0,
    keepaliveSeconds,
    clientId,
    will,
    username,
    password,
    properties,
  };
}

/** The protocol name; "MQTT" (3.1.1, 5.0) is recognised from its bytes, without decoding a string. */
function readProtocolName(r: Reader): string {
  const buf = r.buf;
  const pos = r.pos;
  if (
    pos + 6 <= r.end &&
    buf[pos] === 0 &&
    buf[pos + 1] === 4 &&
    buf[pos + 2] === 0x4d &&
    buf[pos + 3] === 0x51 &&
    buf[pos + 4] === 0x54 &&
    buf[pos + 5] === 0x54
  ) {
    r.pos = pos + 6;
    return 'MQTT';
  }
  return r.utf8('protocol name');
}

function checkProtocol(r: Reader, name: string, level: number): void {
  if (name !== 'MQTT' && name !== 'MQIsdp') {
    r.fail(
      'CODEC_INVALID_PROTOCOL_NAME',
      UNSUPPORTED_PROTOCOL_VERSION,
      `connect protocol name ${JSON.stringify(name)} is neither "MQTT" nor "MQIsdp"`,
    );
  }
  if (level < 3 || level > 5) {
    r.fail(
      'CODEC_UNSUPPORTED_PROTOCOL_VERSION',
      UNSUPPORTED_PROTOCOL_VERSION,
      `connect protocol level ${level} is not 3, 4 or 5`,
    );
  }
  if ((level === 3) !== (name === 'MQIsdp')) {
    r.fail(
      'CODEC_INVALID_PROTOCOL_NAME',
      UNSUPPORTED_PROTOCOL_VERSION,
      `connect protocol name "${name}" does not match protocol level ${level}`,
    );
  }
}

function checkFlags(r: Reader, flags: number, version: ProtocolVersion): void {
  if ((flags & 0x01) !== 0) r.fail('CODEC_RESERVED_FLAGS', MALFORMED, 'connect flags reserved bit 0 is set');
  const willQoS = (flags >> 3) & 3;
  if (willQoS === 3) r.fail('CODEC_INVALID_QOS', MALFORMED, 'connect will qos is 3');
  if ((flags & WILL) === 0) {
    if (willQoS !== 0)
      r.fail('CODEC_INVALID_QOS', MALFORMED, `connect will qos is ${willQoS} without a will`);
    if ((flags & WILL_RETAIN) !== 0) {
      r.fail('CODEC_INVALID_VALUE', MALFORMED, 'connect will retain is set without a will');
    }
  }
  if (version !== 5 && (flags & PASSWORD) !== 0 && (flags & USERNAME) === 0) {
    r.fail(
      'CODEC_INVALID_VALUE',
      MALFORMED,
      `connect has a password without a user name in protocol level ${version}`,
    );
  }
}

/** 5.0 §3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol Error. */
function checkAuthentication(r: Reader, properties: Properties): void {
  if (properties.authenticationData !== undefined && properties.authenticationMethod === undefined) {
    r.fail(
      'CODEC_INVALID_VALUE',
      PROTOCOL_ERROR,
      'connect has authentication data (0x16) without an authentication method (0x15)',
    );
  }
}

let propertiesBytes = 0;
let willPropertiesBytes = 0;

/** Remaining length of a CONNECT; checks the packet. Must precede `encodeConnect`. */
export function connectLength(p: ConnectPacket, version: ProtocolVersion): number {
  if (p.protocolVersion !== version) {
    throw new RangeError(
      `connect protocolVersion ${p.protocolVersion} does not match encoding version ${version}`,
    );
  }
  const expectedName = version === 3 ? 'MQIsdp' : 'MQTT';
  if (p.protocolName !== expectedName) {
    throw new RangeError(`connect protocolName must be "${expectedName}" for protocol level ${version}`);
  }
  checkTwoByte(p.keepaliveSeconds, 'connect keepaliveSeconds');
  let length = 2 + expectedName.length + 4 + 2 + utf8Length(p.clientId, 'connect clientId');
  if (version === 5) {
    propertiesBytes = propertiesLength(p.properties, PacketType.Connect);
    length += propertySectionSize(propertiesBytes);
    // The decoder rejects this (§3.1.2.11.10); a property the packet may not carry: TypeError.
    const properties = p.properties;
    if (properties?.authenticationData !== undefined && properties.authenticationMethod === undefined) {
      throw new TypeError('connect properties have authenticationData without authenticationMethod');
    }
  }
  const will = p.will;
  if (will !== undefined) {
    checkQoS(will.qos, 'connect will');
    length += 2 + utf8Length(will.topicName, 'connect will topicName');
    length += 2 + binaryLength(will.payload, 'connect will payload');
    if (version === 5) {
      willPropertiesBytes = propertiesLength(will.properties, WILL_PROPERTIES);
      length += propertySectionSize(willPropertiesBytes);
    }
  }
  if (p.username !== undefined) length += 2 + utf8Length(p.username, 'connect username');
  if (p.password !== undefined) {
    if (p.username === undefined && version !== 5) {
      throw new RangeError(`connect password requires a username in protocol level ${version}`);
    }
    length += 2 + binaryLength(p.password, 'connect password');
  }
  return length;
}

export function encodeConnect(
  p: ConnectPacket,
  version: ProtocolVersion,
  buf: Buffer,
  offset: number,
  remaining: number,
): number {
  offset = writeFixedHeader(buf, offset, 0x10, remaining);
  offset = writeUtf8(buf, offset, p.protocolName);
  buf[offset++] = version;
  const will = p.will;
  let flags = p.cleanStart ? CLEAN_START : 0;
  if (will !== undefined) flags |= WILL | (will.qos << 3) | (will.retain ? WILL_RETAIN : 0);
  if (p.username !== undefined) flags |= USERNAME;
  if (p.password !== undefined) flags |= PASSWORD;
  buf[offset++] = flags;
  buf[offset++] = p.keepaliveSeconds >>> 8;
  buf[offset++] = p.keepaliveSeconds & 0xff;
  if (version === 5) offset = writeProperties(buf, offset, p.properties, propertiesBytes);
  offset = writeUtf8(buf, offset, p.clientId);
  if (will !== undefined) {
    if (version === 5) offset = writeProperties(buf, offset, will.properties, willPropertiesBytes);
    offset = writeUtf8(buf, offset, will.topicName);
    offset = writeBinary(buf, offset, will.payload);
  }
  if (p.username !== undefined) offset = writeUtf8(buf, offset, p.username);
  if (p.password !== undefined) offset = writeBinary(buf, offset, p.password);
  return offset;
}
