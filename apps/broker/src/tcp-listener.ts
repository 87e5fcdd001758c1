import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { Broker } from '@mqtt-adapt/router';
import type { Logger } from 'pino';
import { chargeInput } from './input-fairness.js';
import {
  bind,
  boundAddress,
  ListenerSockets,
  limitConnections,
  type RunningListener,
} from './internal/listen.js';
import type { TcpListenerConfig, TlsListenerConfig, WssListenerConfig } from './listener-config.js';
import {
  beginInputTurn,
  endInputTurn,
  SocketTransport,
  type SocketTransportOptions,
} from './socket-transport.js';
import { certificateName, readTlsFiles, secureContextOptions, type TlsMaterial } from './tls-files.js';

export type { ListenerAddress, RunningListener } from './internal/listen.js';

/**
 * Binds a TCP listener and hands every accepted socket to the broker. A socket error closes
 * that connection only (the router logs it at debug); nothing a peer does reaches the process.
 */
export async function listenTcp(
  config: TcpListenerConfig,
  broker: Broker,
  log: Logger,
): Promise<RunningListener> {
  // highWaterMark sets each socket's writableHighWaterMark: socket.write() returns false (and
  // 'drain' follows) past it, which is the slow-consumer signal the transport passes on.
  const server = createServer({ noDelay: true, highWaterMark: config.writeHighWaterMarkBytes });
  const sockets = serveSockets(server, 'connection', config, broker, log);
  await bind(server, config);
  return runningListener(server, sockets, config, log, undefined);
}

export interface TlsListenOptions {
  /** The files as read at startup (`readTlsFiles`). Default: read now. */
  readonly material?: TlsMaterial;
  /** The listener's config key in error lines, e.g. `listeners[1]`. Default `listener`. */
  readonly key?: string;
}

/**
 * Binds a TLS listener: as `listenTcp`, each socket once its handshake succeeded. `material`
 * is what `readTlsFiles` read at startup; `reloadCertificates()` reads the files again.
 */
export async function listenTls(
  config: TlsListenerConfig,
  broker: Broker,
  log: Logger,
  options: TlsListenOptions = {},
): Promise<RunningListener> {
  const key = options.key ?? 'listener';
  const material = options.material ?? readTlsFiles(config, key);
  const server = createTlsServer({
    ...secureContextOptions(material),
    requestCert: config.requestCert,
    rejectUnauthorized: config.rejectUnauthorized,
    noDelay: true,
    highWaterMark: config.writeHighWaterMarkBytes,
  });
  // A failed handshake (no client certificate, wrong protocol) costs that socket only.
  server.on('tlsClientError', (error, socket) => {
    log.debug({ err: error, remoteAddress: socket.remoteAddress, listener: 'tls' }, 'TLS handshake failed');
  });
  const sockets = serveSockets(server, 'secureConnection', config, broker, log);
  await bind(server, config);
  return runningListener(server, sockets, config, log, () =>
    reloadSecureContext(config, key, log, (context) => server.setSecureContext(context)),
  );
}

/**
 * Reads the certificate files of a tls/wss listener again and installs them with `install`
 * (`server.setSecureContext`). Open connections keep their session; new ones get the new
 * certificate. A file that cannot be used is logged and the old context stays.
 */
export function reloadSecureContext(
  config: TlsListenerConfig | WssListenerConfig,
  key: string,
  log: Logger,
  install: (options: SecureContextOptions) => void,
): boolean {
  const where = { listener: config.type, port: config.port, cert: config.cert, key: config.key };
  try {
    install(secureContextOptions(readTlsFiles(config, key)));
  } catch (error) {
    log.error({ ...where, err: error }, 'certificate reload failed; keeping the old certificate');
    return false;
  }
  log.info(where, 'certificates reloaded');
  return true;
}

function serveSockets(
  server: Server,
  event: 'connection' | 'secureConnection',
  config: TcpListenerConfig | TlsListenerConfig,
  broker: Broker,
  log: Logger,
): ListenerSockets {
  const sockets = new ListenerSockets(server);
  limitConnections(server, config, sockets, log);
  const options: ListenerTransportOptions = {
    writeHighWaterMarkBytes: config.writeHighWaterMarkBytes,
    protocolVersions: config.protocolVersions,
    log,
    sockets,
  };
  server.on(event, (socket: Socket | TLSSocket) => {
    if (!sockets.accepting) {
      socket.destroy();
      return;
    }
    let socketOptions: ListenerTransportOptions = options;
    if (config.type === 'tls' && config.useIdentityAsUsername) {
      const identity = certificateName(socket as TLSSocket);
      if (identity === undefined) {
        // The username comes from the certificate: without one there is nobody to log in as.
        log.debug(
          { remoteAddress: socket.remoteAddress, listener: 'tls' },
          'no client certificate CN; closing',
        );
        socket.destroy();
        return;
      }
      socketOptions = { ...options, identity };
    }
    attachConnection(socket, new SocketTransport(socket, socketOptions), broker, log);
  });
  return sockets;
}

function runningListener(
  server: Server,
  sockets: ListenerSockets,
  config: TcpListenerConfig | TlsListenerConfig,
  log: Logger,
  reload: (() => boolean) | undefined,
): RunningListener {
  // After a successful bind, errors (such as EMFILE on accept) are logged, never thrown.
  server.on('error', (error) => log.error({ err: error, listener: config.type }, 'listener error'));
  return {
    address: boundAddress(server, config),
    stopAccepting: () => sockets.stopAccepting(),
    closed: () => sockets.closed(),
    get connectionCount() {
      return sockets.size;
    },
    get refusedConnections() {
      return sockets.refused;
    },
    ...(reload ? { reloadCertificates: reload } : {}),
  };
}

/** What every transport of one listener shares: its options, its log and its open sockets. */
interface ListenerTransportOptions extends SocketTransportOptions {
  readonly log: Logger;
  readonly sockets: ListenerSockets;
}

/**
 * The link from a socket to its transport, followed by the socket listeners below: they are
 * functions shared by every socket (`this` is the socket), not closures per connection.
 */
const kTransport = Symbol('mqtt-adapt.transport');

type AttachedSocket = Socket & { [kTransport]: SocketTransport };

/** Creates the connection of one socket and wires the socket's events to it. */
function attachConnection(socket: Socket, transport: SocketTransport, broker: Broker, log: Logger): void {
  try {
    transport.connection = broker.accept(transport);
  } catch (error) {
    log.warn({ err: error, remoteAddress: transport.remoteAddress }, 'connection refused by the broker');
    socket.destroy();
    return;
  }
  if (log.isLevelEnabled('trace')) log.trace({ remoteAddress: transport.remoteAddress }, 'socket accepted');
  (socket as AttachedSocket)[kTransport] = transport;
  (transport.options as ListenerTransportOptions).sockets.add(socket, false);
  socket.on('data', onSocketData);
  socket.on('drain', onSocketDrain);
  // Errors are read on 'close' (`socket.errored`); the listener keeps them from being thrown.
  socket.on('error', ignoreSocketError);
  socket.on('close', onSocketClose);
}

function onSocketData(this: AttachedSocket, chunk: Buffer): void {
  const transport = this[kTransport];
  if (transport.isClosing) return;
  // What this chunk makes the broker write (answers, deliveries) goes out when it returns.
  beginInputTurn();
  try {
    transport.connection!.feed(chunk);
  } catch (error) {
    // A router bug must cost this connection, not the process and every other client.
    (transport.options as ListenerTransportOptions).log.error(
      { err: error, remoteAddress: transport.remoteAddress },
      'broker failed on input; closing connection',
    );
    this.destroy();
  } finally {
    endInputTurn();
  }
  chargeInput(transport, chunk.length);
}

function onSocketDrain(this: AttachedSocket): void {
  this[kTransport].connection!.drained();
}

function ignoreSocketError(): void {
  // transportClosed() gets the error (and logs it at debug with the client id): 'close' follows.
}

function onSocketClose(this: AttachedSocket): void {
  const transport = this[kTransport];
  (transport.options as ListenerTransportOptions).sockets.delete(this);
  transport.socketClosed();
  transport.connection!.transportClosed(this.errored ?? undefined);
}
