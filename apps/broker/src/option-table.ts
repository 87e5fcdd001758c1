// The option table: every setting's flag, MQTT_ADAPT_* variable and config key in one place,
// plus what reads variables, applies overrides and prints --help from it. The flag parser
// itself (node:util parseArgs) is in cli-options.ts, so that the library entry does not pull it.

import { defaultCluster } from './cluster/cluster-config.js';
import {
  defaultAuth,
  defaultDataDir,
  defaultLimits,
  defaultListener,
  defaultLog,
  defaultMetrics,
  defaultShutdownTimeoutMs,
  defaultStore,
  defaultSysInterval,
  fieldChecks,
} from './config.js';
import { type Check, closest, configError, isPlainObject } from './internal/checks.js';
import { defaultWorkers } from './workers/workers-config.js';

/** Where a setting of the config lives, e.g. `['listeners', 0, 'port']`. */
export type ConfigPath = readonly [string, ...Array<string | number>];

/**
 * One configurable option: its CLI flag, environment variable and config file key. This
 * table drives the flag parser, the environment reader, `--help` and the README's table.
 */
export interface OptionSpec {
  /** Long flag without dashes: `port` for `--port`. */
  readonly flag: string;
  readonly short?: string;
  readonly env: string;
  readonly path: ConfigPath;
  /** Placeholder shown in `--help`: `--port <port>`. */
  readonly placeholder: string;
  readonly description: string;
  readonly defaultValue: string | number;
  readonly numeric: boolean;
  readonly check: Check<unknown>;
  /** A value for "needs a value, e.g. ..." when the default is not one. */
  readonly example?: string;
  /** A switch: the flag takes no value and means `true` (`--cluster`); the variable is `true`/`false`. */
  readonly isSwitch?: boolean;
}

function option(
  flag: string,
  env: string,
  path: ConfigPath,
  placeholder: string,
  check: Check<unknown>,
  defaultValue: string | number,
  description: string,
  extra: { short?: string; example?: string; numeric?: boolean; isSwitch?: boolean } = {},
): OptionSpec {
  // `extra.numeric`: a number, though the default is a word (`off`).
  const numeric = typeof defaultValue === 'number';
  return { flag, env, path, placeholder, check, defaultValue, description, numeric, ...extra };
}

const ENV_PREFIX = 'MQTT_ADAPT_';

export const configOptions: readonly OptionSpec[] = [
  option(
    'host',
    'MQTT_ADAPT_HOST',
    ['listeners', 0, 'host'],
    'host',
    fieldChecks.host,
    defaultListener.host,
    'interface of the first listener: 0.0.0.0 all IPv4, :: all IPv6, 127.0.0.1 loopback',
  ),
  option(
    'port',
    'MQTT_ADAPT_PORT',
    ['listeners', 0, 'port'],
    'port',
    fieldChecks.port,
    defaultListener.port,
    'TCP port of the first listener; 0 picks a free port',
    { short: 'p' },
  ),
  option(
    'write-high-water-mark-bytes',
    'MQTT_ADAPT_WRITE_HIGH_WATER_MARK_BYTES',
    ['listeners', 0, 'writeHighWaterMarkBytes'],
    'bytes',
    fieldChecks.writeHighWaterMarkBytes,
    defaultListener.writeHighWaterMarkBytes,
    'bytes buffered per socket before a client counts as slow (QoS 0 dropped, QoS 1/2 wait)',
  ),
  option(
    'tls-port',
    'MQTT_ADAPT_TLS_PORT',
    ['tls', 'port'],
    'port',
    fieldChecks.port,
    'off',
    'adds a TLS listener on --host at this port (8883 is usual); needs --tls-cert and --tls-key',
    { numeric: true, example: '8883' },
  ),
  option(
    'tls-cert',
    'MQTT_ADAPT_TLS_CERT',
    ['tls', 'cert'],
    'file',
    fieldChecks.tlsFile,
    'none',
    'server certificate chain (PEM) of every tls and wss listener that names none; reloaded on SIGHUP',
    { example: 'server.crt' },
  ),
  option(
    'tls-key',
    'MQTT_ADAPT_TLS_KEY',
    ['tls', 'key'],
    'file',
    fieldChecks.tlsFile,
    'none',
    'private key (PEM, unencrypted) of --tls-cert; reloaded on SIGHUP',
    { example: 'server.key' },
  ),
  option(
    'tls-ca',
    'MQTT_ADAPT_TLS_CA',
    ['tls', 'ca'],
    'file',
    fieldChecks.tlsFile,
    'none',
    'CA certificates (PEM) that client certificates are checked against (listeners[].requestCert)',
    { example: 'ca.crt' },
  ),
  option(
    'ws-port',
    'MQTT_ADAPT_WS_PORT',
    ['ws', 'port'],
    'port',
    fieldChecks.port,
    'off',
    'adds a WebSocket listener (path /mqtt) on --host at this port (8083 is usual)',
    { numeric: true, example: '8083' },
  ),
  option(
    'wss-port',
    'MQTT_ADAPT_WSS_PORT',
    ['wss', 'port'],
    'port',
    fieldChecks.port,
    'off',
    'adds a WebSocket-over-TLS listener (path /mqtt) on --host at this port (8084 is usual); uses --tls-cert, --tls-key, --tls-ca',
    { numeric: true, example: '8084' },
  ),
  option(
    'max-packet-size',
    'MQTT_ADAPT_MAX_PACKET_SIZE',
    ['limits', 'maxPacketSize'],
    'bytes',
    fieldChecks.maxPacketSize,
    defaultLimits.maxPacketSize,
    'largest packet accepted from a client, fixed header included',
  ),
  option(
    'max-partial-packet-bytes',
    'MQTT_ADAPT_MAX_PARTIAL_PACKET_BYTES',
    ['limits', 'maxPartialPacketBytes'],
    'bytes',
    fieldChecks.maxPartialPacketBytes,
    defaultLimits.maxPartialPacketBytes,
    'bytes held across all connections for packets still arriving; the connection that passes it is closed',
  ),
  option(
    'max-connect-packet-size',
    'MQTT_ADAPT_MAX_CONNECT_PACKET_SIZE',
    ['limits', 'maxConnectPacketSize'],
    'bytes',
    fieldChecks.maxConnectPacketSize,
    defaultLimits.maxConnectPacketSize,
    'largest CONNECT accepted, checked before its body is buffered',
  ),
  option(
    'connect-timeout-ms',
    'MQTT_ADAPT_CONNECT_TIMEOUT_MS',
    ['limits', 'connectTimeoutMs'],
    'ms',
    fieldChecks.connectTimeoutMs,
    defaultLimits.connectTimeoutMs,
    'time a new connection has to send CONNECT',
  ),
  option(
    'authenticate-timeout-ms',
    'MQTT_ADAPT_AUTHENTICATE_TIMEOUT_MS',
    ['limits', 'authenticateTimeoutMs'],
    'ms',
    fieldChecks.authenticateTimeoutMs,
    defaultLimits.authenticateTimeoutMs,
    'time a login (store or hook) has to answer before the client is refused as "server unavailable"',
  ),
  option(
    'max-inflight-messages',
    'MQTT_ADAPT_MAX_INFLIGHT_MESSAGES',
    ['limits', 'maxInflightMessages'],
    'n',
    fieldChecks.maxInflightMessages,
    defaultLimits.maxInflightMessages,
    'outbound QoS 1/2 messages awaiting acknowledgement per client',
  ),
  option(
    'max-queued-messages',
    'MQTT_ADAPT_MAX_QUEUED_MESSAGES',
    ['limits', 'maxQueuedMessages'],
    'n',
    fieldChecks.maxQueuedMessages,
    defaultLimits.maxQueuedMessages,
    'QoS 1/2 messages queued per session; online: publishers pause at it, offline: oldest dropped',
  ),
  option(
    'max-queued-bytes',
    'MQTT_ADAPT_MAX_QUEUED_BYTES',
    ['limits', 'maxQueuedBytes'],
    'bytes',
    fieldChecks.maxQueuedBytes,
    defaultLimits.maxQueuedBytes,
    'bytes queued for online sessions, broker-wide, before publishers are paused',
  ),
  option(
    'stalled-subscriber-timeout-ms',
    'MQTT_ADAPT_STALLED_SUBSCRIBER_TIMEOUT_MS',
    ['limits', 'stalledSubscriberTimeoutMs'],
    'ms',
    fieldChecks.stalledSubscriberTimeoutMs,
    defaultLimits.stalledSubscriberTimeoutMs,
    'a subscriber with a full queue that acknowledges nothing this long is disconnected',
  ),
  option(
    'max-qos',
    'MQTT_ADAPT_MAX_QOS',
    ['limits', 'maxQoS'],
    '0|1|2',
    fieldChecks.maxQoS,
    defaultLimits.maxQoS,
    'highest QoS granted to subscriptions (5.0: advertised as Maximum QoS; a PUBLISH above it gets 0x9B)',
  ),
  option(
    'topic-alias-maximum',
    'MQTT_ADAPT_TOPIC_ALIAS_MAXIMUM',
    ['limits', 'topicAliasMaximum'],
    'n',
    fieldChecks.topicAliasMaximum,
    defaultLimits.topicAliasMaximum,
    '5.0 topic aliases one client may set (advertised in CONNACK); 0 allows none',
  ),
  option(
    'max-session-expiry',
    'MQTT_ADAPT_MAX_SESSION_EXPIRY',
    ['limits', 'maxSessionExpirySeconds'],
    'seconds',
    fieldChecks.maxSessionExpirySeconds,
    defaultLimits.maxSessionExpirySeconds,
    'longest Session Expiry Interval granted (5.0: told in CONNACK); also ends 3.x Clean Session 0 sessions (4294967295: no cap)',
  ),
  option(
    'max-connections',
    'MQTT_ADAPT_MAX_CONNECTIONS',
    ['limits', 'maxConnections'],
    'n',
    fieldChecks.maxConnections,
    defaultLimits.maxConnections,
    'open connections, all listeners together; past it new ones are closed at once (0: unlimited)',
  ),
  option(
    'max-connect-rate-per-address',
    'MQTT_ADAPT_MAX_CONNECT_RATE_PER_ADDRESS',
    ['limits', 'maxConnectRatePerAddress'],
    'per-second',
    fieldChecks.maxConnectRatePerAddress,
    defaultLimits.maxConnectRatePerAddress,
    'CONNECTs per second per source host, burst the same; over it CONNACK 0x9F (3.x: 3) (0: off)',
  ),
  option(
    'max-publish-rate-per-client',
    'MQTT_ADAPT_MAX_PUBLISH_RATE_PER_CLIENT',
    ['limits', 'maxPublishRatePerClient'],
    'per-second',
    fieldChecks.maxPublishRatePerClient,
    defaultLimits.maxPublishRatePerClient,
    'inbound PUBLISH per second per connection, burst the same; over it the socket is not read (0: off)',
  ),
  option(
    'max-topic-levels',
    'MQTT_ADAPT_MAX_TOPIC_LEVELS',
    ['limits', 'maxTopicLevels'],
    'n',
    fieldChecks.maxTopicLevels,
    defaultLimits.maxTopicLevels,
    'most levels of a topic name or filter; over it: invalid topic (PUBLISH, will) or SUBACK 0x80',
  ),
  option(
    'max-topic-length',
    'MQTT_ADAPT_MAX_TOPIC_LENGTH',
    ['limits', 'maxTopicLength'],
    'bytes',
    fieldChecks.maxTopicLength,
    defaultLimits.maxTopicLength,
    'most UTF-8 bytes of a topic name or filter; over it: as --max-topic-levels',
  ),
  option(
    'max-retained-messages',
    'MQTT_ADAPT_MAX_RETAINED_MESSAGES',
    ['limits', 'maxRetainedMessages'],
    'n',
    fieldChecks.maxRetainedMessages,
    defaultLimits.maxRetainedMessages,
    'retained messages kept at most; one more is delivered but not retained (0: unlimited)',
  ),
  option(
    'max-retained-bytes',
    'MQTT_ADAPT_MAX_RETAINED_BYTES',
    ['limits', 'maxRetainedBytes'],
    'bytes',
    fieldChecks.maxRetainedBytes,
    defaultLimits.maxRetainedBytes,
    'sum of retained payloads at most; past it delivered but not retained (0: unlimited)',
  ),
  option(
    'max-retained-payload-bytes',
    'MQTT_ADAPT_MAX_RETAINED_PAYLOAD_BYTES',
    ['limits', 'maxRetainedPayloadBytes'],
    'bytes',
    fieldChecks.maxRetainedPayloadBytes,
    defaultLimits.maxRetainedPayloadBytes,
    'largest retained payload; a larger one is delivered but not retained (0: unlimited)',
  ),
  option(
    'receive-maximum',
    'MQTT_ADAPT_RECEIVE_MAXIMUM',
    ['limits', 'receiveMaximum'],
    'n',
    fieldChecks.receiveMaximum,
    defaultLimits.receiveMaximum,
    '5.0 QoS 1/2 PUBLISH a client may leave unacknowledged by the broker (advertised below 65535); one more: DISCONNECT 0x93',
  ),
  option(
    'server-keep-alive',
    'MQTT_ADAPT_SERVER_KEEP_ALIVE',
    ['limits', 'serverKeepAliveSeconds'],
    'seconds',
    fieldChecks.serverKeepAliveSeconds,
    'off',
    '5.0 Server Keep Alive: the keepalive every 5.0 client must use, sent in CONNACK (0: none); off: their own',
    { numeric: true, example: '60' },
  ),
  option(
    'response-information',
    'MQTT_ADAPT_RESPONSE_INFORMATION',
    ['limits', 'responseInformation'],
    'text',
    fieldChecks.responseInformation,
    'none',
    '5.0 Response Information in CONNACK for clients that request it (e.g. a topic prefix: responses/)',
    { example: 'responses/' },
  ),
  option(
    'retain-available',
    'MQTT_ADAPT_RETAIN_AVAILABLE',
    ['limits', 'retainAvailable'],
    'true|false',
    fieldChecks.retainAvailable,
    'true',
    'false: no retained messages from clients (5.0: advertised; RETAIN 1 gets DISCONNECT 0x9A, a retained will CONNACK 0x9A)',
  ),
  option(
    'wildcard-subscription-available',
    'MQTT_ADAPT_WILDCARD_SUBSCRIPTION_AVAILABLE',
    ['limits', 'wildcardSubscriptionAvailable'],
    'true|false',
    fieldChecks.wildcardSubscriptionAvailable,
    'true',
    'false: no + or # in filters (5.0: advertised; DISCONNECT 0xA2; 3.x: SUBACK 0x80)',
  ),
  option(
    'subscription-identifiers-available',
    'MQTT_ADAPT_SUBSCRIPTION_IDENTIFIERS_AVAILABLE',
    ['limits', 'subscriptionIdentifiersAvailable'],
    'true|false',
    fieldChecks.subscriptionIdentifiersAvailable,
    'true',
    'false: no 5.0 Subscription Identifiers (advertised; a SUBSCRIBE with one gets DISCONNECT 0xA1)',
  ),
  option(
    'shared-subscription-available',
    'MQTT_ADAPT_SHARED_SUBSCRIPTION_AVAILABLE',
    ['limits', 'sharedSubscriptionAvailable'],
    'true|false',
    fieldChecks.sharedSubscriptionAvailable,
    'true',
    'false: no $share/ filters (5.0: advertised; DISCONNECT 0x9E; 3.x: SUBACK 0x80)',
  ),
  option(
    'log-level',
    'MQTT_ADAPT_LOG_LEVEL',
    ['log', 'level'],
    'level',
    fieldChecks.logLevel,
    defaultLog.level,
    'fatal, error, warn, info, debug (connects, disconnects, protocol errors), trace or silent',
  ),
  option(
    'log-format',
    'MQTT_ADAPT_LOG_FORMAT',
    ['log', 'format'],
    'format',
    fieldChecks.logFormat,
    defaultLog.format,
    'json, pretty, or auto (pretty when stdout is a terminal)',
  ),
  option(
    'store',
    'MQTT_ADAPT_STORE',
    ['store', 'type'],
    'memory|sqlite|postgres',
    fieldChecks.storeType,
    defaultStore.type,
    'where sessions and retained messages are kept: memory (lost on restart), sqlite (in --data-dir), postgres (--database-url)',
  ),
  option(
    'data-dir',
    'MQTT_ADAPT_DATA_DIR',
    ['dataDir'],
    'dir',
    fieldChecks.dataDir,
    defaultDataDir,
    'directory of the sqlite store (<dir>/mqtt-adapt.db), created on first start',
  ),
  option(
    'sqlite-synchronous',
    'MQTT_ADAPT_SQLITE_SYNCHRONOUS',
    ['store', 'synchronous'],
    'normal|full',
    fieldChecks.storeSynchronous,
    defaultStore.synchronous,
    'sqlite: normal survives kill -9, full also a power loss (fsync per commit)',
  ),
  option(
    'database-url',
    'MQTT_ADAPT_DATABASE_URL',
    ['store', 'url'],
    'url',
    fieldChecks.storeUrl,
    'DATABASE_URL, else none',
    'postgres: postgres://user:password@host:5432/database (a secret: redacted when printed)',
    { example: 'postgres://user:password@127.0.0.1:5432/mqtt' },
  ),
  option(
    'database-schema',
    'MQTT_ADAPT_DATABASE_SCHEMA',
    ['store', 'schema'],
    'name',
    fieldChecks.storeSchema,
    defaultStore.schema,
    'postgres: schema of the broker tables, created on first start',
  ),
  option(
    'shutdown-timeout-ms',
    'MQTT_ADAPT_SHUTDOWN_TIMEOUT_MS',
    ['shutdownTimeoutMs'],
    'ms',
    fieldChecks.shutdownTimeoutMs,
    defaultShutdownTimeoutMs,
    'longest graceful shutdown before the process exits anyway (exit code 1)',
  ),
  option(
    'metrics-port',
    'MQTT_ADAPT_METRICS_PORT',
    ['metrics', 'port'],
    'port',
    fieldChecks.metricsPort,
    'off',
    'HTTP port of /metrics (Prometheus), /healthz and /readyz; 0 picks a free port',
    { numeric: true, example: '9464' },
  ),
  option(
    'metrics-host',
    'MQTT_ADAPT_METRICS_HOST',
    ['metrics', 'host'],
    'host',
    fieldChecks.metricsHost,
    defaultMetrics.host,
    'interface of the metrics server',
  ),
  option(
    'sys-interval',
    'MQTT_ADAPT_SYS_INTERVAL',
    ['sysInterval'],
    'seconds',
    fieldChecks.sysInterval,
    defaultSysInterval,
    'seconds between updates of the retained $SYS/broker/... topics; 0 turns them off',
  ),
  option(
    'allow-anonymous',
    'MQTT_ADAPT_ALLOW_ANONYMOUS',
    ['auth', 'allowAnonymous'],
    'true|false|auto',
    fieldChecks.allowAnonymous,
    'auto',
    'whether clients without a user name may connect; auto: yes while the store holds no user, no once it holds one',
  ),
  option(
    'auth-failure-delay-ms',
    'MQTT_ADAPT_AUTH_FAILURE_DELAY_MS',
    ['auth', 'failureDelayMs'],
    'ms',
    fieldChecks.failureDelayMs,
    defaultAuth.failureDelayMs,
    "delay before answering an address's next login after it failed one; doubles per failure in a row; 0 turns it off",
  ),
  option(
    'auth-max-failure-delay-ms',
    'MQTT_ADAPT_AUTH_MAX_FAILURE_DELAY_MS',
    ['auth', 'maxFailureDelayMs'],
    'ms',
    fieldChecks.maxFailureDelayMs,
    defaultAuth.maxFailureDelayMs,
    'longest delay after failed logins from one address',
  ),
  option(
    'cluster',
    'MQTT_ADAPT_CLUSTER',
    ['cluster', 'enabled'],
    'true|false',
    fieldChecks.clusterEnabled,
    'false',
    'join a cluster: nodes sharing the postgres store exchange publishes over NATS (needs --store postgres); the flag takes no value',
    { isSwitch: true },
  ),
  option(
    'nats-url',
    'MQTT_ADAPT_NATS_URL',
    ['cluster', 'natsUrl'],
    'url',
    fieldChecks.natsUrl,
    defaultCluster.natsUrl,
    'cluster: NATS server the nodes exchange publishes through',
  ),
  option(
    'node-id',
    'MQTT_ADAPT_NODE_ID',
    ['cluster', 'nodeId'],
    'id',
    fieldChecks.nodeId,
    'hostname-pid-random',
    'cluster: name of this node (letters, digits, - and _); generated and logged when unset',
    { example: 'broker-1' },
  ),
  option(
    'cluster-heartbeat-ms',
    'MQTT_ADAPT_CLUSTER_HEARTBEAT_MS',
    ['cluster', 'heartbeatMs'],
    'ms',
    fieldChecks.heartbeatMs,
    defaultCluster.heartbeatMs,
    "cluster: interval of this node's heartbeat and of its look at the other nodes",
  ),
  option(
    'cluster-dead-after-ms',
    'MQTT_ADAPT_CLUSTER_DEAD_AFTER_MS',
    ['cluster', 'deadAfterMs'],
    'ms',
    fieldChecks.deadAfterMs,
    defaultCluster.deadAfterMs,
    'cluster: a node whose heartbeat is older than this is lapsed (no more messages are sent to it)',
  ),
  option(
    'workers',
    'MQTT_ADAPT_WORKERS',
    ['workers'],
    'n|auto',
    fieldChecks.workers,
    defaultWorkers,
    'broker processes on this machine sharing the listening ports (node:cluster), each a cluster node (needs --cluster); auto: one per core',
    { example: '4' },
  ),
];

/** The config file's flag and variable: not a config key itself. */
export const CONFIG_FILE_ENV = 'MQTT_ADAPT_CONFIG';

/** One value for the config, from a flag or a variable, already checked under its own name. */
export interface ConfigOverride {
  readonly path: ConfigPath;
  readonly value: unknown;
}

/** Converts a flag or variable's text to the option's type and checks it under `label`. */
export function parseValue(spec: OptionSpec, raw: string, label: string): unknown {
  const text = raw.trim();
  const value = spec.numeric && /^\d+$/.test(text) ? Number(text) : text;
  return spec.check(value, label);
}

export interface EnvSettings {
  readonly configFile: string | undefined;
  readonly overrides: readonly ConfigOverride[];
}

/**
 * Reads the `MQTT_ADAPT_*` variables. An empty variable counts as unset; an unknown one is an
 * error (a typo would otherwise be silently ignored).
 */
export function readEnv(env: NodeJS.ProcessEnv): EnvSettings {
  const known = [CONFIG_FILE_ENV, ...configOptions.map((spec) => spec.env)];
  for (const name of Object.keys(env)) {
    if (name.startsWith(ENV_PREFIX) && !known.includes(name)) {
      const near = closest(name, known);
      throw configError(
        `environment variable ${name} is not known; ${near ? `did you mean ${near}?` : 'see --help for the list'}`,
      );
    }
  }
  const overrides: ConfigOverride[] = [];
  for (const spec of configOptions) {
    const raw = env[spec.env];
    if (raw !== undefined && raw !== '')
      overrides.push({ path: spec.path, value: parseValue(spec, raw, spec.env) });
  }
  const configFile = env[CONFIG_FILE_ENV];
  return { configFile: configFile === '' ? undefined : configFile, overrides };
}

/**
 * Writes an override into a raw config object (a parsed config file), creating the mappings
 * on its way. A value of the wrong shape on the way (say `listeners: 5`) is left for
 * `resolveConfig` to report.
 */
export function applyOverride(raw: Record<string, unknown>, { path, value }: ConfigOverride): void {
  let node: Record<string, unknown> | unknown[] = raw;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const nextIsIndex = typeof path[i + 1] === 'number';
    let child = (node as Record<string | number, unknown>)[key];
    if (child === undefined) {
      child = nextIsIndex ? [{}] : {};
      (node as Record<string | number, unknown>)[key] = child;
    }
    if (nextIsIndex ? !Array.isArray(child) : !isPlainObject(child)) return;
    node = child as Record<string, unknown> | unknown[];
  }
  if (Array.isArray(node) || isPlainObject(node))
    (node as Record<string | number, unknown>)[path.at(-1)!] = value;
}

/** Displays a config path as written in a config file: `listeners[0].port`. */
export function formatPath(path: ConfigPath): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === 'number') return `${text}[${part}]`;
    return text === '' ? part : `${text}.${part}`;
  }, '');
}

/** `--help`: every option with its flag, variable, config key and default. */
export function helpText(version: string): string {
  const lines = [
    `mqtt-adapt ${version}: an MQTT 3.1, 3.1.1 and 5.0 broker`,
    '',
    'Usage: mqtt-adapt [options]',
    '',
    'Precedence: flags > environment variables > config file > defaults.',
    '',
    'Options:',
  ];
  const flagColumn = (spec: { flag: string; short?: string }, placeholder?: string): string =>
    `  ${spec.short ? `-${spec.short}, ` : '    '}--${spec.flag}${placeholder ? ` <${placeholder}>` : ''}`;
  const width = Math.max(...configOptions.map((spec) => flagColumn(spec, spec.placeholder).length)) + 2;
  lines.push(
    `${flagColumn({ flag: 'config', short: 'c' }, 'file').padEnd(width)}config file, YAML (.yaml, .yml) or JSON (.json)`,
    `${''.padEnd(width)}env ${CONFIG_FILE_ENV}; default: none`,
  );
  for (const spec of configOptions) {
    const placeholder = spec.isSwitch === true ? undefined : spec.placeholder;
    lines.push(`${flagColumn(spec, placeholder).padEnd(width)}${spec.description}`);
    lines.push(
      `${''.padEnd(width)}env ${spec.env}, config ${formatPath(spec.path)}; default: ${spec.defaultValue}`,
    );
  }
  lines.push(
    `${flagColumn({ flag: 'print-config' }).padEnd(width)}print the merged config (secrets redacted) as JSON and exit`,
    `${flagColumn({ flag: 'help', short: 'h' }).padEnd(width)}print this help and exit`,
    `${flagColumn({ flag: 'version', short: 'v' }).padEnd(width)}print the version and exit`,
    '',
    'Environment: DATABASE_URL is the postgres URL when --database-url, MQTT_ADAPT_DATABASE_URL and store.url are unset.',
    'Exit codes: 0 stopped cleanly, 1 runtime error (port in use, store unavailable, forced shutdown), 2 invalid config.',
  );
  return `${lines.join('\n')}\n`;
}
