import mqtt, { type IConnackPacket, type IDisconnectPacket, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CuttableProxy } from './bridge-harness.js';
import { ClusterFixture, NATS_TEST_URL, until } from './cluster-harness.js';
import { startTestBroker } from './helpers.js';
import { withPostgres } from './persistence-harness.js';

// Two broker processes with --cluster on one PostgreSQL schema and the real NATS; node-a reaches
// NATS through a TCP proxy the test cuts. A takeover notice cannot reach a partitioned node, and a
// session that writes nothing is never fenced: node-a must find out from the store (ownership
// audit at each heartbeat while its NATS is down). A service that is down fails these tests.
const HEARTBEAT_MS = 200;
/** How long node-a may keep serving a session node-b took over: a few heartbeats. */
const DROP_BOUND_MS = HEARTBEAT_MS * 6;
const nodeIds = ['node-a', 'node-b'] as const;
type NodeId = (typeof nodeIds)[number];
const cluster = new ClusterFixture('mqtt_adapt_partition', nodeIds, HEARTBEAT_MS, 1000);
const { schema, brokers, clients } = cluster;
let proxy: CuttableProxy | undefined;

/** A 5.0 client that never reconnects; `persistent`: Clean Start 0, Session Expiry an hour. */
async function connect5(
  nodeId: NodeId,
  clientId: string,
  persistent: boolean,
): Promise<{ client: MqttClient; connack: IConnackPacket; received: string[] }> {
  const client = mqtt.connect(brokers.get(nodeId)!.url, {
    clientId,
    protocolVersion: 5,
    clean: !persistent,
    properties: persistent ? { sessionExpiryInterval: 3600 } : {},
    reconnectPeriod: 0,
  });
  clients.push(client);
  const received: string[] = [];
  client.on('message', (_topic, payload) => received.push(payload.toString()));
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { client, connack, received };
}

async function one<T>(text: string, values: unknown[]): Promise<T | undefined> {
  const result = await withPostgres((pg) => pg.query(text, values));
  return result.rows[0] as T | undefined;
}

async function ownerOf(clientId: string): Promise<string | undefined> {
  const row = await one<{ owner_node: string }>(
    `SELECT owner_node FROM ${schema}.session_owners WHERE client_id = $1`,
    [clientId],
  );
  return row?.owner_node;
}

/** The connected clients a node wrote in its membership row (every heartbeat). */
async function storedClients(nodeId: NodeId): Promise<number | undefined> {
  const row = await one<{ clients: number }>(
    `SELECT clients FROM ${schema}.cluster_nodes WHERE node_id = $1`,
    [nodeId],
  );
  return row?.clients;
}

async function storedInterest(nodeId: NodeId): Promise<string[]> {
  const row = await one<{ interest: string[] }>(
    `SELECT interest FROM ${schema}.cluster_nodes WHERE node_id = $1`,
    [nodeId],
  );
  return row?.interest ?? [];
}

function hasLine(nodeId: NodeId, msg: string): boolean {
  return brokers.get(nodeId)!.lines.some((line) => line.msg === msg);
}

beforeAll(async () => {
  await cluster.requirePostgres();
  const nats = new URL(NATS_TEST_URL);
  proxy = await new CuttableProxy(Number(nats.port || 4222)).start();
  const proxied = `nats://${nats.hostname}:${proxy.port}`;
  // node-a first (it migrates the schema), through the proxy; node-b straight to NATS.
  const argsA = cluster.args('node-a').map((arg) => (arg === NATS_TEST_URL ? proxied : arg));
  expect(argsA).toContain(proxied);
  brokers.set('node-a', await startTestBroker({ args: argsA }));
  brokers.set('node-b', await startTestBroker({ args: cluster.args('node-b') }));
}, 60_000);

afterAll(async () => {
  await proxy?.cut();
  await cluster.stop();
});

describe('cluster mode: a node cut off NATS', () => {
  it('closes a silent session another node took over within a few heartbeats, and keeps the ones it still owns', async () => {
    // A QoS 0 subscriber: nothing it does writes to the store, so fencing never catches it.
    const onA = await connect5('node-a', 'quiet-sub', true);
    await onA.client.subscribeAsync('part/t', { qos: 0 });
    const bystander = await connect5('node-a', 'bystander', true);
    await bystander.client.subscribeAsync('part/other', { qos: 0 });
    const disconnects: IDisconnectPacket[] = [];
    onA.client.on('disconnect', (packet) => disconnects.push(packet));
    let closedAt: number | undefined;
    onA.client.once('close', () => (closedAt = Date.now()));
    let bystanderClosed = false;
    bystander.client.once('close', () => (bystanderClosed = true));
    await until(async () => (await storedInterest('node-a')).includes('part/t'), 'node-a interest stored');

    await proxy!.cut();
    await brokers.get('node-a')!.waitForLine((line) => line.msg === 'cluster: nats disconnect', 5000);

    const onB = await connect5('node-b', 'quiet-sub', true);
    const connackedAt = Date.now();
    expect(onB.connack.sessionPresent).toBe(true);
    expect(await ownerOf('quiet-sub')).toBe('node-b');
    // The notice to node-a is lost; its audit finds node-b's claim in the store.
    await until(
      () => closedAt !== undefined,
      'node-a to close the taken-over connection',
      DROP_BOUND_MS + 5000,
    );
    expect(closedAt! - connackedAt).toBeLessThanOrEqual(DROP_BOUND_MS);
    expect(disconnects.map((packet) => packet.reasonCode)).toEqual([0x8e]);
    expect(
      hasLine('node-a', 'cluster: dropped sessions another node took over (takeover notices missed)'),
    ).toBe(true);

    // Only node-b's connection remains: node-a counts the bystander alone, node-b its client.
    await until(async () => (await storedClients('node-a')) === 1, 'node-a row: one client');
    await until(async () => (await storedClients('node-b')) === 1, 'node-b row: one client');
    await until(async () => !(await storedInterest('node-a')).includes('part/t'), 'node-a interest dropped');
    // Audits at every heartbeat while cut off: the sessions node-a still owns stay.
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 4));
    expect(bystanderClosed).toBe(false);
    expect(onB.client.connected).toBe(true);
    const publisherB = await connect5('node-b', 'part-pub-b', false);
    await publisherB.client.publishAsync('part/t', 'on-b', { qos: 0 });
    await until(() => onB.received.length === 1, 'the message on node-b');
    expect(onB.received).toEqual(['on-b']);
    expect(onA.received).toEqual([]);

    // NATS back: node-a reconnects, audits once, and the cluster routes across nodes again.
    await proxy!.start();
    await brokers.get('node-a')!.waitForLine((line) => line.msg === 'cluster: nats reconnect', 10_000);
    const publisherA = await connect5('node-a', 'part-pub-a', false);
    await until(async () => {
      await publisherA.client.publishAsync('part/t', 'from-a', { qos: 0 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      return onB.received.includes('from-a');
    }, 'a publish on node-a to reach node-b after the reconnect');
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 3));
    expect(bystanderClosed).toBe(false);
    expect(onB.client.connected).toBe(true);
    expect(await ownerOf('quiet-sub')).toBe('node-b');
    expect(await ownerOf('bystander')).toBe('node-a');
    expect(onA.received).toEqual([]);
  }, 60_000);
});
