import { createServer, type Server, type Socket } from 'node:net';
import type { Broker, ClientConnection } from '@mqtt-adapt/router';
import type { Logger } from 'pino';
import type { ListenerType, TcpListenerConfig } from './config.js';
import { BrokerAppError } from './errors.js';
import { CLOSE_GRACE_MS, SocketTransport } from './socket-transport.js';

/** Where a listener is bound, as the OS reports it (port 0 resolved). */
export interface ListenerAddress {
  readonly listener: ListenerType;
  readonly host: string;
  readonly port: number;
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
}

/**
 * Binds a TCP listener and hands every accepted socket to the broker. A socket error closes
 * that connection only (the router logs it at debug); nothing a peer does reaches the process.
 */
export async function listenTcp(
  config: TcpListenerConfig,
  broker: Broker,
  log: Logger,
): Promise<RunningListener> {
  const sockets = new Set<Socket>();
  let accepting = true;
  // highWaterMark sets each socket's writableHighWaterMark: socket.write() returns false (and
  // 'drain' follows) past it, which is the slow-consumer signal the transport passes on.
  const server = createServer({ noDelay: true, highWaterMark: config.writeHighWaterMarkBytes }, (socket) => {
    if (!accepting) {
      socket.destroy();
      return;
    }
    if (attachConnection(socket, broker, log)) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
  });

  await bind(server, config);
  // After a successful bind, errors (such as EMFILE on accept) are logged, never thrown.
  server.on('error', (error) => log.error({ err: error, listener: 'tcp' }, 'listener error'));
  const bound = server.address();
  const address: ListenerAddress = {
    listener: 'tcp',
    host: typeof bound === 'object' && bound !== null ? bound.address : config.host,
    port: typeof bound === 'object' && bound !== null ? bound.port : config.port,
  };

  const serverClosed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  const stopAccepting = (): void => {
    if (!accepting) return;
    accepting = false;
    server.close();
  };
  const closed = async (): Promise<void> => {
    stopAccepting();
    if (sockets.size > 0) {
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, CLOSE_GRACE_MS);
      // Each socket's own 'close' (after transportClosed() ran), not the server's 'close',
      // which Node emits a turn earlier.
      // (events.once would reject on an 'error' on the way; only 'close' matters here.)
      await Promise.all(
        [...sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve))),
      );
      clearTimeout(timer);
    }
    await serverClosed;
  };
  return {
    address,
    stopAccepting,
    closed,
    get connectionCount() {
      return sockets.size;
    },
  };
}

/** Creates the transport and connection of one socket; false if the broker refused it. */
function attachConnection(socket: Socket, broker: Broker, log: Logger): boolean {
  const transport = new SocketTransport(socket);
  let connection: ClientConnection;
  try {
    connection = broker.accept(transport);
  } catch (error) {
    log.warn({ err: error, remoteAddress: transport.remoteAddress }, 'connection refused by the broker');
    socket.destroy();
    return false;
  }
  log.trace({ remoteAddress: transport.remoteAddress }, 'socket accepted');
  let socketError: Error | undefined;
  // One set of callbacks per connection, created once (STYLE.md §5).
  socket.on('data', (chunk: Buffer) => {
    if (transport.isClosing) return;
    try {
      connection.feed(chunk);
    } catch (error) {
      // A router bug must cost this connection, not the process and every other client.
      log.error(
        { err: error, remoteAddress: transport.remoteAddress },
        'broker failed on input; closing connection',
      );
      socket.destroy();
    }
  });
  socket.on('drain', () => connection.drained());
  socket.on('error', (error) => {
    // Kept for transportClosed(), which logs it at debug with the client id; 'close' follows.
    socketError = error;
  });
  socket.on('close', () => {
    transport.socketClosed();
    connection.transportClosed(socketError);
  });
  return true;
}

function bind(server: Server, config: TcpListenerConfig): Promise<void> {
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

/** The one line the CLI prints when a port cannot be bound. */
function listenError(error: NodeJS.ErrnoException, { host, port }: TcpListenerConfig): BrokerAppError {
  const cause = { cause: error };
  switch (error.code) {
    case 'EADDRINUSE':
      return new BrokerAppError(
        'BROKER_PORT_IN_USE',
        `port ${port} is in use on ${host}; pass --port or stop the other process`,
        cause,
      );
    case 'EACCES':
      return new BrokerAppError(
        'BROKER_LISTEN_FAILED',
        `port ${port} on ${host} needs privileges (EACCES); pass --port above 1023`,
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
        `cannot listen on ${host} port ${port} (${error.code ?? error.message}); check --host and --port`,
        cause,
      );
  }
}
