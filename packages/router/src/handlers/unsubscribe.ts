import { PacketType, ReasonCode, type UnsubscribePacket } from '@mqtt-adapt/codec';
import { type Connection, ConnectionState } from '../connection.js';

/**
 * UNSUBSCRIBE: removes each filter it names; UNSUBACK even when none existed [MQTT-3.10.4-5],
 * in 5.0 with 0x00 or 0x11 No subscription existed per filter, in order [MQTT-3.11.3-1].
 */
export function handleUnsubscribe(connection: Connection, packet: UnsubscribePacket): void {
  if (connection.state !== ConnectionState.Connected) return;
  const core = connection.core;
  const session = connection.session!;
  const reasonCodes: number[] = [];
  for (const topicFilter of packet.topicFilters) {
    const existed = session.subscriptions.delete(topicFilter);
    if (existed) {
      core.subscriptions.remove(topicFilter, session);
      core.persistence.deleteSubscription(session, topicFilter);
      core.events.emit('unsubscribed', connection.client!, topicFilter);
    }
    if (connection.protocolVersion === 5) {
      reasonCodes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
    }
  }
  // After the store has the removals, behind earlier acks (a SUBACK still waiting for its flush).
  connection.ackDurably({
    type: PacketType.Unsuback,
    packetId: packet.packetId,
    reasonCodes,
    properties: undefined,
  });
}
