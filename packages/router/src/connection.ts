import {
  type Decoder,
  encode,
  type MalformedPacketError,
  type Packet,
  PacketType,
  type ProtocolVersion,
  ReasonCode,
} from '@mqtt-adapt/codec';
import type { BrokerCore } from './broker-core.js';
import type { ClientConnection } from './client-connection.js';
import { DISCONNECT_REASON_STRINGS, disconnectPacket } from './disconnect-reasons.js';
import { DurableAcks, type DurableAckTarget } from './durable-acks.js';
import type { AuthExchange } from './handlers/auth.js';
import { refuseUnsupportedVersion } from './handlers/connect.js';
import { handlePacket, passesHold } from './handlers/packet.js';
import type { ClientInfo, DisconnectReason } from './hooks.js';
import type { DeadlineEntry } from './internal/deadline-heap.js';
import type { DecoderClient } from './internal/decoder-pool.js';
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

/** A 4-byte Remaining Length of 268,435,455 plus the fixed header: no packet is larger. */
export const PROTOCOL_MAX_PACKET_SIZE = 268_435_460;

// `Connection.flags` bits: the booleans of a connection in one small integer.
/** The transport is past its high-water mark: QoS 0 is dropped, QoS 1/2 waits. */
const CONGESTED = 1;
/** 5.0: the client did not set Request Problem Information to 0, so Reason Strings may go. */
const PROBLEM_INFORMATION = 2;
/** An async step (hook, store) is pending: every later packet waits in `pending`, in order. */
const WAITING = 4;
/** The transport is paused (congested, held, or too many packets wait). */
const READING_PAUSED = 8;
/** The decoder this connection holds (a packet split across chunks) is a `first` one. */
const FIRST_DECODER = 16;
/** Accepted with `AcceptOptions.lossless`: its session never drops an acknowledged message. */
const LOSSLESS = 32;

/**
 * What few connections ever need, in one object allocated at the first need (see `Connection.extras`):
 * an idle connection does without it.
 */
class ConnectionExtras {
  /** `maxPublishRatePerClient`'s token bucket; undefined while that limit is off. */
  publishRate: PublishRateLimiter | undefined = undefined;
  /** 5.0 outbound Topic Aliases the broker sets for this client (see `Connection`). */
  outboundTopicAliases: OutboundTopicAliases | undefined = undefined;
  /** Flow control holds (full subscriber queues, queued-bytes budget) pausing this publisher. */
  holds = 0;
  /** 5.0 inbound Topic Aliases this client set (alias -> topic name); allocated on the first. */
  topicAliases: Map<number, string> | undefined = undefined;
  /** Limits whose first hit on this connection was logged (bits of `Limits`). */
  limitsLogged = 0;
  /** 5.0 enhanced authentication; set only when the CONNECT names an Authentication Method. */
  auth: AuthExchange | undefined = undefined;
  /** Bytes of a partly received packet, as counted in `core.partialPacketBytes`. */
  partialBytes = 0;
  /** A malformed packet behind packets still waiting: reported after them, in stream order. */
  deferredFailure: MalformedPacketError | undefined = undefined;
  /** Acks waiting for a store flush; later acks queue behind them to keep their order. */
  acks: DurableAcks | undefined = undefined;
}

/**
 * One client's connection: decodes its bytes, runs packets through the handlers in order,
 * keeps its deadline (connect timeout, then keepalive) in the broker's `DeadlineHeap` and
 * writes to its transport.
 *
 * Memory: 10,000s of these sit idle, so one holds no closure and as few fields as will do: its
 * decoder is lent by `core.decoders` for each chunk (kept only while a packet is split across
 * chunks), its deadline and last activity live in `core.deadlines`, its booleans are bits of
 * `flags`, and what few connections need lives in `ConnectionExtras`, allocated at the first
 * need. Every field costs 8 bytes per connection; a double field 16 more.
 */
export class Connection implements ClientConnection, DeadlineEntry, DecoderClient, DurableAckTarget {
  state: ConnectionState = ConnectionState.AwaitingConnect;
  session: Session | undefined = undefined;
  client: ClientInfo | undefined = undefined;
  protocolVersion: ProtocolVersion = 4;
  keepaliveMs = 0;
  /** Outbound QoS 1/2 messages left unacknowledged at most: the broker's limit or the client's. */
  inflightLimit: number;
  /**
   * Inbound QoS 1/2 PUBLISH packets not yet acknowledged by the broker: counted as they arrive
   * (held or waiting included), given back when their PUBACK, PUBCOMP or PUBREC of 0x80 or
   * more is written. Past the broker's `receiveMaximum`, a 5.0 client is disconnected (0x93).
   */
  inboundUnacknowledged = 0;
  /**
   * The 5.0 client's Maximum Packet Size (capped at the protocol's largest packet, which keeps
   * it a small integer: a double would cost a heap number per connection); deliveries larger
   * than it are discarded.
   */
  maxOutgoingPacketSize = PROTOCOL_MAX_PACKET_SIZE;
  /** This connection's slot in `core.deadlines` (`DeadlineEntry`); -1 while it has no deadline. */
  deadlineIndex = -1;
  /** `CONGESTED` | `PROBLEM_INFORMATION` | `WAITING` | `READING_PAUSED` | `FIRST_DECODER` | `LOSSLESS`. */
  private flags = PROBLEM_INFORMATION;
  /** A decoder holding part of a packet split across chunks; undefined between packets. */
  private decoder: Decoder | undefined = undefined;
  /**
   * Packets decoded while an async step is pending or while flow control holds this client;
   * handled in order after it.
   */
  private pending: Packet[] | undefined = undefined;
  /** See `ConnectionExtras`; undefined until first needed. */
  private extras: ConnectionExtras | undefined = undefined;

  constructor(
    readonly core: BrokerCore,
    readonly transport: Transport,
    lossless = false,
  ) {
    const options = core.options;
    if (lossless) this.flags |= LOSSLESS;
    this.inflightLimit = options.maxInflightMessages;
    if (options.maxPublishRatePerClient > 0) {
      this.needExtras().publishRate = new PublishRateLimiter(this, options.maxPublishRatePerClient);
    }
    // The connect timeout; the activity time (last input) is what keepalive later counts from.
    const now = core.clock.now();
    core.deadlines.schedule(this, now + options.connectTimeoutMs, now);
  }

  get clientId(): string | undefined {
    return this.client?.clientId;
  }

  /** The transport is past its high-water mark: QoS 0 is dropped, QoS 1/2 waits. */
  get congested(): boolean {
    return (this.flags & CONGESTED) !== 0;
  }

  /** Accepted with `AcceptOptions.lossless` (see `FlowControl`). */
  get isLossless(): boolean {
    return (this.flags & LOSSLESS) !== 0;
  }

  /** 5.0: the client did not set Request Problem Information to 0, so Reason Strings may go. */
  get problemInformation(): boolean {
    return (this.flags & PROBLEM_INFORMATION) !== 0;
  }

  set problemInformation(allowed: boolean) {
    this.flags = allowed ? this.flags | PROBLEM_INFORMATION : this.flags & ~PROBLEM_INFORMATION;
  }

  /** `maxPublishRatePerClient`'s token bucket; undefined while that limit is off. */
  get publishRate(): PublishRateLimiter | undefined {
    return this.extras?.publishRate;
  }

  /**
   * 5.0 outbound Topic Aliases the broker sets for this client; undefined when it takes none
   * (3.x, Topic Alias Maximum 0 or absent, `maxOutboundTopicAliases` 0): its deliveries then
   * share their bytes with every other subscriber's.
   */
  get outboundTopicAliases(): OutboundTopicAliases | undefined {
    return this.extras?.outboundTopicAliases;
  }

  set outboundTopicAliases(aliases: OutboundTopicAliases | undefined) {
    if (aliases !== undefined || this.extras !== undefined) this.needExtras().outboundTopicAliases = aliases;
  }

  /** 5.0 inbound Topic Aliases this client set (alias -> topic name); undefined before the first. */
  get topicAliases(): Map<number, string> | undefined {
    return this.extras?.topicAliases;
  }

  set topicAliases(aliases: Map<number, string> | undefined) {
    this.needExtras().topicAliases = aliases;
  }

  /** Limits whose first hit on this connection was logged (bits of `Limits`). */
  get limitsLogged(): number {
    return this.extras === undefined ? 0 : this.extras.limitsLogged;
  }

  set limitsLogged(bits: number) {
    this.needExtras().limitsLogged = bits;
  }

  /** 5.0 enhanced authentication; undefined unless the CONNECT named an Authentication Method. */
  get auth(): AuthExchange | undefined {
    return this.extras?.auth;
  }

  set auth(exchange: AuthExchange | undefined) {
    this.needExtras().auth = exchange;
  }

  private needExtras(): ConnectionExtras {
    this.extras ??= new ConnectionExtras();
    return this.extras;
  }

  feed(chunk: Buffer): void {
    if (this.state === ConnectionState.Closed) return;
    const core = this.core;
    core.deadlines.touch(this, core.clock.now());
    core.counters.bytesReceived += chunk.length;
    const decoders = core.decoders;
    let decoder = this.decoder;
    if (decoder === undefined) {
      // Nothing pending of the stream: a decoder from the pool, for this chunk.
      const first = this.state === ConnectionState.AwaitingConnect;
      decoder = decoders.take(first, this.protocolVersion);
      this.flags = first ? this.flags | FIRST_DECODER : this.flags & ~FIRST_DECODER;
    }
    try {
      decoders.feed(this, decoder, chunk);
    } catch (error) {
      // Our bug while handling one of this client's packets: it costs this connection only.
      this.failed(error);
    }
    if (!this.isClosed()) {
      this.countPartialPacket(decoder);
      if (decoder.bufferedBytes !== 0 || decoder.failed) {
        // Part of a packet, or a failed stream whose later bytes must be ignored: kept.
        this.decoder = decoder;
        return;
      }
    }
    // Between packets, or no longer needed (closed): back to the pool (`give` resets it).
    this.decoder = undefined;
    decoders.give(decoder, (this.flags & FIRST_DECODER) !== 0);
  }

  /** A packet decoded from this connection's bytes (`DecoderClient`). */
  packetDecoded(packet: Packet): void {
    this.dispatch(packet);
  }

  /**
   * Keeps `core.partialPacketBytes` up to date with this connection's partly received packet,
   * and closes this connection when it takes the broker past `maxPartialPacketBytes`.
   */
  private countPartialPacket(decoder: Decoder): void {
    const buffered = decoder.bufferedBytes;
    const extras = this.extras;
    // Between packets with nothing counted, the common case: no extras needed.
    if (buffered === 0 && (extras === undefined || extras.partialBytes === 0)) return;
    const counted = this.needExtras();
    const delta = buffered - counted.partialBytes;
    if (delta === 0) return;
    counted.partialBytes = buffered;
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
    const extras = this.needExtras();
    extras.holds++;
    if (extras.holds > 1 || this.state === ConnectionState.Closed) return;
    this.pending ??= [];
    this.syncReading();
  }

  release(): void {
    const extras = this.extras;
    if (extras === undefined || extras.holds === 0) return;
    extras.holds--;
    if (extras.holds > 0 || this.state === ConnectionState.Closed) return;
    // Keepalive does not count the time the broker itself stopped reading this client.
    this.core.deadlines.touch(this, this.core.clock.now());
    this.syncReading();
    // Not from inside the caller's loop (another client's ack): handled in a microtask. A
    // closure per release, not one per connection: holds are rare, connections are many.
    if ((this.flags & WAITING) === 0) queueMicrotask(() => this.drainPending());
  }

  /** Flow control holds pausing this publisher. */
  private get holds(): number {
    return this.extras === undefined ? 0 : this.extras.holds;
  }

  drained(): void {
    if ((this.flags & CONGESTED) === 0) return;
    this.flags &= ~CONGESTED;
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
    if (!this.transport.write(bytes) && (this.flags & CONGESTED) === 0) {
      this.flags |= CONGESTED;
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
   * `confirmed`: the ack waits for it too (other nodes of a cluster making the message durable).
   */
  ackDurably(packet: Packet, afterSend?: () => void, confirmed?: PromiseLike<void>): void {
    const flushed = this.core.persistence.store.flush();
    const acks = this.extras?.acks;
    if (flushed === undefined && confirmed === undefined && (acks === undefined || acks.waiting === 0)) {
      this.sendAckNow(packet, afterSend);
      return;
    }
    const extras = this.needExtras();
    extras.acks ??= new DurableAcks(this);
    extras.acks.add(packet, afterSend, flushed, confirmed);
  }

  /** Open: acks may still be written (`DurableAckTarget`). */
  get isOpen(): boolean {
    return this.state !== ConnectionState.Closed;
  }

  /** Writes an acknowledgement now, then runs `afterSend` (`DurableAckTarget`). */
  sendAckNow(packet: Packet, afterSend: (() => void) | undefined): void {
    this.sendAck(packet);
    afterSend?.();
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
    const deadlines = this.core.deadlines;
    if (this.keepaliveMs === 0) {
      deadlines.cancel(this);
      return;
    }
    const now = this.core.clock.now();
    // Idle time counts from the last input, as it has since the connection opened.
    deadlines.schedule(this, now + this.keepaliveMs, deadlines.activityOf(this, now));
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
    this.core.deadlines.cancel(this);
    this.publishRate?.stop(this.core.clock);
    this.pending = undefined;
    const extras = this.extras;
    if (extras !== undefined) {
      this.core.partialPacketBytes -= extras.partialBytes;
      extras.partialBytes = 0;
    }
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
      (this.flags & CONGESTED) !== 0 ||
      this.holds > 0 ||
      (pending !== undefined && pending.length >= this.core.options.maxPendingPacketsBeforeConnack);
    const paused = (this.flags & READING_PAUSED) !== 0;
    if (shouldPause === paused || this.state === ConnectionState.Closed) return;
    this.flags ^= READING_PAUSED;
    if (shouldPause) this.transport.pause();
    else this.transport.resume();
  }

  private dispatch(packet: Packet): void {
    if (packet.type === PacketType.Publish && packet.qos !== 0 && !this.countInboundPublish()) return;
    if (this.pending !== undefined) {
      // Held by flow control: acks and pings still pass, they are what lets queues drain.
      if ((this.flags & WAITING) === 0 && passesHold(packet)) {
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
    this.flags |= WAITING;
    this.pending ??= [];
    work.then(
      () => {
        this.flags &= ~WAITING;
        this.drainPending();
      },
      (error: unknown) => this.failed(error),
    );
  }

  /** Handles the packets that waited, in order, until the next wait or hold. */
  private drainPending(): void {
    if ((this.flags & WAITING) !== 0 || this.holds > 0) return;
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
    const failure = this.extras?.deferredFailure;
    if (failure === undefined) return;
    this.extras!.deferredFailure = undefined;
    if (!this.isClosed()) this.reportMalformed(failure);
  }

  /** The decoder found a malformed packet in this connection's bytes (`DecoderClient`). */
  decodeFailed(error: MalformedPacketError): void {
    // Packets before it wait for a hook or for flow control: they are answered first (a
    // CONNACK, acks), then the malformed one closes the connection.
    if (this.pending !== undefined) {
      this.needExtras().deferredFailure = error;
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

  /**
   * The connection's deadline passed (`DeadlineEntry`): connect timeout before CONNACK, then
   * keepalive, re-scheduled for the remaining time instead of reset per packet.
   */
  deadlinePassed(activity: number): void {
    if (this.state === ConnectionState.Closed) return;
    if (this.state !== ConnectionState.Connected) {
      this.core.logger.debug({ remoteAddress: this.transport.remoteAddress }, 'no CONNECT in time, closing');
      this.close('connect-timeout');
      return;
    }
    if (this.keepaliveMs === 0) return;
    const now = this.core.clock.now();
    // Held by flow control, the broker is not reading this client: not its silence.
    const lastActivity = this.holds > 0 ? now : activity;
    const idleMs = now - lastActivity;
    if (idleMs >= this.keepaliveMs) {
      this.core.logger.debug({ clientId: this.clientId, idleMs }, 'keepalive timeout, closing');
      this.close('keepalive-timeout', 0x8d);
      return;
    }
    this.core.deadlines.schedule(this, lastActivity + this.keepaliveMs, lastActivity);
  }
}
