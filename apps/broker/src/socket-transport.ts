import type { Socket } from 'node:net';
import type { ClientConnection, Transport } from '@mqtt-adapt/router';
import type { YieldingInput } from './input-fairness.js';

/** Time a closing socket has to flush to a peer that does not read before it is destroyed. */
export const CLOSE_GRACE_MS = 1000;

/** The part of `net.Socket` the transport uses (a `tls.TLSSocket` has it too). */
export type TransportSocket = Pick<
  Socket,
  | 'cork'
  | 'uncork'
  | 'write'
  | 'end'
  | 'destroy'
  | 'pause'
  | 'resume'
  | 'destroyed'
  | 'writableEnded'
  | 'writableLength'
  | 'writableHighWaterMark'
  | 'remoteAddress'
  | 'remotePort'
>;

export interface SocketTransportOptions {
  /**
   * Backlog (bytes from earlier turns) past which the client counts as slow. Default, and at
   * least: the socket's `writableHighWaterMark`. A TLS socket's own mark is not configurable.
   */
  readonly writeHighWaterMarkBytes?: number;
  /** Protocol levels the listener accepts (`Transport.protocolVersions`). Default: every level. */
  readonly protocolVersions?: readonly (3 | 4 | 5)[];
  /** The client's username as the listener established it (`Transport.identity`): a certificate's CN. */
  readonly identity?: string;
}

// `SocketTransport` state bits.
/** Written to in this turn: in `turnWriters`, flushed at the end of the turn. */
const WRITTEN = 1;
/** Written to more than once in this turn: the socket is corked until the flush. */
const CORKED = 2;
const CLOSING = 4;
/** The router paused the input (a hook or the store pending, flow control). */
const ROUTER_PAUSED = 8;
/** The input yielded to other clients for a turn (`input-fairness.ts`). */
const YIELDED = 16;

/** A transport whose writes of a turn are handed to its socket at the end of the turn. */
export interface TurnWriter {
  flush(): void;
}

/** Transports written to in this turn, flushed together at its end. */
const turnWriters: TurnWriter[] = [];
/** Input callbacks running (see `beginInputTurn`): they flush the turn's writers themselves. */
let inputTurns = 0;

function flushTurnWriters(): void {
  // A flush never writes to another transport, but the length is read each time all the same.
  for (let i = 0; i < turnWriters.length; i++) turnWriters[i]!.flush();
  turnWriters.length = 0;
}

/**
 * Brackets the handling of one chunk of input (a socket's `data` listener): the writes it
 * makes, to any transport, are flushed by `endInputTurn`, as the `process.nextTick` flush would
 * flush them a moment later, but without queueing a tick per chunk. Writes made elsewhere
 * (timers, hooks that answer later, `drain`) are flushed by `process.nextTick`.
 */
export function beginInputTurn(): void {
  inputTurns++;
}

/** Ends what `beginInputTurn` began; flushes the turn's writers when the outermost one ends. */
export function endInputTurn(): void {
  if (--inputTurns === 0 && turnWriters.length > 0) flushTurnWriters();
}

/**
 * Has `writer.flush()` run at the end of this turn; call it at the first write of a turn only.
 * One `process.nextTick` for every transport written to in a turn, none inside an input turn.
 */
export function flushAtEndOfTurn(writer: TurnWriter): void {
  if (turnWriters.push(writer) === 1 && inputTurns === 0) process.nextTick(flushTurnWriters);
}

/**
 * A socket as the router's `Transport`. Writes of one event-loop turn reach the socket as one
 * write at the end of the turn (when the input callback that made them returns, see
 * `beginInputTurn`, else in `process.nextTick`): the first is held back, and a second one
 * corks the socket, which the end of the turn uncorks: many packets, one syscall. A turn with
 * a single write (a CONNACK, a PINGRESP, one delivery) hands it to the socket as it is, without
 * the cost of corking (Node's buffered-write bookkeeping).
 *
 * `write` returns false (the client is slow) when the socket still held `writableHighWaterMark`
 * bytes or more from earlier turns when this turn began (the listener creates sockets with the
 * configured `writeHighWaterMarkBytes`). Then `socket.write` itself answers false too, which
 * guarantees a `drain` event follows, and the listener turns that into
 * `ClientConnection.drained()`. Bytes written within one turn (the fan-out of one inbound
 * chunk) never make a client slow on their own.
 *
 * Memory: one per connection, so it keeps its socket, its listener's options (shared by every
 * transport of that listener), the router's connection and a few numbers, and nothing else;
 * the transports written to in a turn are flushed by one `process.nextTick` for them all.
 */
export class SocketTransport implements Transport, TurnWriter, YieldingInput {
  readonly remoteAddress: string;
  /** The options it was created with: one object shared by every transport of a listener. */
  readonly options: SocketTransportOptions;
  /** The router's connection for this transport, once the listener has attached one. */
  connection: ClientConnection | undefined = undefined;
  readonly #socket: TransportSocket;
  /** `WRITTEN` | `CORKED` | `CLOSING` | `ROUTER_PAUSED` | `YIELDED`. */
  #state = 0;
  #backlogAtTurnStart = 0;
  /** The first write of this turn, held back until a second one or the end of the turn. */
  #held: Buffer | undefined = undefined;
  #graceTimer: NodeJS.Timeout | undefined = undefined;

  constructor(socket: TransportSocket, options: SocketTransportOptions = {}) {
    this.#socket = socket;
    this.options = options;
    this.remoteAddress = formatAddress(socket.remoteAddress, socket.remotePort);
  }

  get protocolVersions(): readonly (3 | 4 | 5)[] | undefined {
    return this.options.protocolVersions;
  }

  get identity(): string | undefined {
    return this.options.identity;
  }

  /** True once `close()` was called: inbound bytes are no longer of interest. */
  get isClosing(): boolean {
    return (this.#state & CLOSING) !== 0;
  }

  write(data: Buffer): boolean {
    const socket = this.#socket;
    const state = this.#state;
    // Past end() or destroy() a write would raise ERR_STREAM_WRITE_AFTER_END; the connection
    // is going away and the router hears of it through transportClosed().
    if ((state & CLOSING) !== 0 || socket.destroyed || socket.writableEnded) return false;
    // The client is slow when the backlog from earlier turns is at the mark: a burst written
    // within one turn is not a slow reader. The mark is never below the socket's own, so the
    // socket's answer to this turn's write is false too, and a 'drain' follows.
    const highWaterMark = Math.max(this.options.writeHighWaterMarkBytes ?? 0, socket.writableHighWaterMark);
    if ((state & WRITTEN) === 0) {
      // The first write of the turn: held back until the end of it (or a second write).
      this.#state = state | WRITTEN;
      // What is still unsent from earlier turns decides whether the client is slow; bytes of
      // this turn are bounded by the input chunk being handled.
      this.#backlogAtTurnStart = socket.writableLength;
      this.#held = data;
      flushAtEndOfTurn(this);
      return this.#backlogAtTurnStart < highWaterMark;
    }
    if ((state & CORKED) === 0) {
      this.#state = state | CORKED;
      socket.cork();
      this.#writeHeld();
    }
    return socket.write(data) || this.#backlogAtTurnStart < highWaterMark;
  }

  /** Hands the writes of this turn to the socket; runs at the end of the turn (see `write`). */
  flush(): void {
    const state = this.#state;
    if ((state & WRITTEN) === 0) return;
    this.#state = state & ~(WRITTEN | CORKED);
    const socket = this.#socket;
    if (socket.destroyed) {
      this.#held = undefined;
      return;
    }
    if ((state & CORKED) !== 0) socket.uncork();
    else this.#writeHeld();
  }

  /** Writes the held first write of the turn, if any. */
  #writeHeld(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    if (!this.#socket.writableEnded) this.#socket.write(held);
  }

  /**
   * Closes the socket after what was written. With nothing left to send (the common case: a
   * DISCONNECT, a keepalive timeout) it is destroyed at once, as Mosquitto closes its socket:
   * no half-close and no wait for the peer's FIN, which would cost a `shutdown`, a read of
   * the end of the stream and an `epoll_ctl` per connection. Otherwise `end()` sends what is
   * left, then FIN; a peer that never reads would hold the socket open, so it is destroyed
   * after `CLOSE_GRACE_MS`.
   */
  close(): void {
    const state = this.#state;
    if ((state & CLOSING) !== 0) return;
    this.#state = state | CLOSING;
    const socket = this.#socket;
    if (socket.destroyed) return;
    if (this.#held === undefined && (state & CORKED) === 0 && socket.writableLength === 0) {
      socket.destroy();
      return;
    }
    // What this turn wrote goes before the FIN: the held write here, and end() uncorks and
    // flushes what was written.
    this.#writeHeld();
    socket.end();
    this.#graceTimer = setTimeout(destroySocket, CLOSE_GRACE_MS, socket);
    this.#graceTimer.unref();
  }

  /** The listener calls this on the socket's `close` event. */
  socketClosed(): void {
    this.#state |= CLOSING;
    if (this.#graceTimer !== undefined) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
    }
  }

  pause(): void {
    this.#state |= ROUTER_PAUSED;
    this.#socket.pause();
  }

  resume(): void {
    this.#state &= ~ROUTER_PAUSED;
    if ((this.#state & (CLOSING | YIELDED)) === 0) this.#socket.resume();
  }

  yieldInput(): void {
    this.#state |= YIELDED;
    this.#socket.pause();
  }

  resumeInput(): void {
    this.#state &= ~YIELDED;
    if ((this.#state & (CLOSING | ROUTER_PAUSED)) === 0) this.#socket.resume();
  }
}

// Module-level callbacks: no closure per write or per close (STYLE.md §5).
function destroySocket(socket: TransportSocket): void {
  socket.destroy();
}

/** `127.0.0.1:53211`, `[::1]:53211`. */
export function formatAddress(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return 'unknown';
  const host = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}
