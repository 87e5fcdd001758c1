export type { DecoderOptions } from './decoder.js';
export { Decoder, decodePackets } from './decoder.js';
export { encode, encodedLength, encodeInto } from './encode.js';
export type { CodecErrorCode } from './errors.js';
export { isCodecError, MalformedPacketError } from './errors.js';
export type { QoS, RetainHandling } from './packet-types.js';
export { PacketType, ProtocolVersion } from './packet-types.js';
export type {
  AckPacket,
  AckPacketType,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PingreqPacket,
  PingrespPacket,
  PubackPacket,
  PubcompPacket,
  PublishPacket,
  PubrecPacket,
  PubrelPacket,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
  Will,
} from './packets.js';
export type { Properties } from './properties.js';
export { PropertyId } from './properties.js';
export { ConnackReturnCode, ReasonCode, SubackFailure } from './reason-codes.js';
