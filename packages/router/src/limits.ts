import type { Clock, TimerHandle } from './clock.js';
import type { Connection } from './connection.js';
import type { Logger } from './logger.js';
import type { RoutedMessage } from './message.js';
import type { ResolvedBrokerOptions } from './options.js';
import type { RetainedIndex } from './retained-index.js';

/** Times each limit was hit since start (in `BrokerStats.limitHits`). */
export interface LimitHits {
  /** Connections closed at once by `Broker.accept` because `maxConnections` were open. */
  connections: number;
  /** CONNECTs refused (0x9F, 3.x: 3) past `maxConnectRatePerAddress`. */
  connectRate: number;
  /** Times a client was held back (not read) past `maxPublishRatePerClient`. */
  publishRate: number;
  /** Topic names (PUBLISH, will) and filters (SUBSCRIBE) with more than `maxTopicLevels` levels. */
  topicLevels: number;
  /** Topic names and filters longer than `maxTopicLength` bytes. */
  topicLength: number;
  /** Retained messages not retained: `maxRetainedMessages` were retained already. */
  retainedMessages: number;
  /** Retained messages not retained: they would take the retained payloads past `maxRetainedBytes`. */
  retainedBytes: number;
  /** Retained messages not retained: their payload is over `maxRetainedPayloadBytes`. */
  retainedPayload: number;
}

export type LimitName = keyof LimitHits;

/** Each limit's option, as named in logs and metrics. */
export const LIMIT_OPTIONS = {
  connections: 'maxConnections',
  connectRate: 'maxConnectRatePerAddress',
  publishRate: 'maxPublishRatePerClient',
  topicLevels: 'maxTopicLevels',
  topicLength: 'maxTopicLength',
  retainedMessages: 'maxRetainedMessages',
  retainedBytes: 'maxRetainedBytes',
  retainedPayload: 'maxRetainedPayloadBytes',
} as const satisfies Record<LimitName, keyof ResolvedBrokerOptions>;

const LIMIT_BITS: Record<LimitName, number> = {
  connections: 1,
  connectRate: 2,
  publishRate: 4,
  topicLevels: 8,
  topicLength: 16,
  retainedMessages: 32,
  retainedBytes: 64,
  retainedPayload: 128,
};

const LIMIT_MESSAGES: Record<LimitName, string> = {
  connections:
    'maxConnections reached: new connections are closed at once (logged again once one is accepted)',
  connectRate:
    'maxConnectRatePerAddress exceeded: CONNECT refused (logged once per address until it calms down)',
  publishRate:
    'maxPublishRatePerClient exceeded: the client is not read until its rate allows (logged once per connection)',
  topicLevels: 'topic has more levels than maxTopicLevels (logged once per connection)',
  topicLength: 'topic is longer than maxTopicLength bytes (logged once per connection)',
  retainedMessages:
    'maxRetainedMessages reached: message delivered but not retained (logged once per connection)',
  retainedBytes: 'maxRetainedBytes reached: message delivered but not retained (logged once per connection)',
  retainedPayload:
    'payload over maxRetainedPayloadBytes: message delivered but not retained (logged once per connection)',
};

/** Hosts whose CONNECT rate is tracked at most; past it the least recently seen is forgotten. */
export const MAX_TRACKED_HOSTS = 65_536;

/** The host of a `remoteAddress`: `[::1]:5000` -> `::1`, `10.0.0.1:5000` -> `10.0.0.1`. */
export function hostOf(remoteAddress: string): string {
  if (remoteAddress.charCodeAt(0) === 0x5b /* [ */) {
    const end = remoteAddress.indexOf(']');
    return end === -1 ? remoteAddress : remoteAddress.slice(1, end);
  }
  const colon = remoteAddress.lastIndexOf(':');
  return colon === -1 ? remoteAddress : remoteAddress.slice(0, colon);
}

interface HostBucket {
  tokens: number;
  refilledAt: number;
  /** This host's refusal was logged since it was last forgotten. */
  logged: boolean;
}

/**
 * `maxConnectRatePerAddress`: one token bucket per source host (burst = the rate), in a Map
 * kept in least-recently-seen order. A bucket that has had time to refill is the same as no
 * bucket, so idle hosts are forgotten from the front at every CONNECT (amortised O(1), no
 * timer); at most `MAX_TRACKED_HOSTS` are kept.
 */
export class ConnectRateLimiter {
  private readonly hosts = new Map<string, HostBucket>();
  constructor(
    private readonly ratePerSecond: number,
    private readonly maxHosts = MAX_TRACKED_HOSTS,
  ) {}

  get trackedHosts(): number {
    return this.hosts.size;
  }

  /**
   * Takes a token for one CONNECT from `host`: `undefined` when allowed, else the bucket (whose
   * `logged` the caller sets after logging).
   */
  take(host: string, now: number): HostBucket | undefined {
    this.forgetIdle(now);
    let bucket = this.hosts.get(host);
    if (bucket === undefined) {
      if (this.hosts.size >= this.maxHosts) this.hosts.delete(this.hosts.keys().next().value as string);
      bucket = { tokens: this.ratePerSecond, refilledAt: now, logged: false };
    } else {
      this.hosts.delete(host);
      const tokens = bucket.tokens + ((now - bucket.refilledAt) * this.ratePerSecond) / 1000;
      bucket.tokens = Math.min(tokens, this.ratePerSecond);
      bucket.refilledAt = now;
    }
    // Re-inserted: the Map's order is least recently seen first.
    this.hosts.set(host, bucket);
    if (bucket.tokens < 1) return bucket;
    bucket.tokens -= 1;
    return undefined;
  }

  private forgetIdle(now: number): void {
    for (const [host, bucket] of this.hosts) {
      // Burst = rate: an untouched bucket is full again after one second.
      if (now - bucket.refilledAt < 1000) return;
      this.hosts.delete(host);
    }
  }
}

/**
 * `maxPublishRatePerClient`: a token bucket per connection (burst = the rate), created only
 * while the limit is on. Past the rate the connection is held (`Connection.hold()`: not read,
 * its later packets wait, acks and pings still pass) until a timer on the broker's clock sees
 * a tenth of a second's worth of tokens back, so a throttled client is paused and resumed about
 * ten times a second, not once per message. It is never disconnected for its rate.
 */
export class PublishRateLimiter {
  private tokens: number;
  private refilledAt: number;
  private timer: TimerHandle | undefined = undefined;
  /** Tokens to wait for before reading the client again. */
  private readonly resumeAt: number;
  private readonly refilledBound = (): void => this.refilled();

  constructor(
    private readonly connection: Connection,
    private readonly ratePerSecond: number,
  ) {
    this.tokens = ratePerSecond;
    this.refilledAt = connection.core.clock.now();
    this.resumeAt = Math.max(1, Math.ceil(ratePerSecond / 10));
  }

  /** One inbound PUBLISH. When the bucket runs dry, holds the connection (once per episode). */
  take(): void {
    const clock = this.connection.core.clock;
    const now = clock.now();
    const tokens = this.tokens + ((now - this.refilledAt) * this.ratePerSecond) / 1000 - 1;
    this.tokens = Math.min(tokens, this.ratePerSecond - 1);
    this.refilledAt = now;
    if (this.tokens >= 1 || this.timer !== undefined) return;
    const waitMs = Math.ceil(((this.resumeAt - this.tokens) * 1000) / this.ratePerSecond);
    this.timer = clock.setTimeout(this.refilledBound, waitMs);
    this.connection.core.limits.hit('publishRate', this.connection, this.connection.clientId, {
      ratePerSecond: this.ratePerSecond,
    });
    this.connection.hold();
  }

  /** The connection closed: no timer is left behind. */
  stop(clock: Clock): void {
    if (this.timer !== undefined) clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private refilled(): void {
    this.timer = undefined;
    if (!this.connection.isClosed()) this.connection.release();
  }
}

/**
 * The broker's limits beside flow control: their hit counters, their warn lines (the first hit
 * per client: per connection, per source host for the CONNECT rate) and the retained budget.
 */
export class Limits {
  readonly hits: LimitHits = {
    connections: 0,
    connectRate: 0,
    publishRate: 0,
    topicLevels: 0,
    topicLength: 0,
    retainedMessages: 0,
    retainedBytes: 0,
    retainedPayload: 0,
  };
  /** `maxConnectRatePerAddress` is on. */
  readonly connectRate: ConnectRateLimiter | undefined;
  /** `maxTopicLength` is below the protocol's 65535 bytes, so it needs a check of its own. */
  readonly isTopicLengthLimited: boolean;
  /** Any retained limit is on. */
  readonly isRetainLimited: boolean;
  /** Sum of the payload bytes of the retained messages. */
  retainedBytes = 0;
  /** Limits hit without a connection (wills of gone sessions, `Broker.publish`) already logged. */
  private loggedWithoutConnection = 0;
  /** `maxConnections` refusals logged since a connection was last accepted. */
  private connectionsLogged = false;

  constructor(
    private readonly options: ResolvedBrokerOptions,
    private readonly logger: Logger,
  ) {
    this.connectRate =
      options.maxConnectRatePerAddress > 0
        ? new ConnectRateLimiter(options.maxConnectRatePerAddress)
        : undefined;
    this.isTopicLengthLimited = options.maxTopicLength < 65_535;
    this.isRetainLimited =
      options.maxRetainedMessages > 0 || options.maxRetainedBytes > 0 || options.maxRetainedPayloadBytes > 0;
  }

  /** Counts a hit and logs it at warn if it is the first of `connection` (or of the broker, without one). */
  hit(
    limit: LimitName,
    connection: Connection | undefined,
    clientId: string | undefined,
    details?: object,
  ): void {
    this.hits[limit]++;
    const bit = LIMIT_BITS[limit];
    if (connection !== undefined) {
      if ((connection.limitsLogged & bit) !== 0) return;
      connection.limitsLogged |= bit;
    } else {
      if ((this.loggedWithoutConnection & bit) !== 0) return;
      this.loggedWithoutConnection |= bit;
    }
    this.log(limit, clientId, connection?.transport.remoteAddress, details);
  }

  /** `Broker.accept` past `maxConnections`: counted, logged once until one is accepted again. */
  connectionRefused(remoteAddress: string, open: number): void {
    this.hits.connections++;
    if (this.connectionsLogged) return;
    this.connectionsLogged = true;
    this.log('connections', undefined, remoteAddress, { connections: open });
  }

  connectionAccepted(): void {
    this.connectionsLogged = false;
  }

  /** One CONNECT from `remoteAddress`: false (counted, logged once per host) past the rate. */
  allowConnect(connection: Connection, clientId: string, now: number): boolean {
    const remoteAddress = connection.transport.remoteAddress;
    const refused = this.connectRate!.take(hostOf(remoteAddress), now);
    if (refused === undefined) return true;
    this.hits.connectRate++;
    if (!refused.logged) {
      refused.logged = true;
      this.log('connectRate', clientId, remoteAddress, undefined);
    }
    return false;
  }

  /** A topic name or filter's UTF-8 length past `maxTopicLength` (call only while `isTopicLengthLimited`). */
  isTopicTooLong(topic: string): boolean {
    const max = this.options.maxTopicLength;
    const length = topic.length;
    // UTF-16 units <= UTF-8 bytes <= 3 x units: count bytes only when it can matter.
    if (length > max) return true;
    if (length * 3 <= max) return false;
    return Buffer.byteLength(topic, 'utf8') > max;
  }

  /**
   * The retained limit `message` would break, or undefined when it may be retained. Deleting
   * (an empty payload) always may; replacing may when the new totals fit.
   */
  retainBlockedBy(message: RoutedMessage, retained: RetainedIndex<RoutedMessage>): LimitName | undefined {
    const size = message.payload.length;
    if (size === 0) return undefined;
    const { maxRetainedPayloadBytes, maxRetainedMessages, maxRetainedBytes } = this.options;
    if (maxRetainedPayloadBytes > 0 && size > maxRetainedPayloadBytes) return 'retainedPayload';
    const previous = retained.get(message.topicName);
    if (maxRetainedMessages > 0 && previous === undefined && retained.size >= maxRetainedMessages) {
      return 'retainedMessages';
    }
    const replaced = previous === undefined ? 0 : previous.payload.length;
    if (maxRetainedBytes > 0 && this.retainedBytes - replaced + size > maxRetainedBytes)
      return 'retainedBytes';
    return undefined;
  }

  private log(
    limit: LimitName,
    clientId: string | undefined,
    remoteAddress: string | undefined,
    details: object | undefined,
  ): void {
    const option = LIMIT_OPTIONS[limit];
    this.logger.warn(
      { clientId, remoteAddress, limit: option, [option]: this.options[option], ...details },
      LIMIT_MESSAGES[limit],
    );
  }
}
