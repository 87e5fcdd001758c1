import type { Properties } from '@mqtt-adapt/codec';
import type { Clock } from './clock.js';
import type { RoutedMessage } from './message.js';

/**
 * Whether `message` has outlived its 5.0 Message Expiry Interval (MQTT 5.0 §3.3.2.3.3). Its
 * clock starts at the first look: `route` looks at arrival; a message restored from the store
 * starts again at its first use after the restart (the store keeps no arrival time).
 */
export function isExpired(message: RoutedMessage, clock: Clock): boolean {
  const interval = message.properties?.messageExpiryInterval;
  // Most messages have no expiry: no clock read for them (this runs per delivery).
  if (interval === undefined) return false;
  const now = clock.now();
  if (message.expiresAt === 0) message.expiresAt = now + interval * 1000;
  return now > message.expiresAt;
}

/**
 * The 5.0 properties to send `message` with now: the Message Expiry Interval left (the
 * interval forwarded is what remains [MQTT-3.3.2-6]) and this subscriber's Subscription
 * Identifiers. The message's own object when neither changes, so shared bytes stay shared.
 */
export function publishProperties(
  message: RoutedMessage,
  subscriptionIdentifiers: number[] | undefined,
  clock: Clock,
): Properties | undefined {
  let properties = message.properties;
  const interval = properties?.messageExpiryInterval;
  if (interval !== undefined && message.expiresAt !== 0) {
    const remaining = Math.max(0, Math.ceil((message.expiresAt - clock.now()) / 1000));
    if (remaining < interval) properties = { ...properties, messageExpiryInterval: remaining };
  }
  if (subscriptionIdentifiers !== undefined) properties = { ...properties, subscriptionIdentifiers };
  return properties;
}
