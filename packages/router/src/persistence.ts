import { filterLevelsMatch, parseSharedFilter } from '@mqtt-adapt/topic';
import { forwardedProperties } from './forwarded-properties.js';
import type { RoutedMessage } from './message.js';
import { createMessage } from './message.js';
import type { InflightMessage, QueuedMessage, Session, SubscriptionOptions } from './session.js';
import { NEVER_EXPIRES } from './session-expiry.js';
import type { SessionRecord, SessionSnapshot, Store, StoreSnapshot } from './store.js';

/**
 * What the router writes to its `Store`, in one place. Only persistent sessions are stored;
 * every method is a no-op for the others. Writes are batched by the store; callers that owe
 * an acknowledgement wait for `store.flush()`.
 */
export class Persistence {
  private lastMessageId = 0;

  constructor(readonly store: Store) {}

  /** Restores message id allocation from the snapshot. */
  resume(snapshot: StoreSnapshot): void {
    this.lastMessageId = snapshot.maxMessageId;
  }

  saveSession(session: Session): void {
    if (!session.persistent) return;
    this.store.saveSession({
      clientId: session.clientId,
      protocolVersion: session.protocolVersion,
      sessionExpiryInterval: session.expiryInterval === NEVER_EXPIRES ? undefined : session.expiryInterval,
      expiresAt: session.expiresAt,
      username: session.client?.username,
    });
  }

  deleteSession(session: Session): void {
    if (!session.persistent) return;
    this.store.deleteSession(session.clientId);
    // The stored deliveries went with the session: release their message bodies.
    for (const entry of session.inflight.values()) this.unref(entry.message);
    for (const entry of session.queue) this.unref(entry.message);
  }

  saveSubscription(session: Session, topicFilter: string, options: SubscriptionOptions): void {
    if (session.persistent) this.store.saveSubscription(session.clientId, topicFilter, options);
  }

  deleteSubscription(session: Session, topicFilter: string): void {
    if (session.persistent) this.store.deleteSubscription(session.clientId, topicFilter);
  }

  /** Stores a new delivery for `session`; returns its `seq` (0 when the session is not stored). */
  saveDelivery(
    session: Session,
    message: RoutedMessage,
    qos: 1 | 2,
    retain: boolean,
    packetId?: number,
  ): number {
    if (!session.persistent) return 0;
    if (message.storeId === 0) {
      message.storeId = ++this.lastMessageId;
      this.store.saveMessage({
        id: message.storeId,
        topicName: message.topicName,
        payload: message.payload,
        qos: message.qos,
        retain: message.retain,
        properties: message.properties,
      });
    }
    message.storeRefs++;
    const seq = session.nextSeq++;
    this.store.saveDelivery(session.clientId, {
      seq,
      messageId: message.storeId,
      qos,
      retain,
      packetId,
      released: false,
    });
    return seq;
  }

  /** A queued delivery was sent with `packetId`, or (QoS 2) its PUBREC arrived. */
  updateDelivery(session: Session, entry: InflightMessage): void {
    if (entry.seq !== 0 && session.persistent)
      this.store.updateDelivery(session.clientId, entry.seq, entry.packetId, entry.released);
  }

  /** The delivery is complete (acknowledged) or dropped. */
  deleteDelivery(session: Session, entry: QueuedMessage): void {
    // A session dropped for another owner writes nothing, not even a body's deletion: its rows
    // may still refer to it (the new owner's store decides).
    if (entry.seq === 0 || !session.persistent) return;
    this.store.deleteDelivery(session.clientId, entry.seq);
    this.unref(entry.message);
  }

  addInboundQos2(session: Session, packetId: number): void {
    if (session.persistent) this.store.addInboundQos2(session.clientId, packetId);
  }

  deleteInboundQos2(session: Session, packetId: number): void {
    if (session.persistent) this.store.deleteInboundQos2(session.clientId, packetId);
  }

  saveRetained(message: RoutedMessage): void {
    if (message.payload.length === 0) this.store.deleteRetained(message.topicName);
    else {
      this.store.saveRetained({
        topicName: message.topicName,
        payload: message.payload,
        qos: message.qos,
        properties: message.properties,
      });
    }
  }

  private unref(message: RoutedMessage): void {
    if (message.storeId === 0) return;
    message.storeRefs--;
    if (message.storeRefs === 0) {
      this.store.deleteMessage(message.storeId);
      message.storeId = 0;
    }
  }
}

/** Rebuilds an offline session from its snapshot; shared messages stay one object. */
export function restoreSession(
  snapshot: SessionSnapshot,
  messages: Map<number, RoutedMessage>,
  createSession: (record: SessionRecord) => Session,
): Session {
  const session = createSession(snapshot.session);
  for (const { topicFilter, options } of snapshot.subscriptions)
    session.subscriptions.set(topicFilter, options);
  const identifiersOf = restoredIdentifiers(session);
  for (const delivery of snapshot.deliveries) {
    const stored = delivery.message;
    let message = messages.get(stored.id);
    if (message === undefined) {
      message = createMessage(
        stored.topicName,
        stored.payload,
        stored.qos,
        stored.retain,
        // Filtered again: a store written by an older version may hold will-only properties.
        forwardedProperties(stored.properties),
        undefined,
      );
      message.storeId = stored.id;
      messages.set(stored.id, message);
    }
    message.storeRefs++;
    const entry = {
      message,
      qos: delivery.qos,
      retain: delivery.retain,
      seq: delivery.seq,
      subscriptionIdentifiers: identifiersOf(message.topicName),
      sharedFilter: undefined,
    };
    if (delivery.packetId !== undefined) {
      session.inflight.set(delivery.packetId, {
        ...entry,
        packetId: delivery.packetId,
        released: delivery.released,
      });
    } else {
      session.queue.push(entry);
    }
    if (delivery.seq >= session.nextSeq) session.nextSeq = delivery.seq + 1;
  }
  for (const packetId of snapshot.inboundQos2) session.inboundQos2.add(packetId);
  return session;
}

/**
 * The store keeps no Subscription Identifiers per delivery: a restored delivery gets those of the
 * session's subscriptions that match its topic now [MQTT-3.3.4-3], which are the ones it matched
 * unless the client resubscribed with other identifiers. One answer per topic.
 */
function restoredIdentifiers(session: Session): (topicName: string) => number[] | undefined {
  const withIds: Array<{ levels: string[]; id: number }> = [];
  for (const [topicFilter, options] of session.subscriptions) {
    if (options.subscriptionIdentifier === undefined) continue;
    const filter = parseSharedFilter(topicFilter)?.topicFilter ?? topicFilter;
    withIds.push({ levels: filter.split('/'), id: options.subscriptionIdentifier });
  }
  if (withIds.length === 0) return () => undefined;
  const byTopic = new Map<string, number[] | undefined>();
  return (topicName) => {
    if (byTopic.has(topicName)) return byTopic.get(topicName);
    const ids = withIds.filter((s) => filterLevelsMatch(s.levels, topicName)).map((s) => s.id);
    const result = ids.length === 0 ? undefined : ids;
    byTopic.set(topicName, result);
    return result;
  };
}
