import type { Broker, Store } from '@mqtt-adapt/router';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BridgeStatus } from './bridges/bridge-runtime.js';
import { BrokerFigures } from './broker-figures.js';
import { packageVersion } from './cli-command.js';
import { observeCluster } from './cluster/cluster-metrics.js';
import type { ClusterStatus } from './cluster/cluster-status.js';
import type { BrokerConfig } from './config.js';
import { BrokerMetrics, type MeasuredListener } from './metrics.js';
import { listenMetrics, type MetricsAddress, type RunningMetricsServer } from './metrics-server.js';
import { type SysTopics, startSysTopics } from './sys-topics.js';

/**
 * What `startBroker` adds for operators, in the order of its life:
 * `start()` binds the metrics server (if `metrics.port` is set) before anything else, so that a
 * port in use fails at once and probes get 503 during a slow store open; `instrumentStore()`
 * times the store's commits; `attach()` follows the broker's client events; `ready()` registers
 * the broker's metrics, starts the `$SYS` topics and turns `/readyz` to 200; `stopping()` turns
 * it back to 503 and stops `$SYS` (before the store closes); `close()` closes the HTTP server.
 */
export class Observability {
  private figures: BrokerFigures | undefined;
  private sys: SysTopics | undefined;
  private isReady = false;
  private bridges: (() => BridgeStatus[]) | undefined;
  private cluster: (() => ClusterStatus) | undefined;

  private constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
    private readonly metrics: BrokerMetrics | undefined,
    private readonly server: RunningMetricsServer | undefined,
  ) {}

  /**
   * `serve` false (a `--workers` worker): the metrics are collected but no HTTP server is bound;
   * the primary serves them for every worker (see `registry`).
   */
  static async start(config: BrokerConfig, log: Logger, serve = true): Promise<Observability> {
    const { port, host } = config.metrics;
    if (port === undefined) return new Observability(config, log, undefined, undefined);
    const metrics = new BrokerMetrics();
    if (!serve) return new Observability(config, log, metrics, undefined);
    let observability: Observability | undefined;
    const server = await listenMetrics({
      host,
      port,
      metrics,
      isReady: () => observability?.isReady === true,
      log,
    });
    observability = new Observability(config, log, metrics, server);
    return observability;
  }

  /** The metrics server's address, when there is one. */
  get metricsAddress(): MetricsAddress | undefined {
    return this.server?.address;
  }

  /** The registry of the broker's metrics (`metrics.port` set), for a `--workers` primary to read. */
  get registry(): Registry | undefined {
    return this.metrics?.registry;
  }

  instrumentStore(store: Store): void {
    this.metrics?.instrumentStore(store);
  }

  /** Refused logins of the store's users (not counted for an embedder's own hooks). */
  observeLoginFailures(value: () => number): void {
    this.metrics?.observeLoginFailures(value);
  }

  /** Call before the first listener is bound: connected clients are counted from events. */
  attach(broker: Broker): void {
    this.figures = new BrokerFigures(broker);
  }

  /** Cluster mode: `mqtt_adapt_cluster_*` metrics and `$SYS/broker/cluster/...` once ready. */
  observeCluster(status: () => ClusterStatus): void {
    this.cluster = status;
  }

  /** The running bridges: per-rule metrics and `$SYS/broker/bridges/...` once ready. */
  observeBridges(status: () => BridgeStatus[]): void {
    this.bridges = status;
  }

  /** The store is open and every listener bound; logs the metrics server's `listening` line. */
  ready(broker: Broker, listeners: readonly MeasuredListener[]): void {
    const figures = this.figures ?? new BrokerFigures(broker);
    this.figures = figures;
    const version = packageVersion();
    if (this.metrics !== undefined) {
      this.metrics.observeVersion(version);
      this.metrics.observeBroker(broker, figures, listeners);
      if (this.bridges !== undefined) this.metrics.observeBridges(this.bridges);
      if (this.cluster !== undefined) observeCluster(this.metrics.registry, this.cluster);
    }
    if (this.server !== undefined) this.log.info({ ...this.server.address }, 'listening');
    if (this.config.sysInterval > 0) {
      this.sys = startSysTopics(broker, {
        intervalSeconds: this.config.sysInterval,
        version,
        figures: () => figures.read(),
        onPublish: () => figures.countOwnPublish(),
        logger: this.log,
        ...(this.bridges === undefined ? {} : { bridges: this.bridges }),
        ...(this.cluster === undefined ? {} : { cluster: this.cluster }),
      });
    }
    this.isReady = true;
  }

  /** Shutdown begins: `/readyz` answers 503 from now on, `$SYS` stops. */
  stopping(): void {
    this.isReady = false;
    this.sys?.stop();
    this.sys = undefined;
  }

  /** Closes the metrics server. Idempotent. */
  async close(): Promise<void> {
    this.stopping();
    this.figures?.detach();
    await this.server?.close();
  }
}
