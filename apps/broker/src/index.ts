export { packageVersion } from './cli-command.js';
export type {
  BrokerConfig,
  BrokerConfigInput,
  LimitsConfig,
  ListenerBaseConfig,
  ListenerConfig,
  ListenerType,
  LogConfig,
  LogFormat,
  LogLevel,
  SqliteSynchronousMode,
  StoreConfig,
  StoreType,
  TcpListenerConfig,
} from './config.js';
export {
  defaultDataDir,
  defaultLimits,
  defaultListener,
  defaultLog,
  defaultShutdownTimeoutMs,
  defaultStore,
  LOG_FORMATS,
  LOG_LEVELS,
  resolveConfig,
  SQLITE_SYNCHRONOUS_MODES,
  STORE_TYPES,
  toBrokerOptions,
} from './config.js';
export type { BrokerAppErrorCode } from './errors.js';
export { BrokerAppError, exitCodeFor, isBrokerAppError } from './errors.js';
export type { LoadedConfig } from './load-config.js';
export { loadConfig, readConfigFile } from './load-config.js';
export type { CreateLoggerOptions } from './logger.js';
export { createLogger } from './logger.js';
export type { ConfigPath, OptionSpec } from './option-table.js';
export { configOptions } from './option-table.js';
export { REDACTED, redactSecrets } from './redact.js';
export type { ShutdownOptions } from './shutdown.js';
export { exitOnSignals } from './shutdown.js';
export type { TransportSocket } from './socket-transport.js';
export { CLOSE_GRACE_MS, SocketTransport } from './socket-transport.js';
export type { RunningBroker, StartBrokerOptions } from './start-broker.js';
export { startBroker } from './start-broker.js';
export { createStore, sqliteDatabasePath } from './store-factory.js';
export type { ListenerAddress, RunningListener } from './tcp-listener.js';
export { listenTcp } from './tcp-listener.js';
