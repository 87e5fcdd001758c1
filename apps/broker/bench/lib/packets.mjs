// Hand-built MQTT 3.1.1 and 5.0 packets for the load generator. Built once per run (never per
// message) and written as pre-encoded bytes. Deliberately independent of @mqtt-adapt/codec:
// the generator must not share a bug with the broker under test, and it needs no build.

export const PacketType = Object.freeze({
  Connect: 1,
  Connack: 2,
  Publish: 3,
  Puback: 4,
  Pubrec: 5,
  Pubrel: 6,
  Pubcomp: 7,
  Subscribe: 8,
  Suback: 9,
  Pingreq: 12,
  Pingresp: 13,
  Disconnect: 14,
});

/** Remaining-length varint (1..4 bytes). */
function varint(n) {
  if (!Number.isInteger(n) || n < 0 || n > 268_435_455)
    throw new RangeError(`remaining length ${n} out of range`);
  const out = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function utf8(str) {
  const bytes = Buffer.from(str, 'utf8');
  const len = Buffer.allocUnsafe(2);
  len.writeUInt16BE(bytes.length, 0);
  return Buffer.concat([len, bytes]);
}

function packet(firstByte, body) {
  return Buffer.concat([Buffer.from([firstByte]), varint(body.length), body]);
}

/** A 5.0 property section: its length (varint), then the properties' bytes. */
function propertySection(...properties) {
  const body = Buffer.concat(properties);
  return Buffer.concat([varint(body.length), body]);
}

/** A 5.0 PUBLISH property section with no properties (property length 0). */
export const NO_PROPERTIES = Buffer.from([0x00]);

/**
 * A 5.0 PUBLISH property section holding User Properties (0x26), `[[name, value], ...]`,
 * encoded once and written into every PUBLISH of a run.
 */
export function userPropertiesSection(pairs) {
  return propertySection(
    ...pairs.map(([name, value]) => Buffer.concat([Buffer.from([0x26]), utf8(name), utf8(value)])),
  );
}

/**
 * CONNECT, protocol level 4 (3.1.1), no will; clean session unless `cleanSession` is false (a
 * persistent session, kept by the broker after the disconnect); a user name and password when
 * `credentials` ({ username, password }) is given, else none. With `v5` ({ topicAliasMaximum }),
 * protocol level 5 (5.0) instead: Clean Start, and a Topic Alias Maximum (0x22) property when
 * above 0 (absent means 0: the broker may send no aliases).
 */
export function connectPacket(
  clientId,
  keepaliveSeconds = 0,
  cleanSession = true,
  credentials = undefined,
  v5 = undefined,
) {
  let flags = cleanSession ? 0x02 : 0x00;
  const payload = [utf8(clientId)];
  if (credentials !== undefined) {
    // User Name Flag (0x80) and Password Flag (0x40); the payload is client id, user name, password.
    flags |= 0xc0;
    payload.push(utf8(credentials.username), utf8(credentials.password));
  }
  const level = v5 === undefined ? 0x04 : 0x05;
  const header = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, level, flags, 0, 0]);
  header.writeUInt16BE(keepaliveSeconds, 8);
  const parts = [header];
  if (v5 !== undefined) {
    const aliases = v5.topicAliasMaximum ?? 0;
    parts.push(
      aliases > 0 ? propertySection(Buffer.from([0x22, aliases >> 8, aliases & 0xff])) : NO_PROPERTIES,
    );
  }
  return packet(0x10, Buffer.concat([...parts, ...payload]));
}

/** SUBSCRIBE with one topic filter; `version` 5 adds the (empty) property section. */
export function subscribePacket(packetId, topicFilter, qos, version = 4) {
  const id = Buffer.allocUnsafe(2);
  id.writeUInt16BE(packetId, 0);
  const parts = [id, ...(version === 5 ? [NO_PROPERTIES] : []), utf8(topicFilter), Buffer.from([qos])];
  return packet(0x82, Buffer.concat(parts));
}

/**
 * PUBLISH; `packetId` only for QoS > 0. `properties`: a 5.0 property section (NO_PROPERTIES,
 * userPropertiesSection(...)) for a 5.0 connection, undefined for 3.1.1.
 */
export function publishPacket(topicName, payload, qos = 0, packetId = 0, properties = undefined) {
  const parts = [utf8(topicName)];
  if (qos > 0) {
    const id = Buffer.allocUnsafe(2);
    id.writeUInt16BE(packetId, 0);
    parts.push(id);
  }
  if (properties !== undefined) parts.push(properties);
  parts.push(payload);
  return packet(0x30 | (qos << 1), Buffer.concat(parts));
}

export const DISCONNECT = Buffer.from([0xe0, 0x00]);
export const PINGREQ = Buffer.from([0xc0, 0x00]);

/** A deterministic payload of `size` bytes. */
export function payloadOf(size) {
  const payload = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) payload[i] = 0x61 + (i % 26);
  return payload;
}

/** `count` copies of one packet concatenated: one write sends them all. */
export function repeatPacket(bytes, count) {
  const out = Buffer.allocUnsafe(bytes.length * count);
  for (let i = 0; i < count; i++) bytes.copy(out, i * bytes.length);
  return out;
}

/**
 * QoS 1 or 2 PUBLISH packets for packet ids 1..count, back to back, each `stride` bytes: a
 * publisher sends them in order as subarray views of this one buffer (no encoding, no copy
 * per message). The payload starts with the publisher's index and the message's sequence
 * number (= its packet id), both uint16, so the subscriber can tell which message of which
 * publisher arrived (see scenarios.mjs: qos1, the floods). `properties`: as for publishPacket.
 * At QoS 0 (the latency scenario) the packets have no packet id; the payload is numbered the
 * same way.
 */
export function publishRing(topicName, payload, qos, publisherIndex, count, properties = undefined) {
  if (!Number.isInteger(count) || count < 1 || count > 65_535) {
    throw new RangeError(`publish ring of ${count} messages; give 1..65535 messages per publisher`);
  }
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new RangeError(`publish ring at QoS ${qos}; give 0, 1 or 2`);
  if (payload.length < 4)
    throw new RangeError(`payload of ${payload.length} bytes; numbered messages need at least 4`);
  const template = publishPacket(topicName, payload, qos, 1, properties);
  const stride = template.length;
  const payloadAt = template.length - payload.length;
  // 5.0: the property section sits between the packet id and the payload.
  const idAt = payloadAt - 2 - (properties?.length ?? 0);
  const ring = Buffer.allocUnsafe(stride * count);
  for (let id = 1; id <= count; id++) {
    const at = (id - 1) * stride;
    template.copy(ring, at);
    if (qos > 0) ring.writeUInt16BE(id, at + idAt);
    ring.writeUInt16BE(publisherIndex, at + payloadAt);
    ring.writeUInt16BE(id, at + payloadAt + 2);
  }
  return { ring, stride, size: count };
}

/** QoS 1 numbered PUBLISH packets (publishRing at QoS 1). */
export function qos1PublishRing(topicName, payload, publisherIndex, count, properties = undefined) {
  return publishRing(topicName, payload, 1, publisherIndex, count, properties);
}

/**
 * First bytes of the 4-byte acknowledgements of MQTT 3.1.1 (type and flags; remaining length
 * 2, then the packet id; valid in 5.0 too, where Reason Code 0 and no properties may be left
 * out): what a receiver answers to PUBLISH QoS 1 (PUBACK) and QoS 2
 * (PUBREC, then PUBCOMP to PUBREL), and a QoS 2 sender to PUBREC (PUBREL).
 */
export const AckByte = Object.freeze({ Puback: 0x40, Pubrec: 0x50, Pubrel: 0x62, Pubcomp: 0x70 });
