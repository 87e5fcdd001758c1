import { Broker, type BrokerHooks, isStoreError, type Store } from '@mqtt-adapt/router';
import { PgStore } from '@mqtt-adapt/store-pg';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { StoreAuth } from './auth/store-auth.js';
import { withBridgeAccess } from './bridges/bridge-access.js';
import { BridgeRuntime } from './bridges/bridge-runtime.js';
import { ClusterNode } from './cluster/cluster-node.js';
import { type BrokerConfig, type BrokerConfigInput, resolveConfig, toBrokerOptions } from './config.js';
import { BrokerAppError, isBrokerAppError } from './errors.js';
import { configError } from './internal/checks.js';
import {
  type ListenerAddress,
  type RunningListener,
  readListenerFiles,
  reloadCertificates,
  startListener,
} from './listeners.js';
import type { MetricsAddress } from './metrics-server.js';
import { Observability } from './observability.js';
import { createStore, storeUnavailable } from './store-factory.js';

export interface StartBrokerOptions {
  /** Logger for the broker and the router. Default: a silent pino logger. */
  readonly logger?: Logger;
  /**
   * Authentication and authorization hooks, passed to the router in place of the store's users
   * and ACL rules (for another backend: HTTP, JWT, ...). Default: `StoreAuth` on the store.
   */
  readonly hooks?: BrokerHooks;
}

export interface RunningBroker {
  readonly broker: Broker;
  /** The validated config, defaults filled in. */
  readonly config: BrokerConfig;
  /** One entry per listener, in config order, with the port the OS bound (port 0 resolved). */
  readonly addresses: readonly ListenerAddress[];
  /** Where `/metrics`, `/healthz` and `/readyz` are served (`metrics.port` set), else undefined. */
  readonly metricsAddress: MetricsAddress | undefined;
  /**
   * Reads the certificate files of every tls and wss listener again (what the CLI does on
   * SIGHUP): new connections get the new certificates, open ones keep theirs. A file that
   * cannot be used is logged at `error` and that listener keeps its old certificate.
   */
  reloadCertificates(): void;
  /**
   * Graceful stop: stops accepting, `broker.close()` (connected clients are disconnected and
   * their wills published, then the store commits what is pending and closes), then waits for
   * every socket to close. Rejects, after the sockets closed, if the store's last commit
   * failed. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts the broker in this process: validates `config` (throws `BrokerAppError`
 * `BROKER_CONFIG_INVALID` with a one-line message), creates and opens the store `config.store`
 * names, restoring persistent sessions and retained messages (throws
 * `BROKER_STORE_UNAVAILABLE`; nothing is bound then), binds every listener (throws
 * `BROKER_PORT_IN_USE` / `BROKER_LISTEN_FAILED`), and logs one `listening` line per listener.
 * `workers` > 1 is a config error here: forking worker processes is the CLI's job.
 *
 * ```ts
 * const { addresses, close } = await startBroker({ listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }] });
 * console.log(`mqtt://127.0.0.1:${addresses[0].port}`);
 * await close();
 * ```
 */
export async function startBroker(
  config: BrokerConfigInput = {},
  options: StartBrokerOptions = {},
): Promise<RunningBroker> {
  const resolved = resolveConfig(config);
  if (resolved.workers > 1) {
    throw configError(
      `workers = ${resolved.workers} is read by the mqtt-adapt CLI only; startBroker runs one broker in this process (run one per process, each with its own cluster.nodeId)`,
    );
  }
  return (await startWith(resolved, options, { serveMetrics: true, listeningMessage: 'listening' })).running;
}

/** How a `--workers` worker's broker differs from `startBroker`'s; not part of the package API. */
export interface WorkerStartOptions {
  /** False: the metrics are collected, but the primary serves them (one port, every worker). */
  readonly serveMetrics: boolean;
  /** Message of the line logged per bound listener; the primary logs `listening` once. */
  readonly listeningMessage: string;
}

/**
 * `startBroker` for a `--workers` worker, with the config the primary resolved (already
 * validated): also hands out the metrics registry for the primary.
 */
export function startWorkerBroker(
  config: BrokerConfig,
  options: StartBrokerOptions,
  worker: WorkerStartOptions,
): Promise<{ running: RunningBroker; registry: Registry | undefined }> {
  return startWith({ ...config, workers: 1 }, options, worker);
}

async function startWith(
  resolved: BrokerConfig,
  options: StartBrokerOptions,
  worker: WorkerStartOptions,
): Promise<{ running: RunningBroker; registry: Registry | undefined }> {
  const log = options.logger ?? pino({ level: 'silent' });
  // The metrics server first: its port in use fails before the store opens (see observability.ts).
  const observability = await Observability.start(resolved, log, worker.serveMetrics);
  try {
    const running = await startServing(resolved, log, options, observability, worker.listeningMessage);
    return { running, registry: observability.registry };
  } catch (error) {
    await observability.close();
    throw error;
  }
}

async function startServing(
  resolved: BrokerConfig,
  log: Logger,
  options: StartBrokerOptions,
  observability: Observability,
  listeningMessage: string,
): Promise<RunningBroker> {
  // Certificate files are checked before the store opens: a bad one fails startup (exit 2).
  const tlsFiles = readListenerFiles(resolved.listeners);
  // Cluster mode only: single-node mode creates nothing, the store is not fenced and the router
  // gets no fan-out or ownership hook.
  const cluster =
    resolved.cluster.enabled && resolved.store.url !== undefined
      ? new ClusterNode(resolved.cluster, { url: resolved.store.url, schema: resolved.store.schema }, log)
      : undefined;
  const store = createStore(resolved, log, cluster?.takeover.fencing());
  // The config allows --cluster only with --store postgres.
  if (cluster !== undefined && store instanceof PgStore) cluster.takeover.useStore(store);
  observability.instrumentStore(store);
  // Users and ACL rules from the store unless the embedder brings its own hooks.
  const auth =
    options.hooks === undefined ? new StoreAuth(store, { ...resolved.auth, logger: log }) : undefined;
  const bridges = new BridgeRuntime(resolved.bridges, log);
  const hooks = options.hooks ?? auth?.hooks();
  const broker = createRouter(
    resolved,
    log,
    bridges.isEmpty ? hooks : withBridgeAccess(hooks, bridges.beforePublishAck),
    store,
    cluster,
  );
  if (auth !== undefined) observability.observeLoginFailures(() => auth.loginFailures);
  observability.attach(broker);
  if (log.isLevelEnabled('debug')) logClientEvents(broker, log);
  // Restores persistent sessions and retained messages before any listener is bound: a broker
  // whose store cannot open never accepts a client.
  try {
    await broker.open();
  } catch (error) {
    // Release what a half-done open may hold (a pool, a file handle); the open error is the news.
    await store.close().catch((closeError: unknown) => {
      log.debug({ err: closeError }, 'closing the store after a failed open failed too');
    });
    if (isStoreError(error)) throw storeUnavailable(resolved, error, store);
    throw error;
  }
  try {
    await auth?.start();
  } catch (error) {
    await broker.close();
    if (isStoreError(error)) throw storeUnavailable(resolved, error, store);
    throw error;
  }
  // Before bridges and listeners: the first client's publish already reaches the other nodes.
  try {
    await cluster?.start(broker);
    if (cluster !== undefined) observability.observeCluster(() => cluster.status());
  } catch (error) {
    auth?.stop();
    await cluster?.close().catch(() => undefined);
    await broker.close();
    throw clusterUnavailable(error);
  }
  // Bridges before listeners: their persistent sessions subscribe before any device publishes.
  const bridgeDrainMs = Math.max(1, Math.floor(resolved.shutdownTimeoutMs / 2));
  try {
    await bridges.start(broker);
  } catch (error) {
    await bridges.close(0);
    auth?.stop();
    await broker.close();
    throw error;
  }
  if (!bridges.isEmpty) observability.observeBridges(() => bridges.status());

  const listeners: RunningListener[] = [];
  try {
    const maxPayloadBytes = resolved.limits.maxPacketSize;
    for (const [index, listener] of resolved.listeners.entries()) {
      const material = tlsFiles[index];
      listeners.push(await startListener(listener, index, broker, log, { material, maxPayloadBytes }));
    }
  } catch (error) {
    for (const listener of listeners) listener.stopAccepting();
    auth?.stop();
    await bridges.close(0);
    await broker.close();
    // This node never served: it leaves the cluster (its row marked left) instead of lapsing.
    await cluster?.close().catch(() => undefined);
    await Promise.all(listeners.map((listener) => listener.closed()));
    throw error;
  }
  const addresses = listeners.map((listener) => listener.address);
  for (const address of addresses) log.info({ ...address, store: broker.store.name }, listeningMessage);
  // $SYS, the broker's metrics, /readyz 200, and the metrics server's `listening` line (after
  // the MQTT ones: scripts take the first `listening` line for the MQTT port).
  observability.ready(broker, listeners);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      observability.stopping();
      auth?.stop();
      for (const listener of listeners) listener.stopAccepting();
      let failure: unknown;
      // Messages in flight are confirmed (or left in the bridges' sessions) before clients go.
      await bridges.close(bridgeDrainMs);
      try {
        // Closes every client, then flushes and closes the store.
        await broker.close();
      } catch (error) {
        failure = error;
        log.error({ err: error }, 'broker close failed; closing sockets anyway');
      }
      // After the router: the wills its close published still reach the other nodes.
      await cluster?.close();
      await Promise.all(listeners.map((listener) => listener.closed()));
      await observability.close();
      if (failure !== undefined) throw failure;
    })();
    return closing;
  };
  return {
    broker,
    config: resolved,
    addresses,
    metricsAddress: observability.metricsAddress,
    reloadCertificates: () => reloadCertificates(listeners, log),
    close,
  };
}

function createRouter(
  config: BrokerConfig,
  logger: Logger,
  hooks: BrokerHooks | undefined,
  store: Store,
  cluster: ClusterNode | undefined,
): Broker {
  try {
    return new Broker({
      ...toBrokerOptions(config.limits),
      logger,
      store,
      ...(hooks ? { hooks } : {}),
      ...(cluster ? { fanOut: cluster, sessionOwnership: cluster.takeover } : {}),
    });
  } catch (error) {
    // The router checks its options too; its verdict is a config error like ours.
    if ((error as { code?: unknown }).code === 'ROUTER_INVALID_OPTION') {
      throw new BrokerAppError('BROKER_CONFIG_INVALID', `config: ${(error as Error).message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** A cluster start failure as the one line the CLI prints (exit 1). */
function clusterUnavailable(error: unknown): unknown {
  if (isBrokerAppError(error)) return error;
  return new BrokerAppError(
    'BROKER_CLUSTER_UNAVAILABLE',
    `cluster: cannot join: ${(error as Error).message}; check the database and NATS`,
    { cause: error },
  );
}

/** Connects and disconnects at debug; subscribed only when debug is on, so free otherwise. */
function logClientEvents(broker: Broker, log: Logger): void {
  broker.on('clientConnected', (client, sessionPresent) => {
    log.debug(
      {
        clientId: client.clientId,
        username: client.username,
        remoteAddress: client.remoteAddress,
        protocolVersion: client.protocolVersion,
        sessionPresent,
      },
      'client connected',
    );
  });
  broker.on('clientDisconnected', (client, reason) => {
    log.debug(
      { clientId: client.clientId, remoteAddress: client.remoteAddress, reason },
      'client disconnected',
    );
  });
}
