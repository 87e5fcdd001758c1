import { availableParallelism } from 'node:os';
import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/cli-options.js';
import { resolveConfig } from '../src/config.js';
import { isBrokerAppError } from '../src/errors.js';
import { readEnv } from '../src/option-table.js';
import { startBroker } from '../src/start-broker.js';
import { RestartBackoff } from '../src/workers/restart-backoff.js';
import { mergeWorkerMetrics } from '../src/workers/worker-metrics.js';
import { workerNodeId, workersValue } from '../src/workers/workers-config.js';
import { appErrorOf } from './errors-helper.js';

const clusterInput = {
  store: { type: 'postgres', url: 'postgres://mqtt@127.0.0.1:5432/mqtt' },
  cluster: { enabled: true },
} as const;

describe('workers config', () => {
  it('defaults to 1 and takes a number or auto (one per core, from flags and variables as well)', () => {
    expect(resolveConfig({}).workers).toBe(1);
    expect(resolveConfig({ ...clusterInput, workers: 4 }).workers).toBe(4);
    expect(resolveConfig({ ...clusterInput, workers: 'auto' }).workers).toBe(
      Math.min(1024, availableParallelism()),
    );
    expect(workersValue(() => 12)('auto', 'workers')).toBe(12);
    expect(workersValue(() => 5000)('auto', 'workers')).toBe(1024);
    expect(parseCliArgs(['--workers', '3']).overrides).toEqual([{ path: ['workers'], value: 3 }]);
    expect(parseCliArgs(['--workers=auto']).overrides).toEqual([
      { path: ['workers'], value: Math.min(1024, availableParallelism()) },
    ]);
    expect(readEnv({ MQTT_ADAPT_WORKERS: '2' }).overrides).toEqual([{ path: ['workers'], value: 2 }]);
    // One worker needs no cluster: it is the single process of today.
    expect(resolveConfig({ workers: 1 }).workers).toBe(1);
  });

  it.each([
    [
      { workers: 0 },
      'config: workers = 0 is not a number of worker processes (1-1024) or auto (one per core)',
    ],
    [
      { workers: 1.5 },
      'config: workers = 1.5 is not a number of worker processes (1-1024) or auto (one per core)',
    ],
    [
      { workers: 1025 },
      'config: workers = 1025 is not a number of worker processes (1-1024) or auto (one per core)',
    ],
    [
      { workers: 'all' },
      'config: workers = "all" is not a number of worker processes (1-1024) or auto (one per core)',
    ],
    [
      { workers: 2 },
      'config: workers = 2 needs cluster.enabled = true: each worker is a cluster node sharing the postgres store; pass --cluster --store postgres --database-url ... or drop --workers',
    ],
    [
      { workers: 2, cluster: { enabled: true } },
      'config: cluster.enabled = true needs store.type = "postgres" (is "sqlite"); pass --store postgres --database-url ... or drop --cluster',
    ],
    [
      { ...clusterInput, cluster: { enabled: true, nodeId: 'n'.repeat(61) }, workers: 10 },
      `config: cluster.nodeId = "${'n'.repeat(56)}... is too long for 10 workers: "${'n'.repeat(61)}-w10" would pass 64 characters; shorten --node-id`,
    ],
  ])('rejects %j with one line', (input, message) => {
    const error = appErrorOf(() => resolveConfig(input));
    expect(error.code).toBe('BROKER_CONFIG_INVALID');
    expect(error.message).toBe(message);
  });

  it('names worker n of node X X-wn, within the 64 characters of a node id', () => {
    expect(workerNodeId('broker-1', 3)).toBe('broker-1-w3');
    const base = 'n'.repeat(60);
    expect(
      resolveConfig({ ...clusterInput, cluster: { enabled: true, nodeId: base }, workers: 9 }).workers,
    ).toBe(9);
  });

  it('the flag is parsed with its name in the error', () => {
    const error = appErrorOf(() => parseCliArgs(['--workers', '-1']));
    expect(error.message).toBe(
      'config: --workers = "-1" is not a number of worker processes (1-1024) or auto (one per core)',
    );
  });

  it('startBroker refuses workers > 1: forking is the CLI’s job', async () => {
    const error: unknown = await startBroker({ ...clusterInput, workers: 2 }).catch((e: unknown) => e);
    expect(isBrokerAppError(error) && error.code).toBe('BROKER_CONFIG_INVALID');
    expect((error as Error).message).toBe(
      'config: workers = 2 is read by the mqtt-adapt CLI only; startBroker runs one broker in this process (run one per process, each with its own cluster.nodeId)',
    );
  });
});

describe('RestartBackoff', () => {
  it('doubles from 0.5 s up to 30 s while a worker keeps failing, and starts over after a stable run', () => {
    const backoff = new RestartBackoff();
    const delays = Array.from({ length: 9 }, () => backoff.next(undefined));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    // A short run after it was ready does not reset: a worker crashing each second never spins.
    expect(backoff.next(1000)).toBe(30000);
    expect(backoff.next(30_000)).toBe(500);
    expect(backoff.next(undefined)).toBe(1000);
    for (let i = 0; i < 100; i++) backoff.next(undefined);
    expect(backoff.next(undefined)).toBe(30000);
  });
});

describe('mergeWorkerMetrics', () => {
  async function workerRegistry(connected: number): Promise<Registry> {
    const registry = new Registry();
    new Gauge({ name: 'mqtt_adapt_clients_connected', help: 'h', registers: [registry] }).set(connected);
    new Counter({
      name: 'mqtt_adapt_limit_hits_total',
      help: 'h',
      labelNames: ['limit'],
      registers: [registry],
    }).inc({ limit: 'maxConnections' }, connected);
    // prom-client drops (`omit`) this one when aggregating by default: it must stay per worker.
    new Gauge({
      name: 'process_start_time_seconds',
      help: 'h',
      aggregator: 'omit',
      registers: [registry],
    }).set(100 + connected);
    return registry;
  }

  it('keeps every series of every worker, labelled with its node and worker, nothing summed', async () => {
    const one = await (await workerRegistry(3)).getMetricsAsJSON();
    const two = await (await workerRegistry(5)).getMetricsAsJSON();
    const text = await mergeWorkerMetrics([
      { worker: 1, nodeId: 'x-w1', metrics: one },
      { worker: 2, nodeId: 'x-w2', metrics: two },
    ]).metrics();
    const series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(series.sort()).toEqual([
      'mqtt_adapt_clients_connected{node="x-w1",worker="1"} 3',
      'mqtt_adapt_clients_connected{node="x-w2",worker="2"} 5',
      'mqtt_adapt_limit_hits_total{limit="maxConnections",node="x-w1",worker="1"} 3',
      'mqtt_adapt_limit_hits_total{limit="maxConnections",node="x-w2",worker="2"} 5',
      'process_start_time_seconds{node="x-w1",worker="1"} 103',
      'process_start_time_seconds{node="x-w2",worker="2"} 105',
    ]);
    expect(text).toContain('# TYPE mqtt_adapt_limit_hits_total counter');
  });

  it('is empty without workers', async () => {
    expect((await mergeWorkerMetrics([]).metrics()).trim()).toBe('');
  });
});
