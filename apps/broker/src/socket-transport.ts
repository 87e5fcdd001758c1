import type { Socket } from 'node:net';
import type { Transport } from '@mqtt-adapt/router';

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

/**
 * A socket as the router's `Transport`. Writes of one event-loop turn are corked and flushed
 * by one `uncork` in `process.nextTick`: many packets, one syscall.
 *
 * `write` returns false (the client is slow) when the socket still held `writableHighWaterMark`
 * bytes or more from earlier turns when this turn began (the listener creates sockets with the
 * configured `writeHighWaterMarkBytes`). Then `socket.write` itself answers false too, which
 * guarantees a `drain` event follows, and the listener turns that into
 * `ClientConnection.drained()`. Bytes written within one turn (the fan-out of one inbound
 * chunk) never make a client slow on their own.
 */
export class SocketTransport implements Transport {
  readonly remoteAddress: string;
  readonly protocolVersions: readonly (3 | 4 | 5)[] | undefined;
  readonly identity: string | undefined;
  readonly #socket: TransportSocket;
  #corked = false;
  #backlogAtTurnStart = 0;
  readonly #highWaterMark: number;
  #closing = false;
  #graceTimer: NodeJS.Timeout | undefined = undefined;

  constructor(socket: TransportSocket, options: SocketTransportOptions = {}) {
    this.#socket = socket;
    // Never below the socket's own mark: a false must always be followed by a 'drain'.
    this.#highWaterMark = Math.max(options.writeHighWaterMarkBytes ?? 0, socket.writableHighWaterMark);
    this.remoteAddress = formatAddress(socket.remoteAddress, socket.remotePort);
    this.protocolVersions = options.protocolVersions;
    this.identity = options.identity;
  }

  /** True once `close()` was called: inbound bytes are no longer of interest. */
  get isClosing(): boolean {
    return this.#closing;
  }

  write(data: Buffer): boolean {
    const socket = this.#socket;
    // Past end() or destroy() a write would raise ERR_STREAM_WRITE_AFTER_END; the connection
    // is going away and the router hears of it through transportClosed().
    if (this.#closing || socket.destroyed || socket.writableEnded) return false;
    if (!this.#corked) {
      this.#corked = true;
      // What is still unsent from earlier turns decides whether the client is slow; bytes of
      // this turn are bounded by the input chunk being handled.
      this.#backlogAtTurnStart = socket.writableLength;
      socket.cork();
      process.nextTick(uncorkTransport, this);
    }
    // A false from the socket always brings a 'drain'. Only report it (slow client) when the
    // backlog predates this turn: a burst written within one turn is not a slow reader.
    return socket.write(data) || this.#backlogAtTurnStart < this.#highWaterMark;
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
    const socket = this.#socket;
    if (socket.destroyed) return;
    // end() uncorks and flushes what was written, then sends FIN. A peer that never reads
    // would hold the socket open: destroy it after a grace period.
    socket.end();
    this.#graceTimer = setTimeout(destroySocket, CLOSE_GRACE_MS, socket);
    this.#graceTimer.unref();
  }

  /** The listener calls this on the socket's `close` event. */
  socketClosed(): void {
    this.#closing = true;
    if (this.#graceTimer !== undefined) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
    }
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#closing) this.#socket.resume();
  }
}

// Module-level callbacks: no closure per write or per close (STYLE.md §5).
function uncorkTransport(transport: SocketTransport): void {
  transport.flush();
}

function destroySocket(socket: TransportSocket): void {
  socket.destroy();
}

/** `127.0.0.1:53211`, `[::1]:53211`. */
export function formatAddress(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return 'unknown';
  const host = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}
