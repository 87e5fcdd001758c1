/**
 * A small, strict parser of the Prometheus text exposition format 0.0.4, for tests: it throws
 * on anything a scraper could choke on or misread (a sample before its TYPE, a family split in
 * two, a repeated series, a bad escape, a negative counter, histogram buckets that are not
 * cumulative or disagree with `_count`), so that a passing test means Prometheus would read it.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name: `x_bucket`, `x_sum`, `x_count` in a histogram `x`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string | undefined;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** A family while parsing: whether its HELP and TYPE came, whether another family followed it. */
interface OpenFamily extends MetricFamily {
  helpSeen: boolean;
  typeSeen: boolean;
  closed: boolean;
}

const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const families = new Map<string, OpenFamily>();
  const series = new Set<string>();
  let current: string | undefined;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!match) return; // an ordinary comment
      const [, keyword, name, rest = ''] = match as unknown as [string, string, string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const family = families.get(name) ?? open(name);
      if (family.closed || family.samples.length > 0)
        throw new Error(`${where}: ${keyword} after the samples of ${name}`);
      if (keyword === 'HELP') {
        if (family.helpSeen) throw new Error(`${where}: second HELP for ${name}`);
        family.helpSeen = true;
        (family as { help: string | undefined }).help = unescapeText(rest, false, where);
      } else {
        if (!TYPES.includes(rest as MetricType)) throw new Error(`${where}: unknown type ${rest}`);
        if (family.typeSeen) throw new Error(`${where}: second TYPE for ${name}`);
        (family as { type: MetricType }).type = rest as MetricType;
        family.typeSeen = true;
      }
      switchTo(name);
      return;
    }
    const sample = parseSample(line, where);
    const familyName = familyOf(sample.name);
    const family = families.get(familyName);
    if (family === undefined || !family.typeSeen)
      throw new Error(`${where}: sample of ${familyName} without a TYPE line before it`);
    if (family.closed) throw new Error(`${where}: ${familyName} continues after another family`);
    switchTo(familyName);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (series.has(key)) throw new Error(`${where}: series repeated`);
    series.add(key);
    if (family.type === 'counter' && !(sample.value >= 0)) throw new Error(`${where}: counter below 0`);
    family.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families as Map<string, MetricFamily>;

  function open(name: string): OpenFamily {
    const family: OpenFamily = {
      name,
      type: 'untyped',
      help: undefined,
      samples: [],
      helpSeen: false,
      typeSeen: false,
      closed: false,
    };
    families.set(name, family);
    return family;
  }
  function switchTo(name: string): void {
    if (current !== undefined && current !== name) families.get(current)!.closed = true;
    current = name;
  }
  /** `x_bucket` belongs to the histogram `x`, when there is one. */
  function familyOf(name: string): string {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (!name.endsWith(suffix)) continue;
      const base = families.get(name.slice(0, -suffix.length));
      if (base && (base.type === 'histogram' || (base.type === 'summary' && suffix !== '_bucket')))
        return base.name;
    }
    return name;
  }
}

function parseSample(line: string, where: string): Sample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) throw new Error(`${where}: not a sample`);
  const name = line.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
  const labels: Record<string, string> = {};
  let at = nameEnd;
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const eq = line.indexOf('=', at);
      if (eq < 0) throw new Error(`${where}: label without =`);
      const labelName = line.slice(at, eq);
      if (!LABEL_NAME.test(labelName)) throw new Error(`${where}: bad label name ${labelName}`);
      if (labelName in labels) throw new Error(`${where}: label ${labelName} repeated`);
      if (line[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`);
      let end = eq + 2;
      while (end < line.length && line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      if (end >= line.length) throw new Error(`${where}: label value not closed`);
      labels[labelName] = unescapeText(line.slice(eq + 2, end), true, where);
      at = end + 1;
      if (line[at] === ',') at++;
      else if (line[at] !== '}') throw new Error(`${where}: expected , or } after a label`);
    }
    at++;
  }
  if (line[at] !== ' ') throw new Error(`${where}: expected a space before the value`);
  const fields = line.slice(at + 1).split(' ');
  if (fields.length > 2 || fields.some((field) => field === ''))
    throw new Error(`${where}: expected a value and an optional timestamp`);
  if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) throw new Error(`${where}: bad timestamp`);
  return { name, labels, value: parseValue(fields[0]!, where) };
}

/**
 * A float as Prometheus reads it (Go's `strconv.ParseFloat`): the specials in any case, since
 * prom-client writes NaN as `Nan` (e.g. the event-loop lag mean before the first sample).
 */
function parseValue(text: string, where: string): number {
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!NUMBER.test(text)) throw new Error(`${where}: bad value ${text}`);
  return Number(text);
}

/** HELP text escapes `\\` and `\n`; label values also `\"`. Any other escape is an error. */
function unescapeText(text: string, isLabel: boolean, where: string): string {
  return text.replace(/\\(.?)/g, (_all, next: string) => {
    if (next === '\\') return '\\';
    if (next === 'n') return '\n';
    if (next === '"' && isLabel) return '"';
    throw new Error(`${where}: bad escape \\${next}`);
  });
}

function checkHistogram(family: MetricFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}: bucket without le`);
      group.buckets.push([parseValue(le, family.name), sample.value]);
    } else if (sample.name === `${family.name}_count`) group.count = sample.value;
    else if (sample.name === `${family.name}_sum`) group.sum = sample.value;
    else throw new Error(`${family.name}: unexpected sample ${sample.name}`);
  }
  for (const [key, group] of groups) {
    const { buckets, count, sum } = group;
    if (count === undefined || sum === undefined) throw new Error(`${family.name}${key}: no _count or _sum`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]![0] > buckets[i - 1]![0])) throw new Error(`${family.name}${key}: le not increasing`);
      if (buckets[i]![1] < buckets[i - 1]![1])
        throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    const last = buckets.at(-1);
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${family.name}${key}: no +Inf bucket`);
    if (last[1] !== count) throw new Error(`${family.name}${key}: +Inf bucket ${last[1]} != _count ${count}`);
  }
}

/**
 * The value of the one sample named `name` whose labels include `labels`; throws when there is
 * none or more than one, so that a test reads exactly the series it means.
 */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const matches = [...families.values()]
    .flatMap((family) => family.samples)
    .filter(
      (sample) =>
        sample.name === name &&
        Object.entries(labels).every(([label, value]) => sample.labels[label] === value),
    );
  if (matches.length !== 1)
    throw new Error(`${matches.length} samples of ${name} ${JSON.stringify(labels)}, expected exactly 1`);
  return matches[0]!.value;
}
