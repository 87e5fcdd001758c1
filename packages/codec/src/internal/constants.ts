import { Buffer } from 'node:buffer';
/** Largest Remaining Length (and Variable Byte Integer) MQTT can express: 4 bytes of 7 bits. */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** Largest whole packet: 1 type byte + 4 length bytes + the largest remaining length. */
export const MAX_PACKET_SIZE = 1 + 4 + MAX_REMAINING_LENGTH;

/** Reason codes the decoder reports (MQTT 5.0 §2.4). */
export const MALFORMED = 0x81;
export const PROTOCOL_ERROR = 0x82;
export const UNSUPPORTED_PROTOCOL_VERSION = 0x84;
export const TOPIC_ALIAS_INVALID = 0x94;
export const PACKET_TOO_LARGE = 0x95;

/** Lowercase packet names by type, for messages. Index 0 doubles as "will" for properties. */
export const PACKET_NAMES: readonly string[] = [
  'will',
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
];

/** Shared empty buffer, used to drop references to received chunks. */
export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

/** `0x1f`: two lowercase hex digits, for messages. */
export function hex(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}
