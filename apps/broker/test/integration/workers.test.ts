import { createServer, type Server } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterFixture, NATS_TEST_URL, until } from './cluster-harness.js';
import { type LogLine, runCli, startTestBroker, type TestBroker } from './helpers.js';
import { PG_TEST_URL } from './persistence-harness.js';

// `--workers 2 --cluster --store postgres`: the real CLI as a node:cluster primary with two
// worker processes sharing port 0, on a fresh PostgreSQL schema and the real NATS. A service
// that is down fails these tests (never skips).
const HEARTBEAT_MS = 200;
const DEAD_AFTER_MS = 1000;
const fixture = new ClusterFixture<string>('mqtt_adapt_workers', [], HEARTBEAT_MS, DEAD_AFTER_MS);
const { schema, clients } = fixture;
let primary: TestBroker;
let metricsPort: number;

/** The `worker ready` lines of one worker, oldest first. */
function readyLines(worker: number): LogLine[] {
  return primary.lines.filter((line) => line.msg === 'worker ready' && line.worker === worker);
}

/** Connects a client and reads, from the worker's debug line, which worker (and pid) serves it. */
async function connect(clientId: string): Promise<{ client: MqttClient; worker: number; pid: number }> {
  const client = await mqtt.connectAsync(primary.url, { clientId, reconnectPeriod: 0 });
  clients.push(client);
  const line = await primary.waitForLine((l) => l.msg === 'client connected' && l.clientId === clientId);
  return { client, worker: Number(line.worker), pid: Number(line.pid) };
}

async function clusterStatus(): Promise<Array<{ nodeId: string; lapsed: boolean }>> {
  const run = await runCli([
    'cluster',
    'status',
    '--json',
    '--database-url',
    PG_TEST_URL,
    '--database-schema',
    schema,
    '--cluster-dead-after-ms',
    String(DEAD_AFTER_MS),
  ]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as Array<{ nodeId: string; lapsed: boolean }>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  await fixture.requirePostgres();
  primary = await startTestBroker({
    args: [...fixture.args('wk'), ...['--workers', '2', '--metrics-port', '0', '--log-level', 'debug']],
    readyTimeoutMs: 45_000,
  });
  const metricsLine = await primary.waitForLine((l) => l.msg === 'listening' && l.listener === 'metrics');
  metricsPort = Number(metricsLine.port);
}, 60_000);

afterAll(async () => {
  await primary?.stop('SIGKILL');
  await fixture.stop();
});

describe('--workers 2 (node:cluster, each worker a cluster node)', () => {
  it('runs two worker processes on one shared port, logged once by the primary', async () => {
    const listening = primary.lines.filter((l) => l.msg === 'listening' && l.listener === 'tcp');
    expect(listening).toHaveLength(1);
    expect(listening[0]).toMatchObject({ port: primary.port, store: 'postgres', workers: 2 });
    expect(listening[0]!.pid).toBe(primary.child.pid);
    const [one] = readyLines(1);
    const [two] = readyLines(2);
    expect(one).toMatchObject({ nodeId: 'wk-w1' });
    expect(two).toMatchObject({ nodeId: 'wk-w2' });
    expect(new Set([one!.workerPid, two!.workerPid, primary.child.pid]).size).toBe(3);
    // Each worker bound the same port (node:cluster shares the primary's socket).
    const bound = primary.lines.filter((l) => l.msg === 'worker listening');
    expect(bound.map((l) => [l.worker, l.port])).toEqual([
      [1, primary.port],
      [2, primary.port],
    ]);
    await until(async () => {
      const nodes = await clusterStatus();
      return nodes.filter((node) => !node.lapsed).length === 2;
    }, 'two live nodes in cluster status');
    expect((await clusterStatus()).map((node) => node.nodeId).sort()).toEqual(['wk-w1', 'wk-w2']);
  });

  it('delivers a publish from a client on one worker to a subscriber on the other', async () => {
    const seen = new Map<number, Awaited<ReturnType<typeof connect>>>();
    for (let i = 0; seen.size < 2; i++) {
      if (i >= 10) throw new Error(`10 clients all landed on worker ${[...seen.keys()].join(', ')}`);
      const connection = await connect(`wk-client-${i}`);
      if (!seen.has(connection.worker)) seen.set(connection.worker, connection);
    }
    const subscriber = seen.get(1)!.client;
    const publisher = seen.get(2)!.client;
    const received: string[] = [];
    subscriber.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`));
    await subscriber.subscribeAsync('wk/cross', { qos: 1 });
    // The subscription reaches worker 2 through its interest announcement (NATS, one round trip).
    let sent = 0;
    await until(async () => {
      await publisher.publishAsync('wk/cross', `hello-${sent++}`, { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      return received.length > 0;
    }, 'a cross-worker delivery');
    expect(received[0]).toMatch(/^wk\/cross hello-\d+$/);
  });

  it("serves every worker's metrics on the primary's port, labelled by node and worker", async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^mqtt_adapt_clients_connected\{node="wk-w1",worker="1"\} [1-9]/m);
    expect(text).toMatch(/^mqtt_adapt_clients_connected\{node="wk-w2",worker="2"\} [1-9]/m);
    expect(text).toMatch(/^mqtt_adapt_workers_ready 2$/m);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);
  });

  it('restarts a worker that was killed, under the same node id', async () => {
    const before = readyLines(2);
    const oldPid = Number(before.at(-1)!.workerPid);
    process.kill(oldPid, 'SIGKILL');
    const exited = await primary.waitForLine(
      (l) => l.msg === 'worker exited unexpectedly; restarting' && l.worker === 2,
    );
    expect(exited).toMatchObject({ workerPid: oldPid, signal: 'SIGKILL', nodeId: 'wk-w2' });
    expect(Number(exited.delayMs)).toBeGreaterThan(0);
    await until(() => readyLines(2).length === before.length + 1, 'worker 2 ready again');
    const again = readyLines(2).at(-1)!;
    expect(again.nodeId).toBe('wk-w2');
    expect(again.workerPid).not.toBe(oldPid);
    expect(isAlive(oldPid)).toBe(false);
    // The new process serves clients: connect until one lands there.
    let landed = false;
    for (let i = 0; i < 10 && !landed; i++) {
      landed = (await connect(`wk-again-${i}`)).pid === again.workerPid;
    }
    expect(landed).toBe(true);
  });

  it('stops every worker gracefully on SIGTERM of the primary and exits 0', async () => {
    const pids = [1, 2].map((worker) => Number(readyLines(worker).at(-1)!.workerPid));
    expect(pids.every(isAlive)).toBe(true);
    const exit = await primary.stop('SIGTERM');
    expect(exit).toMatchObject({ code: 0, signal: null });
    // The pipe may still hold the last lines when 'exit' comes: waited for, not just looked up.
    for (const worker of [1, 2]) await primary.waitForLine((l) => l.msg === 'stopped' && l.worker === worker);
    await primary.waitForLine((l) => l.msg === 'stopped' && l.pid === primary.child.pid);
    expect(pids.some(isAlive)).toBe(false);
    // Each worker left the cluster: no live node is listed any more.
    expect((await clusterStatus()).filter((node) => !node.lapsed)).toEqual([]);
  });

  it('fails with the one line of a port in use, printed once, and exit code 1', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const run = await runCli(
        [
          ...['--port', String(port), '--host', '127.0.0.1', '--log-format', 'json', '--workers', '2'],
          ...['--store', 'postgres', '--database-url', PG_TEST_URL, '--database-schema', schema],
          ...['--cluster', '--nats-url', NATS_TEST_URL, '--node-id', 'busy'],
        ],
        {},
        30_000,
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`port ${port} is in use on 127.0.0.1; pass --port or stop the other process\n`);
    } finally {
      holder.close();
    }
  }, 40_000);
});
