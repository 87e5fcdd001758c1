#!/usr/bin/env node
// `pnpm bench` for apps/broker: our broker side by side with Aedes and Mosquitto, same load,
// one run. See bench/README.md. Usage:
//   node apps/broker/bench/run.mjs [--quick] [--only fan-in,qos1] [--brokers ours,aedes]
//                                  [--reps 5] [--json results.json]
import { execFileSync, fork } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BROKER_NAMES,
  killAllBrokersNow,
  ourLimits,
  startBroker,
  unavailableReason,
} from './lib/brokers.mjs';
import { detailTable, efficiencyTable, mainTable, summarize } from './lib/report.mjs';

const GENERATOR = fileURLToPath(new URL('./lib/generator.mjs', import.meta.url));
/** Extra time a generator gets beyond its scenario timeout before it is killed. */
const GENERATOR_GRACE_MS = 30_000;

const SCENARIOS = [
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
    // Capped: every cycle takes an ephemeral port on one side or the other for a while.
    scale: (p, count) => ({ ...p, cycles: roundUp(count, 100, 600, 6000) }),
    count: (p) => p.cycles,
    params: (quick) => ({ workers: 4, cycles: quick ? 600 : 2500, timeoutMs: 60_000 }),
    rows: [
      {
        label: '4 connect-publish-disconnect (4 workers)',
        unit: 'cycles/s',
        perCpuUnit: 'cycles/CPU-s',
        pick: (r) => r.value,
      },
      {
        label: '4 ... latency of one cycle (Rust: 621)',
        unit: 'us/cycle, lower=better',
        pick: (r) => r.latencyUs,
        derived: true,
      },
      {
        label: '4 ... broker CPU per cycle',
        unit: 'us CPU/cycle, lower=better',
        pick: (r) =>
          r.brokerCpuSeconds === null || r.cycles === 0 ? null : (r.brokerCpuSeconds * 1e6) / r.cycles,
        derived: true,
      },
    ],
  },
  {
    id: 'memory',
    fn: 'idleMemory',
    freshBrokerPerRun: true,
    // RSS per connection varies little between runs, and each run costs a broker start.
    maxReps: 3,
    params: (quick) => ({ connections: quick ? 2000 : 10_000, concurrency: 200, settleMs: 1500 }),
    rows: [{ label: '5 memory per idle connection', unit: 'B/conn, lower=better', pick: (r) => r.value }],
  },
];

/** Rounds `value` up to a multiple of `step`, within [min, max]. */
function roundUp(value, step, min, max) {
  const rounded = Math.ceil(Math.max(value, 1) / step) * step;
  return Math.min(Math.max(rounded, min), max);
}

/** Seconds each measured run should last (counts are sized from the warm-up rate). */
const TARGET_SECONDS = { full: 3, quick: 1 };

const SCENARIO_ALIASES = { 1: 'fan-in', 2: 'fan-out', 3: 'qos1', 4: 'cycles', 5: 'memory' };

function usage() {
  return `usage: node apps/broker/bench/run.mjs [options]
  --quick              1 repetition and smaller counts (a smoke run, ~1-2 min)
  --only <list>        scenarios to run, comma-separated: ${SCENARIOS.map((s) => s.id).join(', ')} (or 1-5)
  --brokers <list>     brokers to run, comma-separated: ${BROKER_NAMES.join(', ')} (default: all)
  --reps <n>           repetitions per scenario and broker (default 5, memory at most 3; --quick: 1)
  --fixed              the same message counts for every broker, instead of counts sized from
                       each broker's warm-up so that every measured run lasts about ${TARGET_SECONDS.full} s
  --json <file>        also write every run's raw result to <file>
  --help               this text`;
}

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      brokers: { type: 'string' },
      reps: { type: 'string' },
      fixed: { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const list = (text) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const only = values.only
    ? list(values.only).map((id) => SCENARIO_ALIASES[id] ?? id)
    : SCENARIOS.map((s) => s.id);
  for (const id of only) {
    if (!SCENARIOS.some((s) => s.id === id)) throw new Error(`--only ${id}: unknown scenario\n${usage()}`);
  }
  const brokers = values.brokers ? list(values.brokers) : BROKER_NAMES;
  for (const name of brokers) {
    if (!BROKER_NAMES.includes(name)) throw new Error(`--brokers ${name}: unknown broker\n${usage()}`);
  }
  const reps = values.reps === undefined ? (values.quick ? 1 : 5) : Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1 || reps > 20) throw new Error(`--reps ${values.reps}: give 1..20`);
  return {
    quick: values.quick,
    fixed: values.fixed,
    only,
    brokers,
    reps,
    json: values.json,
    help: values.help,
  };
}

// ---------------------------------------------------------------------------------------
// Children: generators are tracked like brokers, so nothing outlives the bench.

const generators = new Set();

function killEverythingNow() {
  for (const child of generators) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  generators.clear();
  killAllBrokersNow();
}

process.on('exit', killEverythingNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping every broker and generator\n`);
    killEverythingNow();
    process.exit(130);
  });
}

/** Forks one generator, runs one scenario against one broker, returns { ok, result | error }. */
function runGenerator(scenario, broker, params) {
  return new Promise((resolve) => {
    const child = fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    generators.add(child);
    let settled = false;
    const settle = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(
      () => {
        child.kill('SIGKILL');
        settle({
          ok: false,
          error: `generator did not finish within ${(params.timeoutMs ?? 120_000) + GENERATOR_GRACE_MS} ms`,
        });
      },
      (params.timeoutMs ?? 120_000) + GENERATOR_GRACE_MS,
    );
    child.once('message', (reply) => settle(reply));
    child.once('exit', (code, signal) => {
      generators.delete(child);
      settle({ ok: false, error: `generator exited (${signal ?? `code ${code}`}) without a result` });
    });
    child.send({ scenario: scenario.fn, port: broker.port, brokerPid: broker.pid, params });
  });
}

function describeRun(result, unitPick) {
  const util = (cpu) => (cpu === null ? '?' : `${Math.round((cpu / result.windowSeconds) * 100)}%`);
  const value = unitPick(result);
  const parts = [`${Math.round(value).toLocaleString('en-US')} ${result.unit}`];
  if (result.expected !== undefined && result.delivered !== undefined)
    parts.push(`${result.delivered}/${result.expected} delivered`);
  if (result.latencyUs !== undefined && result.latencyUs !== null)
    parts.push(`${Math.round(result.latencyUs)} us/cycle`);
  if (result.errors) parts.push(`${result.errors} errors [${result.errorSamples.join('; ')}]`);
  if (result.rssBefore !== undefined) {
    parts.push(
      `RSS ${(result.rssBefore / 2 ** 20).toFixed(1)} -> ${(result.rssAfter / 2 ** 20).toFixed(1)} MiB, ${result.alive} alive`,
    );
  }
  if (result.disconnected) parts.push(`${result.disconnected} clients disconnected by the broker`);
  parts.push(
    `broker CPU ${util(result.brokerCpuSeconds)}, generator CPU ${util(result.generatorCpuSeconds)} of ${result.windowSeconds.toFixed(2)} s`,
  );
  if (result.end && result.end !== 'complete') parts.push(`ended: ${result.end}`);
  return parts.join(', ');
}

/** Rotates the broker order per repetition so no broker always runs first (or last). */
function rotate(list, by) {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/**
 * The counts for one broker's measured runs: the scenario's fixed counts with --fixed (or when
 * a warm-up failed), else counts sized from the warm-up rate to last about `seconds`.
 */
function sizedParams(scenario, options, warm, seconds) {
  const fixed = scenario.params(options.quick);
  if (options.fixed || scenario.scale === undefined || !warm?.ok || !(warm.result.value > 0)) return fixed;
  return scenario.scale(fixed, warm.result.value * seconds);
}

/**
 * Two warm-up runs per broker, not counted: the --quick counts (JIT, buffers), then one sized
 * to last about a second from the first's rate (a cold first run underestimates a fast broker).
 * The second's rate sizes the measured runs.
 */
async function warmUp(scenario, broker, options) {
  const target = options.quick ? TARGET_SECONDS.quick : TARGET_SECONDS.full;
  let warm = await runGenerator(scenario, broker, scenario.params(true));
  if (warm.ok && !options.fixed && scenario.scale !== undefined) {
    const second = await runGenerator(
      scenario,
      broker,
      sizedParams(scenario, { ...options, quick: true }, warm, 1),
    );
    if (second.ok) warm = second;
  }
  if (!warm.ok) console.log(`  [${scenario.id}] warm-up ${broker.name}: FAILED: ${warm.error}`);
  const params = sizedParams(scenario, options, warm, target);
  const rate = warm.ok
    ? `${Math.round(warm.result.value).toLocaleString('en-US')} ${warm.result.unit}`
    : 'failed';
  console.log(
    `  [${scenario.id}] warm-up ${broker.name}: ${rate}; measuring ${scenario.count(params).toLocaleString('en-US')} per run`,
  );
  return params;
}

async function runScenario(scenario, brokers, options, limits, record) {
  const reps = Math.min(options.reps, scenario.maxReps ?? options.reps);
  const runOne = async (broker, rep, params) => {
    const outcome = await runGenerator(scenario, broker, params);
    if (!outcome.ok && !broker.isAlive) {
      outcome.error = `broker exited (${broker.exitDescription()}): ${outcome.error}\n${broker.stderrTail?.() ?? ''}`;
    }
    outcome.params = params;
    record(broker.name, outcome);
    const text = outcome.ok ? describeRun(outcome.result, scenario.rows[0].pick) : `FAILED: ${outcome.error}`;
    console.log(`  [${scenario.id}] rep ${rep + 1}/${reps} ${broker.name}: ${text}`);
  };

  if (scenario.freshBrokerPerRun) {
    const params = scenario.params(options.quick);
    for (let rep = 0; rep < reps; rep++) {
      for (const name of rotate(brokers, rep)) {
        let broker;
        try {
          broker = await startBroker(name, { limits });
        } catch (error) {
          record(name, { ok: false, error: `cannot start: ${error.message}` });
          console.log(`  [${scenario.id}] rep ${rep + 1} ${name}: SKIPPED, cannot start: ${error.message}`);
          continue;
        }
        try {
          await runOne(broker, rep, params);
        } finally {
          await broker.stop();
        }
      }
    }
    return;
  }

  const running = new Map();
  for (const name of brokers) {
    try {
      running.set(name, await startBroker(name, { limits }));
    } catch (error) {
      record(name, { ok: false, error: `cannot start: ${error.message}` });
      console.log(`  [${scenario.id}] ${name}: SKIPPED, cannot start: ${error.message}`);
    }
  }
  try {
    const paramsOf = new Map();
    for (const broker of running.values()) paramsOf.set(broker.name, await warmUp(scenario, broker, options));
    for (let rep = 0; rep < reps; rep++) {
      for (const name of rotate([...running.keys()], rep)) {
        const broker = running.get(name);
        if (!broker.isAlive) {
          record(name, { ok: false, error: `broker exited (${broker.exitDescription()})` });
          console.log(
            `  [${scenario.id}] rep ${rep + 1} ${name}: SKIPPED, broker exited (${broker.exitDescription()})`,
          );
          continue;
        }
        await runOne(broker, rep, paramsOf.get(name));
      }
    }
  } finally {
    await Promise.all([...running.values()].map((broker) => broker.stop()));
  }
}

function versionOf(pkg) {
  try {
    // aedes's "exports" hides package.json: find it from the resolved entry point.
    let dir = dirname(fileURLToPath(import.meta.resolve(pkg)));
    for (let up = 0; up < 5; up++, dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const json = JSON.parse(readFileSync(file, 'utf8'));
      if (json.name === pkg) return json.version;
    }
  } catch {
    // Not resolvable: not installed.
  }
  return 'not installed';
}

function mosquittoVersion() {
  try {
    execFileSync(process.env.MOSQUITTO_BIN ?? 'mosquitto', ['-h'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/usr/local/sbin` },
    });
  } catch (error) {
    // `mosquitto -h` prints its version and exits 3.
    const match = /mosquitto version (\S+)/.exec(`${error.stdout ?? ''}`);
    if (match) return match[1];
  }
  return 'unknown';
}

function gitRevision() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

function fdLimit() {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    return Number(line.split(/\s+/)[4]);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function warnings(rows) {
  const out = [];
  const pct = (fraction) => `${Math.round(fraction * 100)}%`;
  for (const row of rows) {
    if (row.derived) continue;
    const isRate = row.unit === 'msgs/s' || row.unit === 'cycles/s';
    for (const [name, s] of Object.entries(row.brokers)) {
      const where = `${row.label} / ${name}`;
      if (s.failed > 0) out.push(`${where}: ${s.failed} of ${s.runs} runs failed: ${s.failures[0]}`);
      const gen = s.generatorUtil;
      const broker = s.brokerUtil;
      if (isRate && gen !== null && gen > 0.85) {
        out.push(
          `${where}: the generator used ${pct(gen)} of a core (broker ${pct(broker ?? 0)}); the rate may be the generator's limit, compare the per-CPU-second table`,
        );
      } else if (row.unit === 'msgs/s' && gen !== null && broker !== null && gen > broker) {
        out.push(`${where}: the generator used more CPU than the broker (${pct(gen)} vs ${pct(broker)})`);
      }
      if (s.maxLoss !== null && s.maxLoss > 0.005) {
        out.push(
          `${where}: up to ${(s.maxLoss * 100).toFixed(1)}% of the messages were not delivered (dropped by the broker or timed out); the rate counts delivered messages only`,
        );
      }
      for (const end of s.ends) {
        if (end !== 'complete') {
          out.push(`${where}: a run ended by "${end}" rather than by receiving every message`);
        }
      }
    }
  }
  return out;
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(usage());
    return;
  }
  const scenarios = SCENARIOS.filter((s) => options.only.includes(s.id));
  const memory = scenarios.find((s) => s.id === 'memory');
  if (memory !== undefined) {
    const wanted = memory.params(options.quick).connections;
    const limit = fdLimit();
    if (wanted + 200 > limit) {
      throw new Error(
        `the idle-connection scenario needs ${wanted + 200} file descriptors and the limit is ${limit}; raise it with ulimit -n`,
      );
    }
  }

  console.log('mqtt-adapt broker bench');
  console.log(
    `  node ${process.version}, ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, commit ${gitRevision()}`,
  );
  console.log(`  aedes ${versionOf('aedes')}, mosquitto ${mosquittoVersion()}`);
  console.log(
    `  ${options.reps} repetition(s) per scenario and broker (memory at most 3), medians reported${options.quick ? ' (--quick)' : ''}`,
  );

  const brokers = [];
  for (const name of options.brokers) {
    const reason = unavailableReason(name);
    if (reason === undefined) brokers.push(name);
    else console.log(`  SKIPPING ${name}: ${reason}`);
  }
  if (brokers.length === 0) throw new Error('no broker can run; see the reasons above');
  const limits = brokers.includes('mosquitto') ? ourLimits() : undefined;
  if (limits !== undefined) {
    console.log(
      `  mosquitto config: max_queued_messages ${limits.maxQueuedMessages}, max_inflight_messages ${limits.maxInflightMessages} (from ${limits.source})`,
    );
  }

  const started = Date.now();
  const raw = {};
  const rows = [];
  for (const scenario of scenarios) {
    const sizing = options.fixed || scenario.scale === undefined ? 'fixed counts' : 'counts sized per broker';
    console.log(`\n${scenario.id}: ${JSON.stringify(scenario.params(options.quick))} (${sizing})`);
    const runs = Object.fromEntries(options.brokers.map((name) => [name, []]));
    const skipped = options.brokers.filter((name) => !brokers.includes(name));
    for (const name of skipped) runs[name].push({ ok: false, error: unavailableReason(name) });
    await runScenario(scenario, brokers, options, limits, (name, outcome) => runs[name].push(outcome));
    raw[scenario.id] = { params: scenario.params(options.quick), runs };
    for (const row of scenario.rows) {
      const summaries = Object.fromEntries(
        Object.entries(runs).map(([name, list]) => [name, summarize(list, row.pick)]),
      );
      rows.push({
        label: row.label,
        unit: row.unit,
        perCpuUnit: row.perCpuUnit,
        derived: row.derived === true,
        brokers: summaries,
      });
    }
  }

  console.log(
    `\nResults (medians; b/g = CPU of broker / generator as a share of one core over the measured window)\n`,
  );
  console.log(mainTable(rows));
  console.log('\nWork per broker CPU-second (medians; independent of how much of a core the broker got)\n');
  console.log(efficiencyTable(rows));
  console.log('\nPer repetition\n');
  console.log(detailTable(rows));
  const notes = warnings(rows);
  if (notes.length > 0) {
    console.log('\nWarnings');
    for (const note of notes) console.log(`  - ${note}`);
  }
  console.log(`\nTotal time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify({ options, limits, rows, raw }, null, 2)}\n`);
    console.log(`Raw results written to ${options.json}`);
  }
}

main().then(
  () => killEverythingNow(),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    killEverythingNow();
    process.exitCode = 1;
  },
);
