// Codec throughput, side by side with mqtt-packet, in one process.
// Run: npx tsup && node --expose-gc bench/run.mjs   (from packages/codec; see bench/README.md)
// Options (env): BENCH_SAMPLES (default 15, min 7), BENCH_SAMPLE_MS (default 40), BENCH_FILTER (regexp),
// BENCH_CLOCK (cpu, the default, or wall).
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt-packet';
import { Decoder, encode } from '../dist/index.js';

const SAMPLES = Math.max(7, Number(process.env.BENCH_SAMPLES ?? 15));
const SAMPLE_MS = Number(process.env.BENCH_SAMPLE_MS ?? 40);
const FILTER = process.env.BENCH_FILTER ? new RegExp(process.env.BENCH_FILTER) : undefined;
const PACKETS_PER_STREAM = 1000;
const CHUNK_BYTES = 64 * 1024;

// On a shared machine the process is often descheduled: by default a sample is timed in CPU
// time of this process (user + system, GC threads included), which waiting does not inflate.
const CLOCK = process.env.BENCH_CLOCK === 'wall' ? 'wall' : 'cpu';
const now =
  CLOCK === 'wall'
    ? () => performance.now() / 1000
    : () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1e6;
      };

const gc = globalThis.gc ?? (() => {});
if (globalThis.gc === undefined) console.warn('run with node --expose-gc for steadier numbers');

// ---------------------------------------------------------------------------------------
// Packets: ours and the equivalent mqtt-packet object.

function payloadOf(size) {
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
  return payload;
}

function publish(version, size) {
  const payload = payloadOf(size);
  const v5 = version === 5;
  return {
    ours: {
      type: 3,
      dup: false,
      qos: 1,
      retain: false,
      topicName: 'sensors/device-0042/temperature',
      packetId: 4242,
      payload,
      properties: v5 ? { messageExpiryInterval: 3600, contentType: 'application/json' } : undefined,
    },
    theirs: {
      cmd: 'publish',
      topic: 'sensors/device-0042/temperature',
      payload,
      qos: 1,
      dup: false,
      retain: false,
      messageId: 4242,
      properties: v5 ? { messageExpiryInterval: 3600, contentType: 'application/json' } : undefined,
    },
  };
}

function subscribe() {
  const filters = ['sensors/+/temperature', 'sensors/+/humidity', 'commands/device-0042/#', 'alerts'];
  return {
    ours: {
      type: 8,
      packetId: 7,
      subscriptions: filters.map((topicFilter, i) => ({
        topicFilter,
        qos: i % 3,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      })),
      properties: undefined,
    },
    theirs: {
      cmd: 'subscribe',
      messageId: 7,
      subscriptions: filters.map((topic, i) => ({ topic, qos: i % 3, nl: false, rap: false, rh: 0 })),
    },
  };
}

function connect(version) {
  const will = { topic: 'devices/device-0042/status', payload: Buffer.from('offline'), qos: 1, retain: true };
  return {
    ours: {
      type: 1,
      protocolName: 'MQTT',
      protocolVersion: version,
      cleanStart: true,
      keepaliveSeconds: 60,
      clientId: 'device-0042',
      will: {
        topicName: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        properties: undefined,
      },
      username: 'device-0042',
      password: Buffer.from('s3cr3t-t0k3n'),
      properties: undefined,
    },
    theirs: {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: version,
      clean: true,
      keepalive: 60,
      clientId: 'device-0042',
      will,
      username: 'device-0042',
      password: Buffer.from('s3cr3t-t0k3n'),
    },
  };
}

const SCENARIOS = [4, 5].flatMap((version) => [
  { name: `PUBLISH 64 B`, version, ...publish(version, 64) },
  { name: `PUBLISH 16 KB`, version, ...publish(version, 16 * 1024) },
  { name: `SUBSCRIBE 4 filters`, version, ...subscribe() },
  { name: `CONNECT will+creds`, version, ...connect(version) },
]);

// ---------------------------------------------------------------------------------------
// Timing

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
}
const median = (values) => quantile(values, 0.5);

/** How many repetitions of `fn` take about SAMPLE_MS. */
function calibrate(fn) {
  let reps = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const elapsed = performance.now() - start;
    if (elapsed >= SAMPLE_MS / 4) return Math.max(1, Math.round((reps * SAMPLE_MS) / elapsed));
    reps *= 4;
  }
}

/**
 * Times `a` and `b` (each returns how many packets it handled) in back-to-back pairs of
 * samples, alternating which goes first, so that a noisy neighbour hurts both alike. Returns
 * the median packets/s of each and the median (and quartiles) of the per-pair ratios a/b,
 * which cancels slow drifts in machine load better than a ratio of medians.
 */
function compare(a, b) {
  for (let i = 0; i < 3; i++) {
    a();
    b();
  }
  const repsA = calibrate(a);
  const repsB = calibrate(b);
  const sample = (fn, reps) => {
    gc();
    let packets = 0;
    const start = now();
    for (let i = 0; i < reps; i++) packets += fn();
    return packets / (now() - start);
  };
  const ratesA = [];
  const ratesB = [];
  const ratios = [];
  for (let s = 0; s < SAMPLES; s++) {
    let rateA;
    let rateB;
    if (s % 2 === 0) {
      rateA = sample(a, repsA);
      rateB = sample(b, repsB);
    } else {
      rateB = sample(b, repsB);
      rateA = sample(a, repsA);
    }
    ratesA.push(rateA);
    ratesB.push(rateB);
    ratios.push(rateA / rateB);
  }
  return {
    ours: median(ratesA),
    theirs: median(ratesB),
    ratio: median(ratios),
    ratioLow: quantile(ratios, 0.25),
    ratioHigh: quantile(ratios, 0.75),
  };
}

// ---------------------------------------------------------------------------------------
// Workloads

function encodeOurs(packet, version) {
  let bytes = 0;
  return () => {
    for (let i = 0; i < 100; i++) bytes += encode(packet, version).length;
    if (bytes < 0) throw new Error('unreachable');
    return 100;
  };
}

function encodeTheirs(object, version) {
  const opts = { protocolVersion: version };
  let bytes = 0;
  return () => {
    for (let i = 0; i < 100; i++) bytes += mqtt.generate(object, opts).length;
    if (bytes < 0) throw new Error('unreachable');
    return 100;
  };
}

function chunksOf(stream, chunked) {
  if (!chunked) return [stream];
  const chunks = [];
  for (let i = 0; i < stream.length; i += CHUNK_BYTES) chunks.push(stream.subarray(i, i + CHUNK_BYTES));
  return chunks;
}

function decodeOurs(chunks, version) {
  return () => {
    let count = 0;
    const decoder = new Decoder({
      protocolVersion: version,
      maxPacketSize: 1 << 24,
      onPacket: () => {
        count++;
      },
      onError: (error) => {
        throw error;
      },
    });
    for (const chunk of chunks) decoder.feed(chunk);
    if (count !== PACKETS_PER_STREAM) throw new Error(`ours decoded ${count} packets`);
    return count;
  };
}

function decodeTheirs(chunks, version) {
  return () => {
    let count = 0;
    const parser = mqtt.parser({ protocolVersion: version });
    parser.on('packet', () => {
      count++;
    });
    parser.on('error', (error) => {
      throw error;
    });
    for (const chunk of chunks) parser.parse(chunk);
    if (count !== PACKETS_PER_STREAM) throw new Error(`mqtt-packet decoded ${count} packets`);
    return count;
  };
}

// ---------------------------------------------------------------------------------------
// Run

const rows = [];
const began = performance.now();
for (const scenario of SCENARIOS) {
  const { version, ours, theirs } = scenario;
  const label = `${scenario.name} v${version === 5 ? '5.0' : '3.1.1'}`;
  const oursBytes = encode(ours, version);
  const theirBytes = mqtt.generate(theirs, { protocolVersion: version });
  if (oursBytes.length !== theirBytes.length) {
    console.warn(`${label}: ours ${oursBytes.length} B vs mqtt-packet ${theirBytes.length} B per packet`);
  }
  const stream = Buffer.concat(Array.from({ length: PACKETS_PER_STREAM }, () => oursBytes));
  const workloads = [
    ['encode', encodeOurs(ours, version), encodeTheirs(theirs, version)],
    [
      'decode 1 buffer',
      decodeOurs(chunksOf(stream, false), version),
      decodeTheirs(chunksOf(stream, false), version),
    ],
    [
      'decode 64 KiB chunks',
      decodeOurs(chunksOf(stream, true), version),
      decodeTheirs(chunksOf(stream, true), version),
    ],
  ];
  for (const [op, a, b] of workloads) {
    const name = `${label} ${op}`;
    if (FILTER !== undefined && !FILTER.test(name)) continue;
    const result = compare(a, b);
    rows.push({
      name,
      packet: scenario.name,
      op,
      oursRate: result.ours,
      oursMBps: (result.ours * oursBytes.length) / 1e6,
      theirRate: result.theirs,
      ratio: result.ratio,
      ratioLow: result.ratioLow,
      ratioHigh: result.ratioHigh,
    });
    process.stderr.write('.');
  }
}
process.stderr.write('\n');

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const header = [
  'scenario',
  'ours ops/s',
  'ours MB/s',
  'mqtt-packet ops/s',
  'ours/mqtt-packet',
  'ratio p25-p75',
];
const table = rows.map((r) => [
  r.name,
  fmt(r.oursRate),
  r.oursMBps.toFixed(1),
  fmt(r.theirRate),
  `${r.ratio.toFixed(2)}x`,
  `${r.ratioLow.toFixed(2)}-${r.ratioHigh.toFixed(2)}`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
console.log(
  `\nnode ${process.version}, ${SAMPLES} sample pairs of ~${SAMPLE_MS} ms each, ${CLOCK} time; ops/s are medians, ` +
    `the ratio is the median of per-pair ratios; decode = ${PACKETS_PER_STREAM} packets per stream; ` +
    `MB = 10^6 bytes of our encoding`,
);
console.log(line(header));
console.log(
  `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
);
for (const row of table) console.log(line(row));

const TARGETS = [
  {
    name: 'PUBLISH decode ≥2x',
    min: 2,
    rows: rows.filter((r) => r.packet.startsWith('PUBLISH') && r.op.startsWith('decode')),
  },
];
console.log('');
for (const target of TARGETS) {
  if (target.rows.length === 0) continue;
  const worst = target.rows.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  const status = worst.ratio >= target.min ? 'met' : 'not met';
  console.log(`${target.name}: ${status} (${worst.ratio.toFixed(2)}, worst: ${worst.name})`);
}
console.log(`total ${((performance.now() - began) / 1000).toFixed(1)} s`);
