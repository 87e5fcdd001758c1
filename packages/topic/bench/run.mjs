// Side-by-side benchmark of @mqtt-adapt/topic (the BUILT dist) against qlobber, configured as
// Aedes uses it. Run from packages/topic: `npx tsup && pnpm bench`
// (= node --expose-gc bench/run.mjs). Optional: BENCH_SUBS, BENCH_REPEATS, BENCH_MATCH_MS, BENCH_ONLY.
import { createRequire } from 'node:module';
import { SubscriptionTrie } from '../dist/index.js';
import { makeSubscriptions, makeTopics } from './workload.mjs';

const require = createRequire(import.meta.url);
const { Qlobber } = require('qlobber');
const QlobberSub = require('qlobber/aedes/qlobber-sub');

if (typeof globalThis.gc !== 'function') {
  console.error('run with --expose-gc (pnpm bench does)');
  process.exit(1);
}

const SUBS = Number(process.env.BENCH_SUBS ?? 100_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 7);
/** CPU time each match measurement runs for, after an untimed warm-up of the same length / 4. */
const MATCH_MS = Number(process.env.BENCH_MATCH_MS ?? 600);
const CHUNK = 1000;
const TOPICS = 10_000;

// aedes-persistence (lib/ of moscajs/aedes-persistence, memory and level stores) keeps the
// subscriptions in a QlobberSub with these options; mqemitter (aedes's in-process pub/sub)
// uses a plain Qlobber with the same separator and wildcards and match_empty_levels true.
const AEDES_QLOBBER_OPTIONS = {
  separator: '/',
  wildcard_one: '+',
  wildcard_some: '#',
  match_empty_levels: true,
};

const qlobberValues = new Array(SUBS).fill(null);

/**
 * Each implementation writes its own loops (build, match all, remove all) so every hot call
 * site sees one implementation only: a loop shared by all three would be polymorphic and
 * measure the harness. Values and options are created inside the timed build, as a broker
 * creates them per SUBSCRIBE.
 */
const allImplementations = [
  {
    name: '@mqtt-adapt/topic',
    build() {
      const t = new SubscriptionTrie();
      for (let i = 0; i < SUBS; i++) t.add(filters[i], clientIds[i], { qos: 1 });
      return t;
    },
    // the intended hot path: one reused output array
    matchChunk(t, from, out) {
      let delivered = 0;
      for (let i = from; i < from + CHUNK; i++) delivered += t.match(topics[i % TOPICS], out).length;
      return delivered;
    },
    removeAll(t) {
      for (let i = 0; i < SUBS; i++) t.remove(filters[i], clientIds[i]);
    },
    matchOne: (t, topic) => t.match(topic).map((e) => `${e.subscriber} ${e.topicFilter}`),
  },
  {
    name: 'qlobber QlobberSub',
    build() {
      const t = new QlobberSub(AEDES_QLOBBER_OPTIONS);
      for (let i = 0; i < SUBS; i++) t.add(filters[i], { clientId: clientIds[i], topic: filters[i], qos: 1 });
      return t;
    },
    matchChunk(t, from) {
      let delivered = 0;
      for (let i = from; i < from + CHUNK; i++) delivered += t.match(topics[i % TOPICS]).length;
      return delivered;
    },
    removeAll(t) {
      for (let i = 0; i < SUBS; i++) t.remove(filters[i], { clientId: clientIds[i], topic: filters[i] });
    },
    matchOne: (t, topic) => t.match(topic).map((e) => `${e.clientId} ${e.topic}`),
  },
  {
    name: 'qlobber Qlobber',
    // Qlobber removes by value identity, so the value is kept (as mqemitter's caller keeps its
    // listener) in an array allocated before the heap baseline.
    build() {
      const t = new Qlobber(AEDES_QLOBBER_OPTIONS);
      for (let i = 0; i < SUBS; i++) {
        const value = { clientId: clientIds[i], topic: filters[i], qos: 1 };
        qlobberValues[i] = value;
        t.add(filters[i], value);
      }
      return t;
    },
    matchChunk(t, from) {
      let delivered = 0;
      for (let i = from; i < from + CHUNK; i++) delivered += t.match(topics[i % TOPICS]).length;
      return delivered;
    },
    removeAll(t) {
      for (let i = 0; i < SUBS; i++) t.remove(filters[i], qlobberValues[i]);
    },
    matchOne: (t, topic) => t.match(topic).map((e) => `${e.clientId} ${e.topic}`),
  },
];

// BENCH_ONLY=name1,name2 runs a subset (profiling); the table needs ours first.
const only = process.env.BENCH_ONLY?.split(',');
const implementations = only ? allImplementations.filter((i) => only.includes(i.name)) : allImplementations;

const subscriptions = makeSubscriptions(SUBS);
const topics = makeTopics(TOPICS);
const filters = subscriptions.map((s) => s.filter);
const clientIds = subscriptions.map((s) => s.clientId);
for (const t of topics) t.charCodeAt(0); // flatten the template-literal strings once

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * CPU time of this process in ms: on a shared, loaded machine wall time mostly measures the
 * other processes; user+system time is what the work cost (single-threaded JS, and gc() is
 * never called inside a timed section).
 */
function cpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function heapUsed() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Lets V8's background threads (concurrent sweeping after gc(), compilation) finish: they run
 * on the other core and would be billed to the next timed section by process.cpuUsage().
 */
function settle() {
  return new Promise((resolve) => setTimeout(resolve, 100));
}

async function measureOnce(impl) {
  // memory and insert: one build from an empty heap baseline
  const before = heapUsed();
  await settle();
  let start = cpuMs();
  const t = impl.build();
  const insertMs = cpuMs() - start;
  const bytesPerSub = (heapUsed() - before) / SUBS;
  await settle();

  // match: the fixed topic mix, in chunks, for MATCH_MS of CPU time after a warm-up
  const out = [];
  let matches = 0;
  let delivered = 0;
  for (let end = cpuMs() + MATCH_MS / 4; cpuMs() < end; matches += CHUNK) impl.matchChunk(t, matches, out);
  start = cpuMs();
  const end = start + MATCH_MS;
  let timed = 0;
  while (cpuMs() < end) {
    delivered += impl.matchChunk(t, matches, out);
    matches += CHUNK;
    timed += CHUNK;
  }
  const matchMs = cpuMs() - start;
  heapUsed(); // the garbage of matching is collected here, not during remove (as for build)
  await settle();

  // remove: every subscription
  start = cpuMs();
  impl.removeAll(t);
  const removeMs = cpuMs() - start;

  return {
    insertPerSec: SUBS / (insertMs / 1000),
    matchPerSec: timed / (matchMs / 1000),
    removePerSec: SUBS / (removeMs / 1000),
    bytesPerSub,
    deliveriesPerMatch: delivered / timed,
  };
}

/** Every implementation must deliver the same (client, filter) pairs, or the race is void. */
function checkSameMatches() {
  const built = implementations.map((impl) => impl.build());
  for (const topic of topics.slice(0, 500)) {
    const [expected, ...others] = implementations.map((impl, k) =>
      impl.matchOne(built[k], topic).sort().join('\n'),
    );
    for (const [k, got] of others.entries()) {
      if (got !== expected) throw new Error(`${implementations[k + 1].name} disagrees on ${topic}`);
    }
  }
}

checkSameMatches();
const results = new Map(implementations.map((impl) => [impl.name, []]));
for (const impl of implementations) await measureOnce(impl); // warm up
for (let r = 0; r < REPEATS; r++) {
  for (const impl of implementations) results.get(impl.name).push(await measureOnce(impl));
}

const metrics = [
  ['match (topics/s)', 'matchPerSec', true],
  ['insert (subs/s)', 'insertPerSec', true],
  ['remove (subs/s)', 'removePerSec', true],
  ['heap per subscription (bytes)', 'bytesPerSub', false],
];
const medians = new Map(
  implementations.map((impl) => [
    impl.name,
    Object.fromEntries(
      [...metrics.map((m) => m[1]), 'deliveriesPerMatch'].map((key) => [
        key,
        median(results.get(impl.name).map((x) => x[key])),
      ]),
    ),
  ]),
);

const fmt = (v) => (v >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
const [ours, ...peers] = implementations.map((impl) => impl.name);
const header = [
  `metric (median of ${REPEATS})`,
  ours,
  ...peers.flatMap((p) => [p, `ours/${p.split(' ')[1]}`]),
];
const rows = metrics.map(([label, key, higherIsBetter]) => {
  const o = medians.get(ours)[key];
  return [
    label + (higherIsBetter ? '' : ' ↓'),
    fmt(o),
    ...peers.flatMap((p) => {
      const v = medians.get(p)[key];
      return [fmt(v), `${(o / v).toFixed(2)}x`];
    }),
  ];
});
console.log(
  `node ${process.version}, ${SUBS.toLocaleString('en-US')} subscriptions, ${TOPICS.toLocaleString('en-US')} topics, ` +
    `${MATCH_MS} ms of matching per run, ${medians.get(ours).deliveriesPerMatch.toFixed(1)} deliveries per match`,
);
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
