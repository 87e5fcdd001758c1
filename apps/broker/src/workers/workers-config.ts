import { availableParallelism } from 'node:os';
import type { ClusterConfig } from '../cluster/cluster-config.js';
import { type Check, configError, show } from '../internal/checks.js';

/**
 * `workers` (`--workers N`, `MQTT_ADAPT_WORKERS`): broker processes on this machine. 1 (the
 * default) runs the broker in the CLI's own process, as always. N > 1 turns the CLI process into
 * a node:cluster primary that forks N workers sharing the listening ports, each one node of the
 * cluster (`cluster.enabled` is required: the workers share the PostgreSQL store and exchange
 * publishes over NATS like nodes on separate machines). `auto`: one per core
 * (`os.availableParallelism()`).
 */
export const defaultWorkers = 1;

/** Enough for the biggest hosts; a node id must stay valid with its `-w<n>` suffix. */
export const MAX_WORKERS = 1024;

/** The longest node id (see `cluster-config.ts`). */
const MAX_NODE_ID_LENGTH = 64;

/** An integer 1-1024, or `auto` for one per core. */
export function workersValue(cores: () => number = availableParallelism): Check<number> {
  return (value, key) => {
    if (value === 'auto') return Math.min(MAX_WORKERS, Math.max(1, cores()));
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
      throw configError(
        `${key} = ${show(value)} is not a number of worker processes (1-${MAX_WORKERS}) or auto (one per core)`,
      );
    }
    return value;
  };
}

/**
 * Checks `workers` against the cluster settings: more than one worker needs cluster mode (each
 * worker is a cluster node; without it they would share nothing but the ports), and a given
 * node id must stay a valid id with the `-w<n>` suffix of the last worker.
 */
export function checkWorkers(workers: number, cluster: ClusterConfig): void {
  if (workers === 1) return;
  if (!cluster.enabled) {
    throw configError(
      `workers = ${workers} needs cluster.enabled = true: each worker is a cluster node sharing the postgres store; pass --cluster --store postgres --database-url ... or drop --workers`,
    );
  }
  if (cluster.nodeId !== undefined) {
    const longest = workerNodeId(cluster.nodeId, workers);
    if (longest.length > MAX_NODE_ID_LENGTH) {
      throw configError(
        `cluster.nodeId = ${show(cluster.nodeId)} is too long for ${workers} workers: "${longest}" would pass ${MAX_NODE_ID_LENGTH} characters; shorten --node-id`,
      );
    }
  }
}

/** The node id of worker `worker` (1-based) when the operator named the node: `<base>-w<n>`. */
export function workerNodeId(base: string, worker: number): string {
  return `${base}-w${worker}`;
}
