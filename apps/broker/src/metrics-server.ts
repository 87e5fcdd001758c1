import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { BrokerAppError } from './errors.js';
import type { BrokerMetrics } from './metrics.js';

/** Where the metrics server is bound, as the OS reports it (port 0 resolved). */
export interface MetricsAddress {
  readonly listener: 'metrics';
  readonly host: string;
  readonly port: number;
}

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  /** What `/metrics` serves: a broker's metrics, or a `--workers` primary's merge of its workers'. */
  readonly metrics: Pick<BrokerMetrics, 'metrics' | 'contentType'>;
  /** `/readyz` answers 200 while this is true, 503 otherwise. */
  readonly isReady: () => boolean;
  readonly log: Logger;
}

export interface RunningMetricsServer {
  readonly address: MetricsAddress;
  /** Closes the server and its keep-alive connections. Idempotent. */
  close(): Promise<void>;
}

const TEXT = 'text/plain; charset=utf-8';

/**
 * The HTTP server of the operators: `GET /metrics` (Prometheus text format), `GET /healthz`
 * (200 while the process serves HTTP at all: liveness) and `GET /readyz` (200 once the store is
 * open and every listener bound, 503 before and during shutdown: readiness). Binds before the
 * store opens, so that probes get an answer (503) during a slow start; a port in use fails
 * startup with one line, as the MQTT port does.
 */
export async function listenMetrics(options: MetricsServerOptions): Promise<RunningMetricsServer> {
  const server = createServer((request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      options.log.error({ err: error, url: request.url }, 'metrics request failed');
      if (!response.headersSent) send(response, 500, 'internal error\n');
      else response.destroy();
    });
  });
  await bind(server, options);
  server.on('error', (error) => options.log.error({ err: error, listener: 'metrics' }, 'listener error'));
  const bound = server.address();
  const address: MetricsAddress = {
    listener: 'metrics',
    host: typeof bound === 'object' && bound !== null ? bound.address : options.host,
    port: typeof bound === 'object' && bound !== null ? bound.port : options.port,
  };
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // A scraper's keep-alive connection would hold close() open until it times out.
      server.closeAllConnections();
    });
    return closing;
  };
  return { address, close };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: MetricsServerOptions,
): Promise<void> {
  const path = (request.url ?? '/').split('?', 1)[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    send(response, 405, `method ${request.method ?? ''} not allowed; use GET\n`);
    return;
  }
  switch (path) {
    case '/metrics':
      send(response, 200, await options.metrics.metrics(), options.metrics.contentType);
      return;
    case '/healthz':
      send(response, 200, 'ok\n');
      return;
    case '/readyz':
      if (options.isReady()) send(response, 200, 'ready\n');
      else send(response, 503, 'not ready\n');
      return;
    default:
      send(response, 404, 'not found; the paths are /metrics, /healthz and /readyz\n');
  }
}

function send(response: ServerResponse, status: number, body: string, contentType = TEXT): void {
  response.statusCode = status;
  response.setHeader('Content-Type', contentType);
  response.setHeader('Cache-Control', 'no-store');
  response.end(body);
}

function bind(server: Server, { host, port }: MetricsServerOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(listenError(error, host, port));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

/** The one line the CLI prints when the metrics port cannot be bound (as `tcp-listener.ts`). */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): BrokerAppError {
  const cause = { cause: error };
  switch (error.code) {
    case 'EADDRINUSE':
      return new BrokerAppError(
        'BROKER_PORT_IN_USE',
        `metrics port ${port} is in use on ${host}; pass --metrics-port or stop the other process`,
        cause,
      );
    case 'EACCES':
      return new BrokerAppError(
        'BROKER_LISTEN_FAILED',
        `metrics port ${port} on ${host} needs privileges (EACCES); pass --metrics-port above 1023`,
        cause,
      );
    case 'EADDRNOTAVAIL':
      return new BrokerAppError(
        'BROKER_LISTEN_FAILED',
        `metrics host ${host} is not an address of this machine (EADDRNOTAVAIL); pass --metrics-host`,
        cause,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new BrokerAppError(
        'BROKER_LISTEN_FAILED',
        `metrics host ${host} cannot be resolved (${error.code}); pass --metrics-host`,
        cause,
      );
    default:
      return new BrokerAppError(
        'BROKER_LISTEN_FAILED',
        `cannot listen on ${host} metrics port ${port} (${error.code ?? error.message}); check --metrics-host and --metrics-port`,
        cause,
      );
  }
}
