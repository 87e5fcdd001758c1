import {
  encode,
  PacketType,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
} from '@mqtt-adapt/codec';
import type { Message } from './message.js';

/**
 * Encodes one message for delivery. QoS 0 bytes are encoded once per protocol family and
 * RETAIN flag and shared by every subscriber of one publish; QoS 1/2 carry a per-subscriber
 * packet id and are encoded per delivery. A connection with outbound Topic Aliases gets bytes
 * of its own (outbound-topic-aliases.ts); the last aliased QoS 0 packet is kept for the next.
 */
export class DeliveryEncoder {
  private v4: Buffer | undefined = undefined;
  private v4Retain: Buffer | undefined = undefined;
  private v5: Buffer | undefined = undefined;
  private v5Retain: Buffer | undefined = undefined;
  /**
   * The last 5.0 QoS 0 packet with a Topic Alias, and its key (alias, topic name sent or not,
   * RETAIN): subscribers whose tables gave the topic the same alias (clients that subscribed
   * alike get the same numbers) share it too.
   */
  private aliasedKey = 0;
  private aliased: Buffer | undefined = undefined;

  constructor(private readonly message: Message) {}

  qos0(version: ProtocolVersion, retain: boolean): Buffer {
    // 3.1 and 3.1.1 PUBLISH bytes are identical; 5.0 adds a property length.
    if (version === 5) {
      if (retain) {
        this.v5Retain ??= DeliveryEncoder.withPacketId(this.message, 5, 0, true, undefined, false);
        return this.v5Retain;
      }
      this.v5 ??= DeliveryEncoder.withPacketId(this.message, 5, 0, false, undefined, false);
      return this.v5;
    }
    if (retain) {
      this.v4Retain ??= DeliveryEncoder.withPacketId(this.message, 4, 0, true, undefined, false);
      return this.v4Retain;
    }
    this.v4 ??= DeliveryEncoder.withPacketId(this.message, 4, 0, false, undefined, false);
    return this.v4;
  }

  /** 5.0 QoS 0 bytes with Topic Alias `alias`, and the topic name or an empty one. */
  qos0Aliased(retain: boolean, alias: number, withTopicName: boolean): Buffer {
    const key = alias * 4 + (withTopicName ? 2 : 0) + (retain ? 1 : 0);
    if (this.aliasedKey !== key || this.aliased === undefined) {
      this.aliased = DeliveryEncoder.withTopicAlias(
        this.message,
        0,
        retain,
        undefined,
        this.message.properties,
        alias,
        withTopicName,
      );
      this.aliasedKey = key;
    }
    return this.aliased;
  }

  /**
   * One 5.0 PUBLISH of `message` with Topic Alias `alias` added to `properties`, and its topic
   * name (which sets the alias on the client) or an empty one (which uses it).
   */
  static withTopicAlias(
    message: Message,
    qos: QoS,
    retain: boolean,
    packetId: number | undefined,
    properties: Properties | undefined,
    alias: number,
    withTopicName: boolean,
  ): Buffer {
    const packet: PublishPacket = {
      type: PacketType.Publish,
      dup: false,
      qos,
      retain,
      topicName: withTopicName ? message.topicName : '',
      packetId,
      payload: message.payload,
      properties: { ...properties, topicAlias: alias },
    };
    return encode(packet, 5);
  }

  /**
   * One PUBLISH of `message`. `v5Properties` replaces the message's properties for a 5.0
   * client (see `publishProperties`: remaining expiry, Subscription Identifiers).
   */
  static withPacketId(
    message: Message,
    version: ProtocolVersion,
    qos: QoS,
    retain: boolean,
    packetId: number | undefined,
    dup: boolean,
    v5Properties: Properties | undefined = message.properties,
  ): Buffer {
    const packet: PublishPacket = {
      type: PacketType.Publish,
      dup,
      qos,
      retain,
      topicName: message.topicName,
      packetId,
      payload: message.payload,
      properties: version === 5 ? v5Properties : undefined,
    };
    return encode(packet, version);
  }
}
