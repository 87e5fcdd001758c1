// Medians and the printed tables.

export function median(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function formatNumber(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function formatRatio(ours, theirs) {
  if (ours === null || theirs === null || theirs === 0) return '—';
  const ratio = ours / theirs;
  // Below 0.01 (scenario 9: a KDF 1,000 times dearer), two significant digits instead of 0.00x.
  if (ratio > 0 && ratio < 0.01) return `${ratio.toPrecision(2)}x`;
  return `${ratio.toFixed(2)}x`;
}

function formatPercent(fraction) {
  if (fraction === null || !Number.isFinite(fraction)) return '—';
  return `${Math.round(fraction * 100)}%`;
}

/** A count of things (no decimals). */
function formatCount(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return Math.round(value).toLocaleString('en-US');
}

/** A share to one decimal (12.3%): delivered / acknowledged in the flood scenarios. */
function formatShare(fraction) {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toFixed(1)}%`;
}

/** Median summary of one broker's runs of one scenario (or of one derived row). */
export function summarize(runs, pick) {
  const ok = runs.filter((run) => run.ok);
  const values = ok.map((run) => pick(run.result));
  const brokerUtil = ok.map((run) =>
    run.result.brokerCpuSeconds === null ? null : run.result.brokerCpuSeconds / run.result.windowSeconds,
  );
  const generatorUtil = ok.map((run) => run.result.generatorCpuSeconds / run.result.windowSeconds);
  const losses = ok
    .filter((run) => run.result.expected !== undefined && run.result.delivered !== undefined)
    .map((run) => 1 - run.result.delivered / run.result.expected);
  // Work per broker CPU-second: steadier than a rate on a shared machine, where the broker
  // may not get a whole core. Only for quantities that are counts per wall second.
  const perCpu = ok.map((run) => {
    const v = pick(run.result);
    const cpu = run.result.brokerCpuSeconds;
    return cpu && cpu > 0 && typeof v === 'number' ? (v * run.result.seconds) / cpu : null;
  });
  return {
    value: median(values),
    perBrokerCpuSecond: median(perCpu),
    values,
    runs: runs.length,
    failed: runs.length - ok.length,
    failures: runs.filter((run) => !run.ok).map((run) => run.error),
    brokerCpuSeconds: median(ok.map((run) => run.result.brokerCpuSeconds)),
    generatorCpuSeconds: median(ok.map((run) => run.result.generatorCpuSeconds)),
    windowSeconds: median(ok.map((run) => run.result.windowSeconds)),
    brokerUtil: median(brokerUtil),
    generatorUtil: median(generatorUtil),
    maxLoss: losses.length > 0 ? Math.max(...losses) : null,
    ends: [...new Set(ok.map((run) => run.result.end).filter(Boolean))],
    // Not applicable (a 5.0 scenario on a broker without MQTT 5.0): shown as n/a, not as failed.
    na: runs.length > 0 && runs.every((run) => run.na === true),
  };
}

/** `format(value)`, or n/a for a broker the scenario does not apply to. */
function valueCell(summary, value, format) {
  return summary?.na ? 'n/a' : format(value);
}

function cpuCell(summary) {
  if (summary?.na) return 'n/a';
  if (summary === undefined || summary.value === null) return '—';
  return `b ${formatPercent(summary.brokerUtil)} / g ${formatPercent(summary.generatorUtil)}`;
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => `| ${cells.map((cell, i) => String(cell).padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The brokers ours is compared with, in table order (`bare`: the bare Node.js server of issue 10). */
export const PEERS = ['aedes', 'mosquitto', 'bare'];

/**
 * The main table: one row per measured quantity, medians per broker, ratios ours/peer, and
 * CPU utilisation of the broker (b) and the generator (g) over the measured window, as a
 * share of one core. A broker a scenario does not apply to shows n/a (the bare server routes
 * nothing: it runs only the connection scenarios).
 */
export function mainTable(rows) {
  const header = [
    'scenario',
    'unit',
    'ours',
    ...PEERS,
    ...PEERS.map((peer) => `ours/${peer}`),
    'CPU ours (broker/gen)',
    ...PEERS.map((peer) => `CPU ${peer} (broker/gen)`),
  ];
  const body = rows.map((row) => {
    const v = (name) => row.brokers[name]?.value ?? null;
    const format = row.format === 'percent' ? formatShare : formatNumber;
    const cell = (name) => valueCell(row.brokers[name], v(name), format);
    const ratio = (under) =>
      row.noRatio ? '' : valueCell(row.brokers[under], null, () => formatRatio(v('ours'), v(under)));
    return [
      row.label,
      row.unit,
      cell('ours'),
      ...PEERS.map(cell),
      ...PEERS.map(ratio),
      cpuCell(row.brokers.ours),
      ...PEERS.map((peer) => cpuCell(row.brokers[peer])),
    ];
  });
  return table(header, body);
}

/**
 * Messages (or cycles) handled per second of broker CPU: rate x seconds / broker CPU seconds.
 * On a noisy machine the broker may not get a full core; this number does not depend on it.
 */
export function efficiencyTable(rows) {
  const header = ['scenario', 'unit', 'ours', ...PEERS, ...PEERS.map((peer) => `ours/${peer}`)];
  const body = [];
  for (const row of rows) {
    if (row.derived || !row.perCpuUnit) continue;
    const v = (name) => row.brokers[name]?.perBrokerCpuSecond ?? null;
    const cell = (name) => valueCell(row.brokers[name], v(name), formatNumber);
    const ratio = (under) => valueCell(row.brokers[under], null, () => formatRatio(v('ours'), v(under)));
    body.push([row.label, row.perCpuUnit, cell('ours'), ...PEERS.map(cell), ...PEERS.map(ratio)]);
  }
  return table(header, body);
}

/**
 * Whether ours meets a row's target (issue 10), from the medians: `{ kind: 'ratio', over,
 * min | max }` compares ours/over with the bound, `{ kind: 'absolute', min | max }` ours' own
 * median. Returns { target, value, reference, met } (met: true, false, or null when a median
 * is missing), or undefined for a row without a target.
 */
export function evaluateTarget(row) {
  const target = row.target;
  if (target === undefined) return undefined;
  const ours = row.brokers.ours?.value ?? null;
  const bound = target.min !== undefined ? `>= ${target.min}` : `<= ${target.max}`;
  const check = (x) => (target.min !== undefined ? x >= target.min : x <= target.max);
  if (target.kind === 'absolute') {
    const limit = target.min ?? target.max;
    const amount = row.format === 'percent' ? `${limit * 100}%` : `${limit} ${unitOf(row)}`;
    const goal = `ours ${target.min !== undefined ? '>=' : '<='} ${amount}`;
    return { goal, ours, reference: null, value: ours, met: ours === null ? null : check(ours) };
  }
  const reference = row.brokers[target.over]?.value ?? null;
  const value = ours === null || reference === null || reference === 0 ? null : ours / reference;
  return {
    goal: `ours/${target.over} ${bound}x`,
    ours,
    reference,
    value,
    met: value === null ? null : check(value),
  };
}

function unitOf(row) {
  return row.unit.replace(/, lower=better$/, '');
}

/** The targets of issue 10 met or missed, one line per row with a target. */
export function targetsTable(rows) {
  const header = ['scenario', 'goal', 'ours', 'reference', 'value', 'verdict'];
  const body = [];
  for (const row of rows) {
    const t = evaluateTarget(row);
    if (t === undefined) continue;
    const format = row.format === 'percent' ? formatShare : formatNumber;
    const reference = t.reference === null ? '' : `${row.target.over} ${format(t.reference)}`;
    const value = row.target.kind === 'ratio' ? formatRatio(t.ours, t.reference) : format(t.value);
    const verdict = t.met === null ? 'n/a (no median)' : t.met ? 'met' : 'NOT met';
    body.push([row.label, t.goal, format(t.ours), reference, value, verdict]);
  }
  return body.length === 0 ? '' : table(header, body);
}

/** Per broker and scenario: every repetition, CPU seconds, loss and how the runs ended. */
export function detailTable(rows) {
  const header = [
    'scenario',
    'broker',
    'runs (value per rep)',
    'window s',
    'broker CPU s',
    'gen CPU s',
    'max loss',
    'end',
  ];
  const body = [];
  for (const row of rows) {
    if (row.derived) continue;
    for (const [name, s] of Object.entries(row.brokers)) {
      body.push([
        row.label,
        name,
        s.na ? 'n/a' : s.values.map(formatNumber).join(', ') + (s.failed > 0 ? ` (+${s.failed} failed)` : ''),
        formatNumber(s.windowSeconds),
        formatNumber(s.brokerCpuSeconds),
        formatNumber(s.generatorCpuSeconds),
        s.maxLoss === null ? '—' : `${(s.maxLoss * 100).toFixed(2)}%`,
        s.ends.join(','),
      ]);
    }
  }
  return table(header, body);
}

/** The first line of a failure and its `Error ...` line, if any (the full text is in the progress log). */
function firstLines(text) {
  const lines = String(text).split('\n');
  const error = lines.find((line, i) => i > 0 && /^\w*Error\b/.test(line));
  return error === undefined ? lines[0] : `${lines[0]} / ${error}`;
}

/**
 * What a reader should not miss: failed runs, a generator that may have been the bottleneck,
 * losses and runs that did not complete.
 */
export function warnings(rows) {
  const out = [];
  const pct = (fraction) => `${Math.round(fraction * 100)}%`;
  // An n/a reason is said once for the brokers it concerns (the bare server is n/a in most
  // scenarios; scenario 14 may be n/a for all of them).
  const naSaid = new Set();
  for (const row of rows) {
    if (row.derived) continue;
    const isRate = row.unit === 'msgs/s' || row.unit === 'cycles/s';
    const naByReason = new Map();
    for (const [name, s] of Object.entries(row.brokers)) {
      if (!s.na) continue;
      const reason = firstLines(s.failures[0]);
      naByReason.set(reason, [...(naByReason.get(reason) ?? []), name]);
    }
    for (const [reason, names] of naByReason) {
      const key = `${names.join(', ')}: ${reason}`;
      if (!naSaid.has(key)) out.push(`${row.label} / ${key}`);
      naSaid.add(key);
    }
    for (const [name, s] of Object.entries(row.brokers)) {
      const where = `${row.label} / ${name}`;
      if (s.na) continue;
      if (s.failed > 0)
        out.push(`${where}: ${s.failed} of ${s.runs} runs failed: ${firstLines(s.failures[0])}`);
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

/**
 * The table of a scenario with variants (the persistence one): one line per variant with its
 * median rate, work per broker CPU-second, CPU shares and how its runs ended, then the ratios
 * the scenario asks for (e.g. ours/sqlite over ours/memory, with its target).
 */
export function variantTable(row) {
  // Work per CPU-second only for a rate (a derived row's latency or CPU per message is not one).
  const perCpu = row.perCpuUnit !== undefined;
  const header = [
    'broker',
    row.unit,
    ...(perCpu ? [row.perCpuUnit] : []),
    'CPU (broker/gen)',
    'runs (value per rep)',
    'end',
  ];
  const body = row.variants.map((name) => {
    const s = row.brokers[name];
    if (s === undefined) return [name, '—', ...(perCpu ? ['—'] : []), '—', 'not run', ''];
    const failed = s.failed > 0 ? ` (+${s.failed} failed)` : '';
    return [
      name,
      valueCell(s, s.value, formatNumber),
      ...(perCpu ? [valueCell(s, s.perBrokerCpuSecond, formatNumber)] : []),
      cpuCell(s),
      s.na ? 'n/a' : s.values.map(formatNumber).join(', ') + failed,
      s.ends.join(','),
    ];
  });
  const lines = [table(header, body), ''];
  for (const [over, under, target] of row.ratios ?? []) {
    const a = row.brokers[over]?.value ?? null;
    const b = row.brokers[under]?.value ?? null;
    const ratio = formatRatio(a, b);
    let verdict = '';
    if (target !== undefined && a !== null && b !== null && b !== 0) {
      verdict = a / b >= target ? ` (target >= ${target}x: met)` : ` (target >= ${target}x: NOT met)`;
    }
    const aCpu = row.brokers[over]?.perBrokerCpuSecond ?? null;
    const bCpu = row.brokers[under]?.perBrokerCpuSecond ?? null;
    const perCpuRatio = perCpu ? `; per broker CPU-second ${formatRatio(aCpu, bCpu)}` : '';
    lines.push(`  ${over} / ${under}: ${ratio}${verdict}${perCpuRatio}`);
  }
  return lines.join('\n');
}

/**
 * The flood scenarios (7, 8), one line per scenario and broker: medians of acknowledged/s
 * (at the publishers), delivered/s (unique, at the subscriber) and of each run's delivered /
 * acknowledged share; the most duplicates and order violations of any run; then the ratios
 * ours/peer of delivered/s. `floods` is [{ title, runs: { broker: [outcome, ...] } }].
 */
export function floodTable(floods) {
  const header = [
    'scenario',
    'broker',
    'acked/s',
    'delivered/s',
    'delivered/acked',
    'share per rep',
    'acked of sent',
    'dup (max)',
    'out of order (max)',
    'CPU (broker/gen)',
    'end',
  ];
  const body = [];
  const ratioLines = [];
  for (const { title, runs } of floods) {
    const delivered = {};
    for (const [name, list] of Object.entries(runs)) {
      if (list.length > 0 && list.every((run) => run.na === true)) continue;
      const ok = list.filter((run) => run.ok).map((run) => run.result);
      const s = summarize(list, (r) => r.value);
      delivered[name] = s.value;
      const most = (pick) => (ok.length === 0 ? null : Math.max(...ok.map(pick)));
      const acked = median(ok.map((r) => r.acked));
      const sent = median(ok.map((r) => r.expected));
      body.push([
        title,
        name,
        formatNumber(median(ok.map((r) => r.ackedPerSecond))),
        formatNumber(s.value),
        formatShare(median(ok.map((r) => r.share))),
        [...ok.map((r) => formatShare(r.share)), ...(s.failed > 0 ? [`${s.failed} failed`] : [])].join(', '),
        acked === null ? '—' : `${formatCount(acked)} / ${formatCount(sent)}`,
        formatCount(most((r) => r.duplicates)),
        formatCount(most((r) => r.outOfOrder)),
        cpuCell(s),
        s.ends.join(','),
      ]);
    }
    const v = (name) => delivered[name] ?? null;
    ratioLines.push(
      `  ${title}, delivered/s: ours/aedes ${formatRatio(v('ours'), v('aedes'))}, ours/mosquitto ${formatRatio(v('ours'), v('mosquitto'))}`,
    );
  }
  return [table(header, body), '', ...ratioLines].join('\n');
}
