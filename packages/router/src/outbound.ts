import { PacketType, type Properties } from '@mqtt-adapt/codec';
import type { BrokerCore } from './broker-core.js';
import type { Connection } from './connection.js';
import { DeliveryEncoder } from './delivery-encoder.js';
import { publishProperties } from './message-expiry.js';
import { encodeWithAlias } from './outbound-topic-aliases.js';
import type { InflightMessage, QueuedMessage, Session } from './session.js';

/*
 * Writing QoS 1/2 deliveries to a client: the first send into the in-flight window, and the
 * re-send of the window on reconnect. Both respect the 5.0 client's Maximum Packet Size; the
 * first send uses the connection's outbound Topic Aliases, if any.
 */

/** Sends a QoS 1/2 delivery into the in-flight window (it awaits its PUBACK/PUBREC there). */
export function sendInflight(
  core: BrokerCore,
  session: Session,
  connection: Connection,
  entry: InflightMessage,
): void {
  const properties = v5Properties(core, connection, entry);
  const aliases = connection.outboundTopicAliases;
  const bytes =
    aliases === undefined
      ? DeliveryEncoder.withPacketId(
          entry.message,
          connection.protocolVersion,
          entry.qos,
          entry.retain,
          entry.packetId,
          false,
          properties,
        )
      : encodeWithAlias(
          aliases,
          connection.maxOutgoingPacketSize,
          entry.message,
          entry.qos,
          entry.retain,
          entry.packetId,
          properties,
          undefined,
        );
  if (bytes.length > connection.maxOutgoingPacketSize) {
    // Larger than the client's Maximum Packet Size: discarded as if sent and acknowledged
    // [MQTT-3.1.2-25]; the session goes on.
    core.persistence.deleteDelivery(session, entry);
    core.drop(entry.message, session.clientId, 'packet-too-large');
    return;
  }
  session.inflight.set(entry.packetId, entry);
  connection.write(bytes);
  core.counters.messagesSent++;
}

/**
 * Re-sends the in-flight window on reconnect, in order, with DUP (PUBREL for released QoS 2),
 * each with its full topic name and no Topic Alias: the aliases of the connection it was first
 * sent on are gone [MQTT-3.3.2-7].
 */
export function resendInflight(core: BrokerCore, session: Session, connection: Connection): void {
  const inflight = session.inflightIfAny;
  if (inflight === undefined) return;
  for (const entry of inflight.values()) {
    if (entry.released) {
      connection.send({
        type: PacketType.Pubrel,
        packetId: entry.packetId,
        reasonCode: 0,
        properties: undefined,
      });
    } else {
      const bytes = DeliveryEncoder.withPacketId(
        entry.message,
        connection.protocolVersion,
        entry.qos,
        entry.retain,
        entry.packetId,
        true,
        v5Properties(core, connection, entry),
      );
      if (bytes.length > connection.maxOutgoingPacketSize) {
        // The client came back with a smaller Maximum Packet Size: discarded as if delivered.
        session.inflight.delete(entry.packetId); // deleting while iterating: Map allows it
        core.persistence.deleteDelivery(session, entry);
        core.drop(entry.message, session.clientId, 'packet-too-large');
        continue;
      }
      connection.write(bytes);
      core.counters.messagesSent++;
    }
  }
}

/** What a 5.0 client gets as PUBLISH properties of `entry` now (none for 3.x). */
function v5Properties(
  core: BrokerCore,
  connection: Connection,
  entry: QueuedMessage,
): Properties | undefined {
  if (connection.protocolVersion !== 5) return undefined;
  return publishProperties(entry.message, entry.subscriptionIdentifiers, core.clock);
}
