import type { QoS, RetainHandling } from '@mqtt-adapt/codec';
import type { TimerHandle } from './clock.js';
import type { Connection } from './connection.js';
import type { DelayedWill } from './delayed-wills.js';
import type { ClientInfo } from './hooks.js';
import { RingQueue } from './internal/bounded-queue.js';
import type { RoutedMessage } from './message.js';

/** Options of one subscription as granted. */
export interface SubscriptionOptions {
  qos: QoS;
  /** MQTT 5.0: do not deliver the subscriber's own publishes. */
  noLocal: boolean;
  /** MQTT 5.0: keep the RETAIN flag as published when forwarding. */
  retainAsPublished: boolean;
  retainHandling: RetainHandling;
  /** MQTT 5.0 Subscription Identifier, if the SUBSCRIBE carried one. */
  subscriptionIdentifier: number | undefined;
}

/** A QoS 1/2 message waiting behind the in-flight window or while its session is offline. */
export interface QueuedMessage {
  readonly message: RoutedMessage;
  readonly qos: 1 | 2;
  readonly retain: boolean;
  /** Position in the session's stored queue; 0 when the session is not stored. */
  readonly seq: number;
  /**
   * 5.0 Subscription Identifiers of the subscriptions that matched (sent with the PUBLISH);
   * `undefined` when none carried one. Not stored: after a restart they are those of the
   * session's subscriptions that match the topic then (see `restoreSession`).
   */
  readonly subscriptionIdentifiers: number[] | undefined;
  /**
   * The `$share/{group}/{filter}` this message came through, so that it can go to another
   * member if this one leaves (see `redistributeShared`); `undefined` for other subscriptions.
   * Not stored: after a restart the message stays with its session.
   */
  readonly sharedFilter: string | undefined;
}

/** An outbound QoS 1/2 message waiting for its acknowledgement. */
export interface InflightMessage extends QueuedMessage {
  readonly packetId: number;
  /** QoS 2 after PUBREC: PUBREL was sent, PUBCOMP is awaited. */
  released: boolean;
}

/**
 * What a session needs only once it does more than sit connected: its collections, delivery
 * counters, expiry and will-delay state, flow-control bookkeeping. One object, allocated at the
 * first need (see `Session.extras`).
 */
class SessionExtras {
  subscriptions: Map<string, SubscriptionOptions> | undefined = undefined;
  inflight: Map<number, InflightMessage> | undefined = undefined;
  queue: RingQueue<QueuedMessage> | undefined = undefined;
  inboundQos2: Set<number> | undefined = undefined;
  willDelayMs = 0;
  delayedWill: DelayedWill | undefined = undefined;
  nextSeq = 1;
  heldPublishers: Set<Connection> | undefined = undefined;
  lastProgressAt = 0;
  lossless = false;
  offlineDropLogged = false;
  expiresAt: number | undefined = undefined;
  expiryTimer: TimerHandle | undefined = undefined;
  nextPacketId = 1;
}

/**
 * The state of one client id, which outlives its connection for its Session Expiry Interval
 * (3.x Clean Session 0: forever). The same model serves 3.1, 3.1.1 and 5.0; version
 * differences live in the handlers.
 *
 * Memory: a clean session of an idle client, the common case, is this object alone. Everything
 * else lives in `SessionExtras`, allocated at the first need: the four collections at their
 * first use, the other fields when first set to something else than their initial value
 * (setting the initial value allocates nothing). Empty collections alone would cost about 700
 * bytes per session.
 */
export class Session {
  /** Will of the current connection, published on any close that is not a clean DISCONNECT. */
  will: RoutedMessage | undefined = undefined;
  /** The live connection, set once CONNACK is sent; undefined while offline. */
  connection: Connection | undefined = undefined;
  /** Who last connected with this session: deliveries are authorized for it, also offline. */
  client: ClientInfo | undefined = undefined;
  /** The queue counts toward the broker's queued bytes (the session is online). */
  queueCounted = false;
  private extras: SessionExtras | undefined = undefined;

  constructor(
    readonly clientId: string,
    /**
     * Stored in the `Store`: the session was created with an expiry above 0. It stays stored
     * when a later connection sets the expiry to 0 (it then ends when that connection closes).
     * Cleared when the session is dropped for another owner (`Broker.dropSession`): nothing more
     * of it is written.
     */
    public persistent: boolean,
    public protocolVersion: 3 | 4 | 5,
    /**
     * Seconds the session outlives its connection (MQTT 5.0 §3.1.2.11.2): 0 ends it when the
     * connection closes, `NEVER_EXPIRES` keeps it. 3.x: Clean Session 0 is never, 1 is 0.
     */
    public expiryInterval: number,
  ) {}

  private need(): SessionExtras {
    this.extras ??= new SessionExtras();
    return this.extras;
  }

  /** Topic filter -> options as granted; allocated at first use. */
  get subscriptions(): Map<string, SubscriptionOptions> {
    const extras = this.need();
    extras.subscriptions ??= new Map();
    return extras.subscriptions;
  }

  /** Outbound in-flight window, in send order (re-sent in this order on reconnect); allocated at first use. */
  get inflight(): Map<number, InflightMessage> {
    const extras = this.need();
    extras.inflight ??= new Map();
    return extras.inflight;
  }

  /** QoS 1/2 messages waiting behind the in-flight window or while offline; allocated at first use. */
  get queue(): RingQueue<QueuedMessage> {
    const extras = this.need();
    extras.queue ??= new RingQueue();
    return extras.queue;
  }

  /**
   * Inbound QoS 2 packet ids that got PUBREC and await PUBREL: their re-sends are not routed
   * again. Allocated at first use.
   */
  get inboundQos2(): Set<number> {
    const extras = this.need();
    extras.inboundQos2 ??= new Set();
    return extras.inboundQos2;
  }

  /** `subscriptions` without allocating it: undefined while the session never had one. */
  get subscriptionsIfAny(): ReadonlyMap<string, SubscriptionOptions> | undefined {
    return this.extras?.subscriptions;
  }

  /** `inflight` without allocating it. */
  get inflightIfAny(): ReadonlyMap<number, InflightMessage> | undefined {
    return this.extras?.inflight;
  }

  /** `queue.length` without allocating the queue. */
  get queueLength(): number {
    const queue = this.extras?.queue;
    return queue === undefined ? 0 : queue.length;
  }

  /** `inflight.size` without allocating the window. */
  get inflightCount(): number {
    const inflight = this.extras?.inflight;
    return inflight === undefined ? 0 : inflight.size;
  }

  /** The session ended: its subscriptions, window, queue and QoS 2 ids are dropped. */
  releaseCollections(): void {
    const extras = this.extras;
    if (extras === undefined) return;
    extras.subscriptions = undefined;
    extras.inflight = undefined;
    extras.queue = undefined;
    extras.inboundQos2 = undefined;
  }

  /** 5.0 Will Delay Interval of that will, in ms (0: published at once). */
  get willDelayMs(): number {
    return this.extras === undefined ? 0 : this.extras.willDelayMs;
  }

  set willDelayMs(ms: number) {
    if (ms !== 0 || this.extras !== undefined) this.need().willDelayMs = ms;
  }

  /** A will published after its delay unless the client comes back (see `DelayedWills`). */
  get delayedWill(): DelayedWill | undefined {
    return this.extras?.delayedWill;
  }

  set delayedWill(will: DelayedWill | undefined) {
    if (will !== undefined || this.extras !== undefined) this.need().delayedWill = will;
  }

  /** Next `seq` for a stored delivery. */
  get nextSeq(): number {
    return this.extras === undefined ? 1 : this.extras.nextSeq;
  }

  set nextSeq(seq: number) {
    if (seq !== 1 || this.extras !== undefined) this.need().nextSeq = seq;
  }

  /** Publishers paused because this session's queue is full; undefined while none are. */
  get heldPublishers(): Set<Connection> | undefined {
    return this.extras?.heldPublishers;
  }

  set heldPublishers(held: Set<Connection> | undefined) {
    if (held !== undefined || this.extras !== undefined) this.need().heldPublishers = held;
  }

  /** While holding publishers: when this session last made progress (an acknowledgement). */
  get lastProgressAt(): number {
    return this.extras === undefined ? 0 : this.extras.lastProgressAt;
  }

  set lastProgressAt(at: number) {
    if (at !== 0 || this.extras !== undefined) this.need().lastProgressAt = at;
  }

  /**
   * Its last connection was accepted with `AcceptOptions.lossless`: never disconnected as
   * stalled, and a full queue (online or offline) holds publishers instead of dropping. Kept
   * while offline; not stored (a restored session is an ordinary one until such a connection).
   */
  get lossless(): boolean {
    return this.extras === undefined ? false : this.extras.lossless;
  }

  set lossless(lossless: boolean) {
    if (lossless || this.extras !== undefined) this.need().lossless = lossless;
  }

  /** An offline drop was logged since the session was last online (logged once per session). */
  get offlineDropLogged(): boolean {
    return this.extras === undefined ? false : this.extras.offlineDropLogged;
  }

  set offlineDropLogged(logged: boolean) {
    if (logged || this.extras !== undefined) this.need().offlineDropLogged = logged;
  }

  /** Offline with a finite expiry: when the session ends (epoch ms, see `SessionExpiry`). */
  get expiresAt(): number | undefined {
    return this.extras?.expiresAt;
  }

  set expiresAt(at: number | undefined) {
    if (at !== undefined || this.extras !== undefined) this.need().expiresAt = at;
  }

  get expiryTimer(): TimerHandle | undefined {
    return this.extras?.expiryTimer;
  }

  set expiryTimer(timer: TimerHandle | undefined) {
    if (timer !== undefined || this.extras !== undefined) this.need().expiryTimer = timer;
  }

  /** Next free packet id, skipping ids still in flight. Caller ensures the window is not full. */
  allocatePacketId(): number {
    const extras = this.need();
    const inflight = extras.inflight;
    for (let attempts = 0; attempts < 65535; attempts++) {
      const id = extras.nextPacketId;
      extras.nextPacketId = id === 65535 ? 1 : id + 1;
      if (inflight === undefined || !inflight.has(id)) return id;
    }
    throw new RangeError(`session ${this.clientId} has no free packet id (65535 in flight)`);
  }
}
