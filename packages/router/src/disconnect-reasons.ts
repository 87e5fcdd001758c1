import { encode, PacketType } from '@mqtt-adapt/codec';
import type { DisconnectReason } from './hooks.js';

/**
 * The Reason String a 5.0 DISCONNECT from the broker carries for each way a connection ends,
 * so a client's log says why (MQTT 5.0 §3.14.2.2.2). Violations and malformed packets carry
 * their own, more specific text.
 */
export const DISCONNECT_REASON_STRINGS: Readonly<Record<DisconnectReason, string>> = {
  'client-disconnect': 'client disconnected',
  'transport-closed': 'connection closed',
  'transport-error': 'connection failed',
  'keepalive-timeout': 'no packet within 1.5 times the keepalive',
  'connect-timeout': 'no CONNECT in time',
  'protocol-error': 'protocol error',
  'malformed-packet': 'malformed packet',
  'not-authorized': 'not authorized',
  'session-taken-over': 'another connection took over this session',
  'server-shutting-down': 'the broker is shutting down',
  'store-failure': 'the broker could not store what it was about to acknowledge',
  'internal-error': 'internal error while serving this client',
  'subscriber-stalled': 'nothing acknowledged while a full queue held publishers back',
  'partial-packet-budget': "partly received packets exceed the broker's budget",
  'publish-not-confirmed': 'message not confirmed, so not acknowledged; send it again',
};

/**
 * A 5.0 DISCONNECT, with its Reason String unless that would make it larger than the client's
 * Maximum Packet Size [MQTT-3.14.2-3].
 */
export function disconnectPacket(
  reasonCode: number,
  reasonString: string | undefined,
  maxPacketSize: number,
): Buffer {
  const bare = encode({ type: PacketType.Disconnect, reasonCode, properties: undefined }, 5);
  if (reasonString === undefined) return bare;
  const withReason = encode({ type: PacketType.Disconnect, reasonCode, properties: { reasonString } }, 5);
  return withReason.length > maxPacketSize ? bare : withReason;
}
