// The idle-connection scenarios (5: 10,000 connections, 14: 50,000), run by run.mjs itself
// rather than by one generator: one process cannot always hold every connection. The clients
// are spread over as many holder processes (lib/idle-holder.mjs) as their file descriptor limit
// calls for; each holder connects from source addresses of its own (127.a.b.c, all loopback),
// one per CONNECTIONS_PER_ADDRESS connections, fresh for every run, so no address runs short of
// ephemeral ports or meets the TIME_WAIT sockets of an earlier run. RSS is read from /proc once
// every holder has its connections open, and before any of them closes one.
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ephemeralPortRange, fdLimits } from './environment.mjs';
import { cpuSecondsOf, rssBytesOf } from './proc.mjs';

const HOLDER = fileURLToPath(new URL('./idle-holder.mjs', import.meta.url));
/** File descriptors a process keeps for itself beyond its connections (stdio, IPC, node). */
const FD_RESERVE = 100;
/**
 * Connections per source address. A connection bound to an address (bind, then connect) gets
 * its port from a search over the ports already bound there, so its cost grows with them:
 * 19,000 from one address cost the holder about 1.9 ms of CPU each (428 per second), from 5
 * addresses 0.16 ms. Well under the ephemeral port range (28,232 by default) too.
 */
const CONNECTIONS_PER_ADDRESS = 2000;
const READY_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 30_000;

const holders = new Set();

/** Kills every holder still running (SIGKILL), synchronously: for exit and signal handlers. */
export function killHoldersNow() {
  for (const child of holders) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  holders.clear();
}

/**
 * How many connections one holder may open: its file descriptors (node raises its soft limit
 * to the hard one); `override` lowers it.
 */
export function connectionsPerHolder(override = Number.POSITIVE_INFINITY) {
  return Math.max(1, Math.min(fdLimits().hard - FD_RESERVE, override));
}

/** Connections per source address: CONNECTIONS_PER_ADDRESS, within the ephemeral port range. */
function connectionsPerAddress() {
  const [low, high] = ephemeralPortRange();
  return Math.max(1, Math.min(CONNECTIONS_PER_ADDRESS, Math.floor((high - low + 1) / 2)));
}

/**
 * Why `connections` idle clients cannot be held by one broker here, or undefined. Every
 * broker is one process: it needs a file descriptor per connection, and it gets the hard limit
 * of this process (lib/brokers.mjs spawnBroker), which only root with CAP_SYS_RESOURCE can raise.
 */
export function idleCapacityProblem(connections) {
  const { hard } = fdLimits();
  const needed = connections + FD_RESERVE;
  if (needed <= hard) return undefined;
  return (
    `n/a here: ${connections.toLocaleString('en-US')} connections need about ${needed.toLocaleString('en-US')} file ` +
    `descriptors in the broker process and the hard limit is ${hard.toLocaleString('en-US')} (ulimit -Hn; raising it ` +
    'needs CAP_SYS_RESOURCE, e.g. docker run --ulimit nofile=200000:200000); the generator side would ' +
    `use ${Math.ceil(connections / connectionsPerHolder())} processes and ` +
    `${Math.ceil(connections / connectionsPerAddress())} source addresses`
  );
}

/** Source addresses 127.1.0.1 .. 127.254.254.254, from a random start, fresh for every run. */
let nextAddress = Math.floor(Math.random() * 60_000);
function freshSourceAddress() {
  const n = nextAddress++ % (254 * 254 * 254);
  return `127.${1 + Math.floor(n / 64_516)}.${Math.floor(n / 254) % 254}.${1 + (n % 254)}`;
}

/** Forks one holder; `next(timeoutMs)` resolves with its next message. */
function forkHolder() {
  const child = fork(HOLDER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  holders.add(child);
  const queue = [];
  let waiter;
  let exit;
  child.on('message', (message) => {
    if (waiter === undefined) queue.push(message);
    else waiter.resolve(message);
  });
  child.once('exit', (code, signal) => {
    holders.delete(child);
    exit = `holder exited (${signal ?? `code ${code}`})`;
    waiter?.reject(new Error(exit));
  });
  const next = (timeoutMs, what) =>
    new Promise((resolve, reject) => {
      if (queue.length > 0) {
        resolve(queue.shift());
        return;
      }
      if (exit !== undefined) {
        reject(new Error(exit));
        return;
      }
      const timer = setTimeout(() => {
        waiter = undefined;
        reject(new Error(`holder: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiter = {
        resolve: (message) => {
          clearTimeout(timer);
          waiter = undefined;
          if (message.phase === 'error') reject(new Error(`holder: ${message.error}`));
          else resolve(message);
        },
        reject: (error) => {
          clearTimeout(timer);
          waiter = undefined;
          reject(error);
        },
      };
    });
  return { child, next, send: (message) => child.send(message) };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `total` split into `parts` near-equal counts. */
function split(total, parts) {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** Nearest-rank percentile of sorted `values`. */
function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Sends every holder an 'open' for its share of `counts` and waits for all of them; returns
 * their replies and the broker's CPU seconds and the wall time over that step.
 */
async function openStep(list, counts, message, timeoutMs, pid) {
  const cpu0 = cpuSecondsOf(pid);
  const t0 = performance.now();
  list.forEach((h, g) => {
    h.send({ ...message(g), count: counts[g] });
  });
  const replies = await Promise.all(list.map((h) => h.next(timeoutMs, 'opened')));
  const cpu1 = cpuSecondsOf(pid);
  const cpu = cpu0 === undefined || cpu1 === undefined ? null : cpu1 - cpu0;
  return { replies, cpu, seconds: (performance.now() - t0) / 1000 };
}

/**
 * One run of scenario 5 or 14 against `broker` (fresh): after `settleMs` idle, its RSS; then
 * half of `connections` clients (keepalive 0, clean session), opened at `ratePerSecond` with at
 * most `concurrency` handshakes in flight (over all holders), `settleMs`, its RSS; the other
 * half the same way, `settleMs`, its RSS again. The value is (last - first) / connections; the
 * second half alone (`marginal`) leaves out what a broker allocates once as it starts to hold
 * connections (heap growth). A fixed opening rate keeps brokers comparable: how fast garbage is
 * made while opening sizes a Node heap. A run that could not open every connection fails (a
 * per-connection figure over fewer would be wrong).
 */
export async function measureIdleMemory(broker, params, { perHolder, serial }) {
  const { connections, concurrency, ratePerSecond, settleMs, timeoutMs } = params;
  const parts = Math.ceil(connections / connectionsPerHolder(perHolder));
  const shares = split(connections, parts);
  const halves = [shares.map((n) => Math.floor(n / 2)), shares.map((n) => n - Math.floor(n / 2))];
  const addresses = shares.map((n) =>
    Array.from({ length: Math.ceil(n / connectionsPerAddress()) }, () => freshSourceAddress()),
  );
  const list = shares.map(() => forkHolder());
  const message = (g) => ({
    cmd: 'open',
    port: broker.port,
    prefix: `idle-${process.pid}-${serial}-${g}`,
    concurrency: Math.max(1, Math.round(concurrency / parts)),
    ratePerSecond: ratePerSecond / parts,
    localAddresses: addresses[g],
  });
  try {
    await Promise.all(list.map((h) => h.next(READY_TIMEOUT_MS, 'ready')));
    await sleep(settleMs);
    const rssBefore = rssBytesOf(broker.pid);
    const first = await openStep(list, halves[0], message, timeoutMs, broker.pid);
    await sleep(settleMs);
    const rssHalf = rssBytesOf(broker.pid);
    const second = await openStep(list, halves[1], message, timeoutMs, broker.pid);
    await sleep(settleMs);
    const rssAfter = rssBytesOf(broker.pid);
    for (const h of list) h.send({ cmd: 'close' });
    const closed = await Promise.all(list.map((h) => h.next(CLOSE_TIMEOUT_MS, 'closed')));
    if (rssBefore === undefined || rssHalf === undefined || rssAfter === undefined)
      throw new Error(`cannot read /proc/${broker.pid}/status`);
    const opened = [...first.replies, ...second.replies];
    const total = opened.reduce((sum, o) => sum + o.opened, 0);
    if (total < connections) {
      const failed = opened.reduce((sum, o) => sum + o.failed, 0);
      const samples = [...new Set(opened.flatMap((o) => o.errorSamples))].join('; ');
      throw new Error(
        `opened ${total} of ${connections} connections from ${parts} process(es) (${failed} failed: ${samples})`,
      );
    }
    const setup = opened.flatMap((o) => o.setupMs).sort((a, b) => a - b);
    const openSeconds = (step) =>
      (Math.max(...step.replies.map((o) => o.endedAt)) - Math.min(...step.replies.map((o) => o.startedAt))) /
      1000;
    const seconds = Math.max(openSeconds(first) + openSeconds(second), 1e-6);
    const alive = closed.reduce((sum, c) => sum + c.alive, 0);
    const secondHalf = halves[1].reduce((sum, n) => sum + n, 0);
    return {
      unit: 'B/conn',
      value: (rssAfter - rssBefore) / connections,
      marginal: (rssAfter - rssHalf) / secondHalf,
      rssBefore,
      rssHalf,
      rssAfter,
      connections,
      alive,
      end: alive === connections ? 'complete' : `${connections - alive} closed by the broker while idle`,
      generators: parts,
      sourceAddresses: addresses.flat().length,
      connectsPerSecond: connections / seconds,
      setupUs: {
        p50: percentile(setup, 0.5) * 1000,
        p99: percentile(setup, 0.99) * 1000,
        max: setup[setup.length - 1] * 1000,
      },
      seconds,
      // The measured window: the two opening steps (CPU shares over them).
      windowSeconds: first.seconds + second.seconds,
      brokerCpuSeconds: first.cpu === null || second.cpu === null ? null : first.cpu + second.cpu,
      generatorCpuSeconds: opened.reduce((sum, o) => sum + o.cpuSeconds, 0),
    };
  } finally {
    for (const h of list) h.child.kill('SIGKILL');
  }
}
