export type {
  BridgeCodec,
  BridgeConfig,
  BridgeDownlinkConfig,
  BridgeRequestReplyConfig,
  BridgeRetryConfig,
  BridgeType,
  BridgeUplinkConfig,
  UplinkAckMode,
} from './bridges/bridge-config.js';
export { BRIDGE_TYPES, UPLINK_ACK_MODES } from './bridges/bridge-config.js';
export type { BridgeState, BridgeStatus } from './bridges/bridge-runtime.js';
export { packageVersion } from './cli-command.js';
export type { ClusterConfig } from './cluster/cluster-config.js';
export type {
  BrokerConfig,
  BrokerConfigInput,
  LimitsConfig,
  ListenerBaseConfig,
  ListenerConfig,
  ListenerShortcutsInput,
  ListenerType,
  LogConfig,
  LogFormat,
  LogLevel,
  MetricsConfig,
  ProtocolLevel,
  SqliteSynchronousMode,
  StoreConfig,
  StoreType,
  TcpListenerConfig,
  TlsFilesConfig,
  TlsListenerConfig,
  WsListenerConfig,
  WssListenerConfig,
} from './config.js';
export {
  defaultDataDir,
  defaultLimits,
  defaultListener,
  defaultListenerPorts,
  defaultLog,
  defaultMetrics,
  defaultShutdownTimeoutMs,
  defaultStore,
  defaultSysInterval,
  defaultWebSocketPath,
  LISTENER_TYPES,
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
export type { MetricsAddress } from './metrics-server.js';
export type { ConfigPath, OptionSpec } from './option-table.js';
export { configOptions } from './option-table.js';
export { REDACTED, redactSecrets } from './redact.js';
export type { ShutdownOptions } from './shutdown.js';
export { exitOnSignals, reloadOnSignal } from './shutdown.js';
export type { SocketTransportOptions, TransportSocket } from './socket-transport.js';
export { CLOSE_GRACE_MS, SocketTransport } from './socket-transport.js';
export type { RunningBroker, StartBrokerOptions } from './start-broker.js';
export { startBroker } from './start-broker.js';
export { createStore, sqliteDatabasePath } from './store-factory.js';
export { SYS_TOPICS } from './sys-topics.js';
export type { ListenerAddress, RunningListener, TlsListenOptions } from './tcp-listener.js';
export { listenTcp, listenTls } from './tcp-listener.js';
export type { TlsMaterial } from './tls-files.js';
export { readTlsFiles } from './tls-files.js';
export type { WsListenOptions } from './ws-listener.js';
export { listenWs } from './ws-listener.js';
export type { WebSocketRawSocket, WebSocketTransportOptions } from './ws-transport.js';
export { WebSocketTransport } from './ws-transport.js';
