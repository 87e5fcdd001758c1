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
};
