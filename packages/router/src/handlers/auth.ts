import {
  type AuthPacket,
  type ConnectPacket,
  encode,
  type Packet,
  PacketType,
  type Properties,
  ReasonCode,
} from '@mqtt-adapt/codec';
import { type Connection, ConnectionState } from '../connection.js';
import type {
  BrokerHooks,
  EnhancedAuthAnswer,
  EnhancedAuthMethod,
  EnhancedAuthRequest,
  HookResult,
} from '../hooks.js';
import { acceptAuthenticated, refuseConnect, withTimeout } from './connect.js';

/*
 * MQTT 5.0 enhanced authentication (§4.12, §3.15): the AUTH packets between a CONNECT naming an
 * Authentication Method and its CONNACK, and re-authentication (AUTH 0x19) after it. The method
 * (`BrokerHooks.authMethods`) computes the answers; this file keeps the protocol rules.
 */

const Phase = {
  /** The method is computing an answer. */
  Working: 0,
  /** AUTH 0x18 sent: the client's AUTH 0x18 is next. */
  AwaitingClient: 1,
  /** No exchange running: the client may start a re-authentication (AUTH 0x19). */
  Idle: 2,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * The enhanced authentication of one connection: allocated at a CONNECT naming a method (other
 * connections pay one `undefined` field), kept after CONNACK because a re-authentication must
 * name the same method [MQTT-4.12.1-1]; what only the running exchange needs is dropped at its end.
 */
export class AuthExchange {
  phase: Phase = Phase.Working;
  /** The method's state from its last `continue` answer. */
  state: unknown = undefined;
  /** What the method was told at the start of the running exchange. */
  request: EnhancedAuthRequest | undefined = undefined;
  /** Before CONNACK: the CONNECT to accept once the method says so. */
  connect: ConnectPacket | undefined = undefined;
  /** The success answer's data, until the CONNACK carries it. */
  serverData: Buffer | undefined = undefined;

  constructor(
    readonly method: string,
    readonly handler: EnhancedAuthMethod,
  ) {}

  /** Adds the Authentication Method and the final data to a successful CONNACK [MQTT-4.12.0-5]. */
  takeConnackProperties(properties: Properties): void {
    properties.authenticationMethod = this.method;
    if (this.serverData !== undefined) properties.authenticationData = this.serverData;
    this.serverData = undefined;
  }
}

/** The method offered under `name`, if any (own keys only: `toString` is no method). */
export function findAuthMethod(hooks: BrokerHooks, name: string): EnhancedAuthMethod | undefined {
  const methods = hooks.authMethods;
  return methods !== undefined && Object.hasOwn(methods, name) ? methods[name] : undefined;
}

/** A CONNECT named `handler`'s method: starts the exchange; CONNACK waits for its end. */
export function startAuthentication(
  connection: Connection,
  packet: ConnectPacket,
  clientId: string,
  method: string,
  handler: EnhancedAuthMethod,
): Promise<void> | undefined {
  const exchange = new AuthExchange(method, handler);
  exchange.connect = packet;
  const request: EnhancedAuthRequest = {
    clientId,
    username: connection.transport.identity ?? packet.username,
    password: packet.password,
    remoteAddress: connection.transport.remoteAddress,
    identity: connection.transport.identity,
    authenticationMethod: method,
    authenticationData: packet.properties?.authenticationData,
    reauthenticate: false,
  };
  exchange.request = request;
  connection.auth = exchange;
  return run(connection, exchange, () => handler.start(request));
}

/**
 * A packet while the CONNECT is being authenticated: only AUTH and DISCONNECT may come before
 * CONNACK [MQTT-3.1.2-30].
 */
export function handlePacketBeforeConnack(connection: Connection, packet: Packet): Promise<void> | undefined {
  if (packet.type === PacketType.Auth) return handleAuth(connection, packet);
  if (packet.type === PacketType.Disconnect) {
    connection.close('client-disconnect');
    return undefined;
  }
  protocolError(connection, `packet type ${packet.type} during enhanced authentication [MQTT-3.1.2-30]`);
  return undefined;
}

export function handleAuth(connection: Connection, packet: AuthPacket): Promise<void> | undefined {
  const exchange = connection.auth;
  if (exchange === undefined) {
    protocolError(
      connection,
      'AUTH on a connection whose CONNECT named no Authentication Method [MQTT-4.12.0-7]',
    );
    return undefined;
  }
  const method = packet.properties?.authenticationMethod;
  if (method !== exchange.method) {
    protocolError(
      connection,
      `AUTH with Authentication Method ${method === undefined ? 'missing' : `"${method}"`}, not "${exchange.method}" [MQTT-4.12.0-5]`,
    );
    return undefined;
  }
  const data = packet.properties?.authenticationData;
  if (packet.reasonCode === ReasonCode.ContinueAuthentication && exchange.phase === Phase.AwaitingClient) {
    const request = exchange.request!;
    const state = exchange.state;
    exchange.state = undefined;
    exchange.phase = Phase.Working;
    return run(connection, exchange, () => exchange.handler.step(state, data, request));
  }
  if (
    packet.reasonCode === ReasonCode.ReAuthenticate &&
    exchange.phase === Phase.Idle &&
    connection.state === ConnectionState.Connected
  ) {
    return reauthenticate(connection, exchange, data);
  }
  protocolError(
    connection,
    exchange.phase === Phase.AwaitingClient
      ? `AUTH reason code 0x${hex(packet.reasonCode)} where 0x18 continues the exchange [MQTT-4.12.0-3]`
      : `AUTH reason code 0x${hex(packet.reasonCode)} with no authentication exchange to continue`,
  );
  return undefined;
}

/** AUTH 0x19 from a connected client: a new exchange, while its other packets go on [MQTT-4.12.1-1]. */
function reauthenticate(
  connection: Connection,
  exchange: AuthExchange,
  data: Buffer | undefined,
): Promise<void> | undefined {
  const client = connection.client!;
  const request: EnhancedAuthRequest = {
    clientId: client.clientId,
    username: client.username,
    password: undefined,
    remoteAddress: client.remoteAddress,
    identity: connection.transport.identity,
    authenticationMethod: exchange.method,
    authenticationData: data,
    reauthenticate: true,
  };
  exchange.request = request;
  exchange.phase = Phase.Working;
  return run(connection, exchange, () => exchange.handler.start(request));
}

/**
 * Calls the method and settles its answer. Before CONNACK the caller gets the promise, so later
 * packets wait behind it in order; a re-authentication runs beside the connection's traffic.
 */
function run(
  connection: Connection,
  exchange: AuthExchange,
  call: () => HookResult<EnhancedAuthAnswer>,
): Promise<void> | undefined {
  let answer: HookResult<EnhancedAuthAnswer>;
  try {
    answer = call();
  } catch (error) {
    methodFailed(connection, exchange, error);
    return undefined;
  }
  if (!(answer instanceof Promise)) return settle(connection, exchange, answer);
  const settled = withTimeout(connection, answer, connection.core.options.authenticateTimeoutMs).then(
    (value) => settle(connection, exchange, value),
    (error: unknown) => methodFailed(connection, exchange, error),
  );
  if (exchange.connect !== undefined) return settled;
  settled.catch((error: unknown) => connection.failed(error));
  return undefined;
}

function settle(
  connection: Connection,
  exchange: AuthExchange,
  answer: EnhancedAuthAnswer,
): Promise<void> | undefined {
  if (connection.isClosed() || connection.auth !== exchange) return undefined;
  switch (answer?.result) {
    case 'continue':
      exchange.state = answer.state;
      exchange.phase = Phase.AwaitingClient;
      // Every AUTH carries the method [MQTT-4.12.0-5]; more data asked for with 0x18 [MQTT-4.12.0-2].
      sendAuth(connection, ReasonCode.ContinueAuthentication, authProperties(exchange.method, answer.data));
      return undefined;
    case 'success':
      return succeeded(connection, exchange, answer.data, answer.username);
    case 'failure':
      refuse(connection, exchange, answer.reasonCode, answer.reason);
      return undefined;
    default:
      methodFailed(
        connection,
        exchange,
        new TypeError(`authentication method "${exchange.method}" gave no answer (${String(answer)})`),
      );
      return undefined;
  }
}

function succeeded(
  connection: Connection,
  exchange: AuthExchange,
  data: Buffer | undefined,
  username: string | undefined,
): Promise<void> | undefined {
  const packet = exchange.connect;
  const clientId = exchange.request!.clientId;
  exchange.phase = Phase.Idle;
  exchange.request = undefined;
  exchange.state = undefined;
  if (packet === undefined) {
    // A re-authentication may not turn the connection into another user's.
    const current = connection.client?.username;
    if (username !== undefined && username !== current) {
      refuse(connection, exchange, ReasonCode.NotAuthorized, 're-authenticated as another user');
      return undefined;
    }
    if (!sendAuth(connection, 0, authProperties(exchange.method, data))) return undefined;
    connection.core.logger.debug({ clientId, method: exchange.method }, 're-authenticated');
    return undefined;
  }
  exchange.connect = undefined;
  exchange.serverData = data;
  // The method's user name is the connection's (accept() still prefers the transport's identity).
  return acceptAuthenticated(
    connection,
    username === undefined || username === packet.username ? packet : { ...packet, username },
    clientId,
  );
}

/** The method refused: CONNACK before it was sent [MQTT-4.12.0-4], DISCONNECT after [MQTT-4.12.1-2]. */
function refuse(connection: Connection, exchange: AuthExchange, reasonCode: number, reason?: string): void {
  if (exchange.connect !== undefined) {
    const code = Number.isInteger(reasonCode) && reasonCode >= 0x80 && reasonCode <= 0xff ? reasonCode : 0x87;
    refuseConnect(connection, code, reason ?? `authentication method "${exchange.method}" refused`);
    return;
  }
  exchange.phase = Phase.Idle;
  connection.core.logger.debug(
    { clientId: connection.clientId, method: exchange.method, reasonCode },
    're-authentication refused',
  );
  connection.close(
    'not-authorized',
    DISCONNECT_REASON_CODES.has(reasonCode) ? reasonCode : ReasonCode.NotAuthorized,
    reason ?? 're-authentication failed',
  );
}

function methodFailed(connection: Connection, exchange: AuthExchange, error: unknown): undefined {
  connection.core.logger.error(
    { clientId: connection.clientId, method: exchange.method, err: error },
    'enhanced authentication method failed',
  );
  if (connection.isClosed()) return undefined;
  if (exchange.connect !== undefined) {
    refuseConnect(connection, ReasonCode.ServerUnavailable, 'authentication method failed');
  } else {
    connection.close('not-authorized', ReasonCode.UnspecifiedError, 'authentication method failed');
  }
  return undefined;
}

/**
 * A broken protocol rule of the exchange. Before CONNACK the broker may not send DISCONNECT
 * [MQTT-3.14.0-1]: CONNACK 0x82 then close; after it, DISCONNECT 0x82.
 */
function protocolError(connection: Connection, why: string): void {
  if (connection.state === ConnectionState.Connecting) {
    refuseConnect(connection, ReasonCode.ProtocolError, why, 'protocol-error');
  } else {
    connection.violation(why);
  }
}

function authProperties(method: string, data: Buffer | undefined): Properties {
  return data === undefined
    ? { authenticationMethod: method }
    : { authenticationMethod: method, authenticationData: data };
}

function hex(code: number): string {
  return code.toString(16).padStart(2, '0');
}

/** Reason codes a 5.0 DISCONNECT may carry from the broker at the end of a failed re-authentication. */
const DISCONNECT_REASON_CODES: ReadonlySet<number> = new Set([
  0x80, 0x83, 0x87, 0x89, 0x8b, 0x97, 0x98, 0x9c, 0x9d, 0x9f, 0xa0,
]);

/**
 * Sends an AUTH unless it is larger than the client's Maximum Packet Size [MQTT-3.1.2-24]: the
 * method's data cannot be left out, so the connection is closed instead. False when it was.
 */
function sendAuth(connection: Connection, reasonCode: number, properties: Properties): boolean {
  const bytes = encode({ type: PacketType.Auth, reasonCode, properties }, 5);
  if (bytes.length > connection.maxOutgoingPacketSize) {
    connection.core.logger.debug(
      { bytes: bytes.length, maximumPacketSize: connection.maxOutgoingPacketSize },
      'AUTH larger than the client accepts; connection closed',
    );
    connection.close('protocol-error');
    return false;
  }
  connection.write(bytes);
  return true;
}
