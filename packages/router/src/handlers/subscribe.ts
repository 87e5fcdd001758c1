import {
  PacketType,
  type QoS,
  ReasonCode,
  type SubackPacket,
  type SubscribePacket,
  type Subscription,
} from '@mqtt-adapt/codec';
import { SubackRefusals, withReasonString } from '../ack-reasons.js';
import { type Connection, ConnectionState } from '../connection.js';
import type { SubscriptionOptions } from '../session.js';
import { checkSubscribeCapabilities, unavailableFilter } from './capabilities.js';
import { isTopicFilterAllowed } from './topic-limits.js';

/**
 * The hook's answer for one filter; `invalid` when the filter itself is not valid, `unavailable`
 * when it asks for a kind of subscription that is switched off (3.x only).
 */
type Verdict = boolean | QoS | 'invalid' | 'unavailable';

/**
 * SUBSCRIBE: one return code per filter, in order [MQTT-3.8.4-5]; an invalid or refused
 * filter gets 0x80 and the others still apply. Retained messages matching each granted filter
 * follow the SUBACK [MQTT-3.3.1-6], also when the subscription replaced one [MQTT-3.8.4-3].
 */
export function handleSubscribe(connection: Connection, packet: SubscribePacket): Promise<void> | undefined {
  if (connection.state !== ConnectionState.Connected) return undefined;
  for (const subscription of packet.subscriptions) {
    if (subscription.noLocal && subscription.topicFilter.startsWith('$share/')) {
      connection.violation('No Local on a shared subscription [MQTT-3.8.3-4]', ReasonCode.ProtocolError);
      return undefined;
    }
  }
  // Asking a 5.0 broker for what its CONNACK said is not available: DISCONNECT (0xA1, 0x9E, 0xA2).
  if (!checkSubscribeCapabilities(connection, packet)) return undefined;
  const options = connection.core.options;
  const authorize = connection.core.hooks.authorizeSubscribe;
  const verdicts: Array<Verdict | Promise<Verdict>> = [];
  let async = false;
  for (const subscription of packet.subscriptions) {
    if (!isTopicFilterAllowed(connection, subscription.topicFilter)) {
      verdicts.push('invalid');
      continue;
    }
    if (unavailableFilter(options, subscription.topicFilter) !== undefined) {
      // Only a 3.x client gets here (5.0 was disconnected above): SUBACK 0x80 for this filter.
      verdicts.push('unavailable');
      continue;
    }
    if (authorize === undefined) {
      verdicts.push(true);
      continue;
    }
    try {
      const verdict = authorize(connection.client!, subscription.topicFilter, subscription.qos);
      if (verdict instanceof Promise) async = true;
      verdicts.push(verdict);
    } catch (error) {
      connection.core.logger.error({ err: error }, 'authorizeSubscribe hook failed');
      verdicts.push(false);
    }
  }
  if (!async) {
    apply(connection, packet, verdicts as Verdict[]);
    return undefined;
  }
  const settled = verdicts.map((verdict) =>
    Promise.resolve(verdict).catch((error: unknown) => {
      connection.core.logger.error({ err: error }, 'authorizeSubscribe hook failed');
      return false;
    }),
  );
  return Promise.all(settled).then((answers) => apply(connection, packet, answers));
}

function grantedQos(connection: Connection, subscription: Subscription, verdict: Verdict): QoS | undefined {
  if (verdict === false || verdict === 'invalid' || verdict === 'unavailable') return undefined;
  let qos = subscription.qos;
  if (qos > connection.core.options.maxQoS) qos = connection.core.options.maxQoS;
  if (verdict !== true && verdict < qos) qos = verdict;
  return qos;
}

function apply(connection: Connection, packet: SubscribePacket, verdicts: Verdict[]): void {
  if (connection.state !== ConnectionState.Connected) return;
  const core = connection.core;
  const session = connection.session!;
  const reasonCodes: number[] = [];
  const granted: Array<{ subscription: Subscription; qos: QoS; isNew: boolean }> = [];
  const subscriptionIdentifier = packet.properties?.subscriptionIdentifiers?.[0];
  let refusals: SubackRefusals | undefined;
  packet.subscriptions.forEach((subscription, index) => {
    const verdict = verdicts[index] as Verdict;
    const qos = grantedQos(connection, subscription, verdict);
    if (qos === undefined) {
      const invalid = verdict === 'invalid';
      reasonCodes.push(
        connection.protocolVersion !== 5
          ? 0x80
          : invalid
            ? ReasonCode.TopicFilterInvalid
            : ReasonCode.NotAuthorized,
      );
      refusals ??= new SubackRefusals();
      refusals.add(index, invalid ? 'topic filter invalid' : 'not authorized');
      return;
    }
    const isNew = !session.subscriptions.has(subscription.topicFilter);
    if (isNew && session.subscriptions.size >= core.options.maxSubscriptionsPerSession) {
      core.logger.debug(
        { clientId: session.clientId, topicFilter: subscription.topicFilter },
        'subscription refused: maxSubscriptionsPerSession reached',
      );
      reasonCodes.push(connection.protocolVersion === 5 ? ReasonCode.QuotaExceeded : 0x80);
      refusals ??= new SubackRefusals();
      refusals.add(index, `maxSubscriptionsPerSession ${core.options.maxSubscriptionsPerSession} reached`);
      return;
    }
    const options: SubscriptionOptions = {
      qos,
      noLocal: subscription.noLocal,
      retainAsPublished: subscription.retainAsPublished,
      retainHandling: subscription.retainHandling,
      subscriptionIdentifier,
    };
    session.subscriptions.set(subscription.topicFilter, options);
    core.subscriptions.add(subscription.topicFilter, session, options);
    core.persistence.saveSubscription(session, subscription.topicFilter, options);
    reasonCodes.push(qos);
    granted.push({ subscription, qos, isNew });
  });
  const suback: SubackPacket = {
    type: PacketType.Suback,
    packetId: packet.packetId,
    reasonCodes,
    properties: undefined,
  };
  // Retained messages follow the SUBACK, so they wait for it.
  connection.ackDurably(
    refusals === undefined ? suback : withReasonString(connection, suback, refusals.toString()),
    () => {
      for (const { subscription, qos, isNew } of granted) {
        core.events.emit('subscribed', connection.client!, subscription.topicFilter, qos);
        sendRetained(connection, subscription, qos, isNew);
      }
    },
  );
}

function sendRetained(connection: Connection, subscription: Subscription, qos: QoS, isNew: boolean): void {
  // Shared subscriptions never get retained messages (MQTT 5.0 §4.8.2).
  if (subscription.topicFilter.startsWith('$share/')) return;
  if (subscription.retainHandling === 2 || (subscription.retainHandling === 1 && !isNew)) return;
  const core = connection.core;
  const session = connection.session!;
  // The subscription's own identifier goes with what it brings [MQTT-3.3.4-3].
  const identifier = session.subscriptions.get(subscription.topicFilter)?.subscriptionIdentifier;
  const identifiers = identifier === undefined ? undefined : [identifier];
  for (const message of core.retained.match(subscription.topicFilter)) {
    if (core.expireRetained(message) || !core.mayRead(session, message.topicName)) continue;
    // Sent because of a new subscription: RETAIN 1 [MQTT-3.3.1-8].
    const deliveredQos = (message.qos < qos ? message.qos : qos) as QoS;
    core.deliver(session, message, deliveredQos, true, undefined, undefined, identifiers);
  }
}
