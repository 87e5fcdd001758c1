import type { TimerHandle } from './clock.js';
import type { Connection } from './connection.js';
import type { Logger } from './logger.js';
import type { RoutedMessage } from './message.js';
import type { ResolvedBrokerOptions } from './options.js';
import type { QueuedMessage, Session } from './session.js';

/** Bookkeeping bytes of one queue entry, beside the message itself. */
const QUEUE_ENTRY_BYTES = 64;
/** Bookkeeping bytes of one queued message, beside its topic and payload. */
const MESSAGE_BYTES = 160;

export interface FlowControlCounters {
  /** Times a publisher's input was paused because a subscriber's queue or the budget was full. */
  publisherPauses: number;
  /** Subscribers disconnected for holding publishers back without acknowledging anything. */
  stalledSubscriberDisconnects: number;
}

/**
 * Backpressure from subscribers to publishers, so that nothing acknowledged is dropped while
 * its subscriber is online. An online session whose queue reaches `maxQueuedMessages`, or a
 * broker whose queued bytes reach `maxQueuedBytes`, pauses the publishers feeding it (their
 * input is not read, TCP slows them) until the queue drains to half (bytes: three quarters).
 * A subscriber that holds publishers back and acknowledges nothing for
 * `stalledSubscriberTimeoutMs` is disconnected, so a stuck one cannot stall others forever.
 * Offline sessions never hold anyone back: past `maxQueuedMessages` they drop their oldest.
 *
 * A lossless session (its connection accepted with `AcceptOptions.lossless`, e.g. a bridge that
 * acknowledges only once its destination confirmed) is the exception to both: it is never
 * disconnected as stalled, and offline too it holds its publishers at the mark instead of
 * dropping (`BrokerCore.queueOffline`); they are released when it drains after reconnecting.
 */
export class FlowControl {
  /** Bytes of messages queued for online sessions; each message counted once. */
  queuedBytes = 0;
  readonly counters: FlowControlCounters = { publisherPauses: 0, stalledSubscriberDisconnects: 0 };
  private readonly globallyHeld = new Set<Connection>();
  private readonly holdingSessions = new Set<Session>();
  private stallTimer: TimerHandle | undefined = undefined;
  private readonly checkStalledBound = (): void => this.checkStalled();

  constructor(
    private readonly options: ResolvedBrokerOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * Queues a delivery for an online session. `publisher` (the connection whose PUBLISH this
   * is, if any) is paused when the queue or the broker-wide budget is full; wills, retained
   * messages and application publishes have nobody to pause and are queued all the same.
   */
  enqueue(session: Session, entry: QueuedMessage, publisher: Connection | undefined): void {
    session.queue.push(entry);
    if (session.queueCounted) this.countIn(entry.message);
    // A client's own subscription must not pause it: it could no longer read its acks.
    if (publisher === undefined || publisher === session.connection || publisher.isClosed()) return;
    if (session.queue.length >= this.options.maxQueuedMessages) this.holdFor(session, publisher);
    if (this.queuedBytes >= this.options.maxQueuedBytes && !this.globallyHeld.has(publisher)) {
      this.globallyHeld.add(publisher);
      this.pause(publisher);
    }
  }

  /** Takes the oldest queued delivery of a session (to send it, or to drop it). */
  shift(session: Session): QueuedMessage | undefined {
    const entry = session.queue.shift();
    if (entry !== undefined && session.queueCounted) this.countOut(entry.message);
    return entry;
  }

  /** The session acknowledged a delivery: it is not stalled. */
  progress(session: Session): void {
    // Only a session holding publishers back keeps time: no clock read per ack otherwise.
    if (session.heldPublishers !== undefined) session.lastProgressAt = this.options.clock.now();
  }

  /** After deliveries left a queue: resumes publishers once it (or the budget) has room. */
  drained(session: Session): void {
    if (session.heldPublishers !== undefined && session.queue.length <= this.options.maxQueuedMessages >> 1) {
      this.releaseSession(session);
    }
    this.releaseGlobalIfRoom();
  }

  /**
   * The session's connection is up: its queue counts toward the broker's queued bytes, and the
   * session takes that connection's `lossless` policy.
   */
  sessionOnline(session: Session, lossless: boolean): void {
    if (session.lossless !== lossless) {
      // Held under the other policy's bookkeeping (stall clock or not): let go, re-held at the
      // next publish into a full queue.
      this.releaseSession(session);
      session.lossless = lossless;
    }
    if (session.queueCounted) return;
    session.queueCounted = true;
    session.offlineDropLogged = false;
    if (session.queueLength > 0) for (const entry of session.queue) this.countIn(entry.message);
  }

  /**
   * The session's connection is gone: its queue no longer counts, and it holds nobody back,
   * unless it is lossless (its publishers wait for it to come back and drain).
   */
  sessionOffline(session: Session): void {
    if (!session.lossless) this.releaseSession(session);
    if (!session.queueCounted) return;
    session.queueCounted = false;
    if (session.queueLength > 0) for (const entry of session.queue) this.countOut(entry.message);
    this.releaseGlobalIfRoom();
  }

  /** The session ended: whatever it held is released, lossless or not. */
  sessionEnded(session: Session): void {
    session.lossless = false;
    this.sessionOffline(session);
  }

  /** A publisher's connection closed: forget it (its holders may still list it; release skips it). */
  connectionClosed(connection: Connection): void {
    this.globallyHeld.delete(connection);
  }

  private holdFor(session: Session, publisher: Connection): void {
    let held = session.heldPublishers;
    if (held === undefined) {
      held = new Set();
      session.heldPublishers = held;
      // A lossless session waits as long as it takes: no stall clock.
      if (!session.lossless) {
        session.lastProgressAt = this.options.clock.now();
        this.holdingSessions.add(session);
        this.armStallTimer();
      }
    }
    if (held.has(publisher)) return;
    held.add(publisher);
    this.pause(publisher);
  }

  private pause(publisher: Connection): void {
    this.counters.publisherPauses++;
    publisher.hold();
  }

  private releaseSession(session: Session): void {
    const held = session.heldPublishers;
    if (held === undefined) return;
    session.heldPublishers = undefined;
    this.holdingSessions.delete(session);
    for (const publisher of held) publisher.release();
  }

  private releaseGlobalIfRoom(): void {
    if (this.globallyHeld.size === 0 || this.queuedBytes >= (this.options.maxQueuedBytes * 3) / 4) return;
    const held = [...this.globallyHeld];
    this.globallyHeld.clear();
    for (const publisher of held) publisher.release();
  }

  private countIn(message: RoutedMessage): void {
    if (message.queueRefs++ === 0) this.queuedBytes += messageBytes(message);
    this.queuedBytes += QUEUE_ENTRY_BYTES;
  }

  private countOut(message: RoutedMessage): void {
    if (--message.queueRefs === 0) this.queuedBytes -= messageBytes(message);
    this.queuedBytes -= QUEUE_ENTRY_BYTES;
  }

  private armStallTimer(): void {
    if (this.stallTimer !== undefined) return;
    const period = Math.min(1000, this.options.stalledSubscriberTimeoutMs);
    this.stallTimer = this.options.clock.setTimeout(this.checkStalledBound, period);
  }

  /** Disconnects subscribers that held publishers back without progress for the timeout. */
  private checkStalled(): void {
    this.stallTimer = undefined;
    const now = this.options.clock.now();
    const timeoutMs = this.options.stalledSubscriberTimeoutMs;
    for (const session of this.holdingSessions) {
      const stalledMs = now - session.lastProgressAt;
      const connection = session.connection;
      if (stalledMs < timeoutMs || connection === undefined) continue;
      this.counters.stalledSubscriberDisconnects++;
      this.logger.warn(
        { clientId: session.clientId, queued: session.queue.length, stalledMs },
        'subscriber acknowledged nothing while its full queue held publishers back; disconnecting it',
      );
      // Closing takes the session offline, which releases its publishers.
      connection.close('subscriber-stalled', 0x97);
    }
    if (this.holdingSessions.size > 0) this.armStallTimer();
  }
}

function messageBytes(message: RoutedMessage): number {
  return MESSAGE_BYTES + message.payload.length + message.topicName.length;
}
