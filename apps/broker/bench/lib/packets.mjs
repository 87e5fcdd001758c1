// Hand-built MQTT 3.1.1 packets for the load generator. Built once per run (never per
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

/**
 * CONNECT, protocol level 4 (3.1.1), no will; clean session unless `cleanSession` is false (a
 * persistent session, kept by the broker after the disconnect); a user name and password when
 * `credentials` ({ username, password }) is given, else none.
 */
export function connectPacket(clientId, keepaliveSeconds = 0, cleanSession = true, credentials = undefined) {
  let flags = cleanSession ? 0x02 : 0x00;
  const payload = [utf8(clientId)];
  if (credentials !== undefined) {
    // User Name Flag (0x80) and Password Flag (0x40); the payload is client id, user name, password.
    flags |= 0xc0;
    payload.push(utf8(credentials.username), utf8(credentials.password));
  }
  const header = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, 0, 0]);
  header.writeUInt16BE(keepaliveSeconds, 8);
  return packet(0x10, Buffer.concat([header, ...payload]));
}

/** SUBSCRIBE with one topic filter. */
export function subscribePacket(packetId, topicFilter, qos) {
  const id = Buffer.allocUnsafe(2);
  id.writeUInt16BE(packetId, 0);
  return packet(0x82, Buffer.concat([id, utf8(topicFilter), Buffer.from([qos])]));
}

/** PUBLISH; `packetId` only for QoS > 0. */
export function publishPacket(topicName, payload, qos = 0, packetId = 0) {
  const parts = [utf8(topicName)];
  if (qos > 0) {
    const id = Buffer.allocUnsafe(2);
    id.writeUInt16BE(packetId, 0);
    parts.push(id);
  }
  parts.push(payload);
  return packet(0x30 | (qos << 1), Buffer.concat(parts));
}

export const DISCONNECT = Buffer.from([0xe0, 0x00]);

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
 * publisher arrived (see scenarios.mjs: qos1, the floods).
 */
export function publishRing(topicName, payload, qos, publisherIndex, count) {
  if (!Number.isInteger(count) || count < 1 || count > 65_535) {
    throw new RangeError(`publish ring of ${count} messages; give 1..65535 messages per publisher`);
  }
  if (qos !== 1 && qos !== 2) throw new RangeError(`publish ring at QoS ${qos}; give 1 or 2`);
  if (payload.length < 4)
    throw new RangeError(`payload of ${payload.length} bytes; numbered messages need at least 4`);
  const template = publishPacket(topicName, payload, qos, 1);
  const stride = template.length;
  const payloadAt = template.length - payload.length;
  const ring = Buffer.allocUnsafe(stride * count);
  for (let id = 1; id <= count; id++) {
    const at = (id - 1) * stride;
    template.copy(ring, at);
    ring.writeUInt16BE(id, at + payloadAt - 2);
    ring.writeUInt16BE(publisherIndex, at + payloadAt);
    ring.writeUInt16BE(id, at + payloadAt + 2);
  }
  return { ring, stride, size: count };
}

/** QoS 1 numbered PUBLISH packets (publishRing at QoS 1). */
export function qos1PublishRing(topicName, payload, publisherIndex, count) {
  return publishRing(topicName, payload, 1, publisherIndex, count);
}

/**
 * First bytes of the 4-byte acknowledgements of MQTT 3.1.1 (type and flags; remaining length
 * 2, then the packet id): what a receiver answers to PUBLISH QoS 1 (PUBACK) and QoS 2
 * (PUBREC, then PUBCOMP to PUBREL), and a QoS 2 sender to PUBREC (PUBREL).
 */
export const AckByte = Object.freeze({ Puback: 0x40, Pubrec: 0x50, Pubrel: 0x62, Pubcomp: 0x70 });
