/** MQTT control packet types, by the value of the fixed header's high nibble. */
export const PacketType = {
  Connect: 1,
  Connack: 2,
  Publish: 3,
  Puback: 4,
  Pubrec: 5,
  Pubrel: 6,
  Pubcomp: 7,
  Subscribe: 8,
  Suback: 9,
  Unsubscribe: 10,
  Unsuback: 11,
  Pingreq: 12,
  Pingresp: 13,
  Disconnect: 14,
  /** MQTT 5.0 only. */
  Auth: 15,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** Protocol level byte of CONNECT: 3 = MQTT 3.1 (`MQIsdp`), 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export const ProtocolVersion = {
  V3_1: 3,
  V3_1_1: 4,
  V5: 5,
} as const;
export type ProtocolVersion = (typeof ProtocolVersion)[keyof typeof ProtocolVersion];

export type QoS = 0 | 1 | 2;

/** Retain Handling subscription option (MQTT 5.0 §3.8.3.1). */
export type RetainHandling = 0 | 1 | 2;
