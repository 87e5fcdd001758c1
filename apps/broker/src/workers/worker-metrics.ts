import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { MetricsJson } from './worker-messages.js';

/** One worker's answer to the primary's metrics request. */
export interface WorkerMetrics {
  readonly worker: number;
  readonly nodeId: string;
  readonly metrics: MetricsJson;
}

/**
 * Every worker's metrics as one registry, each series labelled with its worker's `node` (the
 * cluster node id, as `cluster status` shows it) and `worker` number: nothing is summed, so a
 * dashboard sums `without (node, worker)` where it wants the machine's total, and per-process
 * figures (heap, event-loop lag) stay meaningful.
 */
export function mergeWorkerMetrics(replies: readonly WorkerMetrics[]): Registry {
  const labelled = replies.map(({ worker, nodeId, metrics }) =>
    metrics.map((metric) => ({
      ...metric,
      // The labels make every series unique, so `sum` keeps each value as it is; prom-client's
      // own choices (`omit`, `first` for some process metrics) would drop or merge workers.
      aggregator: 'sum' as const,
      values: metric.values.map((value) => ({
        ...value,
        labels: { ...value.labels, node: nodeId, worker: String(worker) },
      })),
    })),
  );
  return AggregatorRegistry.aggregate(labelled);
}

export interface WorkersStatus {
  /** Workers ready now. */
  readonly ready: number;
  /** Restarts since start. */
  readonly restarts: number;
}

/**
 * `/metrics` of the `--workers` primary: the workers' metrics (asked for over IPC at each
 * scrape) plus the primary's own `mqtt_adapt_workers_ready` and `mqtt_adapt_worker_restarts_total`.
 */
export class WorkersMetrics {
  readonly contentType: string = Registry.PROMETHEUS_CONTENT_TYPE;
  readonly #own = new Registry();

  constructor(
    private readonly collect: () => Promise<WorkerMetrics[]>,
    status: () => WorkersStatus,
  ) {
    new Gauge({
      name: 'mqtt_adapt_workers_ready',
      help: 'Worker processes ready to serve clients (--workers)',
      registers: [this.#own],
      collect() {
        this.set(status().ready);
      },
    });
    let reported = 0;
    new Counter({
      name: 'mqtt_adapt_worker_restarts_total',
      help: 'Worker processes restarted after they exited unexpectedly or failed to start',
      registers: [this.#own],
      collect() {
        const current = status().restarts;
        if (current > reported) this.inc(current - reported);
        reported = Math.max(reported, current);
      },
    });
  }

  async metrics(): Promise<string> {
    const merged = mergeWorkerMetrics(await this.collect());
    return Registry.merge([merged, this.#own]).metrics();
  }
}
