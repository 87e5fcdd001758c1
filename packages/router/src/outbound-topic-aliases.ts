import type { Properties, QoS } from '@mqtt-adapt/codec';
import { DeliveryEncoder } from './delivery-encoder.js';
import type { Message } from './message.js';

/*
 * 5.0 outbound Topic Aliases (MQTT 5.0 §3.3.2.3.4): the broker sends a topic name once per
 * connection with an alias, then the alias alone with an empty topic name. Aliases belong to
 * the network connection [MQTT-3.3.2-7]: a new connection starts with none, so a PUBLISH
 * re-sent after a reconnect carries its full topic name (outbound.ts `resendInflight`).
 */

/**
 * Topics shorter than this (in characters) are sent without an alias: the Topic Alias property
 * costs 3 bytes, so an alias saves nothing on an ASCII topic of 3 characters or fewer (a few
 * bytes at most on a multi-byte one), and would evict a useful one.
 */
const MIN_ALIASED_TOPIC_LENGTH = 4;

/**
 * The topic -> alias table of one connection, at most `maximum` aliases (the client's Topic
 * Alias Maximum, capped by `maxOutboundTopicAliases`), never above it [MQTT-3.1.2-26,
 * MQTT-3.3.2-11], from 1 up [MQTT-3.3.2-8]. When all are taken, the least recently used topic
 * gives its alias to the new one. The Map is allocated at the first aliased delivery: a client
 * that announces aliases but gets nothing costs this object only.
 */
export class OutboundTopicAliases {
  /** Topic -> alias, in least to most recently used order (a hit moves its topic to the end). */
  private topics: Map<string, number> | undefined = undefined;
  /** The most recently used topic: a stream on one topic skips the reordering. */
  private last: string | undefined = undefined;

  constructor(readonly maximum: number) {
    if (!Number.isInteger(maximum) || maximum < 1 || maximum > 65_535)
      throw new RangeError(`outbound topic alias maximum ${maximum} must be an integer from 1 to 65535`);
  }

  /**
   * The table for a client whose CONNECT said Topic Alias Maximum `clientMaximum` (absent for
   * 3.x and for a 5.0 client that takes none), capped by `brokerMaximum`; undefined when either
   * is 0 [MQTT-3.1.2-26, MQTT-3.1.2-27]: that connection's deliveries then share their bytes.
   */
  static forClient(
    clientMaximum: number | undefined,
    brokerMaximum: number,
  ): OutboundTopicAliases | undefined {
    const maximum = Math.min(clientMaximum ?? 0, brokerMaximum);
    return maximum > 0 ? new OutboundTopicAliases(maximum) : undefined;
  }

  /** Aliases in use. */
  get size(): number {
    return this.topics?.size ?? 0;
  }

  /** The alias of `topicName`, now its most recently used; 0 when it has none. */
  get(topicName: string): number {
    const topics = this.topics;
    if (topics === undefined) return 0;
    const alias = topics.get(topicName);
    if (alias === undefined) return 0;
    if (topicName !== this.last) {
      topics.delete(topicName);
      topics.set(topicName, alias);
      this.last = topicName;
    }
    return alias;
  }

  /** The alias `assign` would give a new topic now: the next unused one, else the least recently used one's. */
  peek(): number {
    const topics = this.topics;
    if (topics === undefined) return 1;
    if (topics.size < this.maximum) return topics.size + 1;
    return topics.values().next().value as number;
  }

  /** Gives `topicName` (which has no alias) the alias `peek` returns, taking it from its topic if all are used. */
  assign(topicName: string): number {
    this.topics ??= new Map();
    const topics = this.topics;
    let alias: number;
    if (topics.size < this.maximum) {
      alias = topics.size + 1;
    } else {
      const [oldest, reused] = topics.entries().next().value as [string, number];
      topics.delete(oldest);
      alias = reused;
    }
    topics.set(topicName, alias);
    this.last = topicName;
    return alias;
  }
}

/**
 * The PUBLISH bytes of one delivery to a connection with outbound aliases: the topic's alias
 * and an empty topic name when the client knows it; else the topic name with a new alias, or
 * without one if the packet with it would exceed the client's Maximum Packet Size
 * (`maxPacketSize`; the 3 bytes may matter) — the alias is taken only once its packet is sure
 * to be written. The caller still checks the size (a packet too large even without an alias
 * is discarded, as for any client). `shared`: the publish's encoder, for QoS 0 deliveries
 * whose properties are the message's own.
 */
export function encodeWithAlias(
  aliases: OutboundTopicAliases,
  maxPacketSize: number,
  message: Message,
  qos: QoS,
  retain: boolean,
  packetId: number | undefined,
  properties: Properties | undefined,
  shared: DeliveryEncoder | undefined,
): Buffer {
  const topicName = message.topicName;
  if (topicName.length < MIN_ALIASED_TOPIC_LENGTH) {
    return shared !== undefined
      ? shared.qos0(5, retain)
      : DeliveryEncoder.withPacketId(message, 5, qos, retain, packetId, false, properties);
  }
  const known = aliases.get(topicName);
  if (known !== 0) return aliased(message, qos, retain, packetId, properties, shared, known, false);
  const bytes = aliased(message, qos, retain, packetId, properties, shared, aliases.peek(), true);
  if (bytes.length > maxPacketSize) {
    return shared !== undefined
      ? shared.qos0(5, retain)
      : DeliveryEncoder.withPacketId(message, 5, qos, retain, packetId, false, properties);
  }
  aliases.assign(topicName);
  return bytes;
}

function aliased(
  message: Message,
  qos: QoS,
  retain: boolean,
  packetId: number | undefined,
  properties: Properties | undefined,
  shared: DeliveryEncoder | undefined,
  alias: number,
  withTopicName: boolean,
): Buffer {
  return shared !== undefined
    ? shared.qos0Aliased(retain, alias, withTopicName)
    : DeliveryEncoder.withTopicAlias(message, qos, retain, packetId, properties, alias, withTopicName);
}
