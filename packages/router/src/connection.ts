import {
  Decoder,
  encode,
  type MalformedPacketError,
  type Packet,
  PacketType,
  type ProtocolVersion,
} from '@mqtt-adapt/codec';
import type { BrokerCore } from './broker-core.js';
import type { ClientConnection } from './client-connection.js';
import type { TimerHandle } from './clock.js';
import { handleAck } from './handlers/acks.js';
import { handleConnect, refuseUnsupportedVersion } from './handlers/connect.js';
import { handlePublish } from './handlers/publish.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';
import type { ClientInfo, DisconnectReason } from './hooks.js';
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

const PINGRESP = encode({ type: PacketType.Pingresp }, 4);

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
  private lastActivity: number;
  private timer: TimerHandle | undefined = undefined;
  private readonly decoder: Decoder;
  /** Packets decoded while an async step (hook, store) is pending; handled in order after it. */
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
    this.lastActivity = core.clock.now();
    this.armTimer(options.connectTimeoutMs);
  }

  get clientId(): string | undefined {
    return this.client?.clientId;
  }

  feed(chunk: Buffer): void {
    if (this.state === ConnectionState.Closed) return;
    this.lastActivity = this.core.clock.now();
    this.decoder.feed(chunk);
  }

  drained(): void {
    if (!this.congested) return;
    this.congested = false;
    this.syncReading();
    if (this.session !== undefined && this.state === ConnectionState.Connected) this.core.pump(this.session);
  }

  transportClosed(error?: Error): void {
    if (error !== undefined)
      this.core.logger.debug({ clientId: this.clientId, err: error }, 'transport error');
    this.close(error === undefined ? 'transport-closed' : 'transport-error');
  }

  /** Writes one encoded packet; notes congestion when the transport is past its high-water mark. */
  write(bytes: Buffer): void {
    if (this.state === ConnectionState.Closed) return;
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
      this.send(packet);
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
          this.send(packet);
          afterSend?.();
        },
        (error: unknown) => {
          this.acksWaiting--;
          if (this.acksWaiting === 0) this.ackTail = undefined;
          this.storeFailed(error);
        },
      );
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
  close(reason: DisconnectReason, reasonCode?: number): void {
    if (this.state === ConnectionState.Closed) return;
    const wasConnected = this.state === ConnectionState.Connected;
    if (reasonCode !== undefined && this.protocolVersion === 5 && wasConnected) {
      this.send({ type: PacketType.Disconnect, reasonCode, properties: undefined });
    }
    this.state = ConnectionState.Closed;
    this.clearTimer();
    this.pending = undefined;
    this.transport.close();
    this.core.connectionClosed(this, reason, wasConnected);
  }

  /** A protocol rule was broken: log why at debug and close this connection only. */
  violation(reason: string, reasonCode = 0x82): void {
    this.core.logger.debug(
      { clientId: this.clientId, remoteAddress: this.transport.remoteAddress, reason },
      'protocol violation, closing connection',
    );
    this.close('protocol-error', reasonCode);
  }

  /** A method, not a field read, so TypeScript does not narrow it away inside loops. */
  isClosed(): boolean {
    return this.state === ConnectionState.Closed;
  }

  /** Pauses or resumes inbound bytes: paused while congested or while too many packets wait. */
  private syncReading(): void {
    const pending = this.pending;
    const shouldPause =
      this.congested ||
      (pending !== undefined && pending.length >= this.core.options.maxPendingPacketsBeforeConnack);
    if (shouldPause === this.readingPaused || this.state === ConnectionState.Closed) return;
    this.readingPaused = shouldPause;
    if (shouldPause) this.transport.pause();
    else this.transport.resume();
  }

  private dispatch(packet: Packet): void {
    if (this.pending !== undefined) {
      this.pending.push(packet);
      if (this.pending.length >= this.core.options.maxPendingPacketsBeforeConnack) this.syncReading();
      return;
    }
    const result = this.handle(packet);
    if (result !== undefined) this.waitFor(result);
  }

  /** Holds further packets until `work` settles, so their order is kept across async hooks. */
  private waitFor(work: Promise<void>): void {
    this.pending = [];
    work.then(
      () => this.resumeAfterWait(),
      (error: unknown) => {
        this.core.logger.error({ clientId: this.clientId, err: error }, 'packet handling failed');
        this.close('protocol-error', 0x80);
      },
    );
  }

  private resumeAfterWait(): void {
    const queued = this.pending;
    this.pending = undefined;
    if (queued === undefined || this.state === ConnectionState.Closed) return;
    this.syncReading();
    for (let i = 0; i < queued.length; i++) {
      if (this.isClosed()) return;
      const result = this.handle(queued[i] as Packet);
      if (result !== undefined) {
        // Keep what is left behind the new wait, in order.
        this.waitFor(result);
        (this.pending as unknown as Packet[]).push(...queued.slice(i + 1));
        return;
      }
    }
  }

  private handle(packet: Packet): Promise<void> | undefined {
    if (this.state === ConnectionState.Closed) return undefined;
    if (packet.type === PacketType.Connect) {
      if (this.state !== ConnectionState.AwaitingConnect) {
        this.violation('second CONNECT on one connection [MQTT-3.1.0-2]');
        return undefined;
      }
      return handleConnect(this, packet);
    }
    switch (packet.type) {
      case PacketType.Publish:
        return handlePublish(this, packet);
      case PacketType.Puback:
      case PacketType.Pubrec:
      case PacketType.Pubrel:
      case PacketType.Pubcomp:
        handleAck(this, packet);
        return undefined;
      case PacketType.Subscribe:
        return handleSubscribe(this, packet);
      case PacketType.Unsubscribe:
        handleUnsubscribe(this, packet);
        return undefined;
      case PacketType.Pingreq:
        this.write(PINGRESP);
        return undefined;
      case PacketType.Disconnect:
        // A clean DISCONNECT discards the will [MQTT-3.1.2-10]; 5.0 reason 0x04 asks to send it.
        if (this.session !== undefined && !(this.protocolVersion === 5 && packet.reasonCode === 0x04)) {
          this.session.will = undefined;
        }
        this.close('client-disconnect');
        return undefined;
      default:
        this.violation(`packet type ${packet.type} is not sent by clients`);
        return undefined;
    }
  }

  private decodeFailed(error: MalformedPacketError): void {
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
    this.close('malformed-packet', error.reasonCode);
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
    const idleMs = this.core.clock.now() - this.lastActivity;
    if (idleMs >= this.keepaliveMs) {
      this.core.logger.debug({ clientId: this.clientId, idleMs }, 'keepalive timeout, closing');
      this.close('keepalive-timeout', 0x8d);
      return;
    }
    this.armTimer(this.keepaliveMs - idleMs);
  }
}
