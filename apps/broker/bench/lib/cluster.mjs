// The entrants of the cluster scenarios (lib/cluster-table.mjs): ours on the postgres store as
// one process, as a cluster of 2 or 3 node processes (`--cluster`, one fresh schema shared by
// the nodes, dropped at stop, and the NATS at BENCH_NATS_URL), or as one process with
// `--workers N`. Each looks like one broker to run.mjs (port, pid, isAlive, stop) and carries a
// `topology` for the generator: where publishers and subscribers connect (lib/topology.mjs)
// and whose CPU counts (every node's process tree, plus NATS and PostgreSQL).
import { execFileSync } from 'node:child_process';
import { benchSchemaName, dropSchema, oursCliPath, startBroker } from './brokers.mjs';

const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
/** The broker's default heartbeat (`--cluster-heartbeat-ms`), which the bench keeps. */
const HEARTBEAT_MS = 1000;

const workersSupport = new Map();

/** Why this build cannot run `--workers`, or undefined if its `--help` lists the flag. */
export function workersUnavailable() {
  const cli = oursCliPath();
  if (!workersSupport.has(cli)) {
    let help = '';
    try {
      help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8', timeout: 10_000 });
    } catch (error) {
      help = String(error.stdout ?? '');
    }
    workersSupport.set(cli, /--workers\b/.test(help));
  }
  return workersSupport.get(cli) ? undefined : `n/a: ${cli} has no --workers option (yet)`;
}

/**
 * Where clients go with `nodes` nodes, `spread` saying which role uses the third node:
 * 1 node: everyone on it. 2 nodes: publishers on A, subscribers on B. 3 nodes, `spread:
 * 'subscribers'`: publishers on A, subscribers round-robin on B and C (each message crosses the
 * bus twice, once per node with interest); `spread: 'publishers'`: publishers round-robin on A
 * and C, subscribers on B (B receives from two nodes).
 */
function placeClients(ports, spread) {
  if (ports.length === 1) return { pubPorts: ports, subPorts: ports };
  if (ports.length === 2) return { pubPorts: [ports[0]], subPorts: [ports[1]] };
  if (spread === 'subscribers') return { pubPorts: [ports[0]], subPorts: [ports[1], ports[2]] };
  return { pubPorts: [ports[0], ports[2]], subPorts: [ports[1]] };
}

/**
 * Starts one entrant: `nodes` (1: ours on its own schema, no `--cluster`; 2, 3: a cluster on one
 * fresh schema, started one after the other, the first migrating it) or `workers` (one process
 * with `--workers N --cluster`). Resolves with a broker-like object (lib/brokers.mjs describe).
 */
export async function startOursGroup({ limits, nodes = 1, spread = 'subscribers', workers = undefined }) {
  if (workers !== undefined) {
    const reason = workersUnavailable();
    if (reason !== undefined) throw Object.assign(new Error(reason), { na: true });
  }
  const clustered = nodes > 1 || workers !== undefined;
  const schema = clustered ? benchSchemaName() : undefined;
  const started = [];
  const stopAll = async () => {
    await Promise.all(started.map((broker) => broker.stop()));
    if (schema !== undefined) await dropSchema(schema);
  };
  try {
    for (let i = 0; i < nodes; i++) {
      const args = [];
      if (clustered) args.push('--cluster', '--nats-url', NATS_URL);
      // Worker processes name themselves (the CLI's business); nodes get a, b, c.
      if (nodes > 1) args.push('--node-id', `bench-${schema.slice(-12)}-${String.fromCharCode(97 + i)}`);
      if (workers !== undefined) args.push('--workers', String(workers));
      started.push(await startBroker('ours', { limits, store: 'postgres', schema, args }));
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const ports = started.map((broker) => broker.port);
  const pids = started.map((broker) => broker.pid);
  const first = started[0];
  return {
    name: 'ours',
    pid: first.pid,
    port: first.port,
    topology: {
      nodes: workers ?? nodes,
      ...placeClients(ports, spread),
      pids,
      infra: true,
      sharedPort: workers !== undefined,
      // Two heartbeats: every node has written its interest and read every other's.
      settleMs: 2 * HEARTBEAT_MS + 200,
    },
    get isAlive() {
      return started.every((broker) => broker.isAlive);
    },
    exitDescription() {
      const dead = started.findIndex((broker) => !broker.isAlive);
      return dead === -1 ? 'running' : `node ${dead + 1} of ${nodes}: ${started[dead].exitDescription()}`;
    },
    stderrTail() {
      return started
        .map((broker, i) => [`node ${i + 1}:`, broker.stderrTail?.() ?? ''].join('\n'))
        .join('\n');
    },
    stop: stopAll,
  };
}
