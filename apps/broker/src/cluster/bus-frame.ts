import {
  decodePackets,
  encode,
  PacketType,
  type Properties,
  type PublishPacket,
  type QoS,
} from '@mqtt-adapt/codec';
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

/**
 * Decodes the frames of one QoS 0 bus message (one or more PUBLISH packets one after the other);
 * throws the codec's `MalformedPacketError` or a `TypeError` for anything else.
 */
export function decodeBusFrames(bytes: Uint8Array): BusMessage[] {
  const messages: BusMessage[] = [];
  for (const packet of decodePackets(bytes, 5)) {
    if (packet.type !== PacketType.Publish)
      throw new TypeError('a bus frame holds a packet that is not a PUBLISH');
    messages.push(toBusMessage(packet));
  }
  return messages;
}

/** Decodes one frame; throws the codec's `MalformedPacketError` or a `TypeError` for anything else. */
export function decodeBusFrame(bytes: Uint8Array): BusMessage {
  const packets = decodePackets(bytes, 5);
  const packet = packets[0];
  if (packets.length !== 1 || packet?.type !== PacketType.Publish) {
    throw new TypeError(`cluster frame of ${bytes.length} bytes is not one PUBLISH packet`);
  }
  return toBusMessage(packet);
}

function toBusMessage(packet: PublishPacket): BusMessage {
  const { topicName, payload, qos, retain, properties } = packet;
  return { topicName, payload, qos, retain, properties };
}

/** The header of a batch of QoS 1/2 messages one node owes another a confirmation for. */
export interface DurableBatchHeader {
  /** The sending node and its start (`<nodeId>/<start>`): with `seqs`, names each message once. */
  readonly origin: string;
  /** One sequence number per message, in order: a QoS 2 message sent again is delivered once. */
  readonly seqs: readonly number[];
  /**
   * Set when the batch is re-sent for a node that is gone: only the sessions the receiver took
   * from that node (adopted, or claimed by their clients since) get it.
   */
  readonly onBehalfOf?: string;
  /**
   * Per message (aligned with `seqs`), the share groups the sender chose the receiver for (one
   * of its members gets the message); `null`: none. Absent: none for any message.
   */
  readonly shared?: ReadonlyArray<readonly string[] | null>;
  /** Only the named share groups get these messages (a share group's member elsewhere was lost). */
  readonly sharedOnly?: boolean;
  /**
   * Only these client ids' sessions get them (outside share groups): what a node's session held
   * when another node took it over, handed to the new owner.
   */
  readonly clients?: readonly string[];
}

/** A durable batch: 4-byte header length, the header as JSON, then one bus frame per message. */
export function encodeDurableBatch(header: DurableBatchHeader, frames: readonly Buffer[]): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(json.length, 0);
  return Buffer.concat([length, json, ...frames]);
}

/** Decodes a durable batch; throws a `TypeError` (or the codec's error) for anything else. */
export function decodeDurableBatch(bytes: Uint8Array): {
  header: DurableBatchHeader;
  messages: BusMessage[];
} {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length < 4) throw new TypeError('durable batch shorter than its header length');
  const headerLength = data.readUInt32BE(0);
  if (4 + headerLength > data.length) throw new TypeError('durable batch header runs past its end');
  const header = JSON.parse(data.subarray(4, 4 + headerLength).toString()) as DurableBatchHeader;
  if (typeof header.origin !== 'string' || !Array.isArray(header.seqs)) {
    throw new TypeError('durable batch header without origin and seqs');
  }
  const messages = decodeBusFrames(data.subarray(4 + headerLength));
  if (messages.length !== header.seqs.length) {
    throw new TypeError(`durable batch of ${messages.length} messages names ${header.seqs.length} seqs`);
  }
  return { header, messages };
}
