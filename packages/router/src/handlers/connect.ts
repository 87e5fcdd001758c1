import { isUtf8 } from 'node:buffer';
import {
  ConnackReturnCode,
  type ConnectPacket,
  encode,
  PacketType,
  type Properties,
  type ProtocolVersion,
  ReasonCode,
} from '@mqtt-adapt/codec';
import { type Connection, ConnectionState, PROTOCOL_MAX_PACKET_SIZE } from '../connection.js';
import { forwardedProperties } from '../forwarded-properties.js';
import type { AuthenticateResult, DisconnectReason } from '../hooks.js';
import { createMessage } from '../message.js';
import { resendInflight } from '../outbound.js';
import { OutboundTopicAliases } from '../outbound-topic-aliases.js';
import { Session } from '../session.js';
import { grantedSessionExpiry } from '../session-expiry.js';
import type { SessionOwnershipHook } from '../session-ownership.js';
import type { SessionSnapshot } from '../store.js';
import { findAuthMethod, startAuthentication } from './auth.js';
import { addCapabilityProperties } from './capabilities.js';
import { topicNameRefusal } from './topic-limits.js';

/**
 * CONNACK 0x00 without properties, by Session Present, in the 3.x and the 5.0 encoding: built
 * once, written as they are (transports do not keep or change what they are given).
 */
const ACCEPTED_V3 = [
  encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0, properties: undefined }, 4),
  encode({ type: PacketType.Connack, sessionPresent: true, reasonCode: 0, properties: undefined }, 4),
] as const;
const ACCEPTED_V5 = [
  encode({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0, properties: undefined }, 5),
  encode({ type: PacketType.Connack, sessionPresent: true, reasonCode: 0, properties: undefined }, 5),
] as const;

/** 5.0 reason code -> nearest 3.x CONNACK return code. */
function toV3ReturnCode(reasonCode: number): number {
  switch (reasonCode) {
    case ReasonCode.UnsupportedProtocolVersion:
      return ConnackReturnCode.UnacceptableProtocolVersion;
    case ReasonCode.ClientIdentifierNotValid:
      return ConnackReturnCode.IdentifierRejected;
    case ReasonCode.ServerUnavailable:
    case ReasonCode.ServerBusy:
    case ReasonCode.ConnectionRateExceeded:
    case ReasonCode.ServerShuttingDown:
      return ConnackReturnCode.ServerUnavailable;
    case ReasonCode.BadUserNameOrPassword:
      return ConnackReturnCode.BadUserNameOrPassword;
    default:
      return ConnackReturnCode.NotAuthorized;
  }
}

/** Sends a refusing CONNACK (session present 0 [MQTT-3.2.2-4]) and closes [MQTT-3.2.2-5]. */
export function refuseConnect(
  connection: Connection,
  reasonCode: number,
  why: string,
  reason: DisconnectReason = 'not-authorized',
): void {
  const version = connection.protocolVersion;
  const connack = {
    type: PacketType.Connack,
    sessionPresent: false,
    reasonCode: version === 5 ? reasonCode : toV3ReturnCode(reasonCode),
    properties: undefined,
  } as const;
  // 5.0: say why, unless the client asked for no problem information or it would make the
  // CONNACK larger than the client's Maximum Packet Size [MQTT-3.2.2-19].
  const explained =
    version === 5 && connection.problemInformation
      ? encode({ ...connack, properties: { reasonString: why } }, 5)
      : undefined;
  connection.write(
    explained !== undefined && explained.length <= connection.maxOutgoingPacketSize
      ? explained
      : encode(connack, version),
  );
  connection.core.logger.debug(
    { remoteAddress: connection.transport.remoteAddress, reasonCode, why },
    'connect refused',
  );
  connection.close(reason);
}

/** Protocol level not 3, 4 or 5: CONNACK 0x01 in the 3.1.1 format, then close [MQTT-3.1.2-2]. */
export function refuseUnsupportedVersion(connection: Connection): void {
  connection.write(
    encode(
      {
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: ConnackReturnCode.UnacceptableProtocolVersion,
        properties: undefined,
      },
      4,
    ),
  );
  connection.close('protocol-error');
}

export function handleConnect(connection: Connection, packet: ConnectPacket): Promise<void> | undefined {
  const core = connection.core;
  connection.protocolVersion = packet.protocolVersion;
  connection.problemInformation = packet.properties?.requestProblemInformation !== 0;
  connection.state = ConnectionState.Connecting;
  // Bounds everything sent from now on, a refusing CONNACK included [MQTT-3.1.2-24]. No packet
  // is larger than the protocol's largest: a larger maximum changes nothing.
  const maximumPacketSize = packet.properties?.maximumPacketSize;
  connection.maxOutgoingPacketSize =
    maximumPacketSize === undefined
      ? PROTOCOL_MAX_PACKET_SIZE
      : Math.min(maximumPacketSize, PROTOCOL_MAX_PACKET_SIZE);
  const accepted = connection.transport.protocolVersions;
  if (accepted !== undefined && !accepted.includes(packet.protocolVersion as 3 | 4 | 5)) {
    refuseConnect(
      connection,
      ReasonCode.UnsupportedProtocolVersion,
      `protocol level ${packet.protocolVersion} is not accepted on this listener`,
    );
    return undefined;
  }
  let clientId = packet.clientId;
  if (clientId.length === 0) {
    // 3.1 has no empty ids; 3.1.1 allows them only with Clean Session 1 [MQTT-3.1.3-7, -8].
    if (packet.protocolVersion === 3 || (packet.protocolVersion === 4 && !packet.cleanStart)) {
      refuseConnect(connection, ReasonCode.ClientIdentifierNotValid, 'empty client id without clean session');
      return undefined;
    }
    clientId = core.options.generateClientId();
  }
  const connectRate = core.limits.connectRate;
  if (connectRate !== undefined && !core.limits.allowConnect(connection, clientId, core.clock.now())) {
    refuseConnect(connection, ReasonCode.ConnectionRateExceeded, 'maxConnectRatePerAddress exceeded');
    return undefined;
  }
  const willRefusal =
    packet.will === undefined ? undefined : topicNameRefusal(connection, packet.will.topicName, clientId);
  if (willRefusal !== undefined) {
    // The will is published like a PUBLISH: its topic must be a valid topic name (no wildcards),
    // within maxTopicLevels and maxTopicLength.
    if (packet.protocolVersion === 5) {
      refuseConnect(connection, ReasonCode.TopicNameInvalid, `will: ${willRefusal}`);
    } else {
      connection.violation(`will: ${willRefusal}`);
    }
    return undefined;
  }
  if (packet.protocolVersion === 5 && packet.will !== undefined && packet.will.qos > core.options.maxQoS) {
    // A will above the Maximum QoS the CONNACK would advertise [MQTT-3.2.2-12].
    refuseConnect(
      connection,
      ReasonCode.QoSNotSupported,
      `will QoS ${packet.will.qos} above the Maximum QoS`,
    );
    return undefined;
  }
  if (packet.will?.retain === true && !core.options.retainAvailable) {
    // A retained will while Retain Available is 0 is refused [MQTT-3.2.2-13] (3.x: closed).
    if (packet.protocolVersion === 5) {
      refuseConnect(connection, ReasonCode.RetainNotSupported, 'will: retain is not available');
    } else {
      connection.violation('will with RETAIN 1 while retain is not available');
    }
    return undefined;
  }
  const method = packet.properties?.authenticationMethod;
  // Enhanced authentication by one of `hooks.authMethods` (handlers/auth.ts); any other method
  // is unknown [MQTT-4.12.0-1].
  const authMethod = method === undefined ? undefined : findAuthMethod(core.hooks, method);
  if (method !== undefined && authMethod === undefined) {
    refuseConnect(
      connection,
      ReasonCode.BadAuthenticationMethod,
      `authentication method "${method}" is not supported`,
    );
    return undefined;
  }
  const will = packet.will;
  if (will?.properties?.payloadFormatIndicator === 1 && !isUtf8(will.payload)) {
    refuseConnect(connection, ReasonCode.PayloadFormatInvalid, 'will payload is not the UTF-8 it claims');
    return undefined;
  }
  if (authMethod !== undefined) return startAuthentication(connection, packet, clientId, method!, authMethod);
  const authenticate = core.hooks.authenticate;
  if (authenticate === undefined) return accept(connection, packet, clientId);
  let result: AuthenticateResult | Promise<AuthenticateResult>;
  try {
    result = authenticate({
      clientId,
      username: connection.transport.identity ?? packet.username,
      password: packet.password,
      remoteAddress: connection.transport.remoteAddress,
      protocolVersion: packet.protocolVersion as ProtocolVersion,
      identity: connection.transport.identity,
    });
  } catch (error) {
    return authFailed(connection, error);
  }
  if (!(result instanceof Promise)) return settleAuthentication(connection, packet, clientId, result);
  return withTimeout(connection, result, core.options.authenticateTimeoutMs).then(
    (answer) => settleAuthentication(connection, packet, clientId, answer),
    (error: unknown) => authFailed(connection, error),
  );
}

/** The hook's answer, or a rejection once `timeoutMs` passed without one (a hung backend). */
export function withTimeout<T>(connection: Connection, work: Promise<T>, timeoutMs: number): Promise<T> {
  const clock = connection.core.clock;
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(
      () => reject(new Error(`authenticate hook gave no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    work.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function authFailed(connection: Connection, error: unknown): undefined {
  connection.core.logger.error({ err: error }, 'authenticate hook failed');
  if (connection.state !== ConnectionState.Closed) {
    refuseConnect(connection, ReasonCode.ServerUnavailable, 'authenticate hook failed');
  }
  return undefined;
}

function settleAuthentication(
  connection: Connection,
  packet: ConnectPacket,
  clientId: string,
  answer: AuthenticateResult,
): Promise<void> | undefined {
  if (connection.state === ConnectionState.Closed) return undefined;
  if (answer === true) return accept(connection, packet, clientId);
  const reasonCode = answer === false ? ReasonCode.BadUserNameOrPassword : answer;
  refuseConnect(connection, reasonCode, 'authenticate hook refused');
  return undefined;
}

/** `accept` for a CONNECT that an enhanced authentication method let in (handlers/auth.ts). */
export function acceptAuthenticated(
  connection: Connection,
  packet: ConnectPacket,
  clientId: string,
): Promise<void> | undefined {
  return accept(connection, packet, clientId);
}

/**
 * Takes over or creates the session, and once the store has it durably [ARCHITECTURE: a
 * session after CONNACK], sends CONNACK and re-sends what the session owes.
 */
function accept(connection: Connection, packet: ConnectPacket, clientId: string): Promise<void> | undefined {
  const core = connection.core;
  if (core.closing) {
    refuseConnect(connection, ReasonCode.ServerUnavailable, 'server shutting down');
    return undefined;
  }
  const ownership = core.sessionOwnership;
  if (ownership !== undefined) return claimThenAccept(connection, packet, clientId, ownership);
  return acceptOwned(connection, packet, clientId);
}

/**
 * Cluster mode (`BrokerOptions.sessionOwnership`): the session is claimed first; what the claim
 * found is installed (even if this connection closed meanwhile: this broker owns it now).
 */
function claimThenAccept(
  connection: Connection,
  packet: ConnectPacket,
  clientId: string,
  ownership: SessionOwnershipHook,
): Promise<void> | undefined {
  const core = connection.core;
  let claimed: Promise<SessionSnapshot | undefined> | undefined;
  try {
    claimed = ownership.claim(clientId, packet.cleanStart);
  } catch (error) {
    claimed = Promise.reject(error);
  }
  if (claimed === undefined) return acceptOwned(connection, packet, clientId);
  return claimed.then(
    (snapshot) => {
      if (snapshot !== undefined) core.installClaimed(snapshot);
      if (connection.state === ConnectionState.Closed) return undefined;
      if (core.closing) {
        refuseConnect(connection, ReasonCode.ServerUnavailable, 'server shutting down');
        return undefined;
      }
      return acceptOwned(connection, packet, clientId);
    },
    (error: unknown) => {
      core.logger.error({ clientId, err: error }, 'session ownership claim failed');
      if (connection.state !== ConnectionState.Closed) {
        refuseConnect(connection, ReasonCode.ServerUnavailable, 'session could not be claimed');
      }
    },
  );
}

function acceptOwned(
  connection: Connection,
  packet: ConnectPacket,
  clientId: string,
): Promise<void> | undefined {
  const core = connection.core;
  let session = core.sessions.get(clientId);
  // A client id already online: the old connection is closed first [MQTT-3.1.4-2].
  const previous = session?.connection;
  if (previous !== undefined) previous.close('session-taken-over', ReasonCode.SessionTakenOver);
  session = core.sessions.get(clientId);
  // The store was written for this client (a stored session ended, or this one is stored):
  // CONNACK waits for that to be durable. A clean session alone never waits for the store.
  let stored = false;
  if (session !== undefined && packet.cleanStart) {
    // The old session ends here: a will it still held back is published now.
    stored = session.persistent;
    core.endSession(session);
    session = undefined;
  }
  // Back on the same session before its Will Delay Interval passed: no will [MQTT-3.1.3-9].
  if (session !== undefined) core.wills.cancel(session);
  const sessionPresent = session !== undefined;
  const version = packet.protocolVersion as 3 | 4 | 5;
  const expiryInterval = grantedSessionExpiry(
    version,
    packet.cleanStart,
    packet.properties?.sessionExpiryInterval,
    core.options.maxSessionExpirySeconds,
  );
  if (session === undefined) {
    session = new Session(clientId, expiryInterval > 0, version, expiryInterval);
    core.sessions.set(clientId, session);
  }
  // Read before this connection overwrites them: a changed record is stored again.
  const previousUsername = session.client?.username;
  const previousVersion = session.protocolVersion;
  const previousInterval = session.expiryInterval;
  const wasExpiring = session.expiresAt !== undefined;
  session.protocolVersion = version;
  // Online, a session does not expire; this connection's interval applies from its close on.
  core.expiry.cancel(session);
  session.expiryInterval = expiryInterval;
  const will = packet.will;
  session.will = undefined;
  session.willDelayMs = 0;
  if (will !== undefined && will.topicName.charCodeAt(0) === 0x24 /* $ */) {
    // Like a PUBLISH to a '$' topic: clients may not inject $SYS (or other '$') messages.
    core.logger.debug({ clientId, topicName: will.topicName }, 'will on a $ topic discarded');
  } else if (will !== undefined) {
    const payload = Buffer.from(will.payload);
    // Will properties are not PUBLISH properties (MQTT 5.0 §3.1.3.2): only the forwardable ones
    // go on; Will Delay Interval is the broker's own business.
    const properties = forwardedProperties(will.properties);
    session.will = createMessage(will.topicName, payload, will.qos, will.retain, properties, clientId);
    session.willDelayMs = (will.properties?.willDelayInterval ?? 0) * 1000;
  }
  connection.client = {
    clientId,
    username: connection.transport.identity ?? packet.username,
    remoteAddress: connection.transport.remoteAddress,
    protocolVersion: version,
  };
  connection.session = session;
  session.client = connection.client;
  if (
    !sessionPresent ||
    wasExpiring ||
    previousUsername !== connection.client.username ||
    previousVersion !== version ||
    previousInterval !== expiryInterval
  ) {
    core.persistence.saveSession(session);
  }
  const flushed = stored || session.persistent ? core.persistence.store.flush() : undefined;
  if (flushed === undefined) {
    finishConnect(connection, packet, session, sessionPresent);
    return undefined;
  }
  const pendingSession = session;
  return flushed.then(
    () => finishConnect(connection, packet, pendingSession, sessionPresent),
    (error: unknown) => {
      core.logger.error({ clientId, err: error }, 'store failed to save the session');
      refuseConnect(connection, ReasonCode.ServerUnavailable, 'store failed');
    },
  );
}

function finishConnect(
  connection: Connection,
  packet: ConnectPacket,
  session: Session,
  sessionPresent: boolean,
): void {
  if (connection.state === ConnectionState.Closed) return;
  const core = connection.core;
  // A 5.0 client's Receive Maximum caps what the broker leaves unacknowledged with it [MQTT-3.3.4-9].
  const receiveMaximum = packet.properties?.receiveMaximum ?? 65_535;
  connection.inflightLimit = Math.min(core.options.maxInflightMessages, receiveMaximum);
  // Aliases are per connection [MQTT-3.3.2-7], only up to the client's maximum [MQTT-3.1.2-26/27].
  connection.outboundTopicAliases = OutboundTopicAliases.forClient(
    packet.properties?.topicAliasMaximum,
    core.options.maxOutboundTopicAliases,
  );
  core.sessionConnected(session, connection);
  connection.state = ConnectionState.Connected;
  const properties =
    packet.protocolVersion === 5 ? connackProperties(connection, session, packet) : undefined;
  const connack =
    properties !== undefined
      ? encode({ type: PacketType.Connack, sessionPresent, reasonCode: 0, properties }, 5)
      : (connection.protocolVersion === 5 ? ACCEPTED_V5 : ACCEPTED_V3)[sessionPresent ? 1 : 0];
  if (connack.length > connection.maxOutgoingPacketSize) {
    // What the CONNACK must say does not fit the client's Maximum Packet Size [MQTT-3.1.2-24]:
    // closed without it, as Mosquitto does; the session goes on as after any close.
    core.logger.debug(
      {
        clientId: session.clientId,
        bytes: connack.length,
        maximumPacketSize: connection.maxOutgoingPacketSize,
      },
      'CONNACK larger than the client accepts; connection closed',
    );
    connection.close('protocol-error');
    return;
  }
  connection.write(connack);
  // 5.0: the broker's Server Keep Alive, when set, is the one the client must use [MQTT-3.2.2-21].
  const serverKeepAlive = core.options.serverKeepAliveSeconds;
  connection.startKeepalive(
    packet.protocolVersion === 5 && serverKeepAlive !== undefined ? serverKeepAlive : packet.keepaliveSeconds,
  );
  core.events.emit('clientConnected', connection.client!, sessionPresent, session.will, session.willDelayMs);
  // Unacknowledged PUBLISH and PUBREL are re-sent on reconnect, in order [MQTT-4.4.0-1].
  resendInflight(core, session, connection);
  core.pump(session);
}

/**
 * What a 5.0 CONNACK advertises (MQTT 5.0 §3.2.2.3), each only when it differs from the value
 * its absence means: an assigned client id, the Topic Alias Maximum (absent = 0), a Maximum
 * Packet Size below the protocol's, a Maximum QoS below 2.
 */
function connackProperties(
  connection: Connection,
  session: Session,
  packet: ConnectPacket,
): Properties | undefined {
  const options = connection.core.options;
  const properties: Properties = {};
  let any = false;
  if (session.clientId !== packet.clientId) {
    properties.assignedClientIdentifier = session.clientId;
    any = true;
  }
  // Granted less than asked (maxSessionExpirySeconds): the client is told (MQTT 5.0 §3.2.2.3.2).
  if (session.expiryInterval !== (packet.properties?.sessionExpiryInterval ?? 0)) {
    properties.sessionExpiryInterval = session.expiryInterval;
    any = true;
  }
  if (options.topicAliasMaximum > 0) {
    properties.topicAliasMaximum = options.topicAliasMaximum;
    any = true;
  }
  if (options.maxPacketSize < PROTOCOL_MAX_PACKET_SIZE) {
    properties.maximumPacketSize = options.maxPacketSize;
    any = true;
  }
  if (options.maxQoS < 2) {
    properties.maximumQoS = options.maxQoS;
    any = true;
  }
  // Receive Maximum and the Available flags that are off (handlers/capabilities.ts).
  if (addCapabilityProperties(options, properties)) any = true;
  if (options.serverKeepAliveSeconds !== undefined) {
    properties.serverKeepAlive = options.serverKeepAliveSeconds;
    any = true;
  }
  if (options.responseInformation !== undefined && packet.properties?.requestResponseInformation === 1) {
    properties.responseInformation = options.responseInformation;
    any = true;
  }
  // Enhanced authentication: its method and final data [MQTT-4.12.0-5]; none without [MQTT-4.12.0-6].
  if (connection.auth !== undefined) {
    connection.auth.takeConnackProperties(properties);
    any = true;
  }
  return any ? properties : undefined;
}
