import type { Registry } from 'prom-client';
import type { BrokerConfig } from '../config.js';
import type { BrokerAppErrorCode } from '../errors.js';
import type { ListenerAddress } from '../listeners.js';

// The IPC messages between the `--workers` primary and its workers (node:cluster's channel,
// `serialization: 'advanced'` so that `undefined` config fields survive). Every type starts with
// `mqtt-adapt:`: node's own cluster messages and other libraries' share the channel.

/** Set in a worker's environment by the primary: the worker number, 1-based. */
export const WORKER_ENV = '__MQTT_ADAPT_WORKER';

/** A worker's metrics as `Registry#getMetricsAsJSON` gives them. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type PrimaryMessage =
  /** The config to start with, sent once the worker listens for messages. */
  | { readonly type: 'mqtt-adapt:start'; readonly config: BrokerConfig }
  /** Graceful stop, as SIGTERM in a single process. */
  | { readonly type: 'mqtt-adapt:stop' }
  | { readonly type: 'mqtt-adapt:metrics-request'; readonly requestId: number };

export type WorkerMessage =
  /** The worker's message listener is installed: send `start`. */
  | { readonly type: 'mqtt-adapt:waiting' }
  | {
      readonly type: 'mqtt-adapt:ready';
      readonly nodeId: string;
      readonly store: string;
      readonly addresses: readonly ListenerAddress[];
    }
  /** Startup failed with this one-line error; the worker exits next. */
  | { readonly type: 'mqtt-adapt:failed'; readonly code: BrokerAppErrorCode; readonly message: string }
  | { readonly type: 'mqtt-adapt:metrics'; readonly requestId: number; readonly metrics: MetricsJson };

function hasOurType(value: unknown): value is { type: string } {
  if (typeof value !== 'object' || value === null) return false;
  const type: unknown = (value as { type?: unknown }).type;
  return typeof type === 'string' && type.startsWith('mqtt-adapt:');
}

/** Both ends run the same build: the type tag is enough to trust the rest of the shape. */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return hasOurType(value);
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return hasOurType(value);
}
