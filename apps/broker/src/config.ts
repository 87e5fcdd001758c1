import { resolveBridges } from './bridges/bridge-checks.js';
import type { BridgeConfig } from './bridges/bridge-config.js';
import { type ClusterConfig, clusterChecks, resolveCluster } from './cluster/cluster-config.js';
import {
  type Check,
  configError,
  integerIn,
  mapping,
  nonEmptyString,
  oneOf,
  postgresUrl,
  schemaName,
  show,
} from './internal/checks.js';
import { type LimitsConfig, limitChecks, resolveLimits } from './limits-config.js';
import {
  type ListenerConfig,
  type ListenerShortcutsInput,
  listenerChecks,
  resolveListeners,
} from './listener-config.js';
import { checkWorkers, defaultWorkers, workersValue } from './workers/workers-config.js';

/**
 * The broker's one config schema. A config file, `MQTT_ADAPT_*` environment variables and CLI
 * flags all land here; precedence is flags > environment > file > defaults (see
 * `load-config.ts`). Every field below is documented with its meaning and default, and the
 * README's option table lists the flag and variable of each.
 */
export interface BrokerConfig {
  /**
   * Where clients connect: a list, each entry one bound port. `--port` / `--host` (and
   * `MQTT_ADAPT_PORT` / `MQTT_ADAPT_HOST`) set the first entry. Default: one TCP listener on
   * `0.0.0.0:1883`.
   */
  listeners: ListenerConfig[];
  /** Protocol and resource limits, passed to the router's `BrokerOptions`. */
  limits: LimitsConfig;
  /** Logging. */
  log: LogConfig;
  /**
   * Directory of the sqlite store: its database is `<dataDir>/mqtt-adapt.db` (with its `-wal`
   * and `-shm` files). Created (with its parents) on the first start with `store.type: sqlite`;
   * unused by the other stores. Relative paths are resolved against the working directory.
   * Default `./data`.
   */
  dataDir: string;
  /** Where sessions, subscriptions, queued messages and retained messages are kept. */
  store: StoreConfig;
  /**
   * How long a graceful shutdown (SIGINT/SIGTERM) may take before the process exits anyway,
   * with a warning and exit code 1. Default 5000 ms.
   */
  shutdownTimeoutMs: number;
  /** The Prometheus endpoint (`/metrics`) and the health checks (`/healthz`, `/readyz`). */
  metrics: MetricsConfig;
  /**
   * Seconds between updates of the `$SYS/broker/...` topics (retained, Mosquitto's layout; see
   * `src/sys-topics.ts`). 0 publishes none. Default 10.
   */
  sysInterval: number;
  /** Logins and authorization from the store's users and ACL rules (`mqtt-adapt user`, `acl`). */
  auth: AuthConfig;
  /**
   * Bridges to RabbitMQ, NATS JetStream, Redis Streams or another MQTT broker (see
   * `src/bridges/bridge-config.ts` and the README's Bridges section). Default: none.
   */
  bridges: BridgeConfig[];
  /**
   * Cluster mode: nodes sharing the PostgreSQL store exchange live publishes over NATS (see
   * `src/cluster/cluster-config.ts` and the README's Cluster section). Default: off.
   */
  cluster: ClusterConfig;
  /**
   * Broker processes on this machine (`--workers`), read by the CLI only. 1 runs the broker in
   * the CLI's process. N > 1 makes the CLI a node:cluster primary that forks N workers sharing
   * the listening ports, each one cluster node (needs `cluster.enabled`; see
   * `src/workers/workers-config.ts` and the README's Workers section). `auto` in a config file,
   * a flag or a variable: one per core. Default 1.
   */
  workers: number;
}

/** Users and ACL rules live in the store; these settings say how they are applied. */
export interface AuthConfig {
  /**
   * Whether clients without a user name may connect. Unset (`auto`): yes while the store holds
   * no user (with one warning line at startup), no as soon as it holds one.
   */
  allowAnonymous: boolean | undefined;
  /**
   * Delay after a failed login from one address before that address's next attempt is
   * answered; it doubles with each failure in a row, up to `maxFailureDelayMs`. Other
   * addresses never wait. 0 turns it off. Default 1000 ms.
   */
  failureDelayMs: number;
  /**
   * Longest such delay; an address quiet for ten times this is forgotten. It must stay below
   * `limits.authenticateTimeoutMs`, or delayed logins are refused as "server unavailable".
   * Default 4000 ms.
   */
  maxFailureDelayMs: number;
}

/**
 * The HTTP server of `/metrics` (Prometheus text format), `/healthz` and `/readyz`. Off unless
 * `port` is set.
 */
export interface MetricsConfig {
  /** Port of the HTTP server; 0 lets the OS pick one. Default: unset, no server. */
  port: number | undefined;
  /**
   * Interface of the HTTP server. Default `127.0.0.1`: the figures are not for everyone; bind
   * `0.0.0.0` (or a private address) for a Prometheus on another machine.
   */
  host: string;
}

export const STORE_TYPES = ['memory', 'sqlite', 'postgres'] as const;
/** A store, chosen by name (`src/store-factory.ts` creates it). */
export type StoreType = (typeof STORE_TYPES)[number];
export const SQLITE_SYNCHRONOUS_MODES = ['normal', 'full'] as const;
export type SqliteSynchronousMode = (typeof SQLITE_SYNCHRONOUS_MODES)[number];

/**
 * The store, one of three:
 * - `memory`: nothing survives a restart (persistent sessions and retained messages live only
 *   as long as the process).
 * - `sqlite` (default): one file in `dataDir`; what the broker acknowledged survives `kill -9`.
 * - `postgres`: a PostgreSQL schema at `url`; an acknowledgement follows the `COMMIT`.
 *
 * Fields of the other stores are ignored (so a `DATABASE_URL` in the environment does no harm).
 */
export interface StoreConfig {
  /** `memory`, `sqlite` or `postgres`. Default `sqlite`. */
  type: StoreType;
  /**
   * postgres: connection URL, `postgres://user:password@host:5432/database` (node-postgres
   * syntax: `?sslmode=require`, `?host=/var/run/postgresql`). A secret: its password is redacted
   * in `--print-config` and never logged. When unset, the CLI takes the `DATABASE_URL`
   * environment variable. Required for `postgres`; no default.
   */
  url: string | undefined;
  /**
   * postgres: schema of the broker's tables, created and migrated on start; nodes sharing a
   * database share one schema. Lowercase letters, digits and `_`. Default `mqtt_adapt`.
   */
  schema: string;
  /**
   * sqlite: `normal` (default) survives a crash of the process, `kill -9` included: a commit is
   * in the OS page cache. `full` also survives a power loss or kernel panic (one `fsync` per
   * group commit; slower on most disks).
   */
  synchronous: SqliteSynchronousMode;
}

// The limits (mapped one-to-one onto the router's options) live in limits-config.ts.
export type { LimitsConfig } from './limits-config.js';
export { defaultLimits, toBrokerOptions } from './limits-config.js';
// The listener kinds (tcp, tls, ws, wss), their defaults and their validation live in
// listener-config.ts.
export type {
  ListenerBaseConfig,
  ListenerConfig,
  ListenerShortcutsInput,
  ListenerType,
  ProtocolLevel,
  TcpListenerConfig,
  TlsFilesConfig,
  TlsListenerConfig,
  WsListenerConfig,
  WssListenerConfig,
} from './listener-config.js';
export {
  defaultListener,
  defaultListenerPorts,
  defaultWebSocketPath,
  LISTENER_TYPES,
} from './listener-config.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogConfig {
  /**
   * Least severe level written. `debug` adds client connects/disconnects and protocol
   * violations with their reason; `trace` adds every accepted socket. Default `info`.
   */
  level: LogLevel;
  /**
   * `json`: one JSON object per line (pino). `pretty`: coloured, human-readable lines.
   * `auto`: pretty when stdout is a terminal, JSON otherwise. Default `auto`.
   */
  format: LogFormat;
}

/** Deeply optional config, as a config file or an embedder (`startBroker`) gives it. */
export interface BrokerConfigInput extends ListenerShortcutsInput {
  listeners?: Array<Partial<ListenerConfig>>;
  limits?: Partial<LimitsConfig>;
  log?: Partial<LogConfig>;
  dataDir?: string;
  store?: Partial<StoreConfig>;
  shutdownTimeoutMs?: number;
  metrics?: Partial<MetricsConfig>;
  sysInterval?: number;
  auth?: Partial<AuthConfig>;
  /** Validated as the config file's `bridges:` list (defaults filled in per field). */
  bridges?: unknown[];
  cluster?: Partial<ClusterConfig>;
  /** A number, or `auto` for one per core. */
  workers?: number | 'auto';
}

/** Node's timers hold at most 2^31 - 1 ms. */
const MAX_TIMEOUT_MS = 2_147_483_647;

export const defaultLog: Readonly<LogConfig> = Object.freeze({ level: 'info', format: 'auto' });
export const defaultDataDir = './data';
/** `url` has no default; the CLI falls back to `DATABASE_URL` (see `load-config.ts`). */
export const defaultStore: Readonly<StoreConfig> = Object.freeze({
  type: 'sqlite',
  url: undefined,
  schema: 'mqtt_adapt',
  synchronous: 'normal',
});
export const defaultShutdownTimeoutMs = 5000;
/** `port` unset: no metrics server unless asked for. */
export const defaultMetrics: Readonly<MetricsConfig> = Object.freeze({ port: undefined, host: '127.0.0.1' });
export const defaultSysInterval = 10;
export const defaultAuth: Readonly<AuthConfig> = Object.freeze({
  allowAnonymous: undefined,
  failureDelayMs: 1000,
  maxFailureDelayMs: 4_000,
});

/** Checks of every scalar field, shared by the file validation and the env/flag parsers. */
export const fieldChecks = {
  host: listenerChecks.host,
  port: listenerChecks.port,
  writeHighWaterMarkBytes: listenerChecks.writeHighWaterMarkBytes,
  tlsFile: listenerChecks.file,
  ...limitChecks,
  logLevel: oneOf(LOG_LEVELS, 'a log level'),
  logFormat: oneOf(LOG_FORMATS, 'a log format'),
  dataDir: nonEmptyString('a directory'),
  storeType: oneOf(STORE_TYPES, 'a store'),
  storeUrl: postgresUrl(),
  storeSchema: schemaName(),
  storeSynchronous: oneOf(SQLITE_SYNCHRONOUS_MODES, 'a synchronous mode'),
  shutdownTimeoutMs: integerIn(1, MAX_TIMEOUT_MS, 'a timeout in ms'),
  metricsPort: integerIn(0, 65_535, 'a port'),
  metricsHost: nonEmptyString('a host'),
  // Whole seconds, as Mosquitto's sys_interval; at most what a Node timer holds.
  sysInterval: integerIn(0, Math.floor(MAX_TIMEOUT_MS / 1000), 'an interval in seconds'),
  allowAnonymous: allowAnonymousValue(),
  failureDelayMs: integerIn(0, MAX_TIMEOUT_MS, 'a delay in ms'),
  maxFailureDelayMs: integerIn(0, MAX_TIMEOUT_MS, 'a delay in ms'),
  ...clusterChecks,
  workers: workersValue(),
} as const satisfies Record<string, Check<unknown>>;

/**
 * Validates a raw config (parsed file plus overrides) and fills in defaults. Throws one
 * `BrokerAppError` (`BROKER_CONFIG_INVALID`) naming the first bad key, its value and the fix.
 */
export function resolveConfig(input: unknown): BrokerConfig {
  const root = mapping(input, '', [
    'listeners',
    'limits',
    'log',
    'dataDir',
    'store',
    'shutdownTimeoutMs',
    'metrics',
    'sysInterval',
    'auth',
    'bridges',
    'cluster',
    'workers',
    'tls',
    'ws',
    'wss',
  ]);
  const store = resolveStore(root.store);
  const config: BrokerConfig = {
    listeners: resolveListeners(root.listeners, { tls: root.tls, ws: root.ws, wss: root.wss }),
    limits: resolveLimits(root.limits),
    log: resolveLog(root.log),
    dataDir: optional(root.dataDir, 'dataDir', fieldChecks.dataDir, defaultDataDir),
    store,
    shutdownTimeoutMs: optional(
      root.shutdownTimeoutMs,
      'shutdownTimeoutMs',
      fieldChecks.shutdownTimeoutMs,
      defaultShutdownTimeoutMs,
    ),
    metrics: resolveMetrics(root.metrics),
    sysInterval: optional(root.sysInterval, 'sysInterval', fieldChecks.sysInterval, defaultSysInterval),
    auth: resolveAuth(root.auth),
    bridges: resolveBridges(root.bridges),
    cluster: resolveCluster(root.cluster, store.type),
    workers: optional(root.workers, 'workers', fieldChecks.workers, defaultWorkers),
  };
  checkWorkers(config.workers, config.cluster);
  if (config.auth.maxFailureDelayMs >= config.limits.authenticateTimeoutMs) {
    throw configError(
      `auth.maxFailureDelayMs = ${config.auth.maxFailureDelayMs} is not below limits.authenticateTimeoutMs = ${config.limits.authenticateTimeoutMs}: delayed logins would time out; lower the one or raise the other`,
    );
  }
  return config;
}

function resolveAuth(value: unknown): AuthConfig {
  const entry = mapping(value, 'auth', ['allowAnonymous', 'failureDelayMs', 'maxFailureDelayMs']);
  const auth = {
    allowAnonymous: optional(
      entry.allowAnonymous,
      'auth.allowAnonymous',
      fieldChecks.allowAnonymous,
      undefined,
    ),
    failureDelayMs: optional(
      entry.failureDelayMs,
      'auth.failureDelayMs',
      fieldChecks.failureDelayMs,
      defaultAuth.failureDelayMs,
    ),
    maxFailureDelayMs: optional(
      entry.maxFailureDelayMs,
      'auth.maxFailureDelayMs',
      fieldChecks.maxFailureDelayMs,
      defaultAuth.maxFailureDelayMs,
    ),
  };
  if (auth.maxFailureDelayMs < auth.failureDelayMs) {
    throw configError(
      `auth.maxFailureDelayMs = ${auth.maxFailureDelayMs} is below auth.failureDelayMs = ${auth.failureDelayMs}; raise it or lower the other`,
    );
  }
  return auth;
}

/** `true`, `false`, or `auto` (unset) — from a file as a boolean, from flags and env as text. */
function allowAnonymousValue(): Check<boolean | undefined> {
  return (value, key) => {
    if (typeof value === 'boolean') return value;
    if (value === 'true') return true;
    if (value === 'false') return false;
    if (value === 'auto') return undefined;
    throw configError(`${key} = ${show(value)} is not true, false or auto`);
  };
}

function resolveMetrics(value: unknown): MetricsConfig {
  const entry = mapping(value, 'metrics', ['port', 'host']);
  return {
    port: optional(entry.port, 'metrics.port', fieldChecks.metricsPort, defaultMetrics.port),
    host: optional(entry.host, 'metrics.host', fieldChecks.metricsHost, defaultMetrics.host),
  };
}

function optional<T>(value: unknown, key: string, check: Check<T>, fallback: T): T {
  return value === undefined ? fallback : check(value, key);
}

function resolveLog(value: unknown): LogConfig {
  const entry = mapping(value, 'log', ['level', 'format']);
  return {
    level: optional(entry.level, 'log.level', fieldChecks.logLevel, defaultLog.level),
    format: optional(entry.format, 'log.format', fieldChecks.logFormat, defaultLog.format),
  };
}

function resolveStore(value: unknown): StoreConfig {
  const entry = mapping(value, 'store', ['type', 'url', 'schema', 'synchronous']);
  const store: StoreConfig = {
    type: optional(entry.type, 'store.type', fieldChecks.storeType, defaultStore.type),
    url: optional(entry.url, 'store.url', fieldChecks.storeUrl, defaultStore.url),
    schema: optional(entry.schema, 'store.schema', fieldChecks.storeSchema, defaultStore.schema),
    synchronous: optional(
      entry.synchronous,
      'store.synchronous',
      fieldChecks.storeSynchronous,
      defaultStore.synchronous,
    ),
  };
  if (store.type === 'postgres' && store.url === undefined) {
    throw configError(
      'store.type = "postgres" needs a database URL; pass --database-url or set DATABASE_URL (or store.url in the config file)',
    );
  }
  return store;
}
