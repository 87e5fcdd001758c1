import { randomBytes } from 'node:crypto';
import { encodedLength, PacketType, type Properties, type QoS, ReasonCode } from '@mqtt-adapt/codec';
import { isValidTopicName } from '@mqtt-adapt/topic';
import { BrokerCore } from './broker-core.js';
import type { BrokerStats } from './broker-stats.js';
import type { ClientConnection } from './client-connection.js';
import { systemClock } from './clock.js';
import { Connection } from './connection.js';
import { RouterError } from './errors.js';
import { forwardedProperties } from './forwarded-properties.js';
import type { BrokerEventName, BrokerListener } from './hooks.js';
import { silentLogger } from './logger.js';
import { MemoryStore } from './memory-store.js';
import { createMessage, type Message, type RoutedMessage } from './message.js';
import type { AcceptOptions, BrokerOptions, ResolvedBrokerOptions } from './options.js';
import type { SharedSettled } from './shared-settle.js';
import type { SessionSnapshot, Store } from './store.js';
import type { Transport } from './transport.js';

export const defaultBrokerOptions = {
  maxPacketSize: 268_435_460,
  maxPartialPacketBytes: 512 * 1024 * 1024,
  maxConnectPacketSize: 64 * 1024,
  connectTimeoutMs: 10_000,
  authenticateTimeoutMs: 5_000,
  maxInflightMessages: 256,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 256 * 1024 * 1024,
  stalledSubscriberTimeoutMs: 30_000,
  maxSubscriptionsPerSession: 10_000,
  maxQoS: 2,
  topicAliasMaximum: 10,
  receiveMaximum: 65_535,
  wildcardSubscriptionAvailable: true,
  subscriptionIdentifiersAvailable: true,
  sharedSubscriptionAvailable: true,
  retainAvailable: true,
  maxOutboundTopicAliases: 16,
  maxSessionExpirySeconds: 0xffff_ffff,
  maxPendingPacketsBeforeConnack: 64,
  maxConnections: 0,
  maxConnectRatePerAddress: 0,
  maxPublishRatePerClient: 0,
  maxTopicLevels: 128,
  maxTopicLength: 65_535,
  maxRetainedMessages: 0,
  maxRetainedBytes: 0,
  maxRetainedPayloadBytes: 0,
} as const satisfies BrokerOptions;

/** What `Broker.accept` returns for a transport it closed at once (`maxConnections`): ignores everything. */
const refusedConnection: ClientConnection = Object.freeze({
  feed(): void {},
  drained(): void {},
  transportClosed(): void {},
});

/** A message published by the application itself (bridges, `$SYS`). */
export interface PublishInput {
  topicName: string;
  payload: Buffer | string;
  qos?: QoS;
  retain?: boolean;
  properties?: Properties;
}

/** `Broker.deliverRemote` options. */
export interface DeliverRemoteOptions {
  /**
   * Delivers (outside share groups) only to the sessions whose client id this accepts (a
   * cluster re-sending what a dead node owed to its own sessions). Default: every matching
   * session.
   */
  readonly only?: (clientId: string) => boolean;
  /**
   * The share groups (`$share/{group}/{filter}`) the other broker chose this one for: one member
   * here gets the message. Every other share group is skipped (the sending broker picked
   * another member elsewhere, see `FanOutHook.sharedHere`). Default: none.
   */
  readonly sharedFilters?: ReadonlySet<string>;
  /**
   * Told, once per group of `sharedFilters`, what became of the message there (see
   * `SharedSettled`): a cluster confirms a share-group message to its sender only once a member
   * acknowledged it, so that a broker dying first has it sent to another member. Default: unset.
   */
  readonly sharedSettled?: SharedSettled;
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RouterError('ROUTER_INVALID_OPTION', `${name} = ${value} must be an integer from 1 to ${max}`);
  }
  return value;
}

/** 0 turns a limit off. */
function nonNegativeInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RouterError(
      'ROUTER_INVALID_OPTION',
      `${name} = ${value} must be an integer from 0 (off) to ${max}`,
    );
  }
  return value;
}

function booleanOption(name: string, value: unknown): void {
  if (typeof value !== 'boolean') {
    throw new RouterError('ROUTER_INVALID_OPTION', `${name} = ${String(value)} must be true or false`);
  }
}

function resolveOptions(options: BrokerOptions): ResolvedBrokerOptions {
  const merged = { ...defaultBrokerOptions, ...stripUndefined(options) };
  positiveInteger('maxPacketSize', merged.maxPacketSize, 268_435_460);
  positiveInteger('maxConnectPacketSize', merged.maxConnectPacketSize, 268_435_460);
  positiveInteger('connectTimeoutMs', merged.connectTimeoutMs);
  positiveInteger('authenticateTimeoutMs', merged.authenticateTimeoutMs, 2_147_483_647);
  positiveInteger('maxInflightMessages', merged.maxInflightMessages, 65_535);
  positiveInteger('maxQueuedMessages', merged.maxQueuedMessages);
  positiveInteger('maxPartialPacketBytes', merged.maxPartialPacketBytes);
  positiveInteger('maxQueuedBytes', merged.maxQueuedBytes);
  positiveInteger('stalledSubscriberTimeoutMs', merged.stalledSubscriberTimeoutMs, 2_147_483_647);
  positiveInteger('maxSubscriptionsPerSession', merged.maxSubscriptionsPerSession);
  positiveInteger('maxPendingPacketsBeforeConnack', merged.maxPendingPacketsBeforeConnack);
  nonNegativeInteger('maxConnections', merged.maxConnections);
  nonNegativeInteger('maxConnectRatePerAddress', merged.maxConnectRatePerAddress);
  nonNegativeInteger('maxPublishRatePerClient', merged.maxPublishRatePerClient);
  // A topic of 65535 bytes has at most 32768 levels.
  positiveInteger('maxTopicLevels', merged.maxTopicLevels, 32_768);
  nonNegativeInteger('topicAliasMaximum', merged.topicAliasMaximum, 65_535);
  positiveInteger('receiveMaximum', merged.receiveMaximum, 65_535);
  booleanOption('wildcardSubscriptionAvailable', merged.wildcardSubscriptionAvailable);
  booleanOption('subscriptionIdentifiersAvailable', merged.subscriptionIdentifiersAvailable);
  booleanOption('sharedSubscriptionAvailable', merged.sharedSubscriptionAvailable);
  booleanOption('retainAvailable', merged.retainAvailable);
  nonNegativeInteger('maxOutboundTopicAliases', merged.maxOutboundTopicAliases, 65_535);
  nonNegativeInteger('maxSessionExpirySeconds', merged.maxSessionExpirySeconds, 0xffff_ffff);
  positiveInteger('maxTopicLength', merged.maxTopicLength, 65_535);
  nonNegativeInteger('maxRetainedMessages', merged.maxRetainedMessages);
  nonNegativeInteger('maxRetainedBytes', merged.maxRetainedBytes);
  nonNegativeInteger('maxRetainedPayloadBytes', merged.maxRetainedPayloadBytes);
  if (merged.maxQoS !== 0 && merged.maxQoS !== 1 && merged.maxQoS !== 2) {
    throw new RouterError('ROUTER_INVALID_OPTION', `maxQoS = ${String(merged.maxQoS)} must be 0, 1 or 2`);
  }
  return {
    ...merged,
    hooks: options.hooks ?? {},
    fanOut: options.fanOut,
    sessionOwnership: options.sessionOwnership,
    logger: options.logger ?? silentLogger,
    store: options.store ?? new MemoryStore(),
    clock: options.clock ?? systemClock,
    generateClientId: options.generateClientId ?? (() => `mqtt-adapt-${randomBytes(8).toString('hex')}`),
    serverKeepAliveSeconds:
      options.serverKeepAliveSeconds === undefined
        ? undefined
        : nonNegativeInteger('serverKeepAliveSeconds', options.serverKeepAliveSeconds, 65_535),
    responseInformation: checkResponseInformation(options.responseInformation),
  };
}

/** Bad properties or sizes fail here, at the caller, not later while delivering to a client. */
function checkEncodable(message: RoutedMessage): void {
  try {
    encodedLength(
      {
        type: PacketType.Publish,
        dup: false,
        qos: message.qos,
        retain: message.retain,
        topicName: message.topicName,
        packetId: message.qos === 0 ? undefined : 1,
        payload: message.payload,
        properties: message.properties,
      },
      5,
    );
  } catch (error) {
    throw new RouterError(
      'ROUTER_INVALID_MESSAGE',
      `message on "${message.topicName}" cannot be sent: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function checkResponseInformation(value: string | undefined): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value.includes('\u0000'))) {
    throw new RouterError('ROUTER_INVALID_OPTION', 'responseInformation must be a string without U+0000');
  }
  return value;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The broker core: give it every accepted transport with `accept()`; it speaks MQTT over it.
 * Knows no socket, file or database.
 */
export class Broker {
  private readonly core: BrokerCore;
  private state: 'new' | 'opening' | 'open' | 'closed' = 'new';

  constructor(options: BrokerOptions = {}) {
    this.core = new BrokerCore(resolveOptions(options));
  }

  /** The store in use (the default `MemoryStore` when none was given). */
  get store(): Store {
    return this.core.persistence.store;
  }

  /**
   * Opens the store and restores persistent sessions (offline, with their subscriptions and
   * queued messages) and retained messages. Call once, before `accept`. Rejects with the
   * store's `StoreError` (e.g. `STORE_SCHEMA_TOO_NEW`) when the store cannot be used.
   */
  async open(): Promise<void> {
    if (this.state !== 'new') {
      throw new RouterError('ROUTER_INVALID_OPTION', `broker.open() called twice (state ${this.state})`);
    }
    this.state = 'opening';
    const snapshot = await this.core.persistence.store.open();
    this.core.restore(snapshot);
    this.state = 'open';
  }

  /**
   * Starts serving one connection. The app forwards the transport's events to the result.
   * `options.lossless` exempts its session from the limits that drop or disconnect (see `AcceptOptions`).
   */
  accept(transport: Transport, options?: AcceptOptions): ClientConnection {
    if (this.state !== 'open') {
      transport.close();
      if (this.state === 'closed') {
        throw new RouterError('ROUTER_CLOSED', 'broker is closed; no new connections are accepted');
      }
      throw new RouterError('ROUTER_NOT_OPEN', 'call await broker.open() before accept()');
    }
    const core = this.core;
    const maxConnections = core.options.maxConnections;
    if (maxConnections !== 0) {
      if (core.connections.size >= maxConnections) {
        // No CONNACK: nothing is read from it, nothing is allocated for it.
        transport.close();
        core.limits.connectionRefused(transport.remoteAddress, core.connections.size);
        return refusedConnection;
      }
      core.limits.connectionAccepted();
    }
    const connection = new Connection(core, transport, options?.lossless === true);
    core.connections.add(connection);
    return connection;
  }

  /** Publishes a message from the application (not from a client). */
  publish(input: PublishInput): void {
    this.core.route(this.applicationMessage(input), undefined);
  }

  /**
   * Delivers a message another node of a cluster routed (see `BrokerOptions.fanOut`) to the
   * matching sessions of this broker only: `fanOut.routed` does not see it (no loops), and a
   * retained one updates the retained index but is not written to the store (the node that
   * accepted it did). Share groups get it only when named in `options.sharedFilters`. Validated
   * as `publish`; returns how many sessions and share groups matched.
   */
  deliverRemote(input: PublishInput, options?: DeliverRemoteOptions): number {
    const message = this.applicationMessage(input);
    if (options?.sharedSettled !== undefined && options.sharedFilters !== undefined)
      message.sharedSettled = options.sharedSettled;
    return this.core.route(message, undefined, undefined, true, options);
  }

  /** The topic filters of the session held here for `clientId` (as subscribed); `undefined`: none held. */
  sessionFilters(clientId: string): string[] | undefined {
    const session = this.core.sessions.get(clientId);
    if (session === undefined) return undefined;
    return [...(session.subscriptionsIfAny?.keys() ?? [])];
  }

  /**
   * The QoS 1/2 messages the session held here for `clientId` still has to deliver (in flight,
   * then queued, in order); empty when none is held. A cluster hands them to the session's new
   * owner when it loses the session before they were stored (`dropSession` discards them).
   */
  sessionMessages(clientId: string): Message[] {
    const session = this.core.sessions.get(clientId);
    if (session === undefined || (session.inflightCount === 0 && session.queueLength === 0)) return [];
    const messages: Message[] = [];
    for (const entry of session.inflight.values()) messages.push(entry.message);
    for (const entry of session.queue) if (entry.qos > 0) messages.push(entry.message);
    return messages;
  }

  /** Client ids of the sessions held here with a client connected now (for a cluster's ownership audit). */
  connectedClientIds(): string[] {
    const ids: string[] = [];
    for (const session of this.core.sessions.values())
      if (session.connection !== undefined) ids.push(session.clientId);
    return ids;
  }

  /**
   * Cluster seam: installs a session this broker now owns (e.g. adopted from a node that died),
   * as `open()` restores one: offline, with its subscriptions and queued messages, its expiry
   * clock running. False (nothing installed) when a session for its client id is held here.
   */
  adoptSession(snapshot: SessionSnapshot): boolean {
    if (this.core.sessions.has(snapshot.session.clientId)) return false;
    this.core.installClaimed(snapshot);
    return true;
  }

  /**
   * Cluster seam: another broker owns `clientId` now (see `SessionOwnershipHook`). Closes its
   * connection here, if any (5.0: DISCONNECT `reasonCode`, default 0x8E Session taken over;
   * 3.x: closed), and forgets its session without writing anything to the store: the new
   * owner has it. Its will is published only when its Will Delay Interval is 0 (a delayed will
   * is for a client that does not come back; this one came back elsewhere). Returns whether a
   * session was held here.
   */
  dropSession(clientId: string, reasonCode: number = ReasonCode.SessionTakenOver): boolean {
    return this.core.dropSession(clientId, reasonCode);
  }

  /** Checks an application's message and builds the routed form (a copy of its payload). */
  private applicationMessage(input: PublishInput): RoutedMessage {
    const core = this.core;
    if (!isValidTopicName(input.topicName)) {
      throw new RouterError(
        'ROUTER_INVALID_MESSAGE',
        `topic name "${input.topicName}" is not valid for PUBLISH`,
      );
    }
    // The application's topics obey the limits too: the retained index and matching rely on them.
    if (!isValidTopicName(input.topicName, core.options.maxTopicLevels)) {
      throw new RouterError(
        'ROUTER_INVALID_MESSAGE',
        `topic name "${input.topicName.slice(0, 64)}..." has more levels than maxTopicLevels ${core.options.maxTopicLevels}`,
      );
    }
    if (core.limits.isTopicLengthLimited && core.limits.isTopicTooLong(input.topicName)) {
      throw new RouterError(
        'ROUTER_INVALID_MESSAGE',
        `topic name of ${Buffer.byteLength(input.topicName)} bytes exceeds maxTopicLength ${core.options.maxTopicLength}`,
      );
    }
    const qos = input.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      throw new RouterError('ROUTER_INVALID_MESSAGE', `qos ${String(qos)} must be 0, 1 or 2`);
    }
    const payload =
      typeof input.payload === 'string' ? Buffer.from(input.payload) : Buffer.from(input.payload);
    const message = createMessage(
      input.topicName,
      payload,
      qos,
      input.retain ?? false,
      forwardedProperties(input.properties),
      undefined,
    );
    checkEncodable(message);
    return message;
  }

  on<E extends BrokerEventName>(event: E, listener: BrokerListener<E>): () => void {
    return this.core.events.on(event, listener);
  }

  get stats(): BrokerStats {
    return this.core.stats();
  }

  /**
   * Stops accepting connections and closes every client. Connected clients' wills are
   * published: their connections end without a DISCONNECT from them. 5.0 clients get
   * DISCONNECT 0x8B (server shutting down) first.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.core.closing = true;
    for (const connection of [...this.core.connections]) connection.close('server-shutting-down', 0x8b);
    // Wills and final acks wrote to the store: flush them before it closes.
    if (wasOpen) await this.core.persistence.store.close();
  }
}
