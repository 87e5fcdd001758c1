import { isUtf8 } from 'node:buffer';
import { type AckPacket, PacketType, type PublishPacket, ReasonCode } from '@mqtt-adapt/codec';
import { withReasonString } from '../ack-reasons.js';
import { type Connection, ConnectionState } from '../connection.js';
import { forwardedProperties } from '../forwarded-properties.js';
import type { BrokerHooks } from '../hooks.js';
import { createMessage, type Message, type RoutedMessage } from '../message.js';
import { resolveTopicAlias } from './topic-alias.js';
import { topicNameRefusal } from './topic-limits.js';

/**
 * Inbound PUBLISH: validate, authorize, route, acknowledge. QoS 2 uses "store and forward at
 * PUBLISH": the packet id is remembered until PUBREL, so a re-sent PUBLISH (DUP) is
 * acknowledged again but never routed twice [MQTT-4.3.3-2].
 */
export function handlePublish(connection: Connection, packet: PublishPacket): Promise<void> | undefined {
  const session = connection.session;
  if (session === undefined || connection.state !== ConnectionState.Connected) return undefined;
  const properties = packet.properties;
  if (!checkClientPublish(connection, packet)) return undefined;
  // maxPublishRatePerClient: one branch while it is off.
  const publishRate = connection.publishRate;
  if (publishRate !== undefined) publishRate.take();
  const topicName = resolveTopicAlias(connection, packet);
  if (topicName === undefined) return undefined;
  const refusal = topicNameRefusal(connection, topicName, session.clientId);
  if (refusal !== undefined) {
    // Past maxTopicLevels or maxTopicLength, a topic is treated as an invalid one.
    connection.violation(`${refusal} in PUBLISH`, ReasonCode.TopicNameInvalid);
    return undefined;
  }
  if (properties?.payloadFormatIndicator === 1 && !isUtf8(packet.payload)) {
    // Said to be UTF-8 and is not (MQTT 5.0 §3.3.2.3.2): refused with 0x99, as the spec allows.
    connection.core.logger.debug(
      { clientId: session.clientId, topicName },
      'payload is not the UTF-8 it claims',
    );
    if (packet.qos === 0) connection.violation('payload is not UTF-8', ReasonCode.PayloadFormatInvalid);
    else
      acknowledge(connection, packet, ReasonCode.PayloadFormatInvalid, 'payload is not the UTF-8 it claims');
    return undefined;
  }
  if (packet.qos === 2 && session.inboundQos2.has(packet.packetId!)) {
    acknowledge(connection, packet, ReasonCode.Success);
    return undefined;
  }
  const message = createMessage(
    topicName,
    // Kept beyond this call (queued, retained, in flight): copy off the socket chunk.
    packet.qos === 0 && !packet.retain ? packet.payload : Buffer.from(packet.payload),
    packet.qos,
    packet.retain,
    forwardedProperties(properties),
    session.clientId,
  );
  if (topicName.charCodeAt(0) === 0x24 /* $ */) {
    // Topics starting with '$' belong to the server ($SYS): dropped, logged, still acknowledged.
    connection.core.logger.debug({ clientId: session.clientId, topicName }, 'publish to $ topic dropped');
    connection.core.drop(message, session.clientId, 'dollar-topic');
    acknowledge(
      connection,
      packet,
      ReasonCode.NotAuthorized,
      'clients may not publish to topics starting with $',
    );
    return undefined;
  }
  const authorize = connection.core.hooks.authorizePublish;
  if (authorize === undefined) return accept(connection, packet, message);
  let allowed: boolean | Promise<boolean>;
  try {
    allowed = authorize(connection.client!, topicName, packet.qos, packet.retain);
  } catch (error) {
    connection.core.logger.error({ err: error }, 'authorizePublish hook failed');
    allowed = false;
  }
  if (!(allowed instanceof Promise)) return settle(connection, packet, message, allowed);
  return allowed.then(
    (answer) => settle(connection, packet, message, answer),
    (error: unknown) => {
      connection.core.logger.error({ err: error }, 'authorizePublish hook failed');
      return settle(connection, packet, message, false);
    },
  );
}

/**
 * A Subscription Identifier from a client is a Protocol Error [MQTT-3.3.4-6]; RETAIN 1 while
 * retain is not available is 0x9A [MQTT-3.2.2-14]; a QoS above the Maximum QoS the CONNACK
 * advertised is 0x9B [MQTT-3.2.2-11]. False when the client was closed.
 */
function checkClientPublish(connection: Connection, packet: PublishPacket): boolean {
  if (packet.properties?.subscriptionIdentifiers !== undefined) {
    connection.violation('subscription identifier in a PUBLISH from a client', ReasonCode.ProtocolError);
    return false;
  }
  if (packet.retain && !connection.core.options.retainAvailable) {
    // Retain Available 0 was advertised [MQTT-3.2.2-14]; 3.x clients, never told, are closed too.
    connection.violation('PUBLISH with RETAIN 1 while Retain Available is 0', ReasonCode.RetainNotSupported);
    return false;
  }
  const maxQoS = connection.core.options.maxQoS;
  if (connection.protocolVersion === 5 && packet.qos > maxQoS) {
    connection.violation(
      `PUBLISH at QoS ${packet.qos} above the Maximum QoS ${maxQoS}`,
      ReasonCode.QoSNotSupported,
    );
    return false;
  }
  return true;
}

function settle(
  connection: Connection,
  packet: PublishPacket,
  message: RoutedMessage,
  allowed: boolean,
): Promise<void> | undefined {
  if (connection.state !== ConnectionState.Connected) return undefined;
  if (allowed) return accept(connection, packet, message);
  connection.core.logger.debug(
    { clientId: message.publisherId, topicName: message.topicName },
    'publish not authorized',
  );
  connection.core.drop(message, message.publisherId!, 'not-authorized');
  // 3.x has no negative PUBACK: the message is acknowledged and discarded, as Mosquitto does.
  acknowledge(connection, packet, ReasonCode.NotAuthorized, 'not authorized to publish to this topic');
  return undefined;
}

function accept(
  connection: Connection,
  packet: PublishPacket,
  message: RoutedMessage,
): Promise<void> | undefined {
  const session = connection.session!;
  const hold = connection.core.hooks.beforePublishAck;
  if (hold !== undefined) return acceptHeld(connection, packet, message, hold);
  if (packet.qos === 2) rememberQos2(connection, packet);
  const core = connection.core;
  const matched = core.route(message, session);
  if (core.fanOut !== undefined) {
    // Cluster: the other nodes this message went to may owe a confirmation before the ack.
    const confirmed = core.remoteConfirm;
    core.remoteConfirm = undefined;
    if (confirmed !== undefined) {
      acknowledge(connection, packet, ReasonCode.Success, undefined, confirmed);
      return undefined;
    }
  }
  // 5.0: tell the publisher nobody was subscribed [MQTT-3.4.2.1]; the message was still accepted.
  acknowledge(connection, packet, matched === 0 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success);
  return undefined;
}

function rememberQos2(connection: Connection, packet: PublishPacket): void {
  const session = connection.session!;
  session.inboundQos2.add(packet.packetId!);
  connection.core.persistence.addInboundQos2(session, packet.packetId!);
}

/**
 * `beforePublishAck` is set: route, then acknowledge once the hook's promise resolved. The QoS 2
 * packet id is remembered only then, so that a message re-sent after a refusal (or a crash
 * before the hook resolved) is routed again instead of being acknowledged as a duplicate.
 */
function acceptHeld(
  connection: Connection,
  packet: PublishPacket,
  message: RoutedMessage,
  hold: NonNullable<BrokerHooks['beforePublishAck']>,
): Promise<void> | undefined {
  const matched = connection.core.route(message, connection.session!);
  let held: Promise<void> | undefined;
  try {
    held = hold(connection.client!, message);
  } catch (error) {
    held = Promise.reject(error);
  }
  if (held === undefined) {
    if (packet.qos === 2) rememberQos2(connection, packet);
    acknowledge(connection, packet, matched === 0 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success);
    return undefined;
  }
  return held.then(
    () => {
      if (connection.state !== ConnectionState.Connected) return;
      if (packet.qos === 2) rememberQos2(connection, packet);
      // Held by the hook: someone took the message, whether or not a session subscribed.
      acknowledge(connection, packet, ReasonCode.Success);
    },
    (error: unknown) => refuseHeld(connection, packet, message, error),
  );
}

/** The hook refused: acknowledge nothing and close, so that the client sends the message again. */
function refuseHeld(connection: Connection, packet: PublishPacket, message: Message, error: unknown): void {
  const logger = connection.core.logger;
  if (packet.qos === 0) {
    logger.debug(
      { clientId: message.publisherId, topicName: message.topicName, err: error },
      'beforePublishAck refused a QoS 0 message',
    );
    return;
  }
  if (connection.state !== ConnectionState.Connected) return;
  logger.warn(
    { clientId: message.publisherId, topicName: message.topicName, err: error },
    'message not confirmed before its acknowledgement; closing the connection unacknowledged',
  );
  connection.close('publish-not-confirmed', ReasonCode.UnspecifiedError);
}

/**
 * PUBACK / PUBREC once what the message made the store write is durable; a refusal (5.0, 0x80
 * or more) says why in a Reason String when the client allows it (`withReasonString`).
 */
function acknowledge(
  connection: Connection,
  packet: PublishPacket,
  reasonCode: number,
  why?: string,
  confirmed?: PromiseLike<void>,
): void {
  if (packet.qos === 0) return;
  const ack: AckPacket = {
    type: packet.qos === 1 ? PacketType.Puback : PacketType.Pubrec,
    packetId: packet.packetId!,
    reasonCode: connection.protocolVersion === 5 ? reasonCode : 0,
    properties: undefined,
  };
  connection.ackDurably(
    why === undefined ? ack : withReasonString(connection, ack, why),
    undefined,
    confirmed,
  );
}
