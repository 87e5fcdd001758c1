// The cluster scenarios (issue 13), `--only cluster`: ours on the postgres store as one process
// beside a cluster of 2 and 3 nodes on this machine (lib/cluster.mjs), with the generator
// functions of the single-broker scenarios: every client placed so that each message crosses
// the NATS bus (lib/topology.mjs). Not in the default run: they need NATS, and the figures of a
// cluster on one 2-core machine are a measure of the bus's cost, not of scaling (README.md).

/** The single node is the reference of every ratio. */
const SINGLE = 'ours/single';

/**
 * The entrants: `spread` says where the third node's clients go (lib/cluster.mjs placeClients);
 * `three` adds the 3-node cluster; `workers` the `--workers 2` process (n/a while the CLI has no
 * such option: lib/cluster.mjs workersUnavailable).
 */
function variants(spread, { three = true, workers = false } = {}) {
  const group = (options) => ({ group: options });
  return [
    { name: SINGLE, broker: 'ours', options: group({ nodes: 1 }) },
    { name: 'ours/2-node', broker: 'ours', options: group({ nodes: 2, spread }) },
    ...(three ? [{ name: 'ours/3-node', broker: 'ours', options: group({ nodes: 3, spread }) }] : []),
    ...(workers
      ? [{ name: 'ours/workers-2', broker: 'ours', options: group({ nodes: 1, workers: 2 }) }]
      : []),
  ];
}

function ratiosOf(list) {
  return list.filter((v) => v.name !== SINGLE).map((v) => [v.name, SINGLE, undefined]);
}

/** µs of CPU per delivered message of `seconds` (broker, NATS or PostgreSQL), or null. */
function perMessageUs(seconds, delivered) {
  return seconds === null || seconds === undefined || !(delivered > 0) ? null : (seconds * 1e6) / delivered;
}

/** A throughput scenario's rows: msgs/s delivered, then CPU per message of the nodes, NATS, PostgreSQL. */
function throughputRows(label) {
  return [
    { label, unit: 'msgs/s', perCpuUnit: 'msgs/CPU-s', pick: (r) => r.value },
    {
      label: `${label.split(' ')[0]} ... broker CPU per message, all nodes (and workers)`,
      unit: 'us CPU/msg, lower=better',
      pick: (r) => perMessageUs(r.brokerCpuSeconds, r.delivered),
      derived: true,
    },
    {
      label: `${label.split(' ')[0]} ... NATS server CPU per message`,
      unit: 'us CPU/msg, lower=better',
      pick: (r) => perMessageUs(r.natsCpuSeconds, r.delivered),
      derived: true,
    },
    {
      label: `${label.split(' ')[0]} ... PostgreSQL CPU per message (every postgres process)`,
      unit: 'us CPU/msg, lower=better',
      pick: (r) => perMessageUs(r.postgresCpuSeconds, r.delivered),
      derived: true,
    },
  ];
}

function throughputScenario({ id, fn, label, spread, workers, params, scale, count }) {
  const list = variants(spread, { workers });
  return {
    id,
    fn,
    optIn: true,
    variants: list,
    ratios: ratiosOf(list),
    scale,
    count,
    params,
    rows: throughputRows(label),
  };
}

/** Rounds `value` up to a multiple of `step`, within [min, max]. */
function roundUp(value, step, min, max) {
  const rounded = Math.ceil(Math.max(value, 1) / step) * step;
  return Math.min(Math.max(rounded, min), max);
}

const perPublisher = (step, min, max) => (p, count) => ({
  ...p,
  messagesPerPublisher: roundUp(count / p.publishers, step, min, max),
});

/** Publish -> delivery (and PUBACK) at a fixed rate, single node vs 2 nodes. */
function latencyScenario(qos) {
  const list = variants('subscribers', { three: false });
  const what = (name) => `cluster-latency-qos${qos} ... ${name}`;
  const rows = [
    {
      label: `cluster-latency-qos${qos} QoS ${qos} publish -> delivery p50 (5,000 msgs/s, 1 pub on A -> 1 sub on B)`,
      unit: 'us, lower=better',
      pick: (r) => r.delivery.p50,
    },
    {
      label: what('publish -> delivery p99'),
      unit: 'us, lower=better',
      pick: (r) => r.delivery.p99,
      derived: true,
    },
  ];
  if (qos === 1) {
    rows.push(
      {
        label: what('publish -> PUBACK p50'),
        unit: 'us, lower=better',
        pick: (r) => r.puback.p50,
        derived: true,
      },
      {
        label: what('publish -> PUBACK p99'),
        unit: 'us, lower=better',
        pick: (r) => r.puback.p99,
        derived: true,
      },
    );
  }
  return {
    id: `cluster-latency-qos${qos}`,
    fn: 'publishLatency',
    optIn: true,
    variants: list,
    ratios: ratiosOf(list),
    count: (p) => Math.round((p.ratePerSecond * p.durationMs) / 1000),
    params: (quick) => ({
      qos,
      // Scenarios 17 and 18's rate and message, so their single-node figures compare.
      ratePerSecond: 5000,
      durationMs: quick ? 1000 : 4000,
      payloadBytes: 64,
      timeoutMs: 30_000,
    }),
    rows,
  };
}

export const CLUSTER_SCENARIOS = [
  throughputScenario({
    id: 'cluster-fan-in',
    fn: 'fanIn',
    label: 'cluster-fan-in QoS 0 (8 pub on A [and C] -> 1 sub on B, 64 B)',
    spread: 'publishers',
    workers: true,
    scale: perPublisher(100, 5000, 2_000_000),
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      publishers: 8,
      messagesPerPublisher: quick ? 5000 : 20_000,
      payloadBytes: 64,
      batch: 100,
      window: 1000,
      timeoutMs: 60_000,
    }),
  }),
  throughputScenario({
    id: 'cluster-fan-out',
    fn: 'fanOut',
    label: 'cluster-fan-out QoS 0 (1 pub on A -> 100 subs on B [and C], 64 B)',
    spread: 'subscribers',
    workers: true,
    scale: (p, count) => ({ ...p, messages: roundUp(count / p.subscribers, p.batch, 1000, 200_000) }),
    count: (p) => p.messages * p.subscribers,
    params: (quick) => ({
      subscribers: 100,
      messages: quick ? 1000 : 3000,
      payloadBytes: 64,
      batch: 50,
      window: 1000,
      timeoutMs: 60_000,
    }),
  }),
  throughputScenario({
    id: 'cluster-qos1',
    fn: 'qos1',
    label: 'cluster-qos1 QoS 1 end to end (8 pub x 64 in flight on A [and C] -> 1 sub on B)',
    spread: 'publishers',
    scale: perPublisher(100, 1000, 65_535),
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      publishers: 8,
      messagesPerPublisher: quick ? 1000 : 5000,
      payloadBytes: 64,
      window: 64,
      timeoutMs: 60_000,
    }),
  }),
  throughputScenario({
    id: 'cluster-persist',
    fn: 'qos1Persistent',
    label:
      'cluster-persist QoS 1 into a persistent session (8 pub x 64 in flight on A [and C] -> 1 sub on B, clean session 0)',
    spread: 'publishers',
    scale: perPublisher(100, 1000, 65_535),
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      publishers: 8,
      messagesPerPublisher: quick ? 1000 : 5000,
      payloadBytes: 64,
      window: 64,
      timeoutMs: 60_000,
    }),
  }),
  latencyScenario(0),
  latencyScenario(1),
];

/** `--only cluster`. */
export const CLUSTER_GROUP = CLUSTER_SCENARIOS.map((scenario) => scenario.id);
