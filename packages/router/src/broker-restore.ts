import { isValidTopicFilter } from '@mqtt-adapt/topic';
import type { BrokerCore } from './broker-core.js';
import { epochNow } from './clock.js';
import { forwardedProperties } from './forwarded-properties.js';
import { createMessage, type RoutedMessage } from './message.js';
import { restoreSession } from './persistence.js';
import { Session, type SubscriptionOptions } from './session.js';
import { NEVER_EXPIRES } from './session-expiry.js';
import type { SessionRecord, SessionSnapshot, StoreSnapshot } from './store.js';

/**
 * Rebuilds the broker's state from a store snapshot at `open()`: sessions (offline, with their
 * queues, subscriptions and expiry) and retained messages. Sessions that ended while the broker
 * was down are removed, from the store too.
 */
export function restoreBroker(core: BrokerCore, snapshot: StoreSnapshot): void {
  core.persistence.resume(snapshot);
  const messages = new Map<number, RoutedMessage>();
  const ended: Session[] = [];
  for (const sessionSnapshot of snapshot.sessions) {
    const session = restoreOne(core, sessionSnapshot, messages);
    if (!resumeExpiry(core, session, sessionSnapshot.session)) ended.push(session);
  }
  // Removed with their queued messages once every message body is restored and counted.
  for (const session of ended) core.endSession(session);
  if (ended.length > 0)
    core.logger.info({ sessions: ended.length }, 'expired sessions removed from the store');
  for (const record of snapshot.retained) {
    // Kept even past the retained limits (lowered since they were stored): new ones wait for room.
    core.setRetained(
      // Stores written before properties were filtered may hold will-only ones: filter again.
      createMessage(
        record.topicName,
        record.payload,
        record.qos,
        true,
        forwardedProperties(record.properties),
        undefined,
      ),
    );
  }
}

/**
 * Installs one stored session as an offline session of this broker, as `open()` restores one:
 * what a `SessionOwnershipHook` claimed at CONNECT. It ends at once (removed from the store)
 * when its expiry passed.
 */
export function installSession(core: BrokerCore, sessionSnapshot: SessionSnapshot): void {
  const session = restoreOne(core, sessionSnapshot, new Map());
  if (!resumeExpiry(core, session, sessionSnapshot.session)) core.endSession(session);
}

/** Rebuilds one session, offline, with its subscriptions in the index. */
function restoreOne(
  core: BrokerCore,
  sessionSnapshot: SessionSnapshot,
  messages: Map<number, RoutedMessage>,
): Session {
  const record = sessionSnapshot.session;
  const expiryInterval = Math.min(
    record.sessionExpiryInterval ?? NEVER_EXPIRES,
    core.options.maxSessionExpirySeconds,
  );
  const session = restoreSession(
    sessionSnapshot,
    messages,
    () => new Session(record.clientId, true, record.protocolVersion, expiryInterval),
  );
  session.client = {
    clientId: session.clientId,
    username: record.username,
    remoteAddress: '',
    protocolVersion: session.protocolVersion,
  };
  core.sessions.set(session.clientId, session);
  for (const [topicFilter, options] of session.subscriptions)
    restoreSubscription(core, session, topicFilter, options);
  return session;
}

/**
 * Restarts the expiry of a restored (offline) session; false when it has ended already: its
 * interval was 0 (it was online when the broker stopped) or its deadline passed meanwhile.
 * A session that was online when the broker stopped went offline now; a lowered
 * `maxSessionExpirySeconds` shortens a stored deadline.
 */
function resumeExpiry(core: BrokerCore, session: Session, record: SessionRecord): boolean {
  const interval = session.expiryInterval;
  if (interval === 0) return false;
  if (interval === NEVER_EXPIRES) return true;
  const now = epochNow(core.clock);
  const expiresAt = Math.min(record.expiresAt ?? Number.POSITIVE_INFINITY, now + interval * 1000);
  if (expiresAt <= now) return false;
  core.expiry.resume(session, expiresAt);
  if (expiresAt !== record.expiresAt) core.persistence.saveSession(session);
  return true;
}

/**
 * A stored subscription deeper than `maxTopicLevels` (lowered since it was stored) cannot
 * enter the trie: it is dropped, from the store too, with a warning, rather than failing open().
 */
function restoreSubscription(
  core: BrokerCore,
  session: Session,
  topicFilter: string,
  options: SubscriptionOptions,
): void {
  if (isValidTopicFilter(topicFilter, core.options.maxTopicLevels)) {
    core.subscriptions.add(topicFilter, session, options);
    return;
  }
  session.subscriptions.delete(topicFilter);
  core.persistence.deleteSubscription(session, topicFilter);
  core.logger.warn(
    { clientId: session.clientId, topicFilter, maxTopicLevels: core.options.maxTopicLevels },
    'stored subscription has more levels than maxTopicLevels; dropped',
  );
}
