import type { PacketType, ProtocolVersion, QoS, RetainHandling } from './packet-types.js';
import type { Properties } from './properties.js';

/*
 * Packet objects. Every field is always present (`undefined` when absent) so that decoded
 * packets have one hidden-class shape per type and `decode(encode(p))` deep-equals `p`.
 * `properties` is `undefined` for MQTT 3.x and whenever an MQTT 5.0 property length is 0.
 * `reasonCode` fields hold the MQTT 5.0 reason code, or the 3.x CONNACK return code; in 3.x
 * acks and DISCONNECT they are always 0 (the wire has no reason code there).
 */

export interface Will {
  topicName: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** MQTT 5.0 will properties. */
  properties: Properties | undefined;
}

export interface ConnectPacket {
  type: typeof PacketType.Connect;
  /** `MQIsdp` for 3.1, `MQTT` for 3.1.1 and 5.0. */
  protocolName: string;
  protocolVersion: ProtocolVersion;
  /** Clean Start (5.0); the same bit is Clean Session in 3.1 and 3.1.1. */
  cleanStart: boolean;
  keepaliveSeconds: number;
  clientId: string;
  will: Will | undefined;
  username: string | undefined;
  password: Buffer | undefined;
  properties: Properties | undefined;
}

export interface ConnackPacket {
  type: typeof PacketType.Connack;
  sessionPresent: boolean;
  /** 5.0 reason code, or the 3.x return code (0 accepted .. 5 not authorized). */
  reasonCode: number;
  properties: Properties | undefined;
}

export interface PublishPacket {
  type: typeof PacketType.Publish;
  dup: boolean;
  qos: QoS;
  retain: boolean;
  /** May be empty in 5.0 when a topic alias is set. */
  topicName: string;
  /** Set for QoS 1 and 2, `undefined` for QoS 0. */
  packetId: number | undefined;
  /** A view into the received bytes when decoded: copy it before keeping it. */
  payload: Buffer;
  properties: Properties | undefined;
}

/** PUBACK, PUBREC, PUBREL and PUBCOMP share one layout. */
export interface AckPacket<T extends AckPacketType = AckPacketType> {
  type: T;
  packetId: number;
  /** 0 when the 5.0 reason code is omitted on the wire, and always 0 in 3.x. */
  reasonCode: number;
  properties: Properties | undefined;
}
export type AckPacketType =
  | typeof PacketType.Puback
  | typeof PacketType.Pubrec
  | typeof PacketType.Pubrel
  | typeof PacketType.Pubcomp;
export type PubackPacket = AckPacket<typeof PacketType.Puback>;
export type PubrecPacket = AckPacket<typeof PacketType.Pubrec>;
export type PubrelPacket = AckPacket<typeof PacketType.Pubrel>;
export type PubcompPacket = AckPacket<typeof PacketType.Pubcomp>;

export interface Subscription {
  topicFilter: string;
  /** Maximum QoS requested. */
  qos: QoS;
  /** 5.0 only; false in 3.x. */
  noLocal: boolean;
  /** 5.0 only; false in 3.x. */
  retainAsPublished: boolean;
  /** 5.0 only; 0 in 3.x. */
  retainHandling: RetainHandling;
}

export interface SubscribePacket {
  type: typeof PacketType.Subscribe;
  packetId: number;
  /** Never empty. */
  subscriptions: Subscription[];
  properties: Properties | undefined;
}

export interface SubackPacket {
  type: typeof PacketType.Suback;
  packetId: number;
  /** One per subscription: granted QoS 0..2, or a failure code (0x80 and up). */
  reasonCodes: number[];
  properties: Properties | undefined;
}

export interface UnsubscribePacket {
  type: typeof PacketType.Unsubscribe;
  packetId: number;
  /** Never empty. */
  topicFilters: string[];
  properties: Properties | undefined;
}

export interface UnsubackPacket {
  type: typeof PacketType.Unsuback;
  packetId: number;
  /** One per topic filter in 5.0; empty in 3.x (the wire has none). */
  reasonCodes: number[];
  properties: Properties | undefined;
}

export interface PingreqPacket {
  type: typeof PacketType.Pingreq;
}

export interface PingrespPacket {
  type: typeof PacketType.Pingresp;
}

export interface DisconnectPacket {
  type: typeof PacketType.Disconnect;
  /** 0 when omitted on the wire, and always 0 in 3.x. */
  reasonCode: number;
  properties: Properties | undefined;
}

/** MQTT 5.0 only. */
export interface AuthPacket {
  type: typeof PacketType.Auth;
  /** 0 when omitted on the wire. */
  reasonCode: number;
  properties: Properties | undefined;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;
