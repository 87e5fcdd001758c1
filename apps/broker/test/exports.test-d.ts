// Type-level only (checked by `tsc -p tsconfig.json`): the public types are reachable from the
// package root, and startBroker's shape is what the README promises.
import type { Broker } from '@mqtt-adapt/router';
import { expectTypeOf } from 'vitest';
import {
  type BridgeConfig,
  type BridgeType,
  type BridgeUplinkConfig,
  type BrokerAppErrorCode,
  type BrokerConfig,
  type BrokerConfigInput,
  type LimitsConfig,
  type ListenerAddress,
  type ListenerConfig,
  type LogLevel,
  type MetricsAddress,
  type MetricsConfig,
  type RunningBroker,
  resolveConfig,
  type StartBrokerOptions,
  type StoreConfig,
  type StoreType,
  startBroker,
  type TcpListenerConfig,
  type TlsListenerConfig,
  type WsListenerConfig,
  type WssListenerConfig,
} from '../src/index.js';

expectTypeOf(startBroker).parameters.toEqualTypeOf<[BrokerConfigInput?, StartBrokerOptions?]>();
expectTypeOf(startBroker).returns.toEqualTypeOf<Promise<RunningBroker>>();
expectTypeOf<RunningBroker['broker']>().toEqualTypeOf<Broker>();
expectTypeOf<RunningBroker['addresses']>().toEqualTypeOf<readonly ListenerAddress[]>();
expectTypeOf<RunningBroker['close']>().toEqualTypeOf<() => Promise<void>>();
expectTypeOf(resolveConfig).returns.toEqualTypeOf<BrokerConfig>();
expectTypeOf<BrokerConfig['listeners']>().toEqualTypeOf<ListenerConfig[]>();
expectTypeOf<ListenerConfig>().toEqualTypeOf<
  TcpListenerConfig | TlsListenerConfig | WsListenerConfig | WssListenerConfig
>();
expectTypeOf<RunningBroker['reloadCertificates']>().toEqualTypeOf<() => void>();
expectTypeOf<LimitsConfig['maxQoS']>().toEqualTypeOf<0 | 1 | 2>();
expectTypeOf<LogLevel>().toEqualTypeOf<'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'>();
expectTypeOf<BrokerAppErrorCode>().toEqualTypeOf<
  | 'BROKER_CONFIG_INVALID'
  | 'BROKER_CONFIG_FILE'
  | 'BROKER_PORT_IN_USE'
  | 'BROKER_LISTEN_FAILED'
  | 'BROKER_STORE_UNAVAILABLE'
  | 'BROKER_BRIDGE_FAILED'
  | 'BROKER_CLUSTER_UNAVAILABLE'
  | 'BROKER_WORKER_FAILED'
>();
expectTypeOf<BrokerConfig['workers']>().toEqualTypeOf<number>();
expectTypeOf<BrokerConfig['bridges']>().toEqualTypeOf<BridgeConfig[]>();
expectTypeOf<BridgeType>().toEqualTypeOf<'rabbitmq' | 'nats' | 'redis' | 'mqtt'>();
expectTypeOf<BridgeUplinkConfig['ack']>().toEqualTypeOf<'store' | 'after-confirm'>();
expectTypeOf<BrokerConfig['store']>().toEqualTypeOf<StoreConfig>();
expectTypeOf<StoreType>().toEqualTypeOf<'memory' | 'sqlite' | 'postgres'>();
expectTypeOf<StoreConfig['url']>().toEqualTypeOf<string | undefined>();
expectTypeOf<BrokerConfig['metrics']>().toEqualTypeOf<MetricsConfig>();
expectTypeOf<MetricsConfig['port']>().toEqualTypeOf<number | undefined>();
expectTypeOf<BrokerConfig['sysInterval']>().toEqualTypeOf<number>();
expectTypeOf<RunningBroker['metricsAddress']>().toEqualTypeOf<MetricsAddress | undefined>();
expectTypeOf<MetricsAddress['listener']>().toEqualTypeOf<'metrics'>();
