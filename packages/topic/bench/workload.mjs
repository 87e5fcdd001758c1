// The benchmark workload: IoT topics `{site}/{device}/{metric}` and a fixed, seeded mix of
// filters over them, so every run and every implementation sees the same data.

export const SITES = 100;
export const DEVICES_PER_SITE = 1000;
export const METRICS = [
  'temperature',
  'humidity',
  'pressure',
  'battery',
  'rssi',
  'status',
  'voltage',
  'current',
  'power',
  'energy',
];

/** mulberry32: a small seeded PRNG. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n, width) => String(n).padStart(width, '0');
const site = (s) => `site-${pad(s, 3)}`;
const device = (d) => `dev-${pad(d, 4)}`;

/**
 * Filter shapes and their share of the subscriptions. Device-scoped filters dominate (devices
 * and apps following one device); site- and fleet-wide wildcards are the backend services.
 */
const SHAPES = [
  [0.5, (r) => `${site(r.s)}/${device(r.d)}/${r.m}`],
  [0.25, (r) => `${site(r.s)}/${device(r.d)}/+`],
  [0.15, (r) => `${site(r.s)}/${device(r.d)}/#`],
  [0.07, (r) => `${site(r.s)}/+/${r.m}`],
  [0.029, (r) => `${site(r.s)}/#`],
  [0.001, (r) => `+/+/${r.m}`],
];

/** `count` subscriptions `{ filter, clientId }`, clients holding 4 subscriptions each. */
export function makeSubscriptions(count, seed = 1) {
  const random = prng(seed);
  const subs = [];
  const seen = new Set();
  while (subs.length < count) {
    const r = {
      s: Math.floor(random() * SITES),
      d: Math.floor(random() * DEVICES_PER_SITE),
      m: METRICS[Math.floor(random() * METRICS.length)],
    };
    let x = random();
    let shape = SHAPES[SHAPES.length - 1][1];
    for (const [share, make] of SHAPES) {
      if (x < share) {
        shape = make;
        break;
      }
      x -= share;
    }
    const filter = shape(r);
    const clientId = `client-${pad(subs.length >> 2, 6)}`;
    // one subscription per (client, filter), as a broker holds them
    if (seen.has(`${clientId} ${filter}`)) continue;
    seen.add(`${clientId} ${filter}`);
    subs.push({ filter, clientId });
  }
  return subs;
}

/** `count` publish topic names drawn uniformly from the whole topic space. */
export function makeTopics(count, seed = 2) {
  const random = prng(seed);
  const topics = [];
  for (let i = 0; i < count; i++) {
    const s = Math.floor(random() * SITES);
    const d = Math.floor(random() * DEVICES_PER_SITE);
    const m = METRICS[Math.floor(random() * METRICS.length)];
    topics.push(`${site(s)}/${device(d)}/${m}`);
  }
  return topics;
}
