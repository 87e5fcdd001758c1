import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterFixture, until } from './cluster-harness.js';
import type { TestBroker } from './helpers.js';
import { withPostgres } from './persistence-harness.js';
import { TcpBalancer } from './tcp-balancer.js';

// Nodes die or restart while clients publish and subscribe at QoS 1: nothing a publisher got a
// PUBACK for may be missing at its persistent subscriber afterwards (duplicates are allowed:
// QoS 1 is at least once). Real PostgreSQL and NATS; a service that is down fails these tests.
const HEARTBEAT_MS = 200;
const DEAD_AFTER_MS = 1500;
const nodeIds = ['node-a', 'node-b', 'node-c'] as const;
type NodeId = (typeof nodeIds)[number];

let cluster: ClusterFixture<NodeId> | undefined;
let balancer: TcpBalancer | undefined;

async function startCluster(prefix: string): Promise<ClusterFixture<NodeId>> {
  cluster = new ClusterFixture(prefix, nodeIds, HEARTBEAT_MS, DEAD_AFTER_MS);
  await cluster.requirePostgres();
  await cluster.startNodes();
  return cluster;
}

afterEach(async () => {
  await balancer?.close();
  balancer = undefined;
  await cluster?.stop();
  cluster = undefined;
});

interface Client {
  readonly client: MqttClient;
  /** Payloads in arrival order (duplicates included). */
  readonly received: string[];
}

/** A 5.0 client on `url`; `persistent`: Clean Start 0, session kept an hour. */
async function open(
  url: string,
  clientId: string,
  persistent: boolean,
  reconnect = false,
  receiveMaximum?: number,
): Promise<Client> {
  const client = mqtt.connect(url, {
    clientId,
    protocolVersion: 5,
    clean: !persistent,
    properties: {
      ...(persistent ? { sessionExpiryInterval: 3600 } : {}),
      ...(receiveMaximum === undefined ? {} : { receiveMaximum }),
    },
    reconnectPeriod: reconnect ? 100 : 0,
    connectTimeout: 5000,
  });
  cluster!.clients.push(client);
  // Queued messages may come in the same read as the CONNACK: the handler is on first.
  const received: string[] = [];
  client.on('message', (_topic, payload) => received.push(payload.toString()));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return { client, received };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Publishes `count` QoS 1 messages `prefix-i` at once; `acked` gets each one its PUBACK came for,
 * and `onAck` runs after each (with how many so far).
 */
function burst(
  publisher: MqttClient,
  topic: string,
  prefix: string,
  count: number,
  acked: Set<string>,
  onAck?: (size: number) => void,
): Promise<unknown> {
  const sends: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i++) {
    const payload = `${prefix}-${i}`;
    sends.push(
      publisher.publishAsync(topic, payload, { qos: 1 }).then(() => {
        acked.add(payload);
        onAck?.(acked.size);
      }),
    );
  }
  return Promise.allSettled(sends);
}

function missing(acked: ReadonlySet<string>, received: readonly string[]): string[] {
  const got = new Set(received);
  return [...acked].filter((payload) => !got.has(payload));
}

describe('cluster mode: nodes that die or restart lose nothing acknowledged', () => {
  it("SIGKILL of the subscriber's node mid-burst: a survivor adopts its session, the client finds every acknowledged message elsewhere", async () => {
    const nodes = await startCluster('mqtt_adapt_failover_sub');
    const sub = await open(nodes.brokers.get('node-c')!.url, 'sub', true);
    await sub.client.subscribeAsync('burst/#', { qos: 1 });
    await pause(HEARTBEAT_MS * 3); // the others know node-c's interest
    const publisher = await open(nodes.brokers.get('node-a')!.url, 'pub', false);
    const acked = new Set<string>();
    const n = 1000;
    const sent = burst(publisher.client, 'burst/t', 'm', n, acked);
    await until(() => sub.received.length >= 100, 'the first deliveries on node-c');
    await nodes.brokers.get('node-c')!.stop('SIGKILL');
    const ackedAtKill = acked.size;
    // Held PUBACKs come once node-a (first live node) adopted node-c's session and re-sent.
    await sent;
    expect(acked.size).toBe(n);
    expect(ackedAtKill).toBeLessThan(n);
    await nodes.brokers
      .get('node-a')!
      .waitForLine(
        (line) => line.msg === 'cluster: adopted the persistent sessions of a node that died or left',
        10_000,
      );

    const back = await open(nodes.brokers.get('node-b')!.url, 'sub', true);
    const everything = (): string[] => [...sub.received, ...back.received];
    await until(
      () => missing(acked, everything()).length === 0,
      'every acknowledged message at the subscriber',
    );
    expect(missing(acked, everything())).toEqual([]);
  }, 60_000);

  it("SIGKILL of the publisher's node mid-burst: whatever it acknowledged reaches the subscriber on another node", async () => {
    const nodes = await startCluster('mqtt_adapt_failover_pub');
    const sub = await open(nodes.brokers.get('node-b')!.url, 'sub', true);
    await sub.client.subscribeAsync('burst/#', { qos: 1 });
    await pause(HEARTBEAT_MS * 3);
    const publisher = await open(nodes.brokers.get('node-a')!.url, 'pub', false);
    const acked = new Set<string>();
    const n = 5000;
    const nodeA = nodes.brokers.get('node-a')!;
    // 50 messages in flight at a time, node-a killed at the 500th acknowledgement: mid-stream
    // however fast the node acknowledges.
    let stopped = false;
    const stream = (async () => {
      for (let i = 0; i < n && !stopped; i += 50) {
        await burst(publisher.client, 'burst/t', `m${i}`, 50, acked, (size) => {
          if (size === 500) nodeA.child.kill('SIGKILL');
        });
      }
    })();
    await until(() => acked.size >= 500, 'the first acknowledgements');
    await nodeA.stop('SIGKILL');
    // Acks already on their way still arrive before the connection closes: they count too.
    await until(() => !publisher.client.connected, 'the publisher sees its node gone');
    const ackedAtKill = new Set(acked);
    stopped = true;
    await publisher.client.endAsync(true);
    await stream;
    expect(ackedAtKill.size).toBeLessThan(n);
    await until(
      () => missing(ackedAtKill, sub.received).length === 0,
      'every acknowledged message at the subscriber',
    );
    expect(missing(ackedAtKill, sub.received)).toEqual([]);
  }, 60_000);

  it("SIGKILL of a share-group member's node mid-burst: what it had not acknowledged goes to the member on another node", async () => {
    const nodes = await startCluster('mqtt_adapt_failover_share');
    const onB = await open(nodes.brokers.get('node-b')!.url, 'worker-b', false);
    // A small window: node-c holds most of its share queued, unacknowledged, when it dies.
    const onC = await open(nodes.brokers.get('node-c')!.url, 'worker-c', false, false, 4);
    for (const worker of [onB, onC]) await worker.client.subscribeAsync('$share/workers/jobs/#', { qos: 1 });
    await pause(HEARTBEAT_MS * 3);
    const publisher = await open(nodes.brokers.get('node-a')!.url, 'pub', false);
    const acked = new Set<string>();
    const n = 1000;
    const sent = burst(publisher.client, 'jobs/t', 'j', n, acked);
    await until(() => onC.received.length >= 50, 'the first jobs on node-c');
    await nodes.brokers.get('node-c')!.stop('SIGKILL');
    const atC = onC.received.length;
    await sent;
    expect(acked.size).toBe(n);
    const everything = (): string[] => [...onB.received, ...onC.received];
    await until(() => missing(acked, everything()).length === 0, 'every acknowledged job at a member');
    expect(missing(acked, everything())).toEqual([]);
    // node-c's share went to node-b's member after the kill.
    expect(atC).toBeLessThan(n);
    expect(onB.received.length).toBeGreaterThan(n - atC - 1);
  }, 60_000);

  it('rolling restart of every node with clients connected and publishing: nothing acknowledged is lost', async () => {
    const nodes = await startCluster('mqtt_adapt_rolling');
    balancer = new TcpBalancer();
    await balancer.listen();
    for (const nodeId of nodeIds) balancer.set(nodeId, nodes.brokers.get(nodeId)!.port);
    // Clients reach the cluster through the balancer, as behind a load balancer: when their node
    // goes, they reconnect and land on another one.
    const subscribers = [
      await open(balancer.url, 'sub-1', true, true),
      await open(balancer.url, 'sub-2', true, true),
    ];
    for (const subscriber of subscribers) await subscriber.client.subscribeAsync('roll/#', { qos: 1 });
    const publishers = [
      await open(balancer.url, 'pub-1', false, true),
      await open(balancer.url, 'pub-2', false, true),
    ];
    await pause(HEARTBEAT_MS * 3);

    const acked = new Set<string>();
    const stoppedBrokers: Array<[string, TestBroker]> = [];
    let publishing = true;
    const loops = publishers.map(async (publisher, p) => {
      for (let i = 0; publishing; i++) {
        const payload = `p${p}-${i}`;
        // Not awaited: up to a window of messages in flight across the restarts.
        publisher.client.publishAsync('roll/t', payload, { qos: 1 }).then(
          () => acked.add(payload),
          () => undefined,
        );
        await pause(5);
      }
    });
    for (const nodeId of nodeIds) {
      await pause(500);
      balancer.remove(nodeId);
      const stopping = nodes.brokers.get(nodeId)!;
      stoppedBrokers.push([nodeId, stopping]);
      const stopped = await stopping.stop('SIGTERM');
      expect(stopped.code).toBe(0);
      const restarted = await nodes.startNode(nodeId);
      balancer.set(nodeId, restarted.port);
      await pause(HEARTBEAT_MS * 3);
    }
    await pause(500);
    publishing = false;
    await Promise.all(loops);
    const ackedAtEnd = new Set(acked);
    expect(ackedAtEnd.size).toBeGreaterThan(200);
    for (const subscriber of subscribers) {
      const id = subscriber.client.options.clientId;
      await until(
        () => missing(ackedAtEnd, subscriber.received).length === 0,
        `every acknowledged message at ${id}`,
        30_000,
      ).catch(async (error: unknown) => {
        const lost = missing(ackedAtEnd, subscriber.received);
        // What the nodes (every run of each) said about the cluster, for whoever reads a failure.
        const owners = await withPostgres((pg) =>
          pg.query(
            `SELECT o.client_id, o.owner_node, o.owner_epoch, n.interest FROM ${nodes.schema}.session_owners o LEFT JOIN ${nodes.schema}.cluster_nodes n ON n.node_id = o.owner_node WHERE o.client_id LIKE 'sub-%'`,
          ),
        ).catch(() => ({ rows: [] }));
        console.error(`owners: ${JSON.stringify(owners.rows)}`);
        for (const [nodeId, broker] of [...stoppedBrokers, ...nodes.brokers])
          console.error(
            `${nodeId}:\n${broker.lines
              .filter((line) => Number(line.level) >= 40 || String(line.msg).startsWith('cluster'))
              .map((line) => JSON.stringify(line))
              .join('\n')}`,
          );
        throw new Error(
          `${(error as Error).message}: ${lost.length} missing (${lost.slice(0, 20).join(' ')}); ${subscriber.received.length} received, client connected: ${subscriber.client.connected}`,
        );
      });
    }
  }, 120_000);
});
