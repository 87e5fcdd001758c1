import type { DisconnectPacket } from '@mqtt-adapt/codec';
import type { Connection } from '../connection.js';

/** 5.0 DISCONNECT reason 0x04: Disconnect with Will Message. */
const DISCONNECT_WITH_WILL = 0x04;

/**
 * A client's DISCONNECT: the will is discarded [MQTT-3.1.2-10] unless 5.0 reason 0x04 asks for
 * it, and a 5.0 client may set the session's expiry for after this close, except from 0 to
 * another value (MQTT 5.0 §3.14.2.2.2: then it is no valid DISCONNECT; 0x82, the will goes out).
 */
export function handleDisconnect(connection: Connection, packet: DisconnectPacket): void {
  const session = connection.session;
  const requested = connection.protocolVersion === 5 ? packet.properties?.sessionExpiryInterval : undefined;
  if (session !== undefined && requested !== undefined) {
    if (session.expiryInterval === 0 && requested !== 0) {
      connection.violation('Session Expiry Interval set on DISCONNECT after 0 on CONNECT (§3.14.2.2.2)');
      return;
    }
    session.expiryInterval = Math.min(requested, connection.core.options.maxSessionExpirySeconds);
  }
  if (
    session !== undefined &&
    !(connection.protocolVersion === 5 && packet.reasonCode === DISCONNECT_WITH_WILL)
  ) {
    session.will = undefined;
  }
  connection.close('client-disconnect');
}
