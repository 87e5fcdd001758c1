// The machine-readable summary of a bench run (default apps/broker/bench/results/latest.json):
// per scenario and row, each broker's median and per-repetition values, the ratios ours/peer,
// the targets of issue 10, and the machine the run was on. `--json` still writes every raw
// result besides; this file is the small one to diff or plot.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { evaluateTarget, PEERS } from './report.mjs';

function finite(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function brokerEntry(s) {
  return {
    median: finite(s.value),
    values: s.values.map(finite),
    perBrokerCpuSecond: finite(s.perBrokerCpuSecond),
    brokerCpuShare: finite(s.brokerUtil),
    generatorCpuShare: finite(s.generatorUtil),
    runs: s.runs,
    failed: s.failed,
    na: s.na,
    ...(s.na || s.failed > 0 ? { reason: String(s.failures[0] ?? '').split('\n')[0] } : {}),
    ends: s.ends,
    maxLoss: finite(s.maxLoss),
  };
}

/** ours/peer per peer (plain rows), or the scenario's own pairs (rows of variants). */
function ratiosOf(row) {
  const v = (name) => finite(row.brokers[name]?.value ?? null);
  const ratio = (a, b) => (a === null || b === null || b === 0 ? null : a / b);
  const out = {};
  if (row.noRatio) return out;
  if (row.variants !== undefined) {
    for (const [over, under] of row.ratios ?? []) out[`${over} / ${under}`] = ratio(v(over), v(under));
    return out;
  }
  for (const peer of PEERS)
    if (row.brokers[peer] !== undefined) out[`ours/${peer}`] = ratio(v('ours'), v(peer));
  return out;
}

/**
 * `run`: { argv, machine, options, limits, kdfCosts, startedAt, endedAt, loadStart, loadEnd,
 * scenarios: [{ id, params }], rows, warnings }.
 */
export function buildSummary(run) {
  const scenarios = run.scenarios.map(({ id, params }) => ({
    id,
    params,
    rows: run.rows
      .filter((row) => row.scenario === id)
      .map((row) => {
        const target = evaluateTarget(row);
        return {
          label: row.label,
          unit: row.unit,
          lowerIsBetter: /lower=better/.test(row.unit),
          brokers: Object.fromEntries(Object.entries(row.brokers).map(([name, s]) => [name, brokerEntry(s)])),
          ratios: ratiosOf(row),
          ...(target === undefined
            ? {}
            : { target: { goal: target.goal, value: finite(target.value), met: target.met } }),
        };
      }),
  }));
  const targets = [];
  for (const row of run.rows) {
    const t = evaluateTarget(row);
    if (t === undefined) continue;
    targets.push({
      scenario: row.scenario,
      row: row.label,
      goal: t.goal,
      ours: finite(t.ours),
      reference: finite(t.reference),
      value: finite(t.value),
      met: t.met,
    });
  }
  return {
    schema: 1,
    generatedAt: new Date(run.endedAt).toISOString(),
    command: `node apps/broker/bench/run.mjs ${run.argv.join(' ')}`.trim(),
    durationSeconds: Math.round((run.endedAt - run.startedAt) / 1000),
    machine: { ...run.machine, loadAverageAtStart: run.loadStart, loadAverageAtEnd: run.loadEnd },
    options: {
      reps: run.options.reps,
      quick: run.options.quick,
      fixed: run.options.fixed,
      only: run.options.only,
      brokers: run.options.brokers,
    },
    mosquittoLimits: run.limits ?? null,
    kdfCosts: run.kdfCosts ?? null,
    scenarios,
    targets,
    warnings: run.warnings,
  };
}

export function writeSummary(file, summary) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
}
