import { encode, type Packet, PacketType } from '@mqtt-adapt/codec';
import { type Connection, ConnectionState } from '../connection.js';
import { handleAck } from './acks.js';
import { handleAuth, handlePacketBeforeConnack } from './auth.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePublish } from './publish.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

const PINGRESP = encode({ type: PacketType.Pingresp }, 4);

/** Runs one decoded packet through its handler; a promise when the handler waits (hook, store). */
export function handlePacket(connection: Connection, packet: Packet): Promise<void> | undefined {
  if (connection.state === ConnectionState.Closed) return undefined;
  if (packet.type === PacketType.Connect) {
    if (connection.state !== ConnectionState.AwaitingConnect) {
      connection.violation('second CONNECT on one connection [MQTT-3.1.0-2]');
      return undefined;
    }
    return handleConnect(connection, packet);
  }
  // Only while an enhanced authentication exchange waits for the client's AUTH.
  if (connection.state === ConnectionState.Connecting) return handlePacketBeforeConnack(connection, packet);
  switch (packet.type) {
    case PacketType.Publish:
      return handlePublish(connection, packet);
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      handleAck(connection, packet);
      return undefined;
    case PacketType.Subscribe:
      return handleSubscribe(connection, packet);
    case PacketType.Unsubscribe:
      handleUnsubscribe(connection, packet);
      return undefined;
    case PacketType.Pingreq:
      connection.write(PINGRESP);
      return undefined;
    case PacketType.Disconnect:
      handleDisconnect(connection, packet);
      return undefined;
    case PacketType.Auth:
      return handleAuth(connection, packet);
    default:
      connection.violation(`packet type ${packet.type} is not sent by clients`);
      return undefined;
  }
}

/** Packets handled at once while flow control holds a publisher: acknowledgements and pings. */
export function passesHold(packet: Packet): boolean {
  const type = packet.type;
  return (
    type === PacketType.Puback ||
    type === PacketType.Pubrec ||
    type === PacketType.Pubrel ||
    type === PacketType.Pubcomp ||
    type === PacketType.Pingreq
  );
}
