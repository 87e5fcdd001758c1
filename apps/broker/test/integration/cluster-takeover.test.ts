import mqtt, { type IConnackPacket, type IDisconnectPacket, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterFixture, until } from './cluster-harness.js';
import { withPostgres } from './persistence-harness.js';

// Two broker processes on one PostgreSQL schema and the real NATS, with --cluster: one owner per
// client id (store-pg fencing, takeover notices on NATS). A service that is down fails these
// tests (never skips).
const HEARTBEAT_MS = 200;
const nodeIds = ['node-a', 'node-b'] as const;
type NodeId = (typeof nodeIds)[number];
const cluster = new ClusterFixture('mqtt_adapt_takeover', nodeIds, HEARTBEAT_MS, 2000);
const { schema, brokers, clients } = cluster;

/** A 5.0 client; `persistent`: Clean Start 0 with a Session Expiry Interval of an hour. */
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
  // Queued messages may come in the same read as the CONNACK: collected from the start.
  const received = collect(client);
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { client, connack, received };
}

function collect(client: MqttClient): string[] {
  const received: string[] = [];
  client.on('message', (_topic, payload) => received.push(payload.toString()));
  return received;
}

async function rows<T>(text: string, values: unknown[]): Promise<T[]> {
  const result = await withPostgres((pg) => pg.query(text, values));
  return result.rows as T[];
}

/** The filters a node has stored in its membership row (written every heartbeat). */
async function storedInterest(nodeId: NodeId): Promise<string[]> {
  const [row] = await rows<{ interest: string[] }>(
    `SELECT interest FROM ${schema}.cluster_nodes WHERE node_id = $1`,
    [nodeId],
  );
  return row?.interest ?? [];
}

async function countFor(table: string, clientId: string): Promise<number> {
  const [row] = await rows<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${schema}.${table} WHERE client_id = $1`,
    [clientId],
  );
  return row?.n ?? -1;
}

async function ownerOf(clientId: string): Promise<string | undefined> {
  const [row] = await rows<{ owner_node: string }>(
    `SELECT owner_node FROM ${schema}.session_owners WHERE client_id = $1`,
    [clientId],
  );
  return row?.owner_node;
}

beforeAll(async () => {
  await cluster.requirePostgres();
  await cluster.startNodes();
}, 60_000);

afterAll(async () => {
  await cluster.stop();
});

describe('cluster mode: one owner per client id', () => {
  it('a persistent session left on A is served by B with everything queued for it meanwhile', async () => {
    const first = await connect5('node-a', 'roamer', true);
    expect(first.connack.sessionPresent).toBe(false);
    await first.client.subscribeAsync('roam/t', { qos: 1 });
    await first.client.endAsync();
    const publisher = await connect5('node-a', 'roam-pub', false);
    const n = 20;
    for (let i = 0; i < n; i++) await publisher.client.publishAsync('roam/t', `m-${i}`, { qos: 1 });

    const onB = await connect5('node-b', 'roamer', true);
    const received = onB.received;
    expect(onB.connack.sessionPresent).toBe(true);
    await until(() => received.length >= n, `${n} messages on node-b`);
    expect(received).toEqual(Array.from({ length: n }, (_, i) => `m-${i}`));
    // One session, owned by B; every delivery acknowledged and deleted (A wrote nothing after).
    expect(await ownerOf('roamer')).toBe('node-b');
    expect(await countFor('sessions', 'roamer')).toBe(1);
    await until(
      async () => (await countFor('deliveries', 'roamer')) === 0,
      'acknowledged deliveries deleted',
    );
    // A dropped its copy: its interest no longer holds the filter; B's does.
    await until(async () => !(await storedInterest('node-a')).includes('roam/t'), 'node-a interest dropped');
    await until(async () => (await storedInterest('node-b')).includes('roam/t'), 'node-b interest stored');
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 2));
    await publisher.client.publishAsync('roam/t', 'after', { qos: 1 });
    await until(() => received.length === n + 1, 'the later message on node-b');
    await new Promise((resolve) => setTimeout(resolve, 300)); // no second copy may come
    expect(received.slice(n)).toEqual(['after']);
  }, 40_000);

  it('a client still connected to A that connects to B: A closes with DISCONNECT 0x8E, B serves it alone', async () => {
    const onA = await connect5('node-a', 'twin', true);
    await onA.client.subscribeAsync('twin/t', { qos: 1 });
    const receivedA = onA.received;
    const disconnects: IDisconnectPacket[] = [];
    onA.client.on('disconnect', (packet) => disconnects.push(packet));
    const closedA = new Promise<void>((resolve) => onA.client.once('close', () => resolve()));
    await until(async () => (await storedInterest('node-a')).includes('twin/t'), 'node-a interest stored');

    const onB = await connect5('node-b', 'twin', true);
    const receivedB = onB.received;
    expect(onB.connack.sessionPresent).toBe(true);
    await closedA;
    expect(disconnects.map((packet) => packet.reasonCode)).toEqual([0x8e]);
    expect(await ownerOf('twin')).toBe('node-b');
    await until(async () => !(await storedInterest('node-a')).includes('twin/t'), 'node-a interest dropped');
    await until(async () => (await storedInterest('node-b')).includes('twin/t'), 'node-b interest stored');
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 2));

    const publisher = await connect5('node-a', 'twin-pub', false);
    for (let i = 0; i < 5; i++) await publisher.client.publishAsync('twin/t', `t-${i}`, { qos: 1 });
    await until(() => receivedB.length >= 5, 'five messages on node-b');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receivedB).toEqual(['t-0', 't-1', 't-2', 't-3', 't-4']);
    expect(receivedA).toEqual([]);
    expect(await countFor('sessions', 'twin')).toBe(1);
  }, 40_000);
});
