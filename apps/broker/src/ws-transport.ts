import type { Transport } from '@mqtt-adapt/router';
import type { WebSocket } from 'ws';
import type { YieldingInput } from './input-fairness.js';
import {
  CLOSE_GRACE_MS,
  flushAtEndOfTurn,
  formatAddress,
  type TransportSocket,
  type TurnWriter,
} from './socket-transport.js';

/** The underlying socket of a WebSocket, as far as the transport uses it. */
export type WebSocketRawSocket = Pick<
  TransportSocket,
  | 'cork'
  | 'uncork'
  | 'destroyed'
  | 'writableLength'
  | 'writableHighWaterMark'
  | 'remoteAddress'
  | 'remotePort'
>;

export interface WebSocketTransportOptions {
  /** Backlog (bytes from earlier turns) past which the client counts as slow; at least the socket's mark. */
  readonly writeHighWaterMarkBytes?: number;
  /** Protocol levels the listener accepts (`Transport.protocolVersions`). Default: every level. */
  readonly protocolVersions?: readonly (3 | 4 | 5)[];
  /** The client's username as the listener established it (`Transport.identity`): a certificate's CN. */
  readonly identity?: string;
}

/** Every write is one binary message, uncompressed. Built once (STYLE.md §5). */
const SEND_OPTIONS = Object.freeze({ binary: true, compress: false, fin: true });
/** WebSocket close code of a normal closure. */
const NORMAL_CLOSURE = 1000;

/**
 * A WebSocket (the `ws` package) as the router's `Transport`: each `write` is one binary
 * message (MQTT allows packets to be split or combined across messages; one per write keeps
 * it simple for clients). As `SocketTransport`, the writes of one event-loop turn are corked on
 * the underlying socket and flushed by one `uncork` at the end of the turn (`flushAtEndOfTurn`:
 * when the input callback returns, else in `process.nextTick`), and `write` returns
 * false only when the backlog from earlier turns reached the high-water mark; the socket's
 * `drain` then becomes `ClientConnection.drained()` (the listener wires it).
 */
export class WebSocketTransport implements Transport, TurnWriter, YieldingInput {
  readonly remoteAddress: string;
  readonly protocolVersions: readonly (3 | 4 | 5)[] | undefined;
  readonly identity: string | undefined;
  readonly #ws: WebSocket;
  readonly #socket: WebSocketRawSocket;
  readonly #highWaterMark: number;
  #corked = false;
  #backlogAtTurnStart = 0;
  #closing = false;
  /** The router paused the input; the input yielded to other clients for a turn. */
  #routerPaused = false;
  #yielded = false;
  #graceTimer: NodeJS.Timeout | undefined = undefined;

  constructor(ws: WebSocket, socket: WebSocketRawSocket, options: WebSocketTransportOptions = {}) {
    this.#ws = ws;
    this.#socket = socket;
    this.#highWaterMark = Math.max(options.writeHighWaterMarkBytes ?? 0, socket.writableHighWaterMark);
    this.remoteAddress = formatAddress(socket.remoteAddress, socket.remotePort);
    this.protocolVersions = options.protocolVersions;
    this.identity = options.identity;
  }

  /** True once `close()` was called or the socket closed: inbound messages are ignored. */
  get isClosing(): boolean {
    return this.#closing;
  }

  write(data: Buffer): boolean {
    const socket = this.#socket;
    // 1 = OPEN. Past close() a send would fail; the router hears of the end via transportClosed().
    if (this.#closing || this.#ws.readyState !== 1 || socket.destroyed) return false;
    if (!this.#corked) {
      this.#corked = true;
      this.#backlogAtTurnStart = socket.writableLength;
      socket.cork();
      flushAtEndOfTurn(this);
    }
    // ws writes the frame to the socket synchronously (no compression). A socket at or past its
    // own mark has set needDrain: a 'drain' follows, so a false here is always answered.
    this.#ws.send(data, SEND_OPTIONS);
    return (
      socket.writableLength < socket.writableHighWaterMark || this.#backlogAtTurnStart < this.#highWaterMark
    );
  }

  /** Runs once per corked turn (see `write`). */
  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    if (!this.#socket.destroyed) this.#socket.uncork();
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    const ws = this.#ws;
    // 2 = CLOSING, 3 = CLOSED: the close handshake is under way or done.
    if (ws.readyState >= 2) return;
    // Sends a close frame after what was written; the peer answers and the socket ends. A peer
    // that never answers is cut off after the grace period (ws's own timeout is 30 s).
    ws.close(NORMAL_CLOSURE);
    this.#graceTimer = setTimeout(terminate, CLOSE_GRACE_MS, ws);
    this.#graceTimer.unref();
  }

  /** The listener calls this on the WebSocket's `close` event. */
  socketClosed(): void {
    this.#closing = true;
    if (this.#graceTimer !== undefined) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
    }
  }

  pause(): void {
    this.#routerPaused = true;
    this.#ws.pause();
  }

  resume(): void {
    this.#routerPaused = false;
    if (!this.#closing && !this.#yielded) this.#ws.resume();
  }

  yieldInput(): void {
    this.#yielded = true;
    this.#ws.pause();
  }

  resumeInput(): void {
    this.#yielded = false;
    if (!this.#closing && !this.#routerPaused) this.#ws.resume();
  }
}

// Module-level callbacks: no closure per write or per close (STYLE.md §5).
function terminate(ws: WebSocket): void {
  ws.terminate();
}
