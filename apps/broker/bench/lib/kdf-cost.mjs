// What one password hash costs on this machine, with the parameters of each broker in scenario
// 9 (cycles-auth), so its ratios can be read fairly: ours stores scrypt N=2^15, r=8, p=1 (about
// 32 MiB per hash); Mosquitto 2.0's `mosquitto_passwd` writes PBKDF2-HMAC-SHA512 with 101
// iterations (the bench's Aedes checks the same file). One hash at a time, on this thread
// (node:crypto's sync calls), median of `samples`.
// Standalone: node apps/broker/bench/lib/kdf-cost.mjs [samples]
import { pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median } from './report.mjs';

export const KDFS = [
  {
    name: 'ours: scrypt N=2^15, r=8, p=1 (32 MiB), 16-byte salt, 32-byte key',
    short: 'scrypt 2^15,8,1',
    hash: (password, salt) =>
      scryptSync(password, salt.subarray(0, 16), 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 2 ** 20 }),
  },
  {
    name: 'mosquitto_passwd 2.0 default: PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt, 64-byte key',
    short: 'PBKDF2-SHA512 x101',
    hash: (password, salt) => pbkdf2Sync(password, salt.subarray(0, 12), 101, 64, 'sha512'),
  },
];

/** Median wall time of one hash per KDF, in ms: [{ name, short, medianMs, minMs, maxMs, samples }]. */
export function measureKdfCosts(samples = 20) {
  const password = Buffer.from('bench-password-9f2c');
  return KDFS.map((kdf) => {
    kdf.hash(password, randomBytes(16)); // Warm-up: first-call allocation, not counted.
    const times = [];
    for (let i = 0; i < samples; i++) {
      const salt = randomBytes(16);
      const t0 = performance.now();
      kdf.hash(password, salt);
      times.push(performance.now() - t0);
    }
    return {
      name: kdf.name,
      short: kdf.short,
      medianMs: median(times),
      minMs: Math.min(...times),
      maxMs: Math.max(...times),
      samples,
    };
  });
}

/** The lines run.mjs prints: each KDF's median and the ratio of the two. */
export function describeKdfCosts(costs) {
  const lines = costs.map(
    (c) =>
      `  ${c.name}: median ${formatMs(c.medianMs)} per hash (min ${formatMs(c.minMs)}, max ${formatMs(c.maxMs)}, ${c.samples} hashes)`,
  );
  if (costs.length === 2 && costs[1].medianMs > 0) {
    lines.push(
      `  one hash of ours costs ${Math.round(costs[0].medianMs / costs[1].medianMs).toLocaleString('en-US')}x one of Mosquitto's`,
    );
  }
  return lines;
}

function formatMs(ms) {
  return ms >= 10 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(0)} µs`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const samples = Number(process.argv[2] ?? 20);
  console.log(`KDF cost, one hash at a time, median of ${samples} (node ${process.version}):`);
  for (const line of describeKdfCosts(measureKdfCosts(samples))) console.log(line);
}
