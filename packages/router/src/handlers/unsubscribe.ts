import { PacketType, ReasonCode, type UnsubscribePacket } from '@mqtt-adapt/codec';
import { type Connection, ConnectionState } from '../connection.js';

/** UNSUBSCRIBE: removes each filter it names; UNSUBACK even when none existed [MQTT-3.10.4-5]. */
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
  connection.send({
    type: PacketType.Unsuback,
    packetId: packet.packetId,
    reasonCodes,
    properties: undefined,
  });
}
