import type { PublishInput } from '@mqtt-adapt/router';
import { FakeClock } from '@mqtt-adapt/router/testing';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Figures } from '../src/broker-figures.js';
import { observeCluster } from '../src/cluster/cluster-metrics.js';
import type { ClusterStatus } from '../src/cluster/cluster-status.js';
import { startSysTopics } from '../src/sys-topics.js';

const base: ClusterStatus = {
  nodeId: 'node-a',
  nodesAlive: 3,
  nodesDead: 1,
  clusterClients: 42,
  busSent: 10,
  busReceived: 7,
  confirmed: 5,
  batchesResent: 2,
  batchesPending: 1,
  sessionsAdopted: 4,
  sessionsDropped: 3,
};

describe('cluster figures', () => {
  it('are Prometheus metrics read at each scrape: cluster gauges and this node counters', async () => {
    const registry = new Registry();
    let status = base;
    observeCluster(registry, () => status);
    const first = await registry.metrics();
    expect(first).toContain('mqtt_adapt_cluster_nodes{state="alive"} 3');
    expect(first).toContain('mqtt_adapt_cluster_nodes{state="dead"} 1');
    expect(first).toContain('mqtt_adapt_cluster_clients 42');
    expect(first).toContain('mqtt_adapt_cluster_batches_pending 1');
    expect(first).toContain('mqtt_adapt_cluster_bus_sent_total 10');
    expect(first).toContain('mqtt_adapt_cluster_sessions_adopted_total 4');
    status = { ...base, busSent: 25, nodesDead: 0 };
    const second = await registry.metrics();
    expect(second).toContain('mqtt_adapt_cluster_bus_sent_total 25');
    expect(second).toContain('mqtt_adapt_cluster_nodes{state="dead"} 0');
  });

  it('are $SYS/broker/cluster/... topics, published again only when changed', () => {
    const clock = new FakeClock();
    const published: PublishInput[] = [];
    let status = base;
    const figures = {
      clientsConnected: 0,
      clientsDisconnected: 0,
      clientsTotal: 0,
      clientsMaximum: 0,
      clientConnects: 0,
      messagesReceived: 0,
      messagesSent: 0,
      messagesDropped: 0,
      bytesReceived: 0,
      bytesSent: 0,
      subscriptions: 0,
      retainedMessages: 0,
    } satisfies Figures;
    const sys = startSysTopics(
      { publish: (input) => published.push(input) },
      { intervalSeconds: 10, version: '1', figures: () => figures, clock, cluster: () => status },
    );
    const cluster = () =>
      new Map(
        published
          .filter((input) => input.topicName.startsWith('$SYS/broker/cluster/'))
          .map((input) => [input.topicName.slice('$SYS/broker/cluster/'.length), String(input.payload)]),
      );
    expect(Object.fromEntries(cluster())).toEqual({
      'node-id': 'node-a',
      'nodes/alive': '3',
      'nodes/dead': '1',
      clients: '42',
      'bus/sent': '10',
      'bus/received': '7',
      'bus/confirmed': '5',
      'bus/resent': '2',
      'bus/pending': '1',
      'sessions/adopted': '4',
      'sessions/dropped': '3',
    });
    published.length = 0;
    status = { ...base, clusterClients: 43 };
    sys.update();
    expect(Object.fromEntries(cluster())).toEqual({ clients: '43' });
    sys.stop();
  });
});
