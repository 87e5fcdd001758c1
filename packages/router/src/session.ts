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
 * The state of one client id, which outlives its connection for its Session Expiry Interval
 * (3.x Clean Session 0: forever). The same model serves 3.1, 3.1.1 and 5.0; version
 * differences live in the handlers.
 */
export class Session {
  readonly subscriptions = new Map<string, SubscriptionOptions>();
  /** Outbound in-flight window, in send order (re-sent in this order on reconnect). */
  readonly inflight = new Map<number, InflightMessage>();
  readonly queue = new RingQueue<QueuedMessage>();
  /** Inbound QoS 2 packet ids that got PUBREC and await PUBREL: their re-sends are not routed again. */
  readonly inboundQos2 = new Set<number>();
  /** Will of the current connection, published on any close that is not a clean DISCONNECT. */
  will: RoutedMessage | undefined = undefined;
  /** 5.0 Will Delay Interval of that will, in ms (0: published at once). */
  willDelayMs = 0;
  /** A will published after its delay unless the client comes back (see `DelayedWills`). */
  delayedWill: DelayedWill | undefined = undefined;
  /** The live connection, set once CONNACK is sent; undefined while offline. */
  connection: Connection | undefined = undefined;
  /** Who last connected with this session: deliveries are authorized for it, also offline. */
  client: ClientInfo | undefined = undefined;
  /** Next `seq` for a stored delivery. */
  nextSeq = 1;
  /** The queue counts toward the broker's queued bytes (the session is online). */
  queueCounted = false;
  /** Publishers paused because this session's queue is full; undefined while none are. */
  heldPublishers: Set<Connection> | undefined = undefined;
  /** While holding publishers: when this session last made progress (an acknowledgement). */
  lastProgressAt = 0;
  /** An offline drop was logged since the session was last online (logged once per session). */
  offlineDropLogged = false;
  /** Offline with a finite expiry: when the session ends (epoch ms, see `SessionExpiry`). */
  expiresAt: number | undefined = undefined;
  expiryTimer: TimerHandle | undefined = undefined;
  private nextPacketId = 1;

  constructor(
    readonly clientId: string,
    /**
     * Stored in the `Store`: the session was created with an expiry above 0. It stays stored
     * when a later connection sets the expiry to 0 (it then ends when that connection closes).
     */
    readonly persistent: boolean,
    public protocolVersion: 3 | 4 | 5,
    /**
     * Seconds the session outlives its connection (MQTT 5.0 §3.1.2.11.2): 0 ends it when the
     * connection closes, `NEVER_EXPIRES` keeps it. 3.x: Clean Session 0 is never, 1 is 0.
     */
    public expiryInterval: number,
  ) {}

  /** Next free packet id, skipping ids still in flight. Caller ensures the window is not full. */
  allocatePacketId(): number {
    for (let attempts = 0; attempts < 65535; attempts++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
    throw new RangeError(`session ${this.clientId} has no free packet id (65535 in flight)`);
  }
}
