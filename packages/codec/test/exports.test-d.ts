// Every public type is reachable from the package root and keeps its shape (checked by tsc).
import { expectTypeOf } from 'vitest';
import {
  type CodecErrorCode,
  type ConnectPacket,
  Decoder,
  type DecoderOptions,
  decodePackets,
  encode,
  encodedLength,
  encodeInto,
  isCodecError,
  type MalformedPacketError,
  type Packet,
  PacketType,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  ReasonCode,
} from '../src/index.js';

const publish: PublishPacket = {
  type: PacketType.Publish,
  dup: false,
  qos: 1,
  retain: false,
  topicName: 'a/b',
  packetId: 1,
  payload: Buffer.from('x'),
  properties: undefined,
};
expectTypeOf(encode(publish, 4)).toEqualTypeOf<Buffer>();
expectTypeOf(encodedLength(publish, 5)).toEqualTypeOf<number>();
expectTypeOf(encodeInto(publish, 4, new Uint8Array(64), 0)).toEqualTypeOf<number>();
expectTypeOf(decodePackets(Buffer.alloc(0), 4)).toEqualTypeOf<Packet[]>();
expectTypeOf<ConnectPacket['protocolVersion']>().toEqualTypeOf<ProtocolVersion>();
expectTypeOf<PublishPacket['qos']>().toEqualTypeOf<QoS>();
expectTypeOf<Properties['userProperties']>().toEqualTypeOf<
  Array<[name: string, value: string]> | undefined
>();
const options: DecoderOptions = {
  onPacket: (_packet: Packet) => {},
  onError: (_error: MalformedPacketError) => {},
};
expectTypeOf(new Decoder(options).feed).parameter(0).toEqualTypeOf<Uint8Array>();
expectTypeOf(new Decoder(options).experimental_bufferCapacity).toEqualTypeOf<number>();
expectTypeOf<MalformedPacketError['code']>().toEqualTypeOf<CodecErrorCode>();
expectTypeOf(isCodecError).guards.toEqualTypeOf<MalformedPacketError>();
expectTypeOf(ReasonCode.PacketTooLarge).toEqualTypeOf<0x95>();
