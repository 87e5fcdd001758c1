import { decodePackets, encode, PacketType, type Properties, type QoS } from '@mqtt-adapt/codec';
import type { Message } from '@mqtt-adapt/router';

/**
 * A message on the cluster bus is an MQTT 5.0 PUBLISH packet: topic, QoS, RETAIN, the
 * forwarded properties and the payload, in the codec we already have (no second format to
 * version). The packet id is a placeholder (1) and means nothing: the bus does not acknowledge.
 */
export function encodeBusFrame(message: Message): Buffer {
  return encode(
    {
      type: PacketType.Publish,
      dup: false,
      qos: message.qos,
      retain: message.retain,
      topicName: message.topicName,
      packetId: message.qos === 0 ? undefined : 1,
      payload: message.payload,
      properties: message.properties,
    },
    5,
  );
}

export interface BusMessage {
  readonly topicName: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties: Properties | undefined;
}

/** Decodes one frame; throws the codec's `MalformedPacketError` or a `TypeError` for anything else. */
export function decodeBusFrame(bytes: Uint8Array): BusMessage {
  const packets = decodePackets(bytes, 5);
  const packet = packets[0];
  if (packets.length !== 1 || packet?.type !== PacketType.Publish) {
    throw new TypeError(`cluster frame of ${bytes.length} bytes is not one PUBLISH packet`);
  }
  const { topicName, payload, qos, retain, properties } = packet;
  return { topicName, payload, qos, retain, properties };
}
