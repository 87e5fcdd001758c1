import {
  Decoder,
  encode,
  type MalformedPacketError,
  type Packet,
  PacketType,
  type ProtocolVersion,
  ReasonCode,
} from '@mqtt-adapt/codec';
import type { BrokerCore } from './broker-core.js';
import type { ClientConnection } from './client-connection.js';
import type { TimerHandle } from './clock.js';
import { DISCONNECT_REASON_STRINGS, disconnectPacket } from './disconnect-reasons.js';
import type { AuthExchange } from './handlers/auth.js';
import { refuseUnsupportedVersion } from './handlers/connect.js';
import { handlePacket, passesHold } from './handlers/packet.js';
import type { ClientInfo, DisconnectReason } from './hooks.js';
import { PublishRateLimiter } from './limits.js';
import type { OutboundTopicAliases } from './outbound-topic-aliases.js';
import type { Session } from './session.js';
import type { Transport } from './transport.js';

export const ConnectionState = {
  AwaitingConnect: 0,
  /** CONNECT received, authentication or takeover pending; no CONNACK yet. */
  Connecting: 1,
  Connected: 2,
  Closed: 3,
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/**
 * One client's connection: decodes its bytes, runs packets through the handlers in order,
 * owns its single timer (connect timeout, then keepalive) and writes to its transport.
 */
export class Connection implements ClientConnection {
  state: ConnectionState = ConnectionState.AwaitingConnect;
  session: Session | undefined = undefined;
  client: ClientInfo | undefined = undefined;
  protocolVersion: ProtocolVersion = 4;
  /** The transport is past its high-water mark: QoS 0 is dropped, QoS 1/2 waits. */
  congested = false;
  keepaliveMs = 0;
  /** Outbound QoS 1/2 messages left unacknowledged at most: the broker's limit or the client's. */
  inflightLimit: number;
  /** 5.0: the client did not set Request Problem Information to 0, so Reason Strings may go. */
  problemInformation = true;
  /**
   * Inbound QoS 1/2 PUBLISH packets not yet acknowledged by the broker: counted as they arrive
   * (held or waiting included), given back when their PUBACK, PUBCOMP or PUBREC of 0x80 or
   * more is written. Past the broker's `receiveMaximum`, a 5.0 client is disconnected (0x93).
   */
  inboundUnacknowledged = 0;
  /** The 5.0 client's Maximum Packet Size; deliveries larger than it are discarded. */
  maxOutgoingPacketSize = Number.POSITIVE_INFINITY;
  /** 5.0 inbound Topic Aliases this client set (alias -> topic name); allocated on the first. */
  topicAliases: Map<number, string> | undefined = undefined;
  /**
   * 5.0 outbound Topic Aliases the broker sets for this client; undefined when it takes none
   * (3.x, Topic Alias Maximum 0 or absent, `maxOutboundTopicAliases` 0): its deliveries then
   * share their bytes with every other subscriber's.
   */
  outboundTopicAliases: OutboundTopicAliases | undefined = undefined;
  /** Limits whose first hit on this connection was logged (bits of `Limits`). */
  limitsLogged = 0;
  /** 5.0 enhanced authentication; allocated only when the CONNECT names an Authentication Method. */
  auth: AuthExchange | undefined = undefined;
  /** `maxPublishRatePerClient`'s token bucket; undefined while that limit is off. */
  readonly publishRate: PublishRateLimiter | undefined;
  private lastActivity: number;
  /** Flow control holds (full subscriber queues, queued-bytes budget) pausing this publisher. */
  private holds = 0;
  /** An async step (hook, store) is pending: every later packet waits in `pending`, in order. */
  private waiting = false;
  /** Bytes of a partly received packet, as counted in `core.partialPacketBytes`. */
  private partialBytes = 0;
  private readonly drainPendingBound = (): void => this.drainPending();
  /** A malformed packet behind packets still waiting: reported after them, in stream order. */
  private deferredFailure: MalformedPacketError | undefined = undefined;
  private timer: TimerHandle | undefined = undefined;
  private readonly decoder: Decoder;
  /**
   * Packets decoded while an async step is pending or while flow control holds this client;
   * handled in order after it.
   */
  private pending: Packet[] | undefined = undefined;
  /** Acks waiting for a store flush; later acks queue behind them to keep their order. */
  private ackTail: Promise<void> | undefined = undefined;
  private acksWaiting = 0;
  private readingPaused = false;

  constructor(
    readonly core: BrokerCore,
    readonly transport: Transport,
  ) {
    const options = core.options;
    this.decoder = new Decoder({
      maxPacketSize: options.maxPacketSize,
      maxConnectPacketSize: options.maxConnectPacketSize,
      requireConnectFirst: true,
      onPacket: (packet) => this.dispatch(packet),
      onError: (error) => this.decodeFailed(error),
    });
    this.inflightLimit = options.maxInflightMessages;
    this.publishRate =
      options.maxPublishRatePerClient > 0
        ? new PublishRateLimiter(this, options.maxPublishRatePerClient)
        : undefined;
    this.lastActivity = core.clock.now();
    this.armTimer(options.connectTimeoutMs);
  }

  get clientId(): string | undefined {
    return this.client?.clientId;
  }

  feed(chunk: Buffer): void {
    if (this.state === ConnectionState.Closed) return;
    this.lastActivity = this.core.clock.now();
    this.core.counters.bytesReceived += chunk.length;
    try {
      this.decoder.feed(chunk);
    } catch (error) {
      // Our bug while handling one of this client's packets: it costs this connection only.
      this.failed(error);
    }
    if (!this.isClosed()) this.countPartialPacket();
  }

  /**
   * Keeps `core.partialPacketBytes` up to date with this connection's partly received packet,
   * and closes this connection when it takes the broker past `maxPartialPacketBytes`.
   */
  private countPartialPacket(): void {
    const buffered = this.decoder.bufferedBytes;
    const delta = buffered - this.partialBytes;
    if (delta === 0) return;
    this.partialBytes = buffered;
    const core = this.core;
    core.partialPacketBytes += delta;
    if (delta > 0 && core.partialPacketBytes > core.options.maxPartialPacketBytes) {
      core.logger.warn(
        {
          clientId: this.clientId,
          remoteAddress: this.transport.remoteAddress,
          bufferedBytes: buffered,
          partialPacketBytes: core.partialPacketBytes,
          maxPartialPacketBytes: core.options.maxPartialPacketBytes,
        },
        'partly received packets exceed maxPartialPacketBytes; closing the connection that went past it',
      );
      this.close('partial-packet-budget', ReasonCode.QuotaExceeded);
    }
  }

  /**
   * Flow control (a subscriber this client publishes to cannot take more) or its publish rate
   * (`maxPublishRatePerClient`): its later packets wait (acknowledgements and pings excepted)
   * and its input is not read until `release()`.
   */
  hold(): void {
    this.holds++;
    if (this.holds > 1 || this.state === ConnectionState.Closed) return;
    this.pending ??= [];
    this.syncReading();
  }

  release(): void {
    if (this.holds === 0) return;
    this.holds--;
    if (this.holds > 0 || this.state === ConnectionState.Closed) return;
    // Keepalive does not count the time the broker itself stopped reading this client.
    this.lastActivity = this.core.clock.now();
    this.syncReading();
    // Not from inside the caller's loop (another client's ack): handled in a microtask.
    if (!this.waiting) queueMicrotask(this.drainPendingBound);
  }

  drained(): void {
    if (!this.congested) return;
    this.congested = false;
    try {
      this.syncReading();
      if (this.session !== undefined && this.state === ConnectionState.Connected)
        this.core.pump(this.session);
    } catch (error) {
      this.failed(error);
    }
  }

  transportClosed(error?: Error): void {
    if (error !== undefined)
      this.core.logger.debug({ clientId: this.clientId, err: error }, 'transport error');
    this.close(error === undefined ? 'transport-closed' : 'transport-error');
  }

  /**
   * An exception escaped the handling of this connection (a bug of ours, or of a transport):
   * logged at error with the client id, counted, and this connection is closed (5.0: DISCONNECT
   * 0x83). Every other client goes on.
   */
  failed(error: unknown): void {
    this.core.counters.internalErrors++;
    this.core.logger.error(
      { clientId: this.clientId, remoteAddress: this.transport.remoteAddress, err: error },
      'internal error while serving a client, closing its connection',
    );
    this.close('internal-error', ReasonCode.ImplementationSpecificError);
  }

  /** Writes one encoded packet; notes congestion when the transport is past its high-water mark. */
  write(bytes: Buffer): void {
    if (this.state === ConnectionState.Closed) return;
    this.core.counters.bytesSent += bytes.length;
    if (!this.transport.write(bytes) && !this.congested) {
      this.congested = true;
      // A client that does not read (e.g. floods QoS 1 and ignores its PUBACKs) is not read
      // either until its output drains: what the broker buffers for it stays bounded.
      this.syncReading();
    }
  }

  send(packet: Packet): void {
    this.write(encode(packet, this.protocolVersion));
  }

  /**
   * Sends an acknowledgement that promises durability (PUBACK, PUBREC, PUBCOMP, SUBACK,
   * UNSUBACK) once the store has made every write so far durable, in the order the acks were
   * asked for [MQTT-4.6.0-2]. `afterSend` runs right after the packet is written. If the store
   * fails, nothing is acknowledged: the connection is closed so the client re-sends later.
   */
  ackDurably(packet: Packet, afterSend?: () => void): void {
    const flushed = this.core.persistence.store.flush();
    if (flushed === undefined && this.acksWaiting === 0) {
      this.sendAck(packet);
      afterSend?.();
      return;
    }
    this.acksWaiting++;
    const previous = this.ackTail ?? Promise.resolve();
    this.ackTail = previous
      .then(() => flushed)
      .then(
        () => {
          this.acksWaiting--;
          if (this.acksWaiting === 0) this.ackTail = undefined;
          if (this.state === ConnectionState.Closed) return;
          try {
            this.sendAck(packet);
            afterSend?.();
          } catch (error) {
            this.failed(error);
          }
        },
        (error: unknown) => {
          this.acksWaiting--;
          if (this.acksWaiting === 0) this.ackTail = undefined;
          this.storeFailed(error);
        },
      );
  }

  /**
   * Writes an acknowledgement. One that ends an inbound QoS 1/2 flow (PUBACK, PUBCOMP, PUBREC of
   * 0x80 or more) gives a Receive Maximum slot back, as the client counts it on receipt
   * (MQTT 5.0 §4.9). A PUBCOMP of a flow begun on an earlier connection was never counted here
   * but still frees the client's quota: the count may go below 0 to match, down to
   * -`receiveMaximum`, so that stray PUBRELs cannot buy unlimited credit.
   */
  private sendAck(packet: Packet): void {
    this.send(packet);
    if (
      (packet.type === PacketType.Puback ||
        packet.type === PacketType.Pubcomp ||
        (packet.type === PacketType.Pubrec && packet.reasonCode >= 0x80)) &&
      this.inboundUnacknowledged > -this.core.options.receiveMaximum
    ) {
      this.inboundUnacknowledged--;
    }
  }

  /**
   * A QoS 1/2 PUBLISH arrived. Counted at once, before flow control or a pending hook may hold
   * it: a client that keeps to the Receive Maximum the CONNACK advertised never has more than
   * that many unacknowledged, since every ack it counts was written before. One more from a
   * connected 5.0 client is a Protocol Error: DISCONNECT 0x93 (MQTT 5.0 §3.3.4, [MQTT-3.3.4-7]).
   * False when the connection was closed.
   */
  private countInboundPublish(): boolean {
    const limit = this.core.options.receiveMaximum;
    if (++this.inboundUnacknowledged <= limit) return true;
    if (this.protocolVersion !== 5 || this.state !== ConnectionState.Connected) return true;
    this.violation(
      `more than Receive Maximum ${limit} QoS 1 and 2 PUBLISH packets unacknowledged`,
      ReasonCode.ReceiveMaximumExceeded,
    );
    return false;
  }

  /** The store could not make this client's writes durable: ack nothing, close (0x80 in 5.0). */
  storeFailed(error: unknown): void {
    if (this.state === ConnectionState.Closed) return;
    this.core.logger.error({ clientId: this.clientId, err: error }, 'store write failed, closing connection');
    this.close('store-failure', 0x80);
  }

  /** Starts keepalive supervision once CONNACK is sent: 1.5x the client's keepalive [MQTT-3.1.2-24]. */
  startKeepalive(keepaliveSeconds: number): void {
    this.keepaliveMs = keepaliveSeconds * 1500;
    this.clearTimer();
    if (this.keepaliveMs > 0) this.armTimer(this.keepaliveMs);
  }

  /**
   * Ends the connection. Any close that is not a clean DISCONNECT publishes the will; a clean
   * session ends with it. In 5.0 a DISCONNECT with `reasonCode` is sent first when given.
   */
  close(reason: DisconnectReason, reasonCode?: number, reasonString?: string): void {
    if (this.state === ConnectionState.Closed) return;
    const wasConnected = this.state === ConnectionState.Connected;
    // Closing must finish whatever throws on the way: each step is guarded and logged.
    if (reasonCode !== undefined && this.protocolVersion === 5 && wasConnected) {
      const text = reasonString ?? DISCONNECT_REASON_STRINGS[reason];
      this.guard(() =>
        this.write(
          disconnectPacket(
            reasonCode,
            this.problemInformation ? text : undefined,
            this.maxOutgoingPacketSize,
          ),
        ),
      );
    }
    this.state = ConnectionState.Closed;
    this.clearTimer();
    this.publishRate?.stop(this.core.clock);
    this.pending = undefined;
    this.core.partialPacketBytes -= this.partialBytes;
    this.partialBytes = 0;
    this.guard(() => this.transport.close());
    this.guard(() => this.core.connectionClosed(this, reason, wasConnected));
  }

  /** Runs one step of closing; an exception is logged and counted, never rethrown. */
  private guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.core.counters.internalErrors++;
      this.core.logger.error(
        { clientId: this.clientId, err: error },
        'internal error while closing a connection',
      );
    }
  }

  /** A protocol rule was broken: log why at debug and close this connection only. */
  violation(reason: string, reasonCode = 0x82): void {
    this.core.logger.debug(
      { clientId: this.clientId, remoteAddress: this.transport.remoteAddress, reason },
      'protocol violation, closing connection',
    );
    this.close('protocol-error', reasonCode, reason);
  }

  /** A method, not a field read, so TypeScript does not narrow it away inside loops. */
  isClosed(): boolean {
    return this.state === ConnectionState.Closed;
  }

  /** Pauses or resumes inbound bytes: paused while congested, held, or too many packets wait. */
  private syncReading(): void {
    const pending = this.pending;
    const shouldPause =
      this.congested ||
      this.holds > 0 ||
      (pending !== undefined && pending.length >= this.core.options.maxPendingPacketsBeforeConnack);
    if (shouldPause === this.readingPaused || this.state === ConnectionState.Closed) return;
    this.readingPaused = shouldPause;
    if (shouldPause) this.transport.pause();
    else this.transport.resume();
  }

  private dispatch(packet: Packet): void {
    if (packet.type === PacketType.Publish && packet.qos !== 0 && !this.countInboundPublish()) return;
    if (this.pending !== undefined) {
      // Held by flow control: acks and pings still pass, they are what lets queues drain.
      if (!this.waiting && passesHold(packet)) {
        handlePacket(this, packet);
        return;
      }
      this.pending.push(packet);
      if (this.pending.length >= this.core.options.maxPendingPacketsBeforeConnack) this.syncReading();
      return;
    }
    const result = handlePacket(this, packet);
    if (result !== undefined) this.waitFor(result);
  }

  /** Holds further packets until `work` settles, so their order is kept across async hooks. */
  private waitFor(work: Promise<void>): void {
    this.waiting = true;
    this.pending ??= [];
    work.then(
      () => {
        this.waiting = false;
        this.drainPending();
      },
      (error: unknown) => this.failed(error),
    );
  }

  /** Handles the packets that waited, in order, until the next wait or hold. */
  private drainPending(): void {
    if (this.waiting || this.holds > 0) return;
    const queued = this.pending;
    this.pending = undefined;
    if (queued === undefined || this.state === ConnectionState.Closed) return;
    try {
      this.syncReading();
      for (let i = 0; i < queued.length; i++) {
        if (this.isClosed()) return;
        const result = handlePacket(this, queued[i] as Packet);
        if (result !== undefined) this.waitFor(result);
        if (this.pending !== undefined) {
          // A new wait or hold: what is left stays behind it, in order.
          const rest = this.pending as Packet[];
          for (let j = i + 1; j < queued.length; j++) rest.push(queued[j] as Packet);
          return;
        }
      }
    } catch (error) {
      this.failed(error);
      return;
    }
    const failure = this.deferredFailure;
    this.deferredFailure = undefined;
    if (failure !== undefined && !this.isClosed()) this.reportMalformed(failure);
  }

  private decodeFailed(error: MalformedPacketError): void {
    // Packets before it wait for a hook or for flow control: they are answered first (a
    // CONNACK, acks), then the malformed one closes the connection.
    if (this.pending !== undefined) {
      this.deferredFailure = error;
      return;
    }
    this.reportMalformed(error);
  }

  private reportMalformed(error: MalformedPacketError): void {
    if (
      this.state === ConnectionState.AwaitingConnect &&
      error.code === 'CODEC_UNSUPPORTED_PROTOCOL_VERSION'
    ) {
      refuseUnsupportedVersion(this);
      return;
    }
    this.core.logger.debug(
      {
        clientId: this.clientId,
        remoteAddress: this.transport.remoteAddress,
        code: error.code,
        err: error.message,
      },
      'malformed packet, closing connection',
    );
    this.close('malformed-packet', error.reasonCode, error.message);
  }

  private armTimer(delayMs: number): void {
    this.timer = this.core.clock.setTimeout(() => this.timerFired(), delayMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.core.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One timer per connection, re-armed for the remaining time instead of reset per packet. */
  private timerFired(): void {
    this.timer = undefined;
    if (this.state === ConnectionState.Closed) return;
    if (this.state !== ConnectionState.Connected) {
      this.core.logger.debug({ remoteAddress: this.transport.remoteAddress }, 'no CONNECT in time, closing');
      this.close('connect-timeout');
      return;
    }
    if (this.keepaliveMs === 0) return;
    // Held by flow control, the broker is not reading this client: not its silence.
    if (this.holds > 0) this.lastActivity = this.core.clock.now();
    const idleMs = this.core.clock.now() - this.lastActivity;
    if (idleMs >= this.keepaliveMs) {
      this.core.logger.debug({ clientId: this.clientId, idleMs }, 'keepalive timeout, closing');
      this.close('keepalive-timeout', 0x8d);
      return;
    }
    this.armTimer(this.keepaliveMs - idleMs);
  }
}
