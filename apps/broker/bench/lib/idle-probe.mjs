// Idle-connection and connection-setup probe (performance issue 10): our broker beside the bare
// Node.js floor, small enough to run before and after a change in a minute or two.
//
//   node apps/broker/bench/lib/idle-probe.mjs idle   [--servers ours,bare] [--connections 10000] [--reps 3]
//                                                    [--ours-cli path/to/cli.js] [--snapshot-dir DIR]
//                                                    [--marginal 10000 --connections 18000] [--settle 2000,12000]
//   node apps/broker/bench/lib/idle-probe.mjs cycles [--servers ours,bare] [--workers 1,50] [--cycles 4000]
//                                                    [--reps 5] [--ours-cli ...] [--node-args='--cpu-prof ...']
//   node apps/broker/bench/lib/idle-probe.mjs heap-diff BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top 30]
//   node apps/broker/bench/lib/idle-probe.mjs cycles ... --wrap='valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p'
//   node apps/broker/bench/lib/idle-probe.mjs cpu-top FILE.cpuprofile [--top 30]
//
// idle: a fresh server per repetition; 300 connect/disconnect cycles of warm-up, 1.5 s idle,
// VmRSS; N MQTT 3.1.1 clients (clean session, keepalive 60, 200 handshakes in flight) opened
// and held by this process; 2 s idle, VmRSS again (and at later points if --settle lists them,
// e.g. --settle 2000,12000: after V8's memory reducer has run). Prints (after - before) / N per
// server and the median over repetitions; --marginal M also prints what connections M+1..N cost
// each (without the one-off growth of the young generation and of tables). With --snapshot-dir
// the server runs with --heapsnapshot-signal=SIGUSR2 and a heap snapshot is written before and
// after the clients (RSS figures of such a run are less reliable: a snapshot allocates much);
// `heap-diff` then lists the object types that grew, per connection. 50,000 connections need
// a file descriptor limit above 50,000 for the server and this process.
//
// cycles: connect-publish-disconnect as bench scenario 4: TCP connect, CONNECT (unique client
// id), CONNACK, PUBLISH QoS 0 + DISCONNECT in one write, wait for the server to close. `workers`
// cycles at once (1: sequential). A subscriber to the cycle topic is connected to ours (the bare
// server routes nothing), as in the bench; `--subscriber no` leaves it out. Every server runs at
// once; after a warm-up run each, --reps measured runs alternate between them. Prints the median
// cycles/s and the server's CPU time (user + system, from /proc) per cycle.
//
// --servers takes `ours` (--ours-cli, default this checkout's dist/cli.js), `base` (another
// build, --base-cli, e.g. a work tree of HEAD: before/after in one interleaved run) and `bare`.
//
// The bare server is the bench's own (bench/bare-server.mjs): one floor for both.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_CLI = resolve(HERE, '../../dist/cli.js');
const HOST = '127.0.0.1';
const CYCLE_TOPIC = 'bench/c';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Packets (MQTT 3.1.1)

function remainingLength(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function connectPacket(clientId, keepaliveSeconds) {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, keepaliveSeconds >> 8, keepaliveSeconds & 0xff]),
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

function publishPacket(topic, payload) {
  const t = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, payload]);
  return Buffer.concat([Buffer.from([0x30, ...remainingLength(body.length)]), body]);
}

function subscribePacket(topic) {
  const t = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([0, 1, t.length >> 8, t.length & 0xff]), t, Buffer.from([0])]);
  return Buffer.concat([Buffer.from([0x82, ...remainingLength(body.length)]), body]);
}

const DISCONNECT = Buffer.from([0xe0, 0x00]);
const PINGREQ = Buffer.from([0xc0, 0x00]);

// ---------------------------------------------------------------------------------------------
// Servers

function rssBytesOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status);
  return Number(kb[1]) * 1024;
}

function cpuSecondsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks of 10 ms
}

/** Starts `ours` or `bare`; resolves { pid, port, stop() } once its `listening` line came. */
function startServer(kind, { oursCli, baseCli, nodeArgs = [], cwd, wrapCommand }) {
  const args =
    kind === 'bare'
      ? [...nodeArgs, fileURLToPath(new URL('../bare-server.mjs', import.meta.url)), '--port', '0']
      : [
          ...nodeArgs,
          kind === 'base' ? baseCli : oursCli,
          '--store',
          'memory',
          '--port',
          '0',
          '--host',
          HOST,
          '--log-format',
          'json',
        ];
  // --wrap runs the server under another program, e.g. valgrind: `--wrap='valgrind --tool=callgrind'`.
  const wrap = splitArgs(wrapCommand);
  const child =
    wrap.length === 0
      ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd })
      : spawn(wrap[0], [...wrap.slice(1), process.execPath, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
          cwd,
        });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolveStart, reject) => {
    let buffered = '';
    const onData = (d) => {
      buffered += d;
      for (const line of buffered.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          const parsed = JSON.parse(line);
          if (parsed.port === undefined) continue;
          child.stdout.off('data', onData);
          child.stdout.resume();
          resolveStart({
            pid: child.pid,
            port: parsed.port,
            stop: () =>
              new Promise((done) => {
                if (child.exitCode !== null) return done();
                child.once('exit', () => done());
                child.kill('SIGTERM');
                setTimeout(() => child.kill('SIGKILL'), 60_000).unref();
              }),
          });
          return;
        } catch {
          // not JSON yet: a partial line
        }
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}: ${stderr.slice(-500)}`)));
  });
}

// ---------------------------------------------------------------------------------------------
// Clients

/** Opens one connection and resolves it once CONNACK 0 came; rejects otherwise. */
function openIdle(port, clientId, keepaliveSeconds) {
  return new Promise((resolveOpen, reject) => {
    const socket = netConnect({ host: HOST, port, noDelay: true });
    let head = null;
    let settled = false;
    const onData = (chunk) => {
      head = head === null ? chunk : Buffer.concat([head, chunk]);
      if (head.length < 4) return;
      settled = true;
      socket.off('data', onData);
      // Later bytes (PINGRESP) are read and dropped.
      socket.on('data', () => {});
      if (head[0] === 0x20 && head[3] === 0) resolveOpen(socket);
      else reject(new Error(`CONNACK ${head.subarray(0, 4).toString('hex')}`));
    };
    socket.on('data', onData);
    socket.on('error', (e) => {
      if (!settled) reject(e);
    });
    socket.on('close', () => {
      if (!settled) reject(new Error('closed before CONNACK'));
    });
    socket.write(connectPacket(clientId, keepaliveSeconds));
  });
}

async function openMany(port, count, prefix, concurrency, keepaliveSeconds) {
  const sockets = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      sockets.push(await openIdle(port, `${prefix}-${i}`, keepaliveSeconds));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return sockets;
}

function closeAll(sockets) {
  return Promise.all(
    sockets.map(
      (s) =>
        new Promise((done) => {
          if (s.destroyed) return done();
          s.once('close', done);
          s.end(DISCONNECT);
          setTimeout(() => s.destroy(), 3000).unref();
        }),
    ),
  );
}

/** Runs `cycles` connect-publish-disconnect cycles, `workers` at once; resolves cycles/s. */
function runCycles(port, cycles, workers, prefix) {
  const tail = Buffer.concat([publishPacket(CYCLE_TOPIC, Buffer.alloc(16, 0x61)), DISCONNECT]);
  const connects = Array.from({ length: cycles }, (_, i) => connectPacket(`${prefix}-${i}`, 60));
  let started = 0;
  let completed = 0;
  let errors = 0;
  let active = 0;
  const t0 = performance.now();
  return new Promise((done) => {
    const runCycle = () => {
      if (started === cycles) {
        if (active === 0) done({ cyclesPerSecond: completed / ((performance.now() - t0) / 1000), errors });
        return;
      }
      const index = started++;
      active++;
      const socket = netConnect({ host: HOST, port, noDelay: true });
      let head = null;
      let acked = false;
      let failed = false;
      socket.on('data', (chunk) => {
        if (acked) return;
        head = head === null ? chunk : Buffer.concat([head, chunk]);
        if (head.length < 4) return;
        acked = true;
        if (head[0] !== 0x20 || head[3] !== 0) {
          failed = true;
          socket.destroy();
          return;
        }
        socket.write(tail);
      });
      socket.on('error', () => {
        failed = true;
      });
      socket.on('close', () => {
        active--;
        if (acked && !failed) completed++;
        else errors++;
        runCycle();
      });
      socket.write(connects[index]);
    };
    for (let w = 0; w < workers; w++) runCycle();
  });
}

// ---------------------------------------------------------------------------------------------
// Heap snapshots

function newestSnapshot(dir, except) {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.heapsnapshot') && !except.has(f))
    .map((f) => join(dir, f));
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** Sends SIGUSR2 and waits until the snapshot file is complete (size stable, ends with `}`). */
async function takeSnapshot(pid, dir) {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  let file;
  let lastSize = -1;
  for (let i = 0; i < 600; i++) {
    await sleep(500);
    file ??= newestSnapshot(dir, before);
    if (file === undefined) continue;
    const size = statSync(file).size;
    if (size === lastSize && size > 0) {
      const tail = readFileSync(file).subarray(-4).toString();
      if (tail.trimEnd().endsWith('}')) return file;
    }
    lastSize = size;
  }
  throw new Error('heap snapshot did not complete');
}

/** { "type:name": { count, selfSize } } of every node in a .heapsnapshot. */
function summarizeSnapshot(path) {
  const snap = JSON.parse(readFileSync(path, 'utf8'));
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const width = fields.length;
  const typeIx = fields.indexOf('type');
  const nameIx = fields.indexOf('name');
  const sizeIx = fields.indexOf('self_size');
  const types = meta.node_types[0];
  const { nodes, strings } = snap;
  const out = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeIx]];
    let name = strings[nodes[i + nameIx]];
    // Strings and code are grouped by type: their names are their contents.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    else if (type === 'code' || type === 'number') name = '';
    else if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}:${name}`;
    const entry = out.get(key) ?? { count: 0, selfSize: 0 };
    entry.count++;
    entry.selfSize += nodes[i + sizeIx];
    out.set(key, entry);
  }
  return out;
}

function heapDiff(beforePath, afterPath, per, top) {
  const a = summarizeSnapshot(beforePath);
  const b = summarizeSnapshot(afterPath);
  const rows = [];
  let total = 0;
  for (const [key, after] of b) {
    const before = a.get(key) ?? { count: 0, selfSize: 0 };
    const bytes = after.selfSize - before.selfSize;
    const count = after.count - before.count;
    total += bytes;
    rows.push({ key, count, bytes });
  }
  for (const [key, before] of a) if (!b.has(key)) total -= before.selfSize;
  rows.sort((x, y) => y.bytes - x.bytes);
  console.log(`heap growth ${(total / per).toFixed(0)} B per connection (${per} connections)`);
  console.log(`${'type:name'.padEnd(64)} ${'objs/conn'.padStart(9)} ${'B/conn'.padStart(8)}`);
  for (const row of rows.slice(0, top)) {
    console.log(
      `${row.key.padEnd(64)} ${(row.count / per).toFixed(2).padStart(9)} ${(row.bytes / per).toFixed(1).padStart(8)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Modes

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function idleMode(values) {
  const servers = values.servers.split(',');
  const n = Number(values.connections);
  const reps = Number(values.reps);
  const results = {};
  const later = {};
  for (const kind of servers) {
    results[kind] = [];
    for (let rep = 0; rep < reps; rep++) {
      const nodeArgs = [...splitArgs(values['node-args'])];
      const snapshotDir = values['snapshot-dir'] && rep === 0 ? resolve(values['snapshot-dir']) : undefined;
      if (snapshotDir !== undefined)
        nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`);
      const server = await startServer(kind, {
        oursCli: values['ours-cli'],
        baseCli: values['base-cli'],
        nodeArgs,
        cwd: snapshotDir,
      });
      try {
        // Warm-up: JIT, pools, the first-use allocations of a listener.
        await runCycles(server.port, 300, 10, `warm-${rep}`);
        // A snapshot allocates much: taken before the idle time, so that RSS settles after it
        // (RSS figures of a run with snapshots are still less reliable than those without).
        let snapBefore;
        if (snapshotDir !== undefined) snapBefore = await takeSnapshot(server.pid, snapshotDir);
        await sleep(1500);
        const before = rssBytesOf(server.pid);
        const t0 = performance.now();
        // --marginal M: first M connections, RSS, then the other n - M: the RSS those cost
        // each, without the one-off growth of the heap's young generation and tables.
        const marginalFrom = Number(values.marginal ?? 0);
        let sockets = [];
        let atMarginal = 0;
        if (marginalFrom > 0 && marginalFrom < n) {
          sockets = await openMany(server.port, marginalFrom, `idle-${rep}-a`, 200, 60);
          await sleep(2000);
          atMarginal = rssBytesOf(server.pid);
          sockets.push(...(await openMany(server.port, n - marginalFrom, `idle-${rep}-b`, 200, 60)));
        } else {
          sockets = await openMany(server.port, n, `idle-${rep}`, 200, 60);
        }
        const openMs = performance.now() - t0;
        const ping = setInterval(() => {
          for (const s of sockets) s.write(PINGREQ);
        }, 30_000);
        // RSS at each settle point (ms after the last CONNACK): the first is the figure
        // reported; later ones show what V8's idle-time GC (memory reducer) gives back.
        const settles = values.settle.split(',').map(Number);
        const readings = [];
        let waited = 0;
        for (const ms of settles) {
          await sleep(ms - waited);
          waited = ms;
          readings.push(rssBytesOf(server.pid));
        }
        const after = readings[0];
        const perConnection = (after - before) / n;
        if (atMarginal > 0) {
          const marginal = (after - atMarginal) / (n - marginalFrom);
          const key = `${kind} marginal ${marginalFrom}->${n}`;
          later[key] ??= [];
          later[key].push(marginal);
          console.log(
            `${kind} rep ${rep + 1}: connections ${marginalFrom} -> ${n}: ${(marginal / 1024).toFixed(2)} KiB each`,
          );
        }
        results[kind].push(perConnection);
        for (let i = 0; i < settles.length; i++) {
          const key = `${kind} @${settles[i]}ms`;
          later[key] ??= [];
          later[key].push((readings[i] - before) / n);
        }
        console.log(
          `${kind} rep ${rep + 1}: ${n} idle connections opened in ${openMs.toFixed(0)} ms` +
            ` (${((n / openMs) * 1000).toFixed(0)}/s); RSS ${(before / 1048576).toFixed(1)} MiB -> ` +
            readings.map((r, i) => `${(r / 1048576).toFixed(1)} MiB @${settles[i]}ms`).join(', ') +
            `: ${(perConnection / 1024).toFixed(2)} KiB per connection`,
        );
        if (snapshotDir !== undefined) {
          const snapAfter = await takeSnapshot(server.pid, snapshotDir);
          console.log(`  heap snapshots: ${snapBefore} ${snapAfter}`);
          heapDiff(snapBefore, snapAfter, n, Number(values.top));
        }
        clearInterval(ping);
        await closeAll(sockets);
      } finally {
        await server.stop();
      }
    }
  }
  console.log(`\nRSS per idle connection at ${n}, median of ${reps}:`);
  const bare = results.bare === undefined ? undefined : median(results.bare);
  for (const [kind, xs] of Object.entries(results)) {
    const m = median(xs);
    const ratio = bare === undefined || kind === 'bare' ? '' : ` (${(m / bare).toFixed(2)}x bare)`;
    console.log(
      `  ${kind.padEnd(6)} ${(m / 1024).toFixed(2)} KiB${ratio}   [${xs.map((x) => (x / 1024).toFixed(2)).join(', ')}]`,
    );
  }
}

async function cyclesMode(values) {
  const servers = values.servers.split(',');
  const cycles = Number(values.cycles);
  const reps = Number(values.reps);
  const workerCounts = values.workers.split(',').map(Number);
  const rates = {};
  const cpus = {};
  // Every server runs at once, idle but for the one being measured; runs alternate between
  // them, so that load from elsewhere on the machine spreads over all of them alike.
  const running = {};
  try {
    for (const kind of servers) {
      const server = await startServer(kind, {
        oursCli: values['ours-cli'],
        baseCli: values['base-cli'],
        nodeArgs: splitArgs(values['node-args']),
        cwd: values.cwd ?? process.cwd(),
        wrapCommand: values.wrap,
      });
      running[kind] = { server, sub: undefined };
      if (kind !== 'bare' && values.subscriber !== 'no') {
        // ours and base (another build of ours, --base-cli) route the cycles' publishes.
        const sub = await openIdle(server.port, 'cycles-sub', 0);
        sub.write(subscribePacket(CYCLE_TOPIC));
        running[kind].sub = sub;
      }
    }
    await sleep(200);
    for (const workers of workerCounts) {
      for (const kind of servers) {
        rates[`${kind} w=${workers}`] = [];
        cpus[`${kind} w=${workers}`] = [];
        // Warm-up, not counted.
        await runCycles(running[kind].server.port, Math.min(cycles, 1000), workers, `cw-${workers}`);
      }
      for (let rep = 0; rep < reps; rep++) {
        for (const kind of servers) {
          const { server } = running[kind];
          const key = `${kind} w=${workers}`;
          const c0 = cpuSecondsOf(server.pid);
          const r = await runCycles(server.port, cycles, workers, `c-${workers}-${rep}`);
          const cpuUs = ((cpuSecondsOf(server.pid) - c0) / cycles) * 1e6;
          rates[key].push(r.cyclesPerSecond);
          cpus[key].push(cpuUs);
          console.log(
            `${key} rep ${rep + 1}: ${r.cyclesPerSecond.toFixed(0)} cycles/s, server CPU ${cpuUs.toFixed(0)} us/cycle` +
              (r.errors ? `, ${r.errors} errors` : ''),
          );
        }
      }
    }
  } finally {
    for (const { server, sub } of Object.values(running)) {
      sub?.destroy();
      await server.stop();
    }
  }
  console.log(`\ncycles/s and server CPU per cycle, median of ${reps} (${cycles} cycles per run):`);
  for (const workers of workerCounts) {
    const bare = rates[`bare w=${workers}`];
    for (const kind of servers) {
      const key = `${kind} w=${workers}`;
      const m = median(rates[key]);
      const ratio = bare === undefined || kind === 'bare' ? '' : ` (${(m / median(bare)).toFixed(2)}x bare)`;
      console.log(
        `  ${key.padEnd(12)} ${m.toFixed(0).padStart(7)}${ratio.padEnd(14)} ${median(cpus[key]).toFixed(0).padStart(5)} us CPU/cycle` +
          `   [${rates[key].map((x) => x.toFixed(0)).join(', ')}]`,
      );
    }
  }
}

/** Top frames of a .cpuprofile by self time (and by total time, for frames of ours). */
function cpuTop(path, top) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
  }
  const total = dt.reduce((a, b) => a + b, 0);
  const frames = new Map();
  const keyOf = (n) => {
    const f = n.callFrame;
    const file = f.url.split('/').slice(-2).join('/');
    return `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  };
  for (const [id, us] of self) {
    const key = keyOf(byId.get(id));
    frames.set(key, (frames.get(key) ?? 0) + us);
  }
  const idle = [...frames].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
  console.log(
    `${path}: ${(total / 1000).toFixed(0)} ms sampled, ${((total - idle) / 1000).toFixed(0)} ms not idle`,
  );
  for (const [key, us] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${((us / (total - idle)) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${key}`,
    );
  }
}

function splitArgs(text) {
  return text === undefined || text === '' ? [] : text.split(/\s+/).filter(Boolean);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    servers: { type: 'string', default: 'ours,bare' },
    connections: { type: 'string', default: '10000' },
    settle: { type: 'string', default: '2000' },
    marginal: { type: 'string' },
    reps: { type: 'string', default: '3' },
    cycles: { type: 'string', default: '4000' },
    workers: { type: 'string', default: '1,50' },
    'ours-cli': { type: 'string', default: DEFAULT_CLI },
    'base-cli': { type: 'string' },
    'node-args': { type: 'string', default: '' },
    'snapshot-dir': { type: 'string' },
    wrap: { type: 'string' },
    subscriber: { type: 'string', default: 'yes' },
    cwd: { type: 'string' },
    port: { type: 'string', default: '0' },
    per: { type: 'string', default: '10000' },
    top: { type: 'string', default: '30' },
  },
});

switch (positionals[0]) {
  case 'idle':
    await idleMode(values);
    break;
  case 'cycles':
    await cyclesMode(values);
    break;
  case 'heap-diff':
    heapDiff(positionals[1], positionals[2], Number(values.per), Number(values.top));
    break;
  case 'cpu-top':
    cpuTop(positionals[1], Number(values.top));
    break;
  default:
    console.error('usage: idle-probe.mjs idle|cycles|heap-diff|cpu-top [options] (see the top of this file)');
    process.exit(2);
}
