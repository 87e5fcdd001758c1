import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.js';
import { BrokerAppError } from '../errors.js';
import { configError } from '../internal/checks.js';
import type { ListenerAddress } from '../listeners.js';
import { listenMetrics, type RunningMetricsServer } from '../metrics-server.js';
import { RestartBackoff } from './restart-backoff.js';
import {
  isWorkerMessage,
  type MetricsJson,
  type PrimaryMessage,
  WORKER_ENV,
  type WorkerMessage,
} from './worker-messages.js';
import { type WorkerMetrics, WorkersMetrics } from './worker-metrics.js';
import { workerNodeId } from './workers-config.js';

/** The primary waits this much longer than a worker's own shutdown timeout before killing it. */
const SHUTDOWN_GRACE_MS = 1000;
/** A worker that does not answer a metrics request this fast is left out of that scrape. */
const METRICS_TIMEOUT_MS = 3000;

interface Slot {
  /** 1-based; stays with the slot across restarts, as its node id does when one was given. */
  readonly worker: number;
  readonly nodeId: string | undefined;
  readonly backoff: RestartBackoff;
  child: Worker | undefined;
  isReady: boolean;
  readyAt: number | undefined;
  /** The node id the running worker joined with (generated when `nodeId` is unset). */
  joinedAs: string | undefined;
  failure: BrokerAppError | undefined;
  restartTimer: NodeJS.Timeout | undefined;
}

/**
 * `--workers N` (N > 1): this process becomes a node:cluster primary that forks N workers, one
 * after the other (the first one migrates the schema), each running the broker as a cluster
 * node; node:cluster shares their listening ports. The primary logs one `listening` line per
 * listener once every worker is ready, serves `/metrics` for all of them when `metrics.port` is
 * set, restarts a worker that dies (with backoff), forwards SIGHUP, and on SIGINT/SIGTERM stops
 * every worker gracefully and exits 0 (1 if one did not stop cleanly). Resolves once started;
 * throws the first worker's startup error (a one-line `BrokerAppError`) after stopping the others.
 */
export async function runWorkersPrimary(config: BrokerConfig, log: Logger): Promise<void> {
  if (!cluster.isPrimary) {
    throw configError(
      `workers = ${config.workers} cannot start here: this process is itself a node:cluster worker (pm2 cluster mode?); run mqtt-adapt as a process of its own or drop --workers`,
    );
  }
  await new WorkersPrimary(config, log).start();
}

class WorkersPrimary {
  private readonly slots: Slot[];
  private readonly pendingMetrics = new Map<number, (metrics: MetricsJson) => void>();
  private nextRequestId = 0;
  private restarts = 0;
  private isStarted = false;
  private isStopping = false;
  private metricsServer: RunningMetricsServer | undefined;
  private addresses: { readonly store: string; readonly list: readonly ListenerAddress[] } | undefined;

  constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
  ) {
    const base = config.cluster.nodeId;
    this.slots = Array.from({ length: config.workers }, (_, index) => ({
      worker: index + 1,
      nodeId: base === undefined ? undefined : workerNodeId(base, index + 1),
      backoff: new RestartBackoff(),
      child: undefined,
      isReady: false,
      readyAt: undefined,
      joinedAs: undefined,
      failure: undefined,
      restartTimer: undefined,
    }));
  }

  async start(): Promise<void> {
    // Before anything else, as in a single process: a signal during startup must not kill us
    // with workers left behind.
    process.on('SIGINT', (signal) => this.shutdown(signal));
    process.on('SIGTERM', (signal) => this.shutdown(signal));
    process.on('SIGHUP', (signal) => this.forward(signal));
    const { port, host } = this.config.metrics;
    if (port !== undefined) {
      // The primary's port: one scrape shows every worker (see worker-metrics.ts).
      this.metricsServer = await listenMetrics({
        host,
        port,
        metrics: new WorkersMetrics(
          () => this.collectMetrics(),
          () => ({ ready: this.readyCount(), restarts: this.restarts }),
        ),
        isReady: () => !this.isStopping && this.readyCount() > 0,
        log: this.log,
      });
    }
    // `advanced`: the config keeps its `undefined` fields on the way to the workers.
    cluster.setupPrimary({ serialization: 'advanced' });
    try {
      for (const slot of this.slots) {
        if (this.isStopping) return;
        await this.spawn(slot);
      }
    } catch (error) {
      // A signal stopped the start: its shutdown exits.
      if (this.isStopping) return;
      await this.stopWithin();
      await this.metricsServer?.close();
      throw error;
    }
    if (this.isStopping) return;
    this.isStarted = true;
    const { store, list } = this.addresses!;
    // One line per listener, as a single process logs them (scripts read the first for the port).
    for (const address of list) this.log.info({ ...address, store, workers: this.slots.length }, 'listening');
    if (this.metricsServer !== undefined) this.log.info({ ...this.metricsServer.address }, 'listening');
  }

  private readyCount(): number {
    return this.slots.filter((slot) => slot.isReady).length;
  }

  /** Forks the slot's worker; resolves once it is ready, rejects if it exits before. */
  private spawn(slot: Slot): Promise<void> {
    slot.isReady = false;
    slot.readyAt = undefined;
    slot.failure = undefined;
    const child = cluster.fork({ [WORKER_ENV]: String(slot.worker) });
    slot.child = child;
    return new Promise((resolve, reject) => {
      // A failed fork (EAGAIN) or IPC error: logged; a fork that failed also emits 'exit'.
      child.on('error', (error) =>
        this.log.error({ err: error, worker: slot.worker }, 'worker process error'),
      );
      child.on('message', (message: unknown) => {
        if (!isWorkerMessage(message)) return;
        if (message.type === 'mqtt-adapt:ready') {
          this.ready(slot, child, message);
          resolve();
        } else {
          this.received(slot, child, message);
        }
      });
      child.once('exit', (code, signal) => {
        const wasReady = slot.isReady;
        slot.child = undefined;
        slot.isReady = false;
        if (!wasReady) {
          reject(
            slot.failure ??
              new BrokerAppError(
                'BROKER_WORKER_FAILED',
                `worker ${slot.worker} exited (${exitText(code, signal)}) before it was ready; see its log lines above`,
              ),
          );
        }
        this.exited(slot, child, code, signal, wasReady);
      });
    });
  }

  private received(slot: Slot, child: Worker, message: WorkerMessage): void {
    switch (message.type) {
      case 'mqtt-adapt:waiting':
        this.send(child, { type: 'mqtt-adapt:start', config: this.workerConfig(slot) });
        return;
      case 'mqtt-adapt:failed':
        slot.failure = new BrokerAppError(message.code, message.message);
        return;
      case 'mqtt-adapt:metrics':
        this.pendingMetrics.get(message.requestId)?.(message.metrics);
        return;
      default:
        return;
    }
  }

  private workerConfig(slot: Slot): BrokerConfig {
    return { ...this.config, workers: 1, cluster: { ...this.config.cluster, nodeId: slot.nodeId } };
  }

  private ready(
    slot: Slot,
    child: Worker,
    message: Extract<WorkerMessage, { type: 'mqtt-adapt:ready' }>,
  ): void {
    slot.isReady = true;
    slot.readyAt = Date.now();
    slot.joinedAs = message.nodeId;
    this.log.info(
      { worker: slot.worker, workerPid: child.process.pid, nodeId: message.nodeId },
      'worker ready',
    );
    if (this.addresses === undefined) {
      this.addresses = { store: message.store, list: message.addresses };
    } else if (!samePorts(this.addresses.list, message.addresses)) {
      // Port 0 after every worker was gone at once: node:cluster bound a new port.
      this.log.warn(
        { worker: slot.worker, addresses: message.addresses, first: this.addresses.list },
        'worker bound other ports than the first worker; pass fixed ports with --workers',
      );
    }
  }

  private exited(
    slot: Slot,
    child: Worker,
    code: number | null,
    signal: string | null,
    wasReady: boolean,
  ): void {
    // Stopping: stopWorkers() waits for these. Starting: start() fails with the worker's error.
    if (this.isStopping || (!wasReady && !this.isStarted)) return;
    const readyForMs = slot.readyAt === undefined ? undefined : Date.now() - slot.readyAt;
    const delayMs = slot.backoff.next(readyForMs);
    this.restarts++;
    const fields = {
      worker: slot.worker,
      workerPid: child.process.pid,
      code,
      signal,
      nodeId: slot.joinedAs,
      delayMs,
    };
    if (wasReady) this.log.warn(fields, 'worker exited unexpectedly; restarting');
    else this.log.error({ ...fields, reason: slot.failure?.message }, 'worker failed to start; restarting');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.isStopping) return;
      // A failed start is logged and retried by its exit, above.
      this.spawn(slot).catch(() => undefined);
    }, delayMs);
  }

  /** SIGINT/SIGTERM: every worker stops gracefully; exit 0 once all stopped cleanly. */
  private shutdown(signal: NodeJS.Signals): void {
    if (this.isStopping) {
      this.log.warn({ signal }, 'second signal during shutdown; exiting now');
      this.killAll();
      process.exit(1);
    }
    this.isStopping = true;
    this.log.info({ signal, workers: this.slots.filter((slot) => slot.child).length }, 'shutting down');
    void this.stopWithin().then(async (isClean) => {
      await this.metricsServer?.close();
      if (isClean) this.log.info('stopped');
      else this.log.warn('stopped; a worker did not stop cleanly (see its lines above)');
      process.exit(isClean ? 0 : 1);
    });
  }

  /**
   * `stopWorkers()`, but a worker still running past its own shutdown timeout (plus a grace) is
   * killed: resolves false then.
   */
  private async stopWithin(): Promise<boolean> {
    const timeoutMs = this.config.shutdownTimeoutMs + SHUTDOWN_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => {
        this.log.warn({ timeoutMs }, 'shutdown took too long; killing the workers left');
        this.killAll();
        resolve(false);
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.stopWorkers(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `stop` to every worker and resolves once all exited: true if each exited 0. */
  private async stopWorkers(): Promise<boolean> {
    this.isStopping = true;
    const exits: Array<Promise<boolean>> = [];
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      const child = slot.child;
      if (child === undefined) continue;
      exits.push(
        new Promise((resolve) => child.once('exit', (code, signal) => resolve(code === 0 && !signal))),
      );
      this.send(child, { type: 'mqtt-adapt:stop' });
    }
    return (await Promise.all(exits)).every(Boolean);
  }

  /** SIGHUP: each worker reloads its certificates (the TLS handshakes happen there). */
  private forward(signal: NodeJS.Signals): void {
    const children = this.slots.flatMap((slot) => (slot.child ? [slot.child] : []));
    this.log.info({ signal, workers: children.length }, 'reloading certificates');
    for (const child of children) child.process.kill(signal);
  }

  private killAll(): void {
    for (const slot of this.slots) slot.child?.process.kill('SIGKILL');
  }

  private send(child: Worker, message: PrimaryMessage): void {
    if (!child.isConnected()) {
      // No channel left (the worker is exiting): a signal still stops it.
      if (message.type === 'mqtt-adapt:stop') child.process.kill('SIGTERM');
      return;
    }
    child.send(message, undefined, (error: Error | null) => {
      if (error !== null) this.log.debug({ err: error, type: message.type }, 'message to a worker lost');
    });
  }

  /** Every ready worker's metrics; one that does not answer in time is left out. */
  private async collectMetrics(): Promise<WorkerMetrics[]> {
    const replies = await Promise.all(
      this.slots.filter((slot) => slot.isReady).map((slot) => this.requestMetrics(slot)),
    );
    return replies.filter((reply): reply is WorkerMetrics => reply !== undefined);
  }

  private requestMetrics(slot: Slot): Promise<WorkerMetrics | undefined> {
    const child = slot.child;
    const nodeId = slot.joinedAs;
    if (child === undefined || nodeId === undefined) return Promise.resolve(undefined);
    const requestId = ++this.nextRequestId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingMetrics.delete(requestId);
        this.log.warn(
          { worker: slot.worker, timeoutMs: METRICS_TIMEOUT_MS },
          'worker left out of a metrics scrape',
        );
        resolve(undefined);
      }, METRICS_TIMEOUT_MS);
      this.pendingMetrics.set(requestId, (metrics) => {
        clearTimeout(timer);
        this.pendingMetrics.delete(requestId);
        resolve({ worker: slot.worker, nodeId, metrics });
      });
      this.send(child, { type: 'mqtt-adapt:metrics-request', requestId });
    });
  }
}

function samePorts(a: readonly ListenerAddress[], b: readonly ListenerAddress[]): boolean {
  return a.length === b.length && a.every((address, i) => address.port === b[i]?.port);
}

function exitText(code: number | null, signal: string | null): string {
  return signal === null ? `code ${code ?? 'unknown'}` : `signal ${signal}`;
}
