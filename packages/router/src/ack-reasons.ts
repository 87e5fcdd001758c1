import { type AckPacket, encodedLength, type SubackPacket, type UnsubackPacket } from '@mqtt-adapt/codec';
import type { Connection } from './connection.js';

/** A Reason String is a UTF-8 string: at most 65535 bytes on the wire. */
const MAX_REASON_STRING_BYTES = 65_535;

/**
 * `packet` (a PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK or UNSUBACK with an error reason code)
 * with a Reason String saying why, for a 5.0 client, unless the client set Request Problem
 * Information to 0 [MQTT-3.1.2-29] or the string would make the packet larger than its Maximum
 * Packet Size ([MQTT-3.4.2-2], [MQTT-3.5.2-2], [MQTT-3.6.2-2], [MQTT-3.7.2-2], [MQTT-3.9.2-1],
 * [MQTT-3.11.2-1]). Only on refusals: the packet is copied, never on the success path.
 */
export function withReasonString<P extends AckPacket | SubackPacket | UnsubackPacket>(
  connection: Connection,
  packet: P,
  reasonString: string,
): P {
  if (connection.protocolVersion !== 5 || !connection.problemInformation) return packet;
  if (Buffer.byteLength(reasonString, 'utf8') > MAX_REASON_STRING_BYTES) return packet;
  const withReason = { ...packet, properties: { reasonString } };
  return encodedLength(withReason, 5) > connection.maxOutgoingPacketSize ? packet : withReason;
}

/** At most this many refused filters are named in one SUBACK's Reason String. */
const MAX_LISTED_REFUSALS = 8;

/**
 * Collects why filters of one SUBSCRIBE were refused, for the SUBACK's one Reason String:
 * `filter 2: not authorized; filter 5: topic filter invalid`. Allocated on the first refusal.
 */
export class SubackRefusals {
  private readonly parts: string[] = [];
  private count = 0;

  add(index: number, why: string): void {
    this.count++;
    if (this.parts.length < MAX_LISTED_REFUSALS) this.parts.push(`filter ${index + 1}: ${why}`);
  }

  toString(): string {
    const more = this.count - this.parts.length;
    return more > 0 ? `${this.parts.join('; ')}; and ${more} more refused` : this.parts.join('; ');
  }
}
