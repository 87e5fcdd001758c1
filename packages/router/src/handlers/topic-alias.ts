import { type PublishPacket, ReasonCode } from '@mqtt-adapt/codec';
import type { Connection } from '../connection.js';

/**
 * The topic name of an inbound 5.0 PUBLISH, with its Topic Alias applied (MQTT 5.0
 * §3.3.2.3.4): an alias with a topic name sets it for this connection, an alias with an empty
 * topic name uses it. An alias above the Topic Alias Maximum the CONNACK advertised is 0x94
 * [MQTT-3.3.2-9]; using one never set is a Protocol Error. Returns `undefined` when the client
 * was closed for it.
 */
export function resolveTopicAlias(connection: Connection, packet: PublishPacket): string | undefined {
  const alias = packet.properties?.topicAlias;
  if (alias === undefined) return packet.topicName;
  const maximum = connection.core.options.topicAliasMaximum;
  if (alias > maximum) {
    connection.violation(
      `topic alias ${alias} exceeds the Topic Alias Maximum ${maximum} the broker advertised`,
      ReasonCode.TopicAliasInvalid,
    );
    return undefined;
  }
  if (packet.topicName.length === 0) {
    const topicName = connection.topicAliases?.get(alias);
    if (topicName === undefined) {
      connection.violation(`topic alias ${alias} used before a PUBLISH set it`, ReasonCode.ProtocolError);
      return undefined;
    }
    return topicName;
  }
  // Allocated on the first alias: most connections never use one.
  connection.topicAliases ??= new Map();
  connection.topicAliases.set(alias, packet.topicName);
  return packet.topicName;
}
