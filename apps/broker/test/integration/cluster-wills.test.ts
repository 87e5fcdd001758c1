import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterFixture, until } from './cluster-harness.js';
import { withPostgres } from './persistence-harness.js';

// Three broker processes on one PostgreSQL schema and the real NATS, with --cluster: the wills
// of a SIGKILLed node's clients are published once by one survivor. A service that is down fails
// these tests (never skips).
const HEARTBEAT_MS = 200;
const DEAD_AFTER_MS = 1500;
const nodeIds = ['node-a', 'node-b', 'node-c'] as const;
type NodeId = (typeof nodeIds)[number];
const cluster = new ClusterFixture('mqtt_adapt_wills', nodeIds, HEARTBEAT_MS, DEAD_AFTER_MS);
const { schema, brokers, clients } = cluster;

async function connect(nodeId: NodeId, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(brokers.get(nodeId)!.url, { reconnectPeriod: 0, ...options });
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

async function willRows(nodeId: NodeId): Promise<string[]> {
  const result = await withPostgres((pg) =>
    pg.query(`SELECT client_id FROM ${schema}.cluster_wills WHERE node_id = $1 ORDER BY client_id`, [nodeId]),
  );
  return result.rows.map((row: { client_id: string }) => row.client_id);
}

async function interestOf(nodeId: NodeId): Promise<string[]> {
  const result = await withPostgres((pg) =>
    pg.query(`SELECT interest FROM ${schema}.cluster_nodes WHERE node_id = $1`, [nodeId]),
  );
  return (result.rows[0] as { interest: string[] } | undefined)?.interest ?? [];
}

beforeAll(async () => {
  await cluster.requirePostgres();
  await cluster.startNodes();
}, 60_000);

afterAll(async () => {
  await cluster.stop();
});

describe('cluster mode: wills of a lapsed node', () => {
  it('are published once by one survivor; a clean DISCONNECT leaves none', async () => {
    const received = new Map<NodeId, string[]>();
    for (const nodeId of ['node-a', 'node-b'] as const) {
      const subscriber = await connect(nodeId, { clientId: `sub-${nodeId}`, protocolVersion: 5 });
      const list: string[] = [];
      subscriber.on('message', (topic, payload) => list.push(`${topic}=${payload.toString()}`));
      received.set(nodeId, list);
      await subscriber.subscribeAsync('wills/#', { qos: 1 });
    }
    await until(
      async () =>
        (await interestOf('node-a')).includes('wills/#') && (await interestOf('node-b')).includes('wills/#'),
      'subscriptions stored in the membership rows',
    );

    const will = (clientId: string): IClientOptions => ({
      clientId,
      protocolVersion: 5,
      will: { topic: `wills/${clientId}`, payload: Buffer.from(`gone ${clientId}`), qos: 1, retain: false },
    });
    await connect('node-c', will('dying'));
    const clean = await connect('node-c', will('clean'));
    await until(async () => (await willRows('node-c')).length === 2, 'both wills recorded');
    await clean.endAsync();
    await until(async () => (await willRows('node-c')).join() === 'dying', "the clean client's will removed");

    const killedAt = Date.now();
    await brokers.get('node-c')!.stop('SIGKILL');
    brokers.delete('node-c');
    await until(
      () => received.get('node-a')!.length >= 1 && received.get('node-b')!.length >= 1,
      'the will on both survivors',
      DEAD_AFTER_MS + 10_000,
    );
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(DEAD_AFTER_MS - HEARTBEAT_MS);
    // Time for a second copy to show up, if any survivor published it too.
    await new Promise((resolve) => setTimeout(resolve, 4 * HEARTBEAT_MS + 500));
    expect(received.get('node-a')).toEqual(['wills/dying=gone dying']);
    expect(received.get('node-b')).toEqual(['wills/dying=gone dying']);
    expect(await willRows('node-c')).toEqual([]);
  }, 40_000);
});
