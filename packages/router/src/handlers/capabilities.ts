import { type Properties, ReasonCode, type SubscribePacket } from '@mqtt-adapt/codec';
import type { Connection } from '../connection.js';
import type { ResolvedBrokerOptions } from '../options.js';

/** Absent from CONNACK, a Receive Maximum means this [MQTT 5.0 §3.2.2.3.3]. */
const PROTOCOL_RECEIVE_MAXIMUM = 65_535;

/**
 * Adds to a 5.0 CONNACK's properties the broker's Receive Maximum (when below 65535) and each
 * of Retain / Wildcard Subscription / Subscription Identifiers / Shared Subscription Available
 * that is off (absent means available, MQTT 5.0 §3.2.2.3.5, .11-.13). True when it added one.
 */
export function addCapabilityProperties(options: ResolvedBrokerOptions, properties: Properties): boolean {
  let any = false;
  if (options.receiveMaximum < PROTOCOL_RECEIVE_MAXIMUM) {
    properties.receiveMaximum = options.receiveMaximum;
    any = true;
  }
  if (!options.retainAvailable) {
    properties.retainAvailable = 0;
    any = true;
  }
  if (!options.wildcardSubscriptionAvailable) {
    properties.wildcardSubscriptionAvailable = 0;
    any = true;
  }
  if (!options.subscriptionIdentifiersAvailable) {
    properties.subscriptionIdentifiersAvailable = 0;
    any = true;
  }
  if (!options.sharedSubscriptionAvailable) {
    properties.sharedSubscriptionAvailable = 0;
    any = true;
  }
  return any;
}

export function isSharedFilter(topicFilter: string): boolean {
  return topicFilter.startsWith('$share/');
}

/** `+` or `#` anywhere: in a valid filter they are whole levels (a share name has neither). */
export function isWildcardFilter(topicFilter: string): boolean {
  return topicFilter.includes('+') || topicFilter.includes('#');
}

/**
 * A 5.0 SUBSCRIBE asking for what the CONNACK said is not available is a Protocol Error with
 * its own DISCONNECT reason code (MQTT 5.0 §3.2.2.3.11-.13): 0xA1 for a Subscription
 * Identifier, 0x9E for a shared and 0xA2 for a wildcard filter. Closes the connection and
 * returns false then. 3.x clients were told nothing: their filters are refused one by one
 * (`unavailableFilter`).
 */
export function checkSubscribeCapabilities(connection: Connection, packet: SubscribePacket): boolean {
  if (connection.protocolVersion !== 5) return true;
  const options = connection.core.options;
  if (!options.subscriptionIdentifiersAvailable && packet.properties?.subscriptionIdentifiers !== undefined) {
    connection.violation(
      'Subscription Identifier while Subscription Identifiers Available is 0',
      ReasonCode.SubscriptionIdentifiersNotSupported,
    );
    return false;
  }
  if (options.sharedSubscriptionAvailable && options.wildcardSubscriptionAvailable) return true;
  for (const subscription of packet.subscriptions) {
    const refusal = unavailableFilter(options, subscription.topicFilter);
    if (refusal !== undefined) {
      connection.violation(`${refusal.why}: "${preview(subscription.topicFilter)}"`, refusal.reasonCode);
      return false;
    }
  }
  return true;
}

/** Why `topicFilter` asks for a kind of subscription that is switched off, or undefined. */
export function unavailableFilter(
  options: ResolvedBrokerOptions,
  topicFilter: string,
): { reasonCode: number; why: string } | undefined {
  if (!options.sharedSubscriptionAvailable && isSharedFilter(topicFilter)) {
    return {
      reasonCode: ReasonCode.SharedSubscriptionsNotSupported,
      why: 'shared subscription while Shared Subscription Available is 0',
    };
  }
  if (!options.wildcardSubscriptionAvailable && isWildcardFilter(topicFilter)) {
    return {
      reasonCode: ReasonCode.WildcardSubscriptionsNotSupported,
      why: 'wildcard subscription while Wildcard Subscription Available is 0',
    };
  }
  return undefined;
}

function preview(topic: string): string {
  return topic.length > 100 ? `${topic.slice(0, 100)}...` : topic;
}
