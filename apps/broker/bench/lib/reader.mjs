// A tiny streaming MQTT reader for the load generator. It parses only fixed headers
// (type nibble + remaining-length varint) and skips bodies by arithmetic, so counting a
// PUBLISH costs a few byte reads. Two exceptions, both bounded and small:
//  - QoS 1/2 PUBLISH: the topic length and packet id (needed for the PUBACK / PUBREC) are read,
//    and in 5.0 the property length, to find the payload;
//  - other packet types (CONNACK, SUBACK, PUBACK, PUBREC, PUBREL, ...) are handed over whole,
//    as a view.
// Only a header split across chunks is carried over (a copy of at most the split bytes of one
// packet); bodies split across chunks are skipped by count.

const MAX_VARINT_BYTES = 4;

export class MqttReader {
  /** PUBLISH packets seen (counted when their header is complete). */
  publishes = 0;
  /** Bytes of the current packet still to skip (body split across chunks). */
  #skip = 0;
  /** Start of a packet whose header was split across chunks, copied. */
  #pending = null;
  #owner;

  /**
   * @param owner `{ onQosPublish(packetId, qos, buf, payloadStart), onControl(type, flags, buf,
   *   bodyStart, bodyEnd) }`; `onQosPublish` is called for every PUBLISH with QoS > 0, with
   *   the first `peekBytes` bytes of its payload available in `buf` (fewer if the payload is
   *   shorter); `onControl` for every packet that is not a PUBLISH.
   * @param options.peekBytes payload bytes of a QoS > 0 PUBLISH to make available (default 0).
   * @param options.protocolVersion 4 (3.1.1, default) or 5: a 5.0 PUBLISH has a property
   *   section between its packet id and its payload.
   * @param options.peekQos0 also make the first `peekBytes` payload bytes of every QoS 0
   *   PUBLISH available, through `owner.onQos0Publish(buf, payloadStart)` (default false: QoS 0
   *   packets are only counted).
   */
  #peekBytes;
  #v5;
  #peekQos0;

  constructor(owner, { peekBytes = 0, protocolVersion = 4, peekQos0 = false } = {}) {
    this.#owner = owner;
    this.#peekBytes = peekBytes;
    this.#v5 = protocolVersion === 5;
    this.#peekQos0 = peekQos0;
  }

  // One byte loop over the chunk; longer than 50 lines because splitting it would put a call
  // per packet on the path we are trying to keep cheap.
  feed(chunk) {
    let buf = chunk;
    let i = 0;
    if (this.#skip > 0) {
      if (this.#skip >= buf.length) {
        this.#skip -= buf.length;
        return;
      }
      i = this.#skip;
      this.#skip = 0;
    }
    if (this.#pending !== null) {
      buf = Buffer.concat([this.#pending, i === 0 ? buf : buf.subarray(i)]);
      i = 0;
      this.#pending = null;
    }
    const n = buf.length;
    while (i < n) {
      const start = i;
      const first = buf[i];
      let p = i + 1;
      let length = 0;
      let multiplier = 1;
      let byte = 0x80;
      for (let k = 0; byte & 0x80; k++) {
        if (k === MAX_VARINT_BYTES) throw new Error(`malformed remaining length at byte ${p} from broker`);
        if (p >= n) {
          this.#pending = Buffer.from(buf.subarray(start));
          return;
        }
        byte = buf[p++];
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
      }
      const end = p + length;
      const type = first >> 4;
      if (type === 3) {
        const qos = (first >> 1) & 3;
        if (qos > 0) {
          if (p + 2 > n) {
            this.#pending = Buffer.from(buf.subarray(start));
            return;
          }
          const idAt = p + 2 + buf.readUInt16BE(p);
          let payloadAt = idAt + 2;
          if (this.#v5) {
            payloadAt = propertiesEnd(buf, payloadAt, n);
            if (payloadAt === -1) {
              this.#pending = Buffer.from(buf.subarray(start));
              return;
            }
          }
          if (Math.min(payloadAt + this.#peekBytes, end) > n) {
            this.#pending = Buffer.from(buf.subarray(start));
            return;
          }
          this.#owner.onQosPublish(buf.readUInt16BE(idAt), qos, buf, payloadAt);
        } else if (this.#peekQos0) {
          // QoS 0 with a payload to peek at (the latency scenario): no packet id.
          if (p + 2 > n) {
            this.#pending = Buffer.from(buf.subarray(start));
            return;
          }
          let payloadAt = p + 2 + buf.readUInt16BE(p);
          if (this.#v5) {
            payloadAt = propertiesEnd(buf, payloadAt, n);
            if (payloadAt === -1) {
              this.#pending = Buffer.from(buf.subarray(start));
              return;
            }
          }
          if (Math.min(payloadAt + this.#peekBytes, end) > n) {
            this.#pending = Buffer.from(buf.subarray(start));
            return;
          }
          this.#owner.onQos0Publish(buf, payloadAt);
        }
        this.publishes++;
      } else {
        if (end > n) {
          this.#pending = Buffer.from(buf.subarray(start));
          return;
        }
        this.#owner.onControl(type, first & 0x0f, buf, p, end);
      }
      if (end > n) {
        this.#skip = end - n;
        return;
      }
      i = end;
    }
  }
}

/**
 * Where a 5.0 property section starting at `at` ends (its length varint read from `buf` before
 * `limit`), or -1 when the varint is not all there yet.
 */
function propertiesEnd(buf, at, limit) {
  let length = 0;
  let multiplier = 1;
  for (let k = 0; k < MAX_VARINT_BYTES; k++) {
    if (at >= limit) return -1;
    const byte = buf[at++];
    length += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return at + length;
    multiplier *= 128;
  }
  throw new Error(`malformed property length at byte ${at} from broker`);
}
