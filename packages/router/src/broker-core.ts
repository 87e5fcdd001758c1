import type { QoS } from '@mqtt-adapt/codec';
import type { DeliverRemoteOptions } from './broker.js';
import { installSession, restoreBroker } from './broker-restore.js';
import type { BrokerStats } from './broker-stats.js';
import type { Clock } from './clock.js';
import { deliverClustered } from './clustered-delivery.js';
import { type Connection, ConnectionState } from './connection.js';
import { DelayedWills } from './delayed-wills.js';
import { DeliveryEncoder } from './delivery-encoder.js';
import type { FanOutHook } from './fan-out.js';
import { FlowControl } from './flow-control.js';
import type { BrokerHooks, DisconnectReason, DropReason } from './hooks.js';
import { DeadlineHeap } from './internal/deadline-heap.js';
import { DecoderPool } from './internal/decoder-pool.js';
import { EventHub } from './internal/event-hub.js';
import { SubscriptionIndex } from './internal/subscription-index.js';
import { Limits } from './limits.js';
import type { Logger } from './logger.js';
import { createMessage, type RoutedMessage } from './message.js';
import { isExpired, publishProperties } from './message-expiry.js';
import type { ResolvedBrokerOptions } from './options.js';
import { sendInflight } from './outbound.js';
import { encodeWithAlias } from './outbound-topic-aliases.js';
import { Persistence } from './persistence.js';
import { RetainedIndex } from './retained-index.js';
import type { InflightMessage, QueuedMessage, Session } from './session.js';
import { SessionExpiry } from './session-expiry.js';
import type { SessionOwnershipHook } from './session-ownership.js';
import { redistributeShared } from './shared-redelivery.js';
import { settleHeldShared } from './shared-settle.js';
import type { SessionSnapshot, StoreSnapshot } from './store.js';

/**
 * The broker's shared state and delivery logic, used by connections and handlers. Not part of
 * the public API: `Broker` is the facade.
 */
export class BrokerCore {
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  readonly subscriptions: SubscriptionIndex;
  readonly retained = new RetainedIndex<RoutedMessage>();
  readonly events: EventHub;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly hooks: BrokerHooks;
  /** `BrokerOptions.fanOut`: hears of every message routed here that did not come from it. */
  readonly fanOut: FanOutHook | undefined;
  /**
   * What `fanOut.routed` returned for the message routed last: the publish handler takes it
   * right after routing, so the acknowledgement waits for it.
   */
  remoteConfirm: PromiseLike<void> | undefined = undefined;
  /** `BrokerOptions.sessionOwnership`: claims a client id's session at CONNECT. */
  readonly sessionOwnership: SessionOwnershipHook | undefined;
  readonly persistence: Persistence;
  readonly counters = {
    messagesReceived: 0,
    messagesSent: 0,
    messagesDropped: 0,
    bytesReceived: 0,
    bytesSent: 0,
    internalErrors: 0,
  };
  readonly flow: FlowControl;
  readonly wills: DelayedWills;
  readonly expiry: SessionExpiry;
  readonly limits: Limits;
  /** Every connection's connect timeout or keepalive deadline, on one clock timer. */
  readonly deadlines: DeadlineHeap<Connection>;
  /** Decoders lent to connections per chunk: an idle connection holds none. */
  readonly decoders: DecoderPool;
  /** Bytes of partly received packets, summed over connections. */
  partialPacketBytes = 0;
  closing = false;

  constructor(readonly options: ResolvedBrokerOptions) {
    this.logger = options.logger;
    this.clock = options.clock;
    this.hooks = options.hooks;
    this.fanOut = options.fanOut;
    this.sessionOwnership = options.sessionOwnership;
    this.events = new EventHub(this.logger);
    this.persistence = new Persistence(options.store);
    this.flow = new FlowControl(options, this.logger);
    this.wills = new DelayedWills(this.clock, (will) => this.route(will, undefined));
    this.expiry = new SessionExpiry(this.clock, (session) => this.expireSession(session));
    this.limits = new Limits(options, this.logger);
    this.deadlines = new DeadlineHeap(this.clock);
    this.decoders = new DecoderPool(options.maxPacketSize, options.maxConnectPacketSize);
    this.subscriptions = new SubscriptionIndex(options.maxTopicLevels, options.fanOut);
  }

  /** Rebuilds sessions (offline), subscriptions and retained messages from the store. */
  restore(snapshot: StoreSnapshot): void {
    restoreBroker(this, snapshot);
  }

  /** A session a `SessionOwnershipHook` claimed, unless one is held here already (that one is newer). */
  installClaimed(snapshot: SessionSnapshot): void {
    if (!this.sessions.has(snapshot.session.clientId)) installSession(this, snapshot);
  }

  /**
   * Another broker owns `clientId` now: its connection here is closed (5.0: DISCONNECT
   * `reasonCode`) and its session forgotten without a write to the store. The will goes only when
   * its Will Delay Interval is 0: a delayed will waits for the client not to come back, and it
   * came back elsewhere. Message bodies stored for it are not released either (a write): with
   * a store that copies them at claim (store-pg) they stay as rows nobody refers to. False when
   * no session is held.
   */
  dropSession(clientId: string, reasonCode: number): boolean {
    const session = this.sessions.get(clientId);
    if (session === undefined) return false;
    // From here on, Persistence writes nothing for it: the store belongs to the new owner.
    session.persistent = false;
    this.wills.cancel(session);
    if (session.willDelayMs > 0) session.will = undefined;
    // Ends the session unless it lives on (expiry > 0): then it is ended just below.
    session.connection?.close('session-taken-over', reasonCode);
    if (this.sessions.get(clientId) === session) {
      this.wills.cancel(session);
      this.endSession(session);
    }
    this.logger.debug({ clientId }, 'session dropped: owned by another broker');
    return true;
  }

  /** An offline session's Session Expiry Interval passed: it ends, with what it held. */
  private expireSession(session: Session): void {
    if (session.connection !== undefined || this.sessions.get(session.clientId) !== session) return;
    this.logger.debug({ clientId: session.clientId }, 'session expired');
    this.endSession(session);
  }

  /** Stores, replaces or deletes a retained message, keeping `limits.retainedBytes` up to date. */
  setRetained(message: RoutedMessage): void {
    const previous = this.retained.set(message);
    this.limits.retainedBytes +=
      message.payload.length - (previous === undefined ? 0 : previous.payload.length);
  }

  /**
   * Routes one message: updates the retained index, then delivers once per matching session at
   * the highest granted QoS of its matching subscriptions [MQTT-3.3.5-1]. `origin` is the
   * connection a will came from, for the log line of a retained limit. Returns how many sessions
   * matched (before authorization): 0 means no matching subscribers (5.0 PUBACK 0x10).
   * `remote`: the message was routed by another node (`Broker.deliverRemote`): that node stored
   * it if retained, so here it only updates the retained index, and `fanOut` does not see it.
   * `remoteOptions`: see `DeliverRemoteOptions` (share groups not named there are skipped).
   */
  route(
    message: RoutedMessage,
    publisher: Session | undefined,
    origin?: Connection,
    remote?: boolean,
    remoteOptions?: DeliverRemoteOptions,
  ): number {
    this.counters.messagesReceived++;
    // Its expiry clock starts now, at arrival.
    isExpired(message, this.clock);
    if (message.retain) {
      if (remote === true) this.setRetained(message);
      else this.retain(message, publisher?.connection ?? origin);
    }
    const encoder = new DeliveryEncoder(message);
    const merger = this.subscriptions.collect(message.topicName, publisher);
    // The publishing connection, paused by flow control when a subscriber's queue is full.
    const source = publisher?.connection;
    const count = merger.length;
    try {
      // Cluster mode takes its own loop (share groups across brokers, re-sends to some sessions):
      // the single-broker loop stays as small as it was, for the JIT.
      if (remote === true || this.fanOut?.sharedHere !== undefined) {
        deliverClustered(this, merger, message, encoder, source, remote === true, remoteOptions);
      } else {
        const checkRead = this.hooks.authorizeRead !== undefined;
        const deliveries = merger.deliveries;
        let i = 0;
        // One try around the loop, re-entered after a failure: no per-delivery cost.
        while (i < count) {
          try {
            for (; i < count; i++) {
              const delivery = deliveries[i]!;
              if (checkRead && !this.mayRead(delivery.subscriber, message.topicName)) continue;
              const qos = Math.min(message.qos, delivery.qos) as QoS;
              // Forwarded copies carry RETAIN 0 [MQTT-3.3.1-9] unless 5.0 Retain As Published asks otherwise.
              const retain = delivery.retainAsPublished ? message.retain : false;
              const ids = delivery.subscriptionIdentifiers;
              const shared =
                delivery.shareGroup === undefined ? undefined : delivery.subscription.topicFilter;
              this.deliver(delivery.subscriber, message, qos, retain, encoder, source, ids, shared);
            }
          } catch (error) {
            this.deliveryFailed(deliveries[i]!.subscriber, error);
            i++;
          }
        }
      }
    } finally {
      this.subscriptions.release(merger);
    }
    if (this.fanOut !== undefined && remote !== true)
      this.remoteConfirm = this.fanOut.routed(message) ?? undefined;
    if (this.events.has('messagePublished')) this.events.emit('messagePublished', message);
    return count;
  }

  /**
   * A retained message whose Message Expiry Interval ran out is removed (index and store) the
   * first time a subscribe finds it [MQTT-3.3.2-5]. True when `message` was expired.
   */
  expireRetained(message: RoutedMessage): boolean {
    if (!isExpired(message, this.clock)) return false;
    if (this.retained.get(message.topicName) === message) {
      const removal = createMessage(message.topicName, Buffer.alloc(0), 0, true, undefined, undefined);
      this.setRetained(removal);
      this.persistence.saveRetained(removal);
    }
    return true;
  }

  /** Retains `message` unless a retained limit says no (it is delivered all the same). */
  private retain(message: RoutedMessage, origin: Connection | undefined): void {
    if (this.limits.isRetainLimited) {
      const blockedBy = this.limits.retainBlockedBy(message, this.retained);
      if (blockedBy !== undefined) {
        this.limits.hit(blockedBy, origin, message.publisherId, {
          topicName: message.topicName,
          payloadBytes: message.payload.length,
        });
        return;
      }
    }
    this.setRetained(message);
    this.persistence.saveRetained(message);
  }

  /**
   * Hands one message to one session: written now, queued, or (QoS 0 to a slow or offline
   * session, offline queue full) dropped and counted. Never dropped while the session is online:
   * a full queue pauses `source`, the publishing connection, instead.
   */
  deliver(
    session: Session,
    message: RoutedMessage,
    qos: QoS,
    retain: boolean,
    encoder?: DeliveryEncoder,
    source?: Connection,
    subscriptionIdentifiers?: number[],
    sharedFilter?: string,
  ): void {
    const connection = session.connection;
    const online = connection !== undefined && connection.state === ConnectionState.Connected;
    // Never delivered once expired (a retained message sent on subscribe, say) [MQTT-3.3.2-5].
    if (isExpired(message, this.clock)) {
      this.drop(message, session.clientId, 'expired');
      return;
    }
    if (qos === 0) {
      if (!online) return; // QoS 0 is not kept for offline sessions.
      if (connection.congested) {
        this.drop(message, session.clientId, 'slow-consumer');
        return;
      }
      const version = connection.protocolVersion;
      // Identifiers or a shortened expiry make a 5.0 PUBLISH this subscriber's own bytes.
      const properties =
        version === 5 ? publishProperties(message, subscriptionIdentifiers, this.clock) : undefined;
      const aliases = connection.outboundTopicAliases; // undefined for most: shared bytes
      const shared = properties === message.properties || version !== 5;
      const bytes =
        aliases !== undefined
          ? encodeWithAlias(
              aliases,
              connection.maxOutgoingPacketSize,
              message,
              0,
              retain,
              undefined,
              properties,
              shared ? (encoder ?? new DeliveryEncoder(message)) : undefined,
            )
          : !shared
            ? DeliveryEncoder.withPacketId(message, 5, 0, retain, undefined, false, properties)
            : (encoder ?? new DeliveryEncoder(message)).qos0(version, retain);
      if (bytes.length > connection.maxOutgoingPacketSize) {
        this.drop(message, session.clientId, 'packet-too-large'); // [MQTT-3.1.2-25]
        return;
      }
      connection.write(bytes);
      this.counters.messagesSent++;
      return;
    }
    if (!online) {
      this.queueOffline(session, message, qos, retain, subscriptionIdentifiers, sharedFilter, source);
      return;
    }
    if (
      !connection.congested &&
      session.queueLength === 0 &&
      session.inflightCount < connection.inflightLimit
    ) {
      const packetId = session.allocatePacketId();
      const seq = this.persistence.saveDelivery(session, message, qos, retain, packetId);
      const entry = {
        message,
        qos,
        retain,
        seq,
        subscriptionIdentifiers,
        sharedFilter,
        packetId,
        released: false,
      };
      sendInflight(this, session, connection, entry);
      return;
    }
    const seq = this.persistence.saveDelivery(session, message, qos, retain);
    this.flow.enqueue(session, { message, qos, retain, seq, subscriptionIdentifiers, sharedFilter }, source);
  }

  /** The `authorizeRead` hook's answer for one delivery; a throw denies (logged). */
  mayRead(session: Session, topicName: string): boolean {
    const authorizeRead = this.hooks.authorizeRead;
    if (authorizeRead === undefined) return true;
    try {
      return authorizeRead(session.client!, topicName) === true;
    } catch (error) {
      this.logger.error({ clientId: session.clientId, topicName, err: error }, 'authorizeRead hook failed');
      return false;
    }
  }

  /**
   * Offline: the oldest queued message makes room, so a returning client gets the newest data.
   * A lossless session drops nothing: at the mark it holds `source` as an online one does.
   */
  private queueOffline(
    session: Session,
    message: RoutedMessage,
    qos: 1 | 2,
    retain: boolean,
    subscriptionIdentifiers: number[] | undefined,
    sharedFilter: string | undefined,
    source: Connection | undefined,
  ): void {
    const lossless = session.lossless;
    if (!lossless && session.queue.length >= this.options.maxQueuedMessages) this.dropOldest(session);
    const seq = this.persistence.saveDelivery(session, message, qos, retain);
    const entry = { message, qos, retain, seq, subscriptionIdentifiers, sharedFilter };
    if (lossless) this.flow.enqueue(session, entry, source);
    else session.queue.push(entry);
  }

  private dropOldest(session: Session): void {
    const dropped = this.flow.shift(session)!;
    this.persistence.deleteDelivery(session, dropped);
    this.drop(dropped.message, session.clientId, 'queue-full');
    if (!session.offlineDropLogged) {
      session.offlineDropLogged = true;
      this.logger.warn(
        { clientId: session.clientId, maxQueuedMessages: this.options.maxQueuedMessages },
        'offline session queue full: dropping its oldest messages (logged once per session)',
      );
    }
  }

  /** An exception while delivering to one session closes that session's connection only. */
  deliveryFailed(session: Session, error: unknown): void {
    const connection = session.connection;
    if (connection !== undefined && !connection.isClosed()) {
      connection.failed(error);
      return;
    }
    this.counters.internalErrors++;
    this.logger.error(
      { clientId: session.clientId, err: error },
      'internal error while delivering a message',
    );
  }

  /** Moves queued messages into the in-flight window while the client can take them. */
  pump(session: Session): void {
    const connection = session.connection;
    if (connection === undefined || connection.state !== ConnectionState.Connected) return;
    while (
      !connection.congested &&
      session.queueLength > 0 &&
      session.inflightCount < connection.inflightLimit
    ) {
      const queued = this.flow.shift(session)!;
      if (isExpired(queued.message, this.clock)) {
        // Expired while queued: onward delivery never started, so it is deleted [MQTT-3.3.2-5].
        this.persistence.deleteDelivery(session, queued);
        this.drop(queued.message, session.clientId, 'expired');
        continue;
      }
      const entry: InflightMessage = { ...queued, packetId: session.allocatePacketId(), released: false };
      this.persistence.updateDelivery(session, entry);
      sendInflight(this, session, connection, entry);
    }
    this.flow.drained(session);
  }

  /** An outbound QoS 1 (PUBACK) or QoS 2 (PUBCOMP) delivery is complete. */
  completeDelivery(session: Session, entry: InflightMessage): void {
    if (entry.sharedFilter !== undefined) entry.message.sharedSettled?.(entry.sharedFilter, 'delivered');
    session.inflight.delete(entry.packetId);
    this.persistence.deleteDelivery(session, entry);
    this.flow.progress(session);
    this.pump(session);
  }

  drop(message: RoutedMessage, clientId: string, reason: DropReason): void {
    this.counters.messagesDropped++;
    if (this.events.has('messageDropped')) this.events.emit('messageDropped', message, clientId, reason);
  }

  /** The session's connection got its CONNACK: deliveries go to it from now on. */
  sessionConnected(session: Session, connection: Connection): void {
    session.connection = connection;
    this.flow.sessionOnline(session, connection.isLossless);
  }

  /** Called by a connection once it is closed, whatever the reason. */
  connectionClosed(connection: Connection, reason: DisconnectReason, wasConnected: boolean): void {
    this.connections.delete(connection);
    this.flow.connectionClosed(connection);
    const session = connection.session;
    if (session === undefined || session.connection !== connection) return;
    session.connection = undefined;
    this.flow.sessionOffline(session);
    // Unacknowledged messages of shared subscriptions go to another member of their group.
    redistributeShared(this, session);
    const livesOn = session.expiryInterval > 0;
    // What stays with a session that lives on is kept; one that ends settles it as lost.
    if (livesOn) settleHeldShared(session, 'delivered');
    // Offline, a session keeps at most maxQueuedMessages: the oldest go first (lossless: none).
    if (livesOn && !session.lossless) {
      while (session.queueLength > this.options.maxQueuedMessages) this.dropOldest(session);
    }
    const will = session.will;
    session.will = undefined;
    if (livesOn) {
      this.expiry.start(session);
      // Its deadline is stored, so it holds across a restart.
      if (session.expiresAt !== undefined) this.persistence.saveSession(session);
    } else {
      this.endSession(session);
    }
    // A clean DISCONNECT has already discarded the will; any other close publishes it, after
    // its 5.0 Will Delay Interval if the session lives on.
    if (will !== undefined && livesOn && session.willDelayMs > 0) {
      this.wills.schedule(session, will, session.willDelayMs);
    } else if (will !== undefined) {
      this.route(will, undefined, connection);
    }
    if (wasConnected && connection.client !== undefined) {
      this.events.emit('clientDisconnected', connection.client, reason);
    }
  }

  /** Removes a session and its subscriptions for good (and from the store). */
  endSession(session: Session): void {
    this.expiry.cancel(session);
    this.wills.sessionEnded(session);
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    const subscriptions = session.subscriptionsIfAny; // none allocated: nothing to remove
    if (subscriptions !== undefined)
      for (const topicFilter of subscriptions.keys()) this.subscriptions.remove(topicFilter, session);
    this.flow.sessionEnded(session);
    this.persistence.deleteSession(session);
    settleHeldShared(session, 'lost');
    session.releaseCollections();
  }

  stats(): BrokerStats {
    return {
      connections: this.connections.size,
      sessions: this.sessions.size,
      subscriptions: this.subscriptions.size,
      retainedMessages: this.retained.size,
      ...this.counters,
      queuedBytes: this.flow.queuedBytes,
      partialPacketBytes: this.partialPacketBytes,
      ...this.flow.counters,
      retainedBytes: this.limits.retainedBytes,
      limitHits: { ...this.limits.hits },
    };
  }
}

export type { QueuedMessage, Session };
