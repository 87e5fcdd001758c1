import { randomBytes } from 'node:crypto';
import { decodePackets } from '@mqtt-adapt/codec';
import { type NatsConnection, connect as natsConnect } from '@nats-io/transport-node';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterFixture, NATS_TEST_URL, until } from './cluster-harness.js';
import { runCli } from './helpers.js';
import { PG_TEST_URL, withPostgres } from './persistence-harness.js';

// Three broker processes on one PostgreSQL schema and the real NATS, with --cluster. A service
// that is down fails these tests (never skips).
const HEARTBEAT_MS = 200;
const DEAD_AFTER_MS = 1000;
const nodeIds = ['node-a', 'node-b', 'node-c'] as const;
const cluster = new ClusterFixture<string>('mqtt_adapt_cluster', nodeIds, HEARTBEAT_MS, DEAD_AFTER_MS, [
  '--sys-interval',
  '1',
]);
const { schema, brokers, clients } = cluster;

let nats: NatsConnection;
/** NATS messages seen per target node on the cluster's message subjects. */
const busCount = new Map<string, number>();

async function client(nodeId: string, clientId: string): Promise<MqttClient> {
  const connection = await mqtt.connectAsync(brokers.get(nodeId)!.url, { clientId, reconnectPeriod: 0 });
  clients.push(connection);
  return connection;
}

/** Payloads received by a client, in arrival order, with the QoS they came with. */
function collect(
  connection: MqttClient,
): Array<{ topic: string; payload: string; qos: number; retain: boolean }> {
  const received: Array<{ topic: string; payload: string; qos: number; retain: boolean }> = [];
  connection.on('message', (topic, payload, packet) =>
    received.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }),
  );
  return received;
}

/** The filters a node has stored in its membership row. */
async function storedInterest(nodeId: string): Promise<string[]> {
  const { rows } = await withPostgres((pg) =>
    pg.query<{ interest: string[] }>(`SELECT interest FROM ${schema}.cluster_nodes WHERE node_id = $1`, [
      nodeId,
    ]),
  );
  return rows[0]?.interest ?? [];
}

interface StatusLine {
  nodeId: string;
  lapsed: boolean;
  state: string;
  retiredBy?: string;
  clients: number;
}

async function clusterStatus(): Promise<StatusLine[]> {
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
  return JSON.parse(run.stdout) as StatusLine[];
}

beforeAll(async () => {
  await cluster.requirePostgres();
  try {
    nats = await natsConnect({ servers: NATS_TEST_URL, timeout: 3000 });
  } catch (error) {
    throw new Error(
      `NATS is unreachable at ${NATS_TEST_URL} (${(error as Error).message}); the cluster tests fail rather than skip`,
    );
  }
  // QoS 0: one NATS message per target node and turn, its PUBLISH frames one after the other.
  nats.subscribe(`mqtt-adapt.${schema}.msg.>`, {
    callback: (_error, msg) => {
      const target = msg.subject.split('.').at(-1)!;
      busCount.set(target, (busCount.get(target) ?? 0) + decodePackets(msg.data, 5).length);
    },
  });
  // QoS 1/2 travel in confirmed batches: a 4-byte header length, a JSON header naming one seq
  // per message, then the frames.
  nats.subscribe(`mqtt-adapt.${schema}.durable.>`, {
    callback: (_error, msg) => {
      const target = msg.subject.split('.').at(-1)!;
      const data = Buffer.from(msg.data);
      const header = JSON.parse(data.subarray(4, 4 + data.readUInt32BE(0)).toString()) as { seqs: number[] };
      busCount.set(target, (busCount.get(target) ?? 0) + header.seqs.length);
    },
  });
  await cluster.startNodes();
}, 60_000);

afterAll(async () => {
  await nats?.close();
  await cluster.stop();
});

describe('cluster mode (three nodes, one PostgreSQL, NATS)', () => {
  it('logs the node id it joined with', async () => {
    const line = await brokers.get('node-b')!.waitForLine((l) => l.msg === 'cluster: joined');
    expect(line.nodeId).toBe('node-b');
  });

  it('delivers QoS 0 and QoS 1 across nodes as one node would: counts, QoS, order per publisher; one bus message per interested node', async () => {
    const onB = await client('node-b', 'sub-b');
    const onB2 = await client('node-b', 'sub-b2');
    const onC = await client('node-c', 'sub-c');
    const receivedB = collect(onB);
    const receivedB2 = collect(onB2);
    const receivedC = collect(onC);
    await onB.subscribeAsync('t/#', { qos: 1 });
    await onB2.subscribeAsync('t/a/#', { qos: 1 });
    await onC.subscribeAsync('t/+/x', { qos: 0 });
    await until(async () => (await storedInterest('node-b')).length === 2, 'node-b interest stored');
    await until(async () => (await storedInterest('node-c')).length === 1, 'node-c interest stored');
    // The others read the rows at their next heartbeat (announcements over NATS are sooner).
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 3));
    busCount.clear();

    const pubA = await client('node-a', 'pub-a');
    const pubB = await client('node-b', 'pub-b');
    const n = 100;
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      sends.push(pubA.publishAsync('t/a/x', `a-${i}`, { qos: (i % 2) as 0 | 1 }));
      sends.push(pubB.publishAsync('t/b/x', `b-${i}`, { qos: 1 }));
    }
    await Promise.all(sends);
    const fromA = (list: typeof receivedB) => list.filter((m) => m.topic === 't/a/x');
    const fromB = (list: typeof receivedB) => list.filter((m) => m.topic === 't/b/x');
    await until(
      () => receivedB.length === 2 * n && receivedB2.length === n && receivedC.length === 2 * n,
      'all deliveries',
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more may come
    const expectedA = Array.from({ length: n }, (_, i) => `a-${i}`);
    const expectedB = Array.from({ length: n }, (_, i) => `b-${i}`);
    for (const list of [receivedB, receivedC]) {
      expect(list).toHaveLength(2 * n);
      expect(fromA(list).map((m) => m.payload)).toEqual(expectedA);
      expect(fromB(list).map((m) => m.payload)).toEqual(expectedB);
    }
    expect(receivedB2.map((m) => m.payload)).toEqual(expectedA);
    // QoS: the lower of the published and the granted one.
    expect(fromA(receivedB).map((m) => m.qos)).toEqual(expectedA.map((_, i) => i % 2));
    expect(fromB(receivedB).every((m) => m.qos === 1)).toBe(true);
    expect(receivedC.every((m) => m.qos === 0)).toBe(true);
    // Bus: A's messages once to B (two subscribers there) and once to C; B's only to C; none to
    // A. QoS 1 ones in confirmed batches (no batch failed here, so none was sent twice).
    expect(busCount.get('node-b') ?? 0).toBe(n);
    expect(busCount.get('node-c') ?? 0).toBe(2 * n);
    expect(busCount.get('node-a') ?? 0).toBe(0);
  }, 30_000);

  it('a retained message published on one node is served by another to a later subscriber', async () => {
    const pub = await client('node-a', 'pub-retained');
    await pub.publishAsync('r/1', 'kept', { qos: 1, retain: true });
    await until(async () => {
      const probe = await client('node-c', `probe-${randomBytes(3).toString('hex')}`);
      const got = collect(probe);
      await probe.subscribeAsync('r/#', { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await probe.endAsync();
      return got.some((m) => m.payload === 'kept' && m.retain);
    }, 'retained message on node-c');
  }, 20_000);

  it('QoS 2 across nodes: each message exactly once, in order, at QoS 2', async () => {
    const sub = await mqtt.connectAsync(brokers.get('node-c')!.url, {
      clientId: 'qos2-sub',
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    clients.push(sub);
    const received = collect(sub);
    await sub.subscribeAsync('q2/#', { qos: 2 });
    await until(async () => (await storedInterest('node-c')).includes('q2/#'), 'node-c interest stored');
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 3));
    const pub = await client('node-a', 'qos2-pub');
    const n = 100;
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync('q2/t', `q-${i}`, { qos: 2 })));
    await until(() => received.length >= n, 'the QoS 2 deliveries');
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more may come
    expect(received.map((m) => m.payload)).toEqual(Array.from({ length: n }, (_, i) => `q-${i}`));
    expect(received.every((m) => m.qos === 2)).toBe(true);
  }, 20_000);

  it('a share group with members on three nodes: each message to exactly one member cluster-wide, spread over the nodes', async () => {
    const members: Array<[string, MqttClient]> = [];
    for (const [nodeId, clientId] of [
      ['node-a', 'share-a'],
      ['node-b', 'share-b1'],
      ['node-b', 'share-b2'],
      ['node-c', 'share-c'],
    ] as const) {
      const member = await mqtt.connectAsync(brokers.get(nodeId)!.url, {
        clientId,
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      clients.push(member);
      members.push([nodeId, member]);
    }
    const received = members.map(([, member]) => collect(member));
    for (const [, member] of members) await member.subscribeAsync('$share/g/s/#', { qos: 1 });
    await until(
      async () => (await storedInterest('node-c')).includes('$share/g/s/#'),
      'node-c share interest stored',
    );
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 3));
    const pubA = await client('node-a', 'share-pub-a');
    const pubC = await client('node-c', 'share-pub-c');
    const n = 150;
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      sends.push(pubA.publishAsync('s/a', `a-${i}`, { qos: (i % 2) as 0 | 1 }));
      sends.push(pubC.publishAsync('s/c', `c-${i}`, { qos: 1 }));
    }
    await Promise.all(sends);
    const all = () => received.flat().map((m) => m.payload);
    // QoS 0 is at most once: count what came, then check nothing came twice.
    await until(() => all().length >= 2 * n - 5, 'the share group deliveries');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const payloads = all();
    expect(new Set(payloads).size).toBe(payloads.length);
    const qos1 = [
      ...Array.from({ length: n }, (_, i) => `c-${i}`),
      ...Array.from({ length: n / 2 }, (_, i) => `a-${2 * i + 1}`),
    ];
    expect(qos1.filter((payload) => !payloads.includes(payload))).toEqual([]);
    // Every node's members took part (round robin over the nodes of the group, then its members).
    const perNode = new Map<string, number>();
    members.forEach(([nodeId], i) => {
      perNode.set(nodeId, (perNode.get(nodeId) ?? 0) + received[i]!.length);
    });
    for (const nodeId of nodeIds) expect(perNode.get(nodeId) ?? 0).toBeGreaterThan(n / 4);
  }, 30_000);

  it('$SYS/broker/cluster/... gives the node id and the cluster figures on each node', async () => {
    const watcher = await client('node-b', 'sys-watcher');
    const received = collect(watcher);
    await watcher.subscribeAsync('$SYS/broker/cluster/#', { qos: 0 });
    const latest = (topic: string) => received.filter((m) => m.topic === topic).at(-1)?.payload;
    await until(() => latest('$SYS/broker/cluster/nodes/alive') === '3', 'three live nodes in $SYS', 5000);
    expect(latest('$SYS/broker/cluster/node-id')).toBe('node-b');
    await until(
      () => Number(latest('$SYS/broker/cluster/bus/received') ?? 0) > 0,
      'bus counters in $SYS',
      5000,
    );
    await watcher.endAsync();
  }, 15_000);

  it('cluster status lists the three nodes; a SIGKILLed one lapses, a stopped one leaves, and the survivor adopts both and retires their rows', async () => {
    const status = await clusterStatus();
    expect(status.map((node) => node.nodeId)).toEqual([...nodeIds]);
    expect(status.every((node) => !node.lapsed)).toBe(true);
    await brokers.get('node-c')!.stop('SIGKILL');
    await brokers.get('node-b')!.stop('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, DEAD_AFTER_MS + HEARTBEAT_MS));
    const after = await clusterStatus();
    expect(after.map((node) => [node.nodeId, node.lapsed, node.state, node.retiredBy ?? null])).toEqual([
      ['node-a', false, 'alive', null],
      ['node-b', true, 'retired', 'node-a'],
      ['node-c', true, 'retired', 'node-a'],
    ]);
  }, 30_000);
});
