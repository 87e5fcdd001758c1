import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClusterStatus } from './cluster-status.js';

const PREFIX = 'mqtt_adapt_cluster_';

type CounterField =
  | 'busSent'
  | 'busReceived'
  | 'confirmed'
  | 'batchesResent'
  | 'sessionsAdopted'
  | 'sessionsDropped';

const COUNTERS: ReadonlyArray<readonly [CounterField, string, string]> = [
  ['busSent', 'bus_sent_total', 'Messages this node handed to other nodes (one per target node)'],
  ['busReceived', 'bus_received_total', 'Messages this node received from other nodes'],
  ['confirmed', 'confirmed_total', 'QoS 1/2 messages other nodes confirmed durable'],
  [
    'batchesResent',
    'batches_resent_total',
    'Batches sent again after no confirmation (a node slow, dead or gone)',
  ],
  [
    'sessionsAdopted',
    'sessions_adopted_total',
    'Persistent sessions this node adopted from dead or departed nodes',
  ],
  [
    'sessionsDropped',
    'sessions_dropped_total',
    'Sessions this node dropped because another node took them over',
  ],
];

/**
 * `mqtt_adapt_cluster_*`: this node's counters, and the cluster's nodes and clients as the
 * membership table showed them at the last heartbeat (the same on every node: scrape one, or
 * take the max). Read from `status()` at every scrape.
 */
export function observeCluster(registry: Registry, status: () => ClusterStatus): void {
  new Gauge({
    name: `${PREFIX}nodes`,
    help: 'Nodes of the cluster by state: alive, or dead (lapsed or left, sessions not adopted yet)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const now = status();
      this.set({ state: 'alive' }, now.nodesAlive);
      this.set({ state: 'dead' }, now.nodesDead);
    },
  });
  new Gauge({
    name: `${PREFIX}clients`,
    help: 'Clients connected to the live nodes of the cluster',
    registers: [registry],
    collect() {
      this.set(status().clusterClients);
    },
  });
  new Gauge({
    name: `${PREFIX}batches_pending`,
    help: 'Batches of QoS 1/2 messages waiting to be sent again (their publishers wait for their acks)',
    registers: [registry],
    collect() {
      this.set(status().batchesPending);
    },
  });
  for (const [field, name, help] of COUNTERS) {
    let reported = 0;
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      registers: [registry],
      collect() {
        const current = status()[field];
        if (current > reported) this.inc(current - reported);
        reported = Math.max(reported, current);
      },
    });
  }
}
