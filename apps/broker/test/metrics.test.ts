import { Broker, MemoryStore, type Store } from '@mqtt-adapt/router';
import { describe, expect, it } from 'vitest';
import { BrokerFigures } from '../src/broker-figures.js';
import { BrokerMetrics } from '../src/metrics.js';
import { parsePrometheusText, sampleValue } from './integration/prom-text.js';

async function scrape(metrics: BrokerMetrics) {
  return parsePrometheusText(await metrics.metrics());
}

describe('BrokerMetrics', () => {
  it('exposes the broker figures, per-listener connections and process metrics in valid text', async () => {
    const broker = new Broker({ store: new MemoryStore() });
    await broker.open();
    const figures = new BrokerFigures(broker);
    const metrics = new BrokerMetrics();
    const listeners = [
      { address: { listener: 'tcp' as const, host: '0.0.0.0', port: 1883 }, connectionCount: 2 },
      { address: { listener: 'tcp' as const, host: '::', port: 1884 }, connectionCount: 0 },
    ];
    metrics.observeBroker(broker, figures, listeners);
    metrics.observeVersion('9.9.9');

    let families = await scrape(metrics);
    expect(families.get('mqtt_adapt_messages_received_total')?.type).toBe('counter');
    expect(families.get('mqtt_adapt_clients_connected')?.type).toBe('gauge');
    expect(sampleValue(families, 'mqtt_adapt_messages_received_total')).toBe(0);
    expect(sampleValue(families, 'mqtt_adapt_retained_messages')).toBe(0);
    expect(sampleValue(families, 'mqtt_adapt_listener_connections', { address: '0.0.0.0:1883' })).toBe(2);
    expect(
      sampleValue(families, 'mqtt_adapt_listener_connections', { listener: 'tcp', address: '[::]:1884' }),
    ).toBe(0);
    expect(sampleValue(families, 'mqtt_adapt_build_info', { version: '9.9.9' })).toBe(1);
    // prom-client's default metrics: event-loop lag and the process.
    expect(families.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(families.has('process_cpu_seconds_total')).toBe(true);
    // No placeholders: without a durable store there is no flush histogram.
    expect(families.has('mqtt_adapt_store_flush_duration_seconds')).toBe(false);

    broker.publish({ topicName: 'a/b', payload: 'x', retain: true });
    broker.publish({ topicName: 'a/c', payload: 'y' });
    figures.countOwnPublish(); // as if a/c were the broker's own ($SYS)
    families = await scrape(metrics);
    expect(sampleValue(families, 'mqtt_adapt_messages_received_total')).toBe(1);
    expect(sampleValue(families, 'mqtt_adapt_retained_messages')).toBe(1);
    await broker.close();
  });

  it('counts refused logins as they grow', async () => {
    const metrics = new BrokerMetrics();
    let failures = 0;
    metrics.observeLoginFailures(() => failures);
    expect(sampleValue(await scrape(metrics), 'mqtt_adapt_auth_failures_total')).toBe(0);
    failures = 3;
    expect(sampleValue(await scrape(metrics), 'mqtt_adapt_auth_failures_total')).toBe(3);
  });

  it('counts limit hits per limit, every limit present from the first scrape', async () => {
    const broker = new Broker({ store: new MemoryStore(), maxRetainedPayloadBytes: 1, maxTopicLevels: 2 });
    await broker.open();
    const metrics = new BrokerMetrics();
    metrics.observeBroker(broker, new BrokerFigures(broker), []);
    let families = await scrape(metrics);
    expect(families.get('mqtt_adapt_limit_hits_total')?.type).toBe('counter');
    for (const limit of [
      'maxConnections',
      'maxConnectRatePerAddress',
      'maxPublishRatePerClient',
      'maxTopicLevels',
      'maxTopicLength',
      'maxRetainedMessages',
      'maxRetainedBytes',
      'maxRetainedPayloadBytes',
    ]) {
      expect(sampleValue(families, 'mqtt_adapt_limit_hits_total', { limit })).toBe(0);
    }
    broker.publish({ topicName: 'a', payload: 'too big', retain: true });
    broker.publish({ topicName: 'b', payload: 'xy', retain: true });
    broker.publish({ topicName: 'c', payload: 'z', retain: true });
    families = await scrape(metrics);
    expect(sampleValue(families, 'mqtt_adapt_limit_hits_total', { limit: 'maxRetainedPayloadBytes' })).toBe(
      2,
    );
    expect(sampleValue(families, 'mqtt_adapt_limit_hits_total', { limit: 'maxTopicLevels' })).toBe(0);
    expect(sampleValue(families, 'mqtt_adapt_retained_bytes')).toBe(1);
    await broker.close();
  });

  it('times each distinct flush promise of a durable store once, and counts failures', async () => {
    const resolvers: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
    let pending: Promise<void> | undefined;
    const store = {
      name: 'fake',
      durable: true,
      flush(): Promise<void> | undefined {
        pending ??= new Promise<void>((resolve, reject) => resolvers.push({ resolve, reject }));
        return pending;
      },
    } as unknown as Store;
    const metrics = new BrokerMetrics();
    metrics.instrumentStore(store);

    // Three waiters of one group commit: one observation.
    const first = store.flush();
    expect(store.flush()).toBe(first);
    expect(store.flush()).toBe(first);
    resolvers[0]!.resolve();
    await first;
    pending = undefined;
    const second = store.flush();
    pending = undefined;
    resolvers[1]!.reject(new Error('disk full'));
    await expect(second).rejects.toThrow('disk full');
    await new Promise((resolve) => setImmediate(resolve));

    const families = await scrape(metrics);
    expect(sampleValue(families, 'mqtt_adapt_store_flush_duration_seconds_count', { store: 'fake' })).toBe(2);
    expect(sampleValue(families, 'mqtt_adapt_store_flush_failures_total', { store: 'fake' })).toBe(1);
  });
});

describe('parsePrometheusText', () => {
  const valid = [
    '# HELP a_total A \\\\ counter\\nwith two lines',
    '# TYPE a_total counter',
    'a_total{x="q\\"uote",y="2"} 3',
    '# TYPE h histogram',
    'h_bucket{le="0.1"} 1',
    'h_bucket{le="+Inf"} 2',
    'h_sum 0.5',
    'h_count 2',
    '',
  ].join('\n');

  it('reads families, types, help, labels and values', () => {
    const families = parsePrometheusText(valid);
    expect(families.get('a_total')).toMatchObject({ type: 'counter', help: 'A \\ counter\nwith two lines' });
    expect(sampleValue(families, 'a_total', { x: 'q"uote' })).toBe(3);
    expect(sampleValue(families, 'h_count')).toBe(2);
  });

  it.each([
    ['a sample without TYPE', 'x 1\n'],
    ['a repeated series', '# TYPE x gauge\nx 1\nx 2\n'],
    ['a split family', '# TYPE x gauge\nx{a="1"} 1\n# TYPE y gauge\ny 1\nx{a="2"} 1\n'],
    ['a negative counter', '# TYPE x_total counter\nx_total -1\n'],
    ['a bad value', '# TYPE x gauge\nx one\n'],
    ['an unquoted label', '# TYPE x gauge\nx{a=1} 1\n'],
    ['a bad escape', '# TYPE x gauge\nx{a="\\t"} 1\n'],
    ['no final newline', '# TYPE x gauge\nx 1'],
    [
      'buckets not cumulative',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
    ['+Inf bucket != count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
