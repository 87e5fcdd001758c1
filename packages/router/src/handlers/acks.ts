import { type AckPacket, PacketType, ReasonCode } from '@mqtt-adapt/codec';
import { withReasonString } from '../ack-reasons.js';
import { type Connection, ConnectionState } from '../connection.js';

/**
 * PUBACK, PUBREC and PUBCOMP settle outbound messages; PUBREL releases an inbound QoS 2 id.
 * Acks for unknown packet ids are ignored (3.x) — PUBREL is still answered with PUBCOMP so a
 * client that lost state can finish its flow, with 0x92 in 5.0.
 */
export function handleAck(connection: Connection, packet: AckPacket): void {
  const session = connection.session;
  if (session === undefined || connection.state !== ConnectionState.Connected) return;
  const core = connection.core;
  const packetId = packet.packetId;
  switch (packet.type) {
    case PacketType.Puback: {
      const entry = session.inflight.get(packetId);
      if (entry !== undefined && entry.qos === 1) core.completeDelivery(session, entry);
      return;
    }
    case PacketType.Pubrec: {
      const entry = session.inflight.get(packetId);
      const known = entry !== undefined && entry.qos === 2;
      // 5.0: a PUBREC with a failure reason ends the flow without PUBREL.
      if (known && connection.protocolVersion === 5 && packet.reasonCode >= 0x80) {
        core.completeDelivery(session, entry);
        return;
      }
      if (known && !entry.released) {
        entry.released = true;
        core.persistence.updateDelivery(session, entry);
      }
      connection.send(answer(connection, PacketType.Pubrel, packetId, known));
      return;
    }
    case PacketType.Pubcomp: {
      const entry = session.inflight.get(packetId);
      if (entry?.released) core.completeDelivery(session, entry);
      return;
    }
    case PacketType.Pubrel: {
      const known = session.inboundQos2.delete(packetId);
      if (known) core.persistence.deleteInboundQos2(session, packetId);
      // PUBCOMP only once the id's removal is durable: a stale id would swallow a new message.
      connection.ackDurably(answer(connection, PacketType.Pubcomp, packetId, known));
      return;
    }
  }
}

/** PUBREL / PUBCOMP: 5.0 says 0x92 for an id it does not know, and why in a Reason String. */
function answer(
  connection: Connection,
  type: typeof PacketType.Pubrel | typeof PacketType.Pubcomp,
  packetId: number,
  known: boolean,
): AckPacket {
  if (known || connection.protocolVersion !== 5)
    return { type, packetId, reasonCode: 0, properties: undefined };
  const packet: AckPacket = {
    type,
    packetId,
    reasonCode: ReasonCode.PacketIdentifierNotFound,
    properties: undefined,
  };
  return withReasonString(connection, packet, `packet identifier ${packetId} not found`);
}
