import type { Server } from 'node:net';
import type { Logger } from 'pino';
import { BrokerAppError } from '../errors.js';
import type { ListenerConfig, ListenerType } from '../listener-config.js';
import { CLOSE_GRACE_MS } from '../socket-transport.js';

// What every listener kind shares: binding with one-line errors, maxConnections, and the
// bookkeeping of open sockets for a graceful close.

/** Where a listener is bound, as the OS reports it (port 0 resolved). */
export interface ListenerAddress {
  readonly listener: ListenerType;
  readonly host: string;
  readonly port: number;
  /** ws and wss: the HTTP path of the endpoint. */
  readonly path?: string;
}

export interface RunningListener {
  readonly address: ListenerAddress;
  /** Stops accepting new connections; open ones are left to the broker. */
  stopAccepting(): void;
  /**
   * Resolves once every socket of this listener has closed; sockets still open after the
   * close grace period are destroyed. Call after `broker.close()`.
   */
  closed(): Promise<void>;
  /** Open sockets, for tests and stats. */
  readonly connectionCount: number;
  /** Sockets closed at once because `maxConnections` were open. */
  readonly refusedConnections: number;
  /**
   * tls and wss: reads the certificate files again and serves them to new connections; open
   * connections keep theirs. A file that cannot be used is logged at `error` and the old
   * certificate stays. Returns whether the new files are in use. Undefined for tcp and ws.
   */
  reloadCertificates?(): boolean;
}

/** The flag that sets the port of a listener of this kind, for error lines. */
const PORT_FLAG: Record<ListenerType, string> = {
  tcp: '--port',
  tls: '--tls-port',
  ws: '--ws-port',
  wss: '--wss-port',
};

/** The minimal socket shape this module tracks (net, tls and the raw socket under a WebSocket). */
interface TrackedSocket {
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Open sockets of one listener and the listener's own lifecycle: `stopAccepting()` closes the
 * server, `closed()` waits for every socket, destroying those left after `CLOSE_GRACE_MS`.
 */
export class ListenerSockets {
  readonly #sockets = new Set<TrackedSocket>();
  readonly #server: Server;
  readonly #serverClosed: Promise<void>;
  #accepting = true;
  refused = 0;

  constructor(server: Server) {
    this.#server = server;
    this.#serverClosed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  get size(): number {
    return this.#sockets.size;
  }

  /**
   * Tracks `socket` until its `close`. With `removeOnClose` false the caller calls `delete` from
   * a `close` listener of its own: no closure per socket here.
   */
  add(socket: TrackedSocket, removeOnClose = true): void {
    this.#sockets.add(socket);
    if (removeOnClose) socket.once('close', () => this.#sockets.delete(socket));
  }

  delete(socket: TrackedSocket): void {
    this.#sockets.delete(socket);
  }

  stopAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    this.#server.close();
  }

  async closed(): Promise<void> {
    this.stopAccepting();
    const sockets = [...this.#sockets];
    if (sockets.length > 0) {
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, CLOSE_GRACE_MS);
      // Each socket's own 'close' (after transportClosed() ran), not the server's 'close',
      // which Node emits a turn earlier.
      await Promise.all(
        sockets.map((socket) => new Promise<void>((resolve) => socket.once('close', resolve))),
      );
      clearTimeout(timer);
    }
    await this.#serverClosed;
  }
}

/**
 * `maxConnections` (0: unlimited) through `net.Server#maxConnections`: Node closes a socket
 * past it at once and emits `drop`, counted here and logged once.
 */
export function limitConnections(
  server: Server,
  config: ListenerConfig,
  sockets: ListenerSockets,
  log: Logger,
): void {
  if (config.maxConnections === 0) return;
  server.maxConnections = config.maxConnections;
  server.on('drop', () => {
    sockets.refused++;
    if (sockets.refused === 1) {
      log.warn(
        { listener: config.type, port: config.port, maxConnections: config.maxConnections },
        'maxConnections reached; refusing new connections (logged once)',
      );
    }
  });
}

/** Binds `server` to the listener's host and port; one-line `BrokerAppError` on failure. */
export function bind(server: Server, config: ListenerConfig): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(listenError(error, config));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: config.host, port: config.port });
  });
}

/** The address the OS bound, with the listener's kind (and path). */
export function boundAddress(server: Server, config: ListenerConfig): ListenerAddress {
  const bound = server.address();
  const isObject = typeof bound === 'object' && bound !== null;
  return {
    listener: config.type,
    host: isObject ? bound.address : config.host,
    port: isObject ? bound.port : config.port,
    ...('path' in config ? { path: config.path } : {}),
  };
}

/** The one line the CLI prints when a port cannot be bound. */
function listenError(error: NodeJS.ErrnoException, config: ListenerConfig): BrokerAppError {
  const { host, port } = config;
  const flag = PORT_FLAG[config.type];
  const cause = { cause: error };
  switch (error.code) {
    case 'EADDRINUSE':
      return new BrokerAppError(
        'BROKER_PORT_IN_USE',
        `port ${port} is in use on ${host}; pass ${flag} or stop the other process`,
        cause,
      );
    case 'EACCES':
      return new BrokerAppError(
        'BROKER_LISTEN_FAILED',
        `port ${port} on ${host} needs privileges (EACCES); pass ${flag} above 1023`,
        cause,
      );
    case 'EADDRNOTAVAIL':
      return new BrokerAppError(
        'BROKER_LISTEN_FAILED',
        `host ${host} is not an address of this machine (EADDRNOTAVAIL); pass --host`,
        cause,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new BrokerAppError(
        'BROKER_LISTEN_FAILED',
        `host ${host} cannot be resolved (${error.code}); pass --host`,
        cause,
      );
    default:
      return new BrokerAppError(
        'BROKER_LISTEN_FAILED',
        `cannot listen on ${host} port ${port} (${error.code ?? error.message}); check --host and ${flag}`,
        cause,
      );
  }
}
