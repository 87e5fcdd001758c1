import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Broker, ClientConnection } from '@mqtt-adapt/router';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { chargeInput } from './input-fairness.js';
import {
  bind,
  boundAddress,
  ListenerSockets,
  limitConnections,
  type RunningListener,
} from './internal/listen.js';
import type { WsListenerConfig, WssListenerConfig } from './listener-config.js';
import { beginInputTurn, endInputTurn } from './socket-transport.js';
import { reloadSecureContext } from './tcp-listener.js';
import { certificateName, readTlsFiles, secureContextOptions, type TlsMaterial } from './tls-files.js';
import { WebSocketTransport, type WebSocketTransportOptions } from './ws-transport.js';

export interface WsListenOptions {
  /** wss: the files as read at startup (`readTlsFiles`). Default: read now. */
  readonly material?: TlsMaterial;
  /** The listener's config key in error lines, e.g. `listeners[1]`. Default `listener`. */
  readonly key?: string;
  /** Largest WebSocket message accepted; larger ones close the connection (1009). Default 256 MiB. */
  readonly maxPayloadBytes?: number;
}

/** Subprotocols accepted, in order of preference: `mqtt`, and `mqttv3.1` (MQTT.js for 3.1). */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

function chooseSubprotocol(offered: Set<string>): string | false {
  for (const protocol of SUBPROTOCOLS) if (offered.has(protocol)) return protocol;
  return false;
}

/**
 * Binds a ws (HTTP) or wss (HTTPS) listener: a WebSocket upgrade on `config.path` becomes one
 * MQTT connection (`WebSocketTransport`); other paths get 404, plain HTTP requests 426. A
 * client offering subprotocols must offer `mqtt` or `mqttv3.1`; one offering none is accepted.
 */
export async function listenWs(
  config: WsListenerConfig | WssListenerConfig,
  broker: Broker,
  log: Logger,
  options: WsListenOptions = {},
): Promise<RunningListener> {
  const key = options.key ?? 'listener';
  let server: Server;
  if (config.type === 'wss') {
    const material = options.material ?? readTlsFiles(config, key);
    server = createHttpsServer({
      ...secureContextOptions(material),
      requestCert: config.requestCert,
      rejectUnauthorized: config.rejectUnauthorized,
      noDelay: true,
    });
    server.on('tlsClientError', (error, socket) => {
      log.debug({ err: error, remoteAddress: socket.remoteAddress, listener: 'wss' }, 'TLS handshake failed');
    });
  } else {
    server = createHttpServer({ noDelay: true });
  }
  const webSockets = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: options.maxPayloadBytes ?? 268_435_456,
    handleProtocols: chooseSubprotocol,
  });
  const sockets = new ListenerSockets(server);
  limitConnections(server, config, sockets, log);
  const transportOptions = {
    writeHighWaterMarkBytes: config.writeHighWaterMarkBytes,
    protocolVersions: config.protocolVersions,
  };
  server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(426, { 'content-type': 'text/plain', connection: 'close', upgrade: 'websocket' });
    response.end(`MQTT over WebSocket: connect a WebSocket client to ${config.path}\n`);
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!sockets.accepting) {
      socket.destroy();
      return;
    }
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== config.path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    let options: WebSocketTransportOptions = transportOptions;
    if (config.type === 'wss' && config.useIdentityAsUsername) {
      const identity = certificateName(socket as TLSSocket);
      if (identity === undefined) {
        // The username comes from the certificate: without one there is nobody to log in as.
        log.debug(
          { remoteAddress: request.socket.remoteAddress, listener: 'wss' },
          'no client certificate CN; closing',
        );
        socket.destroy();
        return;
      }
      options = { ...transportOptions, identity };
    }
    sockets.add(socket);
    webSockets.handleUpgrade(request, socket, head, (ws) => {
      // An HTTP server's upgrade socket is a net.Socket (HTTPS: a tls.TLSSocket).
      const raw = socket as Socket;
      attachWebSocket(ws, raw, new WebSocketTransport(ws, raw, options), broker, log);
    });
  });

  await bind(server, config);
  server.on('error', (error) => log.error({ err: error, listener: config.type }, 'listener error'));
  const reload =
    config.type === 'wss'
      ? () =>
          reloadSecureContext(config, key, log, (context) =>
            (server as ReturnType<typeof createHttpsServer>).setSecureContext(context),
          )
      : undefined;
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

/** Wires one WebSocket to a new router connection. */
function attachWebSocket(
  ws: WebSocket,
  socket: Socket,
  transport: WebSocketTransport,
  broker: Broker,
  log: Logger,
): void {
  let connection: ClientConnection;
  try {
    connection = broker.accept(transport);
  } catch (error) {
    log.warn({ err: error, remoteAddress: transport.remoteAddress }, 'connection refused by the broker');
    ws.terminate();
    return;
  }
  log.trace({ remoteAddress: transport.remoteAddress, protocol: ws.protocol }, 'WebSocket accepted');
  let wsError: Error | undefined;
  // One set of callbacks per connection, created once (STYLE.md §5).
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (transport.isClosing) return;
    if (!isBinary) {
      // MQTT over WebSocket is binary only: a text message closes the connection [MQTT-6.0.0-1].
      wsError = new Error('text WebSocket message; MQTT needs binary messages');
      transport.close();
      return;
    }
    // What this message makes the broker write goes out when it returns (one write per socket).
    beginInputTurn();
    try {
      connection.feed(data);
    } catch (error) {
      // A router bug must cost this connection, not the process and every other client.
      log.error(
        { err: error, remoteAddress: transport.remoteAddress },
        'broker failed on input; closing connection',
      );
      ws.terminate();
    } finally {
      endInputTurn();
    }
    chargeInput(transport, data.length);
  });
  socket.on('drain', () => connection.drained());
  ws.on('error', (error) => {
    // Invalid frames, a message past maxPayload: ws closes the connection; 'close' follows.
    wsError = error;
  });
  ws.on('close', () => {
    transport.socketClosed();
    connection.transportClosed(wsError);
  });
}
