// The scenarios run.mjs knows: the generator function, default counts (full and --quick),
// how to size counts from a warm-up rate, and the rows each adds to the tables.
import { ACL_RULE_COUNT, BENCH_USER } from './auth-setup.mjs';
import { CLUSTER_GROUP, CLUSTER_SCENARIOS } from './cluster-table.mjs';
import { idleCapacityProblem } from './idle-memory.mjs';

/** Ours in scenarios 9 and 10: the sqlite store (users and ACL rules need a durable one). */
const OURS_AUTH_FLAGS = ['--allow-anonymous', 'false', '--auth-failure-delay-ms', '0'];
const OURS_ANONYMOUS_FLAGS = ['--allow-anonymous', 'true'];

/**
 * Scenarios 11 and 12: User Properties on every PUBLISH (3 pairs, 87 bytes of properties), which
 * a broker decodes and forwards to the subscriber.
 */
const USER_PROPERTIES = [
  ['source', 'bench-publisher'],
  ['unit', 'celsius'],
  ['trace-id', '4bf92f3577b34da6a3ce929d0e0e4736'],
];

/** Scenarios 15 and 16: ours at least 0.9x the bare server's cycles per second (issue 10). */
const CYCLES_TARGET = { kind: 'ratio', over: 'bare', min: 0.9 };

/**
 * Scenarios 5 and 14 open their connections at this rate (all generator processes together),
 * for every broker: how fast a Node broker makes garbage while connections arrive sizes its
 * heap, so an unpaced opening makes RSS per connection depend on each broker's speed.
 */
const IDLE_OPEN_RATE = 1000;

/** Connections of scenario 14 (`--memory-large` changes it for one run). */
export const LARGE_IDLE_CONNECTIONS = 50_000;

export const SCENARIOS = [
  {
    id: 'fan-in',
    fn: 'fanIn',
    // Per publisher, a multiple of the batch.
    scale: (p, count) => ({
      ...p,
      messagesPerPublisher: roundUp(count / p.publishers, p.batch, 10_000, 2_000_000),
    }),
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      publishers: 8,
      messagesPerPublisher: quick ? 10_000 : 30_000,
      payloadBytes: 64,
      batch: 100,
      // Messages per publisher written but not yet received (end-to-end credit).
      window: 1000,
      timeoutMs: 60_000,
    }),
    rows: [
      {
        label: '1 fan-in QoS 0 (8 pub -> 1 sub, 64 B)',
        unit: 'msgs/s',
        perCpuUnit: 'msgs/CPU-s',
        pick: (r) => r.value,
      },
    ],
  },
  {
    id: 'fan-out',
    fn: 'fanOut',
    scale: (p, count) => ({ ...p, messages: roundUp(count / p.subscribers, p.batch, 1000, 200_000) }),
    count: (p) => p.messages * p.subscribers,
    params: (quick) => ({
      subscribers: 100,
      messages: quick ? 1000 : 3000,
      payloadBytes: 64,
      batch: 50,
      // Messages written but not yet received by every subscriber (end-to-end credit).
      window: 1000,
      timeoutMs: 60_000,
    }),
    rows: [
      {
        label: '2 fan-out QoS 0 (1 pub -> 100 subs, 64 B)',
        unit: 'msgs/s',
        perCpuUnit: 'msgs/CPU-s',
        pick: (r) => r.value,
      },
    ],
  },
  {
    id: 'qos1',
    fn: 'qos1',
    // 65535: one pre-encoded packet per packet id and publisher (lib/packets.mjs qos1PublishRing).
    scale: (p, count) => ({ ...p, messagesPerPublisher: roundUp(count / p.publishers, 100, 2500, 65_535) }),
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      publishers: 8,
      messagesPerPublisher: quick ? 2500 : 10_000,
      payloadBytes: 64,
      window: 64,
      timeoutMs: 60_000,
    }),
    rows: [
      {
        label: '3 QoS 1 end to end (8 pub x 64 in flight -> 1 sub)',
        unit: 'msgs/s',
        perCpuUnit: 'msgs/CPU-s',
        pick: (r) => r.value,
      },
    ],
  },
  {
    id: 'cycles',
    fn: 'connectCycles',
    // The bare server (bare-server.mjs) runs it too: it answers CONNECT and closes on DISCONNECT.
    bare: true,
    // Capped: every cycle takes an ephemeral port on one side or the other for a while.
    scale: (p, count) => ({ ...p, cycles: roundUp(count, 100, 600, 6000) }),
    count: (p) => p.cycles,
    params: (quick) => ({ workers: 4, cycles: quick ? 600 : 2500, timeoutMs: 60_000 }),
    rows: cycleRows('4', 'connect-publish-disconnect (4 workers)', '4 ... latency of one cycle (Rust: 621)'),
  },
  {
    id: 'cycles-seq',
    fn: 'connectCycles',
    bare: true,
    scale: (p, count) => ({ ...p, cycles: roundUp(count, 100, 300, 6000) }),
    count: (p) => p.cycles,
    params: (quick) => ({ workers: 1, cycles: quick ? 300 : 1000, timeoutMs: 60_000 }),
    rows: cycleRows('15', 'connect-publish-disconnect, sequential (1 worker)', undefined, CYCLES_TARGET),
  },
  {
    id: 'cycles-50',
    fn: 'connectCycles',
    bare: true,
    // Each cycle's TIME_WAIT is on the broker's side (it closes first), so the generator's
    // ephemeral ports are not used up; 12,000 keeps the kernel's TIME_WAIT table small.
    scale: (p, count) => ({ ...p, cycles: roundUp(count, 100, 1000, 12_000) }),
    count: (p) => p.cycles,
    params: (quick) => ({ workers: 50, cycles: quick ? 1000 : 3000, timeoutMs: 60_000 }),
    rows: cycleRows('16', 'connect-publish-disconnect, 50 concurrent workers', undefined, CYCLES_TARGET),
  },
  idleMemoryScenario('memory', '5', 10_000, 2000),
  idleMemoryScenario('memory-50k', '14', LARGE_IDLE_CONNECTIONS, LARGE_IDLE_CONNECTIONS),

  {
    id: 'persist',
    fn: 'qos1Persistent',
    // Our broker once per store, beside the peers with their own persistence; `broker` is what
    // --brokers filters on, `options` go to startBroker (lib/brokers.mjs).
    variants: [
      { name: 'ours/memory', broker: 'ours', options: { store: 'memory' } },
      { name: 'ours/sqlite', broker: 'ours', options: { store: 'sqlite' } },
      { name: 'ours/postgres', broker: 'ours', options: { store: 'postgres' } },
      { name: 'aedes', broker: 'aedes', options: {} },
      { name: 'mosquitto', broker: 'mosquitto', options: { persistence: true } },
    ],
    // Ratios printed under the table: [numerator, denominator, target or undefined].
    ratios: [
      ['ours/sqlite', 'ours/memory', 0.8],
      ['ours/postgres', 'ours/memory', undefined],
      ['ours/sqlite', 'aedes', undefined],
      ['ours/sqlite', 'mosquitto', undefined],
    ],
    scale: (p, count) => ({ ...p, messagesPerPublisher: roundUp(count / p.publishers, 100, 1000, 65_535) }),
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      publishers: 8,
      messagesPerPublisher: quick ? 1000 : 5000,
      payloadBytes: 64,
      window: 64,
      timeoutMs: 60_000,
    }),
    rows: [
      {
        label: '6 QoS 1 into a persistent session (8 pub x 64 in flight -> 1 sub, clean session 0)',
        unit: 'msgs/s',
        perCpuUnit: 'msgs/CPU-s',
        pick: (r) => r.value,
      },
    ],
  },
  floodScenario(1),
  floodScenario(2),
  {
    id: 'cycles-auth',
    fn: 'connectCyclesAuth',
    // Every broker refuses anonymous clients and knows one user (lib/brokers.mjs startBroker):
    // ours in its sqlite store (scrypt), Mosquitto in a mosquitto_passwd file (PBKDF2-SHA512 x
    // 101), Aedes checking that same file in its `authenticate` handler (aedes-server.mjs).
    brokerOptions: {
      ours: { store: 'sqlite', users: [BENCH_USER], args: OURS_AUTH_FLAGS },
      aedes: { passwordFile: true },
      mosquitto: { passwordFile: true, allowAnonymous: false },
    },
    // run.mjs measures one hash of each KDF on this machine and prints it beside the table.
    kdfCost: true,
    // Ours hashes for tens of ms per CONNECT: far fewer cycles than scenario 4 fill a run.
    scale: (p, count) => ({ ...p, cycles: roundUp(count, 10, 40, 6000) }),
    count: (p) => p.cycles,
    params: (quick) => ({
      workers: 4,
      cycles: quick ? 40 : 200,
      timeoutMs: 60_000,
      credentials: { ...BENCH_USER },
    }),
    rows: [
      {
        label: '9 connect-publish-disconnect, user+password (4 workers; KDF: see below)',
        unit: 'cycles/s',
        perCpuUnit: 'cycles/CPU-s',
        pick: (r) => r.value,
      },
      {
        label: '9 ... latency of one cycle',
        unit: 'us/cycle, lower=better',
        pick: (r) => r.latencyUs,
        derived: true,
      },
      {
        label: '9 ... broker CPU per cycle',
        unit: 'us CPU/cycle, lower=better',
        pick: (r) =>
          r.brokerCpuSeconds === null || r.cycles === 0 ? null : (r.brokerCpuSeconds * 1e6) / r.cycles,
        derived: true,
      },
    ],
  },
  {
    id: 'fan-in-acl',
    fn: 'fanIn',
    // Scenario 1's load, on the sqlite store, anonymous clients allowed; each broker once
    // without and once with the generated ACL file (lib/auth-setup.mjs aclFileText), whose
    // first lines let anonymous clients publish and subscribe bench/#. All four stay up and
    // the repetitions are interleaved (run.mjs), so machine noise hits with and without alike.
    variants: [
      { name: 'ours/no-acl', broker: 'ours', options: { store: 'sqlite', args: OURS_ANONYMOUS_FLAGS } },
      {
        name: `ours/acl-${ACL_RULE_COUNT}`,
        broker: 'ours',
        options: { store: 'sqlite', args: OURS_ANONYMOUS_FLAGS, aclRules: ACL_RULE_COUNT },
      },
      { name: 'mosquitto/no-acl', broker: 'mosquitto', options: {} },
      { name: `mosquitto/acl-${ACL_RULE_COUNT}`, broker: 'mosquitto', options: { aclRules: ACL_RULE_COUNT } },
    ],
    ratios: [
      [`ours/acl-${ACL_RULE_COUNT}`, 'ours/no-acl', 0.9],
      [`mosquitto/acl-${ACL_RULE_COUNT}`, 'mosquitto/no-acl', undefined],
      [`ours/acl-${ACL_RULE_COUNT}`, `mosquitto/acl-${ACL_RULE_COUNT}`, undefined],
    ],
    scale: (p, count) => ({
      ...p,
      messagesPerPublisher: roundUp(count / p.publishers, p.batch, 10_000, 2_000_000),
    }),
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      publishers: 8,
      messagesPerPublisher: quick ? 10_000 : 30_000,
      payloadBytes: 64,
      batch: 100,
      window: 1000,
      timeoutMs: 60_000,
    }),
    rows: [
      {
        label: `10 fan-in QoS 0 with ${ACL_RULE_COUNT.toLocaleString('en-US')} ACL rules vs none (8 pub -> 1 sub, 64 B, sqlite store)`,
        unit: 'msgs/s',
        perCpuUnit: 'msgs/CPU-s',
        pick: (r) => r.value,
      },
    ],
  },
  {
    id: 'mqtt5-qos0',
    fn: 'fanIn',
    // Every client speaks 5.0: run.mjs first checks that the broker accepts a 5.0 CONNECT and
    // shows one that does not as n/a (Aedes 1.x).
    protocolVersion: 5,
    scale: (p, count) => ({
      ...p,
      messagesPerPublisher: roundUp(count / p.publishers, p.batch, 10_000, 2_000_000),
    }),
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      protocolVersion: 5,
      userProperties: USER_PROPERTIES,
      publishers: 8,
      messagesPerPublisher: quick ? 10_000 : 30_000,
      payloadBytes: 64,
      batch: 100,
      window: 1000,
      timeoutMs: 60_000,
    }),
    rows: [
      {
        label: '11 fan-in QoS 0, MQTT 5.0, 3 user properties (8 pub -> 1 sub, 64 B)',
        unit: 'msgs/s',
        perCpuUnit: 'msgs/CPU-s',
        pick: (r) => r.value,
      },
    ],
  },
  {
    id: 'mqtt5-qos1',
    fn: 'qos1',
    protocolVersion: 5,
    scale: (p, count) => ({ ...p, messagesPerPublisher: roundUp(count / p.publishers, 100, 2500, 65_535) }),
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      protocolVersion: 5,
      userProperties: USER_PROPERTIES,
      publishers: 8,
      messagesPerPublisher: quick ? 2500 : 10_000,
      payloadBytes: 64,
      window: 64,
      timeoutMs: 60_000,
    }),
    rows: [
      {
        label: '12 QoS 1 end to end, MQTT 5.0, 3 user properties (8 pub x 64 in flight -> 1 sub)',
        unit: 'msgs/s',
        perCpuUnit: 'msgs/CPU-s',
        pick: (r) => r.value,
      },
    ],
  },
  {
    id: 'mqtt5-alias-bytes',
    fn: 'aliasBytes',
    protocolVersion: 5,
    // Bytes per message do not depend on speed: fixed counts, no sizing.
    count: (p) => p.messages,
    params: (quick) => ({
      messages: quick ? 1000 : 5000,
      topicLength: 120,
      payloadBytes: 64,
      topicAliasMaximum: 16,
      batch: 50,
      window: 1000,
      timeoutMs: 60_000,
    }),
    rows: [
      {
        label:
          '13 bytes per PUBLISH received, 5.0 subscriber with Topic Alias Maximum 16 (topic 120 chars, 64 B)',
        unit: 'B/msg, lower=better',
        pick: (r) => r.aliasedPerMessage,
      },
      {
        label: '13 ... the same, subscriber with Topic Alias Maximum 0 (absent)',
        unit: 'B/msg, lower=better',
        pick: (r) => r.plainPerMessage,
        derived: true,
      },
      {
        label: '13 ... with aliases / without',
        unit: 'share',
        pick: (r) => r.share,
        derived: true,
        format: 'percent',
        noRatio: true,
      },
    ],
  },
  latencyScenario(1),
  latencyScenario(0),
  {
    id: 'fairness',
    fn: 'fairness',
    // A fixed schedule (flood for fillMs, then probes every probeIntervalMs for probeMs): no sizing.
    count: (p) => Math.floor(p.probeMs / p.probeIntervalMs),
    params: (quick) => ({
      payloadBytes: 64,
      // QoS 0 PUBLISH packets per write of the flooding publisher (about 75 KB).
      floodBatch: 1000,
      // Flooding before the first probe: the paused subscriber's socket buffers fill.
      fillMs: 1000,
      probeMs: quick ? 1500 : 4000,
      probeIntervalMs: 5,
      // How long an unanswered probe is waited for once the last one is sent.
      graceMs: 2000,
      timeoutMs: 30_000,
    }),
    rows: [
      {
        label: '19 fairness: PINGRESP round trip p50 (1 paused subscriber flooded at full speed)',
        unit: 'ms, lower=better',
        pick: (r) => r.ping.p50,
        target: { kind: 'absolute', max: 10 },
      },
      {
        label: '19 ... PINGRESP round trip p99',
        unit: 'ms, lower=better',
        pick: (r) => r.ping.p99,
        derived: true,
        target: { kind: 'absolute', max: 50 },
      },
      {
        label: '19 ... QoS 1 publish -> PUBACK p50',
        unit: 'ms, lower=better',
        pick: (r) => r.puback.p50,
        derived: true,
        target: { kind: 'absolute', max: 10 },
      },
      {
        label: '19 ... QoS 1 publish -> PUBACK p99',
        unit: 'ms, lower=better',
        pick: (r) => r.puback.p99,
        derived: true,
        target: { kind: 'absolute', max: 50 },
      },
      {
        label: '19 ... QoS 1 publish -> delivery to another client p50',
        unit: 'ms, lower=better',
        pick: (r) => r.delivery.p50,
        derived: true,
        target: { kind: 'absolute', max: 10 },
      },
      {
        label: '19 ... QoS 1 publish -> delivery to another client p99',
        unit: 'ms, lower=better',
        pick: (r) => r.delivery.p99,
        derived: true,
        target: { kind: 'absolute', max: 50 },
      },
      {
        label: '19 ... flood accepted from the publisher',
        unit: 'msgs/s',
        pick: (r) => r.floodPerSecond,
        derived: true,
      },
    ],
  },
  // `optIn`: only with --only (they need NATS; lib/cluster-table.mjs).
  ...CLUSTER_SCENARIOS,
];

/** The three rows of a connect-cycles scenario: rate, latency of one cycle, broker CPU per cycle. */
function cycleRows(number, what, latencyLabel, target) {
  return [
    {
      label: `${number} ${what}`,
      unit: 'cycles/s',
      perCpuUnit: 'cycles/CPU-s',
      pick: (r) => r.value,
      target,
    },
    {
      label: latencyLabel ?? `${number} ... latency of one cycle`,
      unit: 'us/cycle, lower=better',
      pick: (r) => r.latencyUs,
      derived: true,
    },
    {
      label: `${number} ... broker CPU per cycle`,
      unit: 'us CPU/cycle, lower=better',
      pick: (r) =>
        r.brokerCpuSeconds === null || r.cycles === 0 ? null : (r.brokerCpuSeconds * 1e6) / r.cycles,
      derived: true,
    },
  ];
}

/**
 * 5 and 14: memory per idle connection, a fresh broker per repetition. run.mjs runs these
 * itself (lib/idle-memory.mjs), with as many generator processes and source addresses as the
 * connections need; `requires` says why they cannot run here (the broker's file descriptors).
 */
export function idleMemoryScenario(id, number, connections, quickConnections) {
  return {
    id,
    fn: 'idleMemory',
    bare: true,
    freshBrokerPerRun: true,
    // RSS per connection varies little between runs, and each run costs a broker start.
    maxReps: 3,
    requires: (p) => idleCapacityProblem(p.connections),
    params: (quick) => ({
      connections: quick ? quickConnections : connections,
      // Opening rate and handshakes in flight, over all generator processes together.
      ratePerSecond: IDLE_OPEN_RATE,
      concurrency: 200,
      settleMs: 1500,
      timeoutMs: 300_000,
    }),
    rows: [
      {
        label: `${number} memory per idle connection (${connections.toLocaleString('en-US')} connections, opened at ${IDLE_OPEN_RATE.toLocaleString('en-US')}/s)`,
        unit: 'B/conn, lower=better',
        pick: (r) => r.value,
        target: { kind: 'ratio', over: 'bare', max: 1.15 },
      },
      {
        label: `${number} ... marginal: RSS growth over the second half / its connections`,
        unit: 'B/conn, lower=better',
        pick: (r) => r.marginal,
        derived: true,
      },
      {
        label: `${number} ... connection setup (TCP connect -> CONNACK) p50`,
        unit: 'us, lower=better',
        pick: (r) => r.setupUs.p50,
        derived: true,
      },
      {
        label: `${number} ... connection setup p99`,
        unit: 'us, lower=better',
        pick: (r) => r.setupUs.p99,
        derived: true,
      },
    ],
  };
}

/**
 * 17 and 18: latency at a fixed rate (5,000 msgs/s), 1 publisher -> 1 subscriber on one topic:
 * publish -> delivery and, at QoS 1, publish -> PUBACK. Fixed counts: the rate is the load.
 */
function latencyScenario(qos) {
  const number = qos === 1 ? 17 : 18;
  const target = qos === 1 ? { kind: 'ratio', over: 'mosquitto', max: 1 } : undefined;
  const rows = [
    {
      label: `${number} QoS ${qos} latency, publish -> delivery p50 (5,000 msgs/s, 1 pub -> 1 sub)`,
      unit: 'us, lower=better',
      pick: (r) => r.delivery.p50,
      target,
    },
    {
      label: `${number} ... publish -> delivery p99`,
      unit: 'us, lower=better',
      pick: (r) => r.delivery.p99,
      derived: true,
      target,
    },
  ];
  if (qos === 1) {
    rows.push(
      {
        label: `${number} ... publish -> PUBACK p50`,
        unit: 'us, lower=better',
        pick: (r) => r.puback.p50,
        derived: true,
        target,
      },
      {
        label: `${number} ... publish -> PUBACK p99`,
        unit: 'us, lower=better',
        pick: (r) => r.puback.p99,
        derived: true,
        target,
      },
    );
  }
  return {
    id: `latency-qos${qos}`,
    fn: 'publishLatency',
    count: (p) => Math.round((p.ratePerSecond * p.durationMs) / 1000),
    params: (quick) => ({
      qos,
      ratePerSecond: 5000,
      durationMs: quick ? 1000 : 4000,
      payloadBytes: 64,
      timeoutMs: 30_000,
    }),
    rows,
  };
}

/**
 * 7 and 8: QoS 1 / QoS 2 floods. Fixed counts for every broker (no sizing): what a broker
 * acknowledges and then drops depends on how far the flood outruns its queue (ours and
 * Mosquitto: 1,000 per subscriber), so its share is comparable only between runs of the same
 * size. `flood: true` adds the scenario to the flood table (lib/report.mjs floodTable).
 */
function floodScenario(qos) {
  const number = qos === 1 ? 7 : 8;
  const ack = qos === 1 ? 'PUBACK' : 'PUBREC';
  return {
    id: `qos${qos}-flood`,
    fn: `qos${qos}Flood`,
    title: `${number} QoS ${qos} flood`,
    flood: true,
    count: (p) => p.messagesPerPublisher * p.publishers,
    params: (quick) => ({
      publishers: 8,
      // At most 65535: one packet id per message and publisher, never reused within a run.
      messagesPerPublisher: quick ? 5000 : 20_000,
      payloadBytes: 64,
      // PUBLISH packets per write (about 80 KB).
      batch: 1000,
      timeoutMs: 60_000,
    }),
    rows: [
      {
        label: `${number} QoS ${qos} flood: delivered (8 pub pipelined -> 1 sub)`,
        unit: 'msgs/s',
        perCpuUnit: 'msgs/CPU-s',
        pick: (r) => r.value,
        // Issue 10: at least 5x Mosquitto's delivered/s, with every acknowledged message delivered.
        target: { kind: 'ratio', over: 'mosquitto', min: 5 },
      },
      {
        label: `${number} ... acknowledged (${ack} to publishers)`,
        unit: 'acks/s',
        pick: (r) => r.ackedPerSecond,
        derived: true,
      },
      {
        label: `${number} ... delivered / acknowledged`,
        unit: 'share',
        pick: (r) => r.share,
        derived: true,
        format: 'percent',
        noRatio: true,
        target: { kind: 'absolute', min: 1 },
      },
    ],
  };
}

/** Rounds `value` up to a multiple of `step`, within [min, max]. */
function roundUp(value, step, min, max) {
  const rounded = Math.ceil(Math.max(value, 1) / step) * step;
  return Math.min(Math.max(rounded, min), max);
}

/** Seconds each measured run should last (counts are sized from the warm-up rate). */
export const TARGET_SECONDS = { full: 3, quick: 1 };

export const SCENARIO_ALIASES = {
  1: 'fan-in',
  2: 'fan-out',
  3: 'qos1',
  4: 'cycles',
  5: 'memory',
  6: 'persist',
  7: 'qos1-flood',
  8: 'qos2-flood',
  9: 'cycles-auth',
  10: 'fan-in-acl',
  11: 'mqtt5-qos0',
  12: 'mqtt5-qos1',
  13: 'mqtt5-alias-bytes',
  14: 'memory-50k',
  15: 'cycles-seq',
  16: 'cycles-50',
  17: 'latency-qos1',
  18: 'latency-qos0',
  19: 'fairness',
};

/** Names for several scenarios at once in --only. */
export const SCENARIO_GROUPS = {
  // The figures of issue 10 (performance against the bare server, Mosquitto and Aedes).
  'issue-10': [
    'memory',
    'memory-50k',
    'cycles-seq',
    'cycles-50',
    'latency-qos1',
    'latency-qos0',
    'fairness',
    'qos1-flood',
    'qos2-flood',
  ],
  // Issue 13: single node vs 2 and 3 nodes over NATS (lib/cluster-table.mjs).
  cluster: CLUSTER_GROUP,
};
