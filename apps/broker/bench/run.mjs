#!/usr/bin/env node
// `pnpm bench` for apps/broker: our broker side by side with Aedes, Mosquitto and the bare
// Node.js server (bare-server.mjs, where it applies), same load, one run. See bench/README.md.
// Usage:
//   node apps/broker/bench/run.mjs [--quick] [--only fan-in,qos1|issue-10] [--brokers ours,aedes]
//                                  [--reps 5] [--fixed] [--json results.json]
//                                  [--summary results/latest.json] [--memory-large 50000]
//                                  [--conns-per-generator n]
//                                  [--ours-cli /other/checkout/apps/broker/dist/cli.js]
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BROKER_NAMES,
  DEFAULT_OURS_CLI,
  killAllBrokersNow,
  ourLimits,
  ourNodeArgs,
  startBroker,
  unavailableReason,
  useOursCli,
} from './lib/brokers.mjs';
import { probeMqtt5 } from './lib/clients.mjs';
import { startOursGroup } from './lib/cluster.mjs';
import { machineInfo } from './lib/environment.mjs';
import { killHoldersNow, measureIdleMemory } from './lib/idle-memory.mjs';
import { describeKdfCosts, measureKdfCosts } from './lib/kdf-cost.mjs';
import {
  detailTable,
  efficiencyTable,
  floodTable,
  mainTable,
  summarize,
  targetsTable,
  variantTable,
  warnings,
} from './lib/report.mjs';
import {
  idleMemoryScenario,
  LARGE_IDLE_CONNECTIONS,
  SCENARIO_ALIASES,
  SCENARIO_GROUPS,
  SCENARIOS,
  TARGET_SECONDS,
} from './lib/scenario-table.mjs';
import { buildSummary, writeSummary } from './lib/summary.mjs';

const GENERATOR = fileURLToPath(new URL('./lib/generator.mjs', import.meta.url));
/** Extra time a generator gets beyond its scenario timeout before it is killed. */
const GENERATOR_GRACE_MS = 30_000;
const DEFAULT_SUMMARY = fileURLToPath(new URL('./results/latest.json', import.meta.url));
/** Why the bare server sits out a scenario (it has no `bare: true` in lib/scenario-table.mjs). */
const BARE_NA = 'n/a: the bare server answers CONNECT and PINGREQ only; it routes nothing';

function usage() {
  return `usage: node apps/broker/bench/run.mjs [options]
  --quick              1 repetition and smaller counts (a smoke run, ~5 min)
  --only <list>        scenarios to run, comma-separated: ${SCENARIOS.map((s) => s.id).join(', ')} (or 1-${Object.keys(SCENARIO_ALIASES).length});
                       the default is every scenario but the ${SCENARIOS.filter((s) => s.optIn).length} cluster ones (they need NATS: --only cluster);
                       a group: ${Object.keys(SCENARIO_GROUPS).join(', ')} (${Object.values(SCENARIO_GROUPS)
                         .map((ids) => ids.join(','))
                         .join('; ')})
  --brokers <list>     brokers to run, comma-separated: ${BROKER_NAMES.join(', ')} (default: all; bare runs
                       only the connection scenarios: 4, 5, 14, 15, 16)
  --ours-cli <path>    run "ours" from this build of apps/broker/dist/cli.js (e.g. a baseline work
                       tree's), with this checkout's bench (default: ${DEFAULT_OURS_CLI})
  --reps <n>           repetitions per scenario and broker (default 5, memory at most 3; --quick: 1)
  --fixed              the same message counts for every broker, instead of counts sized from
                       each broker's warm-up so that every measured run lasts about ${TARGET_SECONDS.full} s
  --json <file>        also write every run's raw result to <file>
  --summary <file>     where the summary (medians, ratios, targets, machine) goes (default
                       ${DEFAULT_SUMMARY})
  --memory-large <n>   connections of scenario 14, memory-50k (default ${LARGE_IDLE_CONNECTIONS})
  --conns-per-generator <n>
                       at most n idle connections per generator process in 5 and 14 (default: the
                       file descriptor limit less 100)
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
      summary: { type: 'string' },
      'memory-large': { type: 'string' },
      'conns-per-generator': { type: 'string' },
      'ours-cli': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const list = (text) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const only = values.only
    ? list(values.only).flatMap((id) => SCENARIO_GROUPS[id] ?? [SCENARIO_ALIASES[id] ?? id])
    : SCENARIOS.filter((s) => !s.optIn).map((s) => s.id);
  for (const id of only) {
    if (!SCENARIOS.some((s) => s.id === id)) throw new Error(`--only ${id}: unknown scenario\n${usage()}`);
  }
  const brokers = values.brokers ? list(values.brokers) : BROKER_NAMES;
  for (const name of brokers) {
    if (!BROKER_NAMES.includes(name)) throw new Error(`--brokers ${name}: unknown broker\n${usage()}`);
  }
  const reps = values.reps === undefined ? (values.quick ? 1 : 5) : Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1 || reps > 20) throw new Error(`--reps ${values.reps}: give 1..20`);
  const positive = (flag) => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} ${text}: give a positive integer`);
    return n;
  };
  return {
    quick: values.quick,
    fixed: values.fixed,
    only,
    brokers,
    reps,
    json: values.json,
    summary: values.summary ?? DEFAULT_SUMMARY,
    memoryLarge: positive('memory-large'),
    connsPerGenerator: positive('conns-per-generator'),
    oursCli: values['ours-cli'],
    help: values.help,
  };
}

/** Set from the options in main(): what runOnBroker needs beyond a scenario's params. */
const settings = { connsPerGenerator: undefined };
let idleRuns = 0;

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
  killHoldersNow();
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
    child.send({
      scenario: scenario.fn,
      port: broker.port,
      brokerPid: broker.pid,
      broker: broker.name,
      params,
      // The cluster scenarios' entrants (lib/cluster.mjs): where clients go, whose CPU counts.
      topology: broker.topology,
    });
  });
}

/**
 * runGenerator, then whether the broker survived: a run that did not complete may have ended
 * because the broker died (its clients were disconnected), so the exit event gets a moment to
 * arrive. A run during which the broker exited is a failed run, with the broker's last words.
 */
async function runOnBroker(scenario, broker, params) {
  const outcome =
    scenario.fn === 'idleMemory'
      ? await runIdleMemory(broker, params)
      : await runGenerator(scenario, broker, params);
  const end = outcome.ok ? outcome.result.end : undefined;
  if (end !== undefined && end !== 'complete' && broker.isAlive)
    await new Promise((resolve) => setTimeout(resolve, 200));
  if (broker.isAlive) return outcome;
  const what = outcome.ok ? `the run ended: ${end}` : outcome.error;
  return {
    ok: false,
    error: `broker exited (${broker.exitDescription()}): ${what}\n${broker.stderrTail?.() ?? ''}`,
    // What the generator saw before the broker died, for --json; no table counts it.
    partial: outcome.ok ? outcome.result : undefined,
  };
}

function describeRun(result, unitPick) {
  const util = (cpu) => (cpu === null ? '?' : `${Math.round((cpu / result.windowSeconds) * 100)}%`);
  const value = unitPick(result);
  const parts = [`${Math.round(value).toLocaleString('en-US')} ${result.unit}`];
  if (result.expected !== undefined && result.delivered !== undefined)
    parts.push(`${result.delivered}/${result.expected} delivered`);
  if (result.ackedPerSecond !== undefined) {
    // Flood scenarios: acks at the publishers, the delivered share of them, what went wrong.
    const share = result.share === null ? '?' : `${(result.share * 100).toFixed(1)}%`;
    parts.push(
      `${result.acked} acked (${Math.round(result.ackedPerSecond).toLocaleString('en-US')} acks/s), ${share} of acked delivered, ${result.duplicates} duplicates, ${result.outOfOrder} out of order`,
    );
  }
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
  if (result.natsCpuSeconds !== undefined)
    parts.push(`NATS CPU ${util(result.natsCpuSeconds)}, PostgreSQL CPU ${util(result.postgresCpuSeconds)}`);
  if (result.end && result.end !== 'complete') parts.push(`ended: ${result.end}`);
  return parts.join(', ');
}

/**
 * Scenarios 5 and 14: run from here, with as many generator processes as the connections need
 * (lib/idle-memory.mjs); the same { ok, result | error } as runGenerator.
 */
async function runIdleMemory(broker, params) {
  try {
    const result = await measureIdleMemory(broker, params, {
      perHolder: settings.connsPerGenerator,
      serial: ++idleRuns,
    });
    return { ok: true, result };
  } catch (error) {
    // The broker's last words, if it said why it refused the connections.
    const said = broker.stderrTail?.() ?? '';
    const text = error instanceof Error ? error.message : String(error);
    return { ok: false, error: said === '' ? text : `${text}\n${said}` };
  }
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
  let warm = await runOnBroker(scenario, broker, scenario.params(true));
  if (warm.ok && !options.fixed && scenario.scale !== undefined) {
    const second = await runOnBroker(
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

/**
 * Starts one entrant of a scenario: a broker, with the options of its variant, or with
 * `options.group` ours as a single node, a cluster of nodes or a process with workers
 * (lib/cluster.mjs).
 */
async function startEntrant(entrant, limits) {
  const broker =
    entrant.options?.group === undefined
      ? await startBroker(entrant.broker, { limits, ...entrant.options })
      : await startOursGroup({ limits, ...entrant.options.group });
  broker.name = entrant.name;
  return broker;
}

/**
 * Who runs a scenario: every available broker (with the scenario's `brokerOptions` for it, if
 * any), or, for a scenario with `variants` (ours once per store; with and without ACL rules),
 * those of its variants whose broker is available.
 */
function entrantsOf(scenario, brokers) {
  if (scenario.variants === undefined) {
    return brokers
      .filter((name) => name !== 'bare' || scenario.bare === true)
      .map((name) => ({ name, broker: name, options: scenario.brokerOptions?.[name] ?? {} }));
  }
  return scenario.variants.filter((variant) => brokers.includes(variant.broker));
}

/**
 * A 5.0 scenario runs on the brokers that accept a 5.0 CONNECT (asked once, before the
 * warm-ups); any other is stopped and recorded as n/a with what it answered (Aedes 1.x).
 */
async function dropBrokersWithoutMqtt5(scenario, running, record) {
  for (const [name, broker] of running) {
    const answer = await probeMqtt5(broker.port);
    if (answer === undefined) continue;
    running.delete(name);
    await broker.stop();
    record(name, { ok: false, na: true, error: `n/a: no MQTT 5.0 (${answer})` });
    console.log(`  [${scenario.id}] ${name}: n/a, no MQTT 5.0: ${answer}`);
  }
}

async function runScenario(scenario, entrants, options, limits, record) {
  const reps = Math.min(options.reps, scenario.maxReps ?? options.reps);
  const runOne = async (broker, rep, params) => {
    const outcome = await runOnBroker(scenario, broker, params);
    outcome.params = params;
    record(broker.name, outcome);
    const text = outcome.ok ? describeRun(outcome.result, scenario.rows[0].pick) : `FAILED: ${outcome.error}`;
    console.log(`  [${scenario.id}] rep ${rep + 1}/${reps} ${broker.name}: ${text}`);
  };

  if (scenario.freshBrokerPerRun) {
    const params = scenario.params(options.quick);
    for (let rep = 0; rep < reps; rep++) {
      for (const entrant of rotate(entrants, rep)) {
        const name = entrant.name;
        let broker;
        try {
          broker = await startEntrant(entrant, limits);
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
  /**
   * A broker that crashed in an earlier run (its failure is recorded there) gets a new process
   * and one --quick warm-up run, so one crash does not void the repetitions left. If the
   * warm-up kills it too, it gets one more process, measured cold.
   */
  const restart = async (name) => {
    const entrant = entrants.find((e) => e.name === name);
    await running.get(name).stop();
    let broker = await startEntrant(entrant, limits);
    running.set(name, broker);
    await runOnBroker(scenario, broker, scenario.params(true));
    if (broker.isAlive) return broker;
    await broker.stop();
    broker = await startEntrant(entrant, limits);
    broker.isCold = true;
    running.set(name, broker);
    return broker;
  };
  for (const entrant of entrants) {
    try {
      running.set(entrant.name, await startEntrant(entrant, limits));
    } catch (error) {
      // `na`: this build cannot run the entrant at all (lib/cluster.mjs: no --workers yet).
      if (error.na) record(entrant.name, { ok: false, na: true, error: error.message });
      else record(entrant.name, { ok: false, error: `cannot start: ${error.message}` });
      console.log(
        `  [${scenario.id}] ${entrant.name}: SKIPPED, ${error.na ? '' : 'cannot start: '}${error.message}`,
      );
    }
  }
  if (scenario.protocolVersion === 5) await dropBrokersWithoutMqtt5(scenario, running, record);
  try {
    const paramsOf = new Map();
    for (const broker of running.values()) paramsOf.set(broker.name, await warmUp(scenario, broker, options));
    for (let rep = 0; rep < reps; rep++) {
      for (const name of rotate([...running.keys()], rep)) {
        let broker = running.get(name);
        if (!broker.isAlive) {
          const exited = broker.exitDescription();
          try {
            broker = await restart(name);
          } catch (error) {
            record(name, { ok: false, error: `broker exited (${exited}), restart failed: ${error.message}` });
            console.log(`  [${scenario.id}] rep ${rep + 1} ${name}: SKIPPED, broker exited (${exited})`);
            continue;
          }
          console.log(
            `  [${scenario.id}] rep ${rep + 1} ${name}: restarted (it had exited: ${exited})${broker.isCold ? ', cold: its warm-up run killed it again' : ''}`,
          );
        }
        await runOne(broker, rep, paramsOf.get(name));
      }
    }
  } finally {
    await Promise.all([...running.values()].map((broker) => broker.stop()));
  }
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(usage());
    return;
  }
  if (options.memoryLarge !== undefined) {
    const at = SCENARIOS.findIndex((s) => s.id === 'memory-50k');
    SCENARIOS[at] = idleMemoryScenario('memory-50k', '14', options.memoryLarge, options.memoryLarge);
  }
  settings.connsPerGenerator = options.connsPerGenerator;
  const scenarios = SCENARIOS.filter((s) => options.only.includes(s.id));

  const oursCli = useOursCli(options.oursCli ?? DEFAULT_OURS_CLI);
  const machine = machineInfo(options.brokers.includes('ours') ? oursCli : undefined);
  const loadStart = loadavg();

  console.log('mqtt-adapt broker bench');
  console.log(
    `  node ${machine.node}, ${machine.cpuModel}, ${machine.cores} cores, load average ${loadStart
      .map((l) => l.toFixed(2))
      .join(' ')}, commit ${machine.commit}`,
  );
  console.log(
    `  aedes ${machine.aedes}, mosquitto ${machine.mosquitto}, open files ${machine.fdLimit.hard} (hard limit), ephemeral ports ${machine.ephemeralPorts}`,
  );
  if (options.brokers.includes('ours')) {
    console.log(`  ours: ${oursCli} (${machine.oursWorkTree})`);
    if (ourNodeArgs().length > 0)
      console.log(`  ours runs with node ${ourNodeArgs().join(' ')} (BENCH_OURS_NODE_ARGS)`);
  }
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

  // Scenario 9: what one password hash costs here with each broker's parameters, measured while
  // nothing else of the bench runs, so its ratios can be read against it.
  let kdfCosts;
  if (scenarios.some((s) => s.kdfCost)) {
    kdfCosts = measureKdfCosts(20);
    console.log('  KDF cost, one hash at a time (node:crypto, this machine, median of 20):');
    for (const line of describeKdfCosts(kdfCosts)) console.log(`  ${line}`);
  }

  const started = Date.now();
  const raw = {};
  const rows = [];
  const floods = [];
  for (const scenario of scenarios) {
    const sizing = options.fixed || scenario.scale === undefined ? 'fixed counts' : 'counts sized per broker';
    // The bench user's password is not worth hiding, but it is not worth printing either.
    const shown = JSON.stringify(scenario.params(options.quick), (key, value) =>
      key === 'password' ? '***' : value,
    );
    console.log(`\n${scenario.id}: ${shown} (${sizing})`);
    const wanted = entrantsOf(scenario, options.brokers);
    const runs = Object.fromEntries(wanted.map((entrant) => [entrant.name, []]));
    for (const entrant of wanted) {
      if (!brokers.includes(entrant.broker))
        runs[entrant.name].push({ ok: false, error: unavailableReason(entrant.broker) });
    }
    if (scenario.variants === undefined && scenario.bare !== true && options.brokers.includes('bare'))
      runs.bare = [{ ok: false, na: true, error: BARE_NA }];
    // A scenario this machine cannot run (scenario 14 past the file descriptor limit): n/a.
    const blocker = scenario.requires?.(scenario.params(options.quick));
    if (blocker !== undefined) {
      console.log(`  [${scenario.id}] ${blocker}`);
      for (const entrant of wanted) runs[entrant.name] = [{ ok: false, na: true, error: blocker }];
    } else {
      await runScenario(scenario, entrantsOf(scenario, brokers), options, limits, (name, outcome) =>
        runs[name].push(outcome),
      );
    }
    raw[scenario.id] = { params: scenario.params(options.quick), runs };
    for (const row of scenario.rows) {
      const summaries = Object.fromEntries(
        Object.entries(runs).map(([name, list]) => [name, summarize(list, row.pick)]),
      );
      rows.push({
        scenario: scenario.id,
        label: row.label,
        target: row.target,
        unit: row.unit,
        perCpuUnit: row.perCpuUnit,
        derived: row.derived === true,
        format: row.format,
        noRatio: row.noRatio === true,
        brokers: summaries,
        // Rows of a scenario with variants get a table of their own (variantTable).
        variants: scenario.variants?.map((variant) => variant.name),
        ratios: scenario.ratios,
      });
    }
    if (scenario.flood) floods.push({ title: scenario.title, runs });
  }

  const plainRows = rows.filter((row) => row.variants === undefined);
  if (plainRows.length > 0) {
    console.log(
      `\nResults (medians; b/g = CPU of broker / generator as a share of one core over the measured window)\n`,
    );
    console.log(mainTable(plainRows));
    console.log('\nWork per broker CPU-second (medians; independent of how much of a core the broker got)\n');
    console.log(efficiencyTable(plainRows));
  }
  if (kdfCosts !== undefined) {
    console.log(
      '\nScenario 9 KDF: ours checks a scrypt hash per CONNECT, Aedes and Mosquitto a PBKDF2 one (one hash, median of 20):\n',
    );
    for (const line of describeKdfCosts(kdfCosts)) console.log(line);
  }
  if (floods.length > 0) {
    console.log(
      '\nQoS 1/2 floods (medians; acked = PUBACK / PUBREC at the publishers, delivered = unique messages at the subscriber)\n',
    );
    console.log(floodTable(floods));
  }
  for (const row of rows.filter((r) => r.variants !== undefined)) {
    console.log(`\n${row.label}: medians; CPU as in the main table\n`);
    console.log(variantTable(row));
  }
  const targets = targetsTable(rows);
  if (targets !== '') {
    console.log('\nTargets of issue 10 (from the medians above; ours/bare, ours/mosquitto or ours alone)\n');
    console.log(targets);
  }
  console.log('\nPer repetition\n');
  console.log(detailTable(rows));
  const notes = warnings(rows);
  if (notes.length > 0) {
    console.log('\nWarnings');
    for (const note of notes) console.log(`  - ${note}`);
  }
  const ended = Date.now();
  console.log(`\nTotal time ${((ended - started) / 1000).toFixed(0)} s`);
  const summary = buildSummary({
    argv: process.argv.slice(2),
    machine,
    options,
    limits,
    kdfCosts,
    startedAt: started,
    endedAt: ended,
    loadStart,
    loadEnd: loadavg(),
    scenarios: scenarios.map((scenario) => ({ id: scenario.id, params: raw[scenario.id].params })),
    rows,
    warnings: notes,
  });
  writeSummary(options.summary, summary);
  console.log(`Summary written to ${options.summary}`);
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify({ options, limits, kdfCosts, rows, raw }, null, 2)}\n`);
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
