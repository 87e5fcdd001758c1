import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { generateNodeId } from '../cluster/cluster-config.js';
import type { BrokerConfig } from '../config.js';
import { exitCodeFor, isBrokerAppError } from '../errors.js';
import { createLogger } from '../logger.js';
import { reloadOnSignal } from '../shutdown.js';
import { type RunningBroker, startWorkerBroker } from '../start-broker.js';
import { isPrimaryMessage, WORKER_ENV, type WorkerMessage } from './worker-messages.js';

/**
 * A `--workers` worker: the normal broker (`startBroker`'s path, cluster mode on) with the
 * config the primary resolved, logging with `worker: <n>` on every line. Stops gracefully on
 * the primary's `stop` and on SIGINT/SIGTERM (a terminal's Ctrl-C reaches the whole process
 * group); a second signal exits 1 at once. If the primary dies, node:cluster exits the worker at
 * once (its IPC channel closed), as a `kill -9` would.
 */
export async function runWorker(): Promise<void> {
  const worker = Number(process.env[WORKER_ENV]);
  if (!cluster.isWorker || !Number.isInteger(worker) || process.send === undefined) {
    throw new Error(`${WORKER_ENV} is set but this process is not a node:cluster worker of mqtt-adapt`);
  }
  const config = await startConfig();
  const log = (await createLogger(config.log)).child({ worker });
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(1);
  });
  let running: RunningBroker | undefined;
  let registry: Registry | undefined;
  let signals = 0;
  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ reason, connections: running?.broker.stats.connections ?? 0 }, 'shutting down');
    // A stop before the broker started: nothing to close (as a signal during a single start).
    if (running === undefined) process.exit(0);
    const timer = setTimeout(() => {
      log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting anyway');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    running.close().then(
      () => {
        clearTimeout(timer);
        log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    // Only a second signal forces: the primary's `stop` and a Ctrl-C often come together.
    if (++signals > 1) {
      log.warn({ signal }, 'second signal during shutdown; exiting now');
      process.exit(1);
    }
    stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  reloadOnSignal(log, () => running?.reloadCertificates());
  process.on('message', (message: unknown) => {
    if (!isPrimaryMessage(message)) return;
    if (message.type === 'mqtt-adapt:stop') stop('primary');
    else if (message.type === 'mqtt-adapt:metrics-request')
      void answerMetrics(message.requestId, registry, log);
  });

  const nodeId = config.cluster.nodeId ?? generateNodeId();
  const workerConfig: BrokerConfig = { ...config, cluster: { ...config.cluster, nodeId } };
  try {
    ({ running, registry } = await startWorkerBroker(
      workerConfig,
      { logger: log },
      { serveMetrics: false, listeningMessage: 'worker listening' },
    ));
  } catch (error) {
    if (!isBrokerAppError(error)) throw error;
    // The primary prints the one line (once, not once per worker) and exits with its code.
    send({ type: 'mqtt-adapt:failed', code: error.code, message: error.message }, () =>
      process.exit(exitCodeFor(error)),
    );
    return;
  }
  send({
    type: 'mqtt-adapt:ready',
    nodeId,
    store: running.broker.store.name,
    addresses: running.addresses,
  });
}

/** Waits for the primary's config: announces `waiting` once the listener is installed. */
function startConfig(): Promise<BrokerConfig> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown): void => {
      if (!isPrimaryMessage(message)) return;
      // Stopped before it got its config: nothing started, nothing to close.
      if (message.type === 'mqtt-adapt:stop') process.exit(0);
      if (message.type !== 'mqtt-adapt:start') return;
      process.off('message', onMessage);
      resolve(message.config);
    };
    process.on('message', onMessage);
    send({ type: 'mqtt-adapt:waiting' });
  });
}

async function answerMetrics(requestId: number, registry: Registry | undefined, log: Logger): Promise<void> {
  try {
    send({ type: 'mqtt-adapt:metrics', requestId, metrics: (await registry?.getMetricsAsJSON()) ?? [] });
  } catch (error) {
    log.warn({ err: error }, 'collecting metrics for the primary failed');
    send({ type: 'mqtt-adapt:metrics', requestId, metrics: [] });
  }
}

function send(message: WorkerMessage, done?: () => void): void {
  // The channel may be closed already (primary gone): nothing to tell then.
  if (process.connected !== true) {
    done?.();
    return;
  }
  process.send?.(message, undefined, undefined, () => done?.());
}
