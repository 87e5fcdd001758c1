import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Check, configError, integerIn, mapping, show } from '../internal/checks.js';
import { redactSecrets } from '../redact.js';

/**
 * Cluster mode (`--cluster`): several broker nodes share one PostgreSQL schema and exchange
 * live publishes over NATS core subjects. Off by default; single-node mode opens no NATS
 * connection and runs no query of its own.
 */
export interface ClusterConfig {
  /** Whether this node joins a cluster. Needs `store.type: postgres`. Default false. */
  enabled: boolean;
  /** NATS server the nodes exchange messages through. Default `nats://127.0.0.1:4222`. */
  natsUrl: string;
  /**
   * This node's name in the cluster (NATS subject token and membership row): letters, digits,
   * `-` and `_`, at most 64. Default: unset, generated at start as `<hostname>-<pid>-<random>`
   * and logged.
   */
  nodeId: string | undefined;
  /** Interval of this node's heartbeat (membership row) and of its look at the others. Default 1000 ms. */
  heartbeatMs: number;
  /** A node whose heartbeat is older than this is lapsed: no more messages are sent to it. Default 5000 ms. */
  deadAfterMs: number;
}

export const defaultCluster: Readonly<ClusterConfig> = Object.freeze({
  enabled: false,
  natsUrl: 'nats://127.0.0.1:4222',
  nodeId: undefined,
  heartbeatMs: 1000,
  deadAfterMs: 5000,
});

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const clusterChecks = {
  clusterEnabled: booleanWord(),
  natsUrl: natsUrl(),
  nodeId: nodeId(),
  heartbeatMs: integerIn(50, 600_000, 'an interval in ms'),
  deadAfterMs: integerIn(100, 3_600_000, 'a duration in ms'),
} as const satisfies Record<string, Check<unknown>>;

/** Validates `cluster:`; `storeType` because a cluster needs the shared PostgreSQL store. */
export function resolveCluster(value: unknown, storeType: string): ClusterConfig {
  const entry = mapping(value, 'cluster', ['enabled', 'natsUrl', 'nodeId', 'heartbeatMs', 'deadAfterMs']);
  const pick = <T>(key: keyof ClusterConfig, check: Check<T>, fallback: T): T =>
    entry[key] === undefined ? fallback : check(entry[key], `cluster.${key}`);
  const cluster: ClusterConfig = {
    enabled: pick('enabled', clusterChecks.clusterEnabled, defaultCluster.enabled),
    natsUrl: pick('natsUrl', clusterChecks.natsUrl, defaultCluster.natsUrl),
    nodeId: pick('nodeId', clusterChecks.nodeId, defaultCluster.nodeId),
    heartbeatMs: pick('heartbeatMs', clusterChecks.heartbeatMs, defaultCluster.heartbeatMs),
    deadAfterMs: pick('deadAfterMs', clusterChecks.deadAfterMs, defaultCluster.deadAfterMs),
  };
  if (!cluster.enabled) return cluster;
  if (storeType !== 'postgres') {
    throw configError(
      `cluster.enabled = true needs store.type = "postgres" (is ${show(storeType)}); pass --store postgres --database-url ... or drop --cluster`,
    );
  }
  if (cluster.deadAfterMs <= cluster.heartbeatMs * 2) {
    throw configError(
      `cluster.deadAfterMs = ${cluster.deadAfterMs} is not above twice cluster.heartbeatMs = ${cluster.heartbeatMs}: live nodes would look lapsed; raise it or lower the heartbeat`,
    );
  }
  return cluster;
}

/** `<hostname>-<pid>-<6 hex>`, cut to a valid node id (dots of a FQDN become `-`). */
export function generateNodeId(host = hostname(), pid = process.pid): string {
  const base = host.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'node';
  return `${base}-${pid}-${randomBytes(3).toString('hex')}`;
}

function booleanWord(): Check<boolean> {
  return (value, key) => {
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw configError(`${key} = ${show(value)} is not true or false`);
  };
}

function natsUrl(): Check<string> {
  return (value, key) => {
    const text = typeof value === 'string' ? value.trim() : '';
    if (!/^(nats|tls):\/\/./i.test(text) || !URL.canParse(text)) {
      throw configError(`${key} = ${show(redactSecrets(value))} is not a NATS URL (nats://host:4222)`);
    }
    return text;
  };
}

function nodeId(): Check<string> {
  return (value, key) => {
    if (typeof value !== 'string' || !NODE_ID.test(value)) {
      throw configError(`${key} = ${show(value)} is not a node id (letters, digits, - and _, 1-64)`);
    }
    return value;
  };
}
