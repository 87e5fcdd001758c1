import { createServer } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type LogLine, runCli, startTestBroker, type TestBroker } from './helpers.js';
import { type MetricFamily, parsePrometheusText, sampleValue } from './prom-text.js';

// The built CLI with --metrics-port 0 and --sys-interval: /metrics parsed strictly, the health
// endpoints, and the $SYS topics as a subscriber sees them.

const brokers: TestBroker[] = [];
const clients: MqttClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
  await Promise.all(brokers.splice(0).map((broker) => broker.stop()));
});

async function start(args: readonly string[]): Promise<TestBroker> {
  const broker = await startTestBroker({ args });
  brokers.push(broker);
  return broker;
}

async function connect(broker: TestBroker, options: Parameters<typeof connectAsync>[1] = {}) {
  const client = await connectAsync(broker.url, { reconnectPeriod: 0, ...options });
  clients.push(client);
  return client;
}

function isMetricsLine(line: LogLine): boolean {
  return line.msg === 'listening' && line.listener === 'metrics';
}

async function get(port: number, path: string, method = 'GET') {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

async function scrape(port: number): Promise<Map<string, MetricFamily>> {
  const response = await get(port, '/metrics');
  expect(response.status).toBe(200);
  expect(response.type).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(response.body);
}

/** Polls `read` until `accept` holds (the broker handles a disconnect a moment after the client). */
async function eventually<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || performance.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('metrics server', () => {
  it('serves /metrics, /healthz and /readyz, with counters that follow the clients', async () => {
    const broker = await start(['--metrics-port', '0']);
    const line = await broker.waitForLine(isMetricsLine);
    expect(line).toMatchObject({ listener: 'metrics', host: '127.0.0.1' });
    // After the MQTT listener's line: the first `listening` line stays the MQTT port.
    expect(broker.lines.findIndex(isMetricsLine)).toBeGreaterThan(
      broker.lines.findIndex((l) => l.msg === 'listening'),
    );
    const port = Number(line.port);
    expect(port).toBeGreaterThan(0);
    expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(port, '/readyz')).toMatchObject({ status: 200, body: 'ready\n' });

    const before = await scrape(port);
    expect(sampleValue(before, 'mqtt_adapt_clients_connected')).toBe(0);
    expect(sampleValue(before, 'mqtt_adapt_messages_received_total')).toBe(0);
    const bytesBefore = sampleValue(before, 'mqtt_adapt_bytes_received_total');
    expect(before.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(before.has('process_resident_memory_bytes')).toBe(true);
    expect(before.get('mqtt_adapt_store_flush_duration_seconds')?.type).toBe('histogram');

    // A persistent session (its CONNACK and the QoS 1 acks wait for sqlite commits).
    const client = await connect(broker, { clientId: 'metrics-1', clean: false });
    await client.subscribeAsync('obs/#', { qos: 1 });
    const received: string[] = [];
    client.on('message', (_topic, payload) => received.push(payload.toString()));
    for (let i = 0; i < 5; i++) await client.publishAsync('obs/x', `m${i}`, { qos: 1 });
    await eventually(
      async () => received.length,
      (n) => n === 5,
    );

    const after = await scrape(port);
    expect(sampleValue(after, 'mqtt_adapt_clients_connected')).toBe(1);
    expect(sampleValue(after, 'mqtt_adapt_clients_maximum')).toBe(1);
    expect(sampleValue(after, 'mqtt_adapt_client_connects_total')).toBe(1);
    expect(sampleValue(after, 'mqtt_adapt_messages_received_total')).toBe(5);
    expect(sampleValue(after, 'mqtt_adapt_messages_sent_total')).toBeGreaterThanOrEqual(5);
    expect(sampleValue(after, 'mqtt_adapt_bytes_received_total')).toBeGreaterThan(bytesBefore);
    expect(sampleValue(after, 'mqtt_adapt_subscriptions')).toBe(1);
    expect(
      sampleValue(after, 'mqtt_adapt_listener_connections', {
        listener: 'tcp',
        address: `127.0.0.1:${broker.port}`,
      }),
    ).toBe(1);
    expect(
      sampleValue(after, 'mqtt_adapt_store_flush_duration_seconds_count', { store: 'sqlite' }),
    ).toBeGreaterThan(0);
    expect(sampleValue(after, 'mqtt_adapt_internal_errors_total')).toBe(0);

    await client.endAsync();
    const gone = await eventually(
      () => scrape(port),
      (families) => sampleValue(families, 'mqtt_adapt_clients_connected') === 0,
    );
    expect(sampleValue(gone, 'mqtt_adapt_clients_connected')).toBe(0);
    expect(sampleValue(gone, 'mqtt_adapt_clients_disconnected')).toBe(1);
    expect(sampleValue(gone, 'mqtt_adapt_clients_total')).toBe(1);
    expect(sampleValue(gone, 'mqtt_adapt_clients_maximum')).toBe(1);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const broker = await start(['--metrics-port', '0', '--store', 'memory', '--sys-interval', '0']);
    const port = Number((await broker.waitForLine(isMetricsLine)).port);
    expect((await get(port, '/')).status).toBe(404);
    expect((await get(port, '/metrics', 'POST')).status).toBe(405);
    expect((await get(port, '/healthz?verbose=1')).status).toBe(200);
  });

  it('fails startup with one line and exit code 1 when the metrics port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const run = await runCli([
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--store',
        'memory',
        '--metrics-port',
        String(port),
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `metrics port ${port} is in use on 127.0.0.1; pass --metrics-port or stop the other process\n`,
      );
      expect(run.stdout).not.toContain('"listening"');
    } finally {
      blocker.close();
    }
  });
});

describe('$SYS topics', () => {
  it('publishes Mosquitto-style figures every --sys-interval seconds', async () => {
    const broker = await start(['--sys-interval', '1', '--store', 'memory']);
    const client = await connect(broker, { clientId: 'sys-watcher' });
    const seen = new Map<string, string[]>();
    client.on('message', (topic, payload) => {
      const values = seen.get(topic) ?? [];
      values.push(payload.toString());
      seen.set(topic, values);
    });
    const latest = (topic: string) => seen.get(topic)?.at(-1);
    const waitFor = (accept: () => boolean, what: string, timeoutMs = 5000) =>
      eventually(async () => accept(), Boolean, timeoutMs).then((ok) => {
        if (!ok) throw new Error(`${what} not seen; got ${JSON.stringify(Object.fromEntries(seen))}`);
      });
    await client.subscribeAsync('$SYS/#');

    await waitFor(() => (seen.get('$SYS/broker/uptime')?.length ?? 0) >= 2, 'two uptime updates');
    const uptimes = seen.get('$SYS/broker/uptime')!.map((text) => {
      expect(text).toMatch(/^\d+ seconds$/);
      return Number.parseInt(text, 10);
    });
    expect(uptimes.at(-1)!).toBeGreaterThan(uptimes[0]!);
    expect(latest('$SYS/broker/version')).toMatch(/^mqtt-adapt version \d+\.\d+\.\d+/);

    // The subscriber counts itself.
    await waitFor(() => latest('$SYS/broker/clients/connected') === '1', 'clients/connected 1');
    expect(Number(latest('$SYS/broker/clients/total'))).toBeGreaterThanOrEqual(1);
    expect(Number(latest('$SYS/broker/clients/maximum'))).toBeGreaterThanOrEqual(1);
    await waitFor(() => latest('$SYS/broker/subscriptions/count') === '1', 'subscriptions/count 1');

    // The broker's own $SYS messages are not "received"; ours are.
    const receivedBefore = Number(latest('$SYS/broker/messages/received') ?? '0');
    for (let i = 0; i < 3; i++) await client.publishAsync('app/t', `m${i}`, { qos: 1 });
    await waitFor(
      () => Number(latest('$SYS/broker/messages/received')) === receivedBefore + 3,
      'messages/received +3',
    );
    await waitFor(
      () => Number(latest('$SYS/broker/load/messages/received/1min')) > 0,
      'a 1-minute load above 0',
    );
    for (const name of ['bytes/received', 'bytes/sent', 'messages/sent', 'publish/messages/dropped'])
      expect(latest(`$SYS/broker/${name}`), name).toMatch(/^\d+$/);
    expect(Number(latest('$SYS/broker/bytes/received'))).toBeGreaterThan(0);
    expect(latest('$SYS/broker/retained messages/count')).toMatch(/^\d+$/);
    for (const window of ['1min', '5min', '15min'])
      expect(latest(`$SYS/broker/load/bytes/received/${window}`)).toMatch(/^\d+\.\d\d$/);
  });
});
