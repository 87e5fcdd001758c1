// Where a scenario's clients connect, inside the generator: one broker (every client on its
// port), or the nodes of a cluster (lib/cluster.mjs): publishers on some nodes, subscribers on
// others, so that every message crosses the bus. Clients of one role go round-robin over the
// ports of that role.
import { performance } from 'node:perf_hooks';
import { closeAll, openClient } from './clients.mjs';
import { payloadOf, publishPacket } from './packets.mjs';

/** How long the nodes get to learn each other's interest before a run fails. */
const INTEREST_TIMEOUT_MS = 10_000;
const PROBE_INTERVAL_MS = 20;

/**
 * `run`: the generator's message ({ port, topology? }). Returns `pub(i)` and `sub(i)`, the port
 * of the i-th publisher and subscriber (also usable as `openClients`'s port).
 */
export function placement(run) {
  const t = run.topology;
  if (t === undefined) return { pub: () => run.port, sub: () => run.port };
  return {
    pub: (i) => t.pubPorts[i % t.pubPorts.length],
    sub: (i) => t.subPorts[i % t.subPorts.length],
  };
}

/**
 * Call once the scenario's subscriptions are acknowledged, before its measured window: returns
 * once every node with publishers knows the interest of every node with subscribers, so no
 * message of the run is published before its node would forward it. A node announces its
 * interest over NATS (the whole set, newest version wins) and writes it to its membership row
 * each heartbeat; a SUBACK does not wait for either.
 *
 * Separate ports (a cluster of processes): per pair of a publishers' node and a subscribers'
 * node, a probe client subscribes to a topic of its own on the subscribers' node after the
 * scenario's subscriptions (so an announcement that carries it carries them too), and a probe
 * publisher on the other node publishes to it every 20 ms until it arrives. One shared port
 * (`--workers`: which process gets a connection is not ours to choose): wait `settleMs`, two
 * heartbeats, after which every node has read every other's row.
 */
export async function awaitCrossNodeInterest(run, tag) {
  const t = run.topology;
  if (t === undefined || t.nodes === 1) return;
  if (t.sharedPort) {
    await new Promise((resolve) => setTimeout(resolve, t.settleMs));
    return;
  }
  const pairs = [];
  for (const subPort of new Set(t.subPorts)) {
    for (const pubPort of new Set(t.pubPorts)) if (pubPort !== subPort) pairs.push({ subPort, pubPort });
  }
  const clients = [];
  try {
    for (const [k, pair] of pairs.entries()) {
      const topic = `bench/ready/${tag}/${k}`;
      pair.sub = await openClient(pair.subPort, `${tag}-ready-sub-${k}`);
      clients.push(pair.sub);
      await pair.sub.subscribe(topic, 0);
      pair.pub = await openClient(pair.pubPort, `${tag}-ready-pub-${k}`);
      clients.push(pair.pub);
      pair.packet = publishPacket(topic, payloadOf(8), 0);
    }
    const began = performance.now();
    for (;;) {
      const waiting = pairs.filter((pair) => pair.sub.received === 0);
      if (waiting.length === 0) return;
      if (performance.now() - began > INTEREST_TIMEOUT_MS) {
        const which = waiting.map((p) => `${p.subPort} -> ${p.pubPort}`).join(', ');
        throw new Error(
          `cluster: the interest of the subscribers' node did not reach the publishers' node within ${INTEREST_TIMEOUT_MS} ms (ports ${which})`,
        );
      }
      for (const pair of waiting) pair.pub.socket.write(pair.packet);
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
  } finally {
    await closeAll(clients);
  }
}
