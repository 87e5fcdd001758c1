import type { BrokerOptions } from '@mqtt-adapt/router';
import {
  type Check,
  configError,
  integerIn,
  isPlainObject,
  mapping,
  nonEmptyString,
  oneOf,
  postgresUrl,
  schemaName,
  show,
} from './internal/checks.js';

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

/** Fields every listener kind has. */
export interface ListenerBaseConfig {
  /**
   * Interface to bind: `0.0.0.0` every IPv4 address, `::` every IPv6 address (and IPv4 where
   * the OS is dual-stack), `127.0.0.1` loopback only, or a host name. Default `0.0.0.0`.
   */
  host: string;
  /** Port to bind; 0 lets the OS pick a free one (the `listening` log line says which). Default 1883. */
  port: number;
  /**
   * Bytes buffered on one client's socket past which the broker treats it as a slow consumer:
   * QoS 0 to that client is dropped (and counted), QoS 1/2 waits until the socket drains.
   * Only bytes left over from earlier event-loop turns count, so one burst of fan-out is never
   * mistaken for a slow reader. Default 1048576 (1 MiB): bursts of a few thousand small
   * messages reach a reader that keeps up; a reader that stopped costs at most this much.
   */
  writeHighWaterMarkBytes: number;
}

/** Plain MQTT over TCP. */
export interface TcpListenerConfig extends ListenerBaseConfig {
  type: 'tcp';
}

/**
 * One listener. Only `tcp` exists today; `tls` (cert/key files), `ws` and `wss` (path) are
 * planned as further members of this union, sharing `ListenerBaseConfig`.
 */
export type ListenerConfig = TcpListenerConfig;
export type ListenerType = ListenerConfig['type'];

/** Limits, each mapped one-to-one onto the router's `BrokerOptions`. */
export interface LimitsConfig {
  /**
   * Largest packet accepted from a client, fixed header included. Default 268435460, the
   * protocol maximum (as Mosquitto and Aedes); memory is bounded by `maxPartialPacketBytes`.
   */
  maxPacketSize: number;
  /**
   * Bytes held, across all connections, for packets still arriving (split across socket
   * chunks). A connection whose partial packet takes the total past this is closed (MQTT 5.0:
   * DISCONNECT 0x97 quota exceeded), so many clients each sending half of a huge packet cannot
   * exhaust memory. Default 536870912 (512 MiB).
   */
  maxPartialPacketBytes: number;
  /**
   * Largest CONNECT accepted, checked before its body is buffered; the smaller of this and
   * `maxPacketSize` applies. Default 65536 (64 KiB).
   */
  maxConnectPacketSize: number;
  /** Time a new connection has to send CONNECT before it is closed. Default 10000 ms. */
  connectTimeoutMs: number;
  /**
   * Outbound QoS 1/2 messages awaiting acknowledgement per client (an MQTT 5.0 client's smaller
   * Receive Maximum wins). Default 256.
   */
  maxInflightMessages: number;
  /**
   * QoS 1/2 messages queued per session behind the in-flight window or while offline. An online
   * session at this mark pauses the publishers feeding it (their sockets are not read) until it
   * drains: nothing is dropped while the subscriber is online. An offline persistent session
   * drops its oldest. Default 1000.
   */
  maxQueuedMessages: number;
  /**
   * Broker-wide bytes of messages queued for online sessions. Past it, publishers into online
   * sessions are paused until the queues drain below three quarters of it. Default 268435456
   * (256 MiB).
   */
  maxQueuedBytes: number;
  /**
   * A subscriber whose queue is full (it is holding publishers back) and that acknowledges
   * nothing for this long is disconnected; a persistent session then queues offline up to
   * `maxQueuedMessages`. Default 30000 ms.
   */
  stalledSubscriberTimeoutMs: number;
  /** Highest QoS granted to subscriptions. Default 2. */
  maxQoS: 0 | 1 | 2;
}

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
export interface BrokerConfigInput {
  listeners?: Array<Partial<ListenerConfig>>;
  limits?: Partial<LimitsConfig>;
  log?: Partial<LogConfig>;
  dataDir?: string;
  store?: Partial<StoreConfig>;
  shutdownTimeoutMs?: number;
}

/** MQTT's largest packet: a 4-byte remaining length of 268435455 plus the fixed header. */
const MQTT_MAX_PACKET_SIZE = 268_435_460;
/** Node's timers hold at most 2^31 - 1 ms. */
const MAX_TIMEOUT_MS = 2_147_483_647;
/** Broker-wide byte budgets: at least 1 KiB (less would refuse or pause nearly every packet). */
const MIN_BUDGET_BYTES = 1024;
const MAX_BUDGET_BYTES = Number.MAX_SAFE_INTEGER;

export const defaultListener: Readonly<TcpListenerConfig> = Object.freeze({
  type: 'tcp',
  host: '0.0.0.0',
  port: 1883,
  writeHighWaterMarkBytes: 1_048_576,
});

export const defaultLimits: Readonly<LimitsConfig> = Object.freeze({
  maxPacketSize: MQTT_MAX_PACKET_SIZE,
  maxPartialPacketBytes: 536_870_912,
  maxConnectPacketSize: 65_536,
  connectTimeoutMs: 10_000,
  maxInflightMessages: 256,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 268_435_456,
  stalledSubscriberTimeoutMs: 30_000,
  maxQoS: 2,
});

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

/** Checks of every scalar field, shared by the file validation and the env/flag parsers. */
export const fieldChecks = {
  host: nonEmptyString('a host'),
  port: integerIn(0, 65_535, 'a port'),
  writeHighWaterMarkBytes: integerIn(1024, MAX_TIMEOUT_MS, 'a size in bytes'),
  maxPacketSize: integerIn(16, MQTT_MAX_PACKET_SIZE, 'a packet size in bytes'),
  maxPartialPacketBytes: integerIn(MIN_BUDGET_BYTES, MAX_BUDGET_BYTES, 'a size in bytes'),
  maxConnectPacketSize: integerIn(16, MQTT_MAX_PACKET_SIZE, 'a packet size in bytes'),
  connectTimeoutMs: integerIn(1, MAX_TIMEOUT_MS, 'a timeout in ms'),
  maxInflightMessages: integerIn(1, 65_535, 'a message count'),
  maxQueuedMessages: integerIn(0, MAX_TIMEOUT_MS, 'a message count'),
  maxQueuedBytes: integerIn(MIN_BUDGET_BYTES, MAX_BUDGET_BYTES, 'a size in bytes'),
  stalledSubscriberTimeoutMs: integerIn(1, MAX_TIMEOUT_MS, 'a timeout in ms'),
  maxQoS: oneOf([0, 1, 2], 'a QoS'),
  logLevel: oneOf(LOG_LEVELS, 'a log level'),
  logFormat: oneOf(LOG_FORMATS, 'a log format'),
  dataDir: nonEmptyString('a directory'),
  storeType: oneOf(STORE_TYPES, 'a store'),
  storeUrl: postgresUrl(),
  storeSchema: schemaName(),
  storeSynchronous: oneOf(SQLITE_SYNCHRONOUS_MODES, 'a synchronous mode'),
  shutdownTimeoutMs: integerIn(1, MAX_TIMEOUT_MS, 'a timeout in ms'),
} as const satisfies Record<string, Check<unknown>>;

const PLANNED_LISTENER_TYPES = ['tls', 'ws', 'wss'];

/**
 * Validates a raw config (parsed file plus overrides) and fills in defaults. Throws one
 * `BrokerAppError` (`BROKER_CONFIG_INVALID`) naming the first bad key, its value and the fix.
 */
export function resolveConfig(input: unknown): BrokerConfig {
  const root = mapping(input, '', ['listeners', 'limits', 'log', 'dataDir', 'store', 'shutdownTimeoutMs']);
  return {
    listeners: resolveListeners(root.listeners),
    limits: resolveLimits(root.limits),
    log: resolveLog(root.log),
    dataDir: optional(root.dataDir, 'dataDir', fieldChecks.dataDir, defaultDataDir),
    store: resolveStore(root.store),
    shutdownTimeoutMs: optional(
      root.shutdownTimeoutMs,
      'shutdownTimeoutMs',
      fieldChecks.shutdownTimeoutMs,
      defaultShutdownTimeoutMs,
    ),
  };
}

function optional<T>(value: unknown, key: string, check: Check<T>, fallback: T): T {
  return value === undefined ? fallback : check(value, key);
}

function resolveListeners(value: unknown): ListenerConfig[] {
  if (value === undefined) return [{ ...defaultListener }];
  if (!Array.isArray(value)) {
    throw configError(
      `listeners = ${show(value)} is not a list; write a list of listeners, e.g. [{ type: tcp }]`,
    );
  }
  if (value.length === 0) {
    throw configError('listeners = [] is empty; add at least one listener, e.g. { type: tcp, port: 1883 }');
  }
  return value.map((entry, index) => resolveListener(entry, `listeners[${index}]`));
}

function resolveListener(value: unknown, key: string): ListenerConfig {
  const type = isPlainObject(value) ? (value.type ?? 'tcp') : 'tcp';
  if (PLANNED_LISTENER_TYPES.includes(type as string)) {
    throw configError(`${key}.type = ${show(type)} is not supported yet; use "tcp"`);
  }
  if (type !== 'tcp') throw configError(`${key}.type = ${show(type)} is not a listener type (tcp)`);
  const entry = mapping(value, key, ['type', 'host', 'port', 'writeHighWaterMarkBytes']);
  return {
    type: 'tcp',
    host: optional(entry.host, `${key}.host`, fieldChecks.host, defaultListener.host),
    port: optional(entry.port, `${key}.port`, fieldChecks.port, defaultListener.port),
    writeHighWaterMarkBytes: optional(
      entry.writeHighWaterMarkBytes,
      `${key}.writeHighWaterMarkBytes`,
      fieldChecks.writeHighWaterMarkBytes,
      defaultListener.writeHighWaterMarkBytes,
    ),
  };
}

function resolveLimits(value: unknown): LimitsConfig {
  const keys = Object.keys(defaultLimits) as Array<keyof LimitsConfig>;
  const entry = mapping(value, 'limits', keys);
  const limits = { ...defaultLimits };
  for (const name of keys) {
    const check = fieldChecks[name] as Check<number>;
    if (entry[name] !== undefined)
      (limits as Record<string, number>)[name] = check(entry[name], `limits.${name}`);
  }
  return limits;
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

/** The router options for a resolved config (hooks, logger and clock are added by the caller). */
export function toBrokerOptions(limits: LimitsConfig): BrokerOptions {
  return {
    maxPacketSize: limits.maxPacketSize,
    maxPartialPacketBytes: limits.maxPartialPacketBytes,
    maxConnectPacketSize: Math.min(limits.maxConnectPacketSize, limits.maxPacketSize),
    connectTimeoutMs: limits.connectTimeoutMs,
    maxInflightMessages: limits.maxInflightMessages,
    maxQueuedMessages: limits.maxQueuedMessages,
    maxQueuedBytes: limits.maxQueuedBytes,
    stalledSubscriberTimeoutMs: limits.stalledSubscriberTimeoutMs,
    maxQoS: limits.maxQoS,
  };
}
