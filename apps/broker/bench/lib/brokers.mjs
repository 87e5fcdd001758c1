// Starting and stopping the brokers under test, each as a child process on a fresh ephemeral
// port of 127.0.0.1 (never 1883). Every child is registered so that run.mjs can kill them all
// on exit, error or SIGINT.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_USER, prepareOurDataDir, writeAclFile, writeMosquittoPasswdFile } from './auth-setup.mjs';

/** `bare`: the bare Node.js server of issue 10 (bare-server.mjs), only in the scenarios it can run. */
export const BROKER_NAMES = ['ours', 'aedes', 'mosquitto', 'bare'];

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
/** Our broker's CLI in this checkout; `useOursCli` points the bench at another build. */
export const DEFAULT_OURS_CLI = join(BENCH_DIR, '..', 'dist', 'cli.js');
let oursCli = DEFAULT_OURS_CLI;
const AEDES_SERVER = join(BENCH_DIR, 'aedes-server.mjs');
const BARE_SERVER = join(BENCH_DIR, 'bare-server.mjs');
const READY_TIMEOUT_MS = 15_000;
/** The PostgreSQL of `ours` with `store: 'postgres'`; each broker gets its own schema, dropped at stop. */
const BENCH_PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const STOP_TIMEOUT_MS = 3000;
/** Our broker's defaults as of writing, used when `--print-config` cannot be read. */
const FALLBACK_LIMITS = { maxQueuedMessages: 1000, maxInflightMessages: 32 };

const live = new Set();
/** Temporary directories (Mosquitto configs) still to remove. */
const tempDirs = new Set();

/**
 * Kills every broker still running (SIGKILL) and removes their temporary files, synchronously:
 * for exit and signal handlers.
 */
export function killAllBrokersNow() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone: nothing to clean up.
    }
  }
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/**
 * Spawns `command` with the soft fd limit raised to the hard limit (the idle-connection
 * scenario opens 10,000 sockets). `exec` keeps the pid, so /proc/<pid> is the broker itself.
 */
function spawnBroker(command, args) {
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"';
  const child = spawn('/bin/sh', ['-c', script, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Keeps the last lines of a stream (and keeps draining it, so the broker never blocks on a full pipe). */
function tailOf(stream, keep = 20) {
  const lines = [];
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (text) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > keep) lines.shift();
    }
  });
  return () => [...lines, partial].filter((line) => line.length > 0).join('\n');
}

function findExecutable(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory; try the next one.
    }
  }
  return undefined;
}

/**
 * Runs `ours` from another build of apps/broker (e.g. a baseline work tree), so before and
 * after can be measured with the same bench code. Returns the absolute path.
 */
export function useOursCli(path) {
  oursCli = resolve(path);
  return oursCli;
}

/** The CLI `ours` runs from (this checkout's, or `--ours-cli`'s). */
export function oursCliPath() {
  return oursCli;
}

/** Why a broker cannot run here, or undefined if it looks runnable. */
export function unavailableReason(name) {
  if (name === 'ours') {
    if (!existsSync(oursCli)) {
      return oursCli === DEFAULT_OURS_CLI
        ? `${oursCli} not found; build it: cd /work/main && npx turbo run build --filter @mqtt-adapt/broker`
        : `${oursCli} (--ours-cli) not found; build that checkout's @mqtt-adapt/broker`;
    }
    return undefined;
  }
  if (name === 'aedes') {
    try {
      import.meta.resolve('aedes');
      return undefined;
    } catch {
      return 'the aedes package is not installed; pnpm add -D aedes --filter @mqtt-adapt/broker';
    }
  }
  if (name === 'mosquitto') {
    const bin = process.env.MOSQUITTO_BIN ?? findExecutable('mosquitto');
    return bin === undefined ? 'no mosquitto binary on PATH or in /usr/sbin (set MOSQUITTO_BIN)' : undefined;
  }
  if (name === 'bare') return undefined;
  return `unknown broker ${name}`;
}

/** Our broker's limits, from `cli.js --print-config`, so Mosquitto can be configured to match. */
export function ourLimits() {
  try {
    const text = execFileSync(process.execPath, [oursCli, '--print-config'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    const { limits } = JSON.parse(text);
    return {
      maxQueuedMessages: limits.maxQueuedMessages,
      maxInflightMessages: limits.maxInflightMessages,
      source: 'ours --print-config',
    };
  } catch {
    return { ...FALLBACK_LIMITS, source: 'fallback (ours --print-config failed)' };
  }
}

/** Waits for a stdout JSON line with "msg":"listening" and a port. */
function waitForListeningLine(child, stdoutTail, stderrTail, label) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(`${label} printed no "listening" line within ${READY_TIMEOUT_MS} ms\n${stderrTail()}`),
      );
    }, READY_TIMEOUT_MS);
    const onData = (text) => {
      buffered += text;
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        let record;
        try {
          record = JSON.parse(line);
        } catch {
          continue; // Not a JSON log line.
        }
        if (record?.msg === 'listening' && Number.isInteger(record.port) && record.port > 0) {
          cleanup();
          resolve(record.port);
          return;
        }
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      const output = [stderrTail(), stdoutTail()].filter(Boolean).join('\n');
      reject(new Error(`${label} exited (${signal ?? `code ${code}`}) before listening\n${output}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

/** A free TCP port on 127.0.0.1 (for Mosquitto, which cannot report a port 0 binding). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(child, port, stderrTail) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `mosquitto exited (${child.signalCode ?? `code ${child.exitCode}`}) before listening\n${stderrTail()}`,
      );
    }
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `mosquitto did not accept connections on port ${port} within ${READY_TIMEOUT_MS} ms\n${stderrTail()}`,
  );
}

/**
 * `auth` (scenarios 9 and 10): { allowAnonymous, passwordFile, aclFile }; without it, anonymous
 * clients and no password or ACL file, as in every other scenario.
 */
function mosquittoConfig(port, limits, persistenceDir, auth = undefined) {
  const persistence =
    persistenceDir === undefined
      ? ['persistence false']
      : // Mosquitto's persistence is a snapshot of its memory written every autosave_interval
        // (default 1800 s) and at shutdown: not a write per acknowledged message.
        ['persistence true', `persistence_location ${persistenceDir}/`, 'persistence_file mosquitto.db'];
  return [
    `# Written by apps/broker/bench: a private${persistenceDir === undefined ? ', in-memory' : ''} Mosquitto for the benchmark.`,
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${auth?.allowAnonymous === false ? 'false' : 'true'}`,
    ...(auth?.passwordFile === undefined ? [] : [`password_file ${auth.passwordFile}`]),
    ...(auth?.aclFile === undefined ? [] : [`acl_file ${auth.aclFile}`]),
    ...persistence,
    // Match our broker's defaults (see ourLimits()): Mosquitto's max_queued_messages also
    // caps the QoS 0 packets queued to an online client, as our write high-water mark does.
    `max_queued_messages ${limits.maxQueuedMessages}`,
    `max_inflight_messages ${limits.maxInflightMessages}`,
    'max_connections -1',
    'set_tcp_nodelay true',
    // No per-connection log lines: ours logs none at its default level either.
    'connection_messages false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
}

function describe(child, port, name, extra = {}) {
  const exited = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    name,
    pid: child.pid,
    port,
    ...extra,
    get isAlive() {
      return child.exitCode === null && child.signalCode === null;
    },
    exitDescription() {
      return child.signalCode ?? `code ${child.exitCode}`;
    },
    async stop() {
      if (this.isAlive) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      await extra.cleanup?.();
    },
  };
}

/**
 * Where `ours` keeps its state: `memory` (the default of every scenario but the persistence
 * one, like the peers' in-memory setups), `sqlite` (a temp data dir) or `postgres` (a schema
 * of its own on BENCH_PG_URL, or `schema`: one the caller owns and drops, the nodes of a
 * cluster). Returns the flags and an async cleanup.
 */
function ourStoreArgs(store, schema = undefined) {
  if (store === 'memory') return { args: ['--store', 'memory'], cleanup: undefined };
  if (store === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-bench-sqlite-'));
    tempDirs.add(dir);
    const cleanup = () => {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    };
    return {
      args: ['--store', 'sqlite', '--data-dir', join(dir, 'data')],
      cleanup,
      dir,
      dataDir: join(dir, 'data'),
    };
  }
  if (store === 'postgres') {
    const own = schema ?? benchSchemaName();
    const cleanup = schema === undefined ? () => dropSchema(own) : undefined;
    return {
      args: ['--store', 'postgres', '--database-url', BENCH_PG_URL, '--database-schema', own],
      cleanup,
    };
  }
  throw new Error(`unknown store ${store}`);
}

let schemas = 0;
/** A schema name no other bench run or broker of this run uses. */
export function benchSchemaName() {
  return `mqtt_adapt_bench_${process.pid}_${Date.now().toString(36)}_${++schemas}`;
}

/** The PostgreSQL URL `ours` gets with `store: 'postgres'` (BENCH_PG_URL). */
export const benchPgUrl = BENCH_PG_URL;

export async function dropSchema(schema) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: BENCH_PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } catch (error) {
    process.stderr.write(`bench: could not drop postgres schema ${schema}: ${error.message}\n`);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Extra node flags for `ours` from BENCH_OURS_NODE_ARGS (space-separated), for a one-off
 * profile: BENCH_OURS_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (one .cpuprofile per
 * broker process, written when it exits after SIGTERM).
 */
export function ourNodeArgs() {
  return (process.env.BENCH_OURS_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/** A temporary directory Mosquitto (which drops root for its own user) can read, removed at exit. */
function readableTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  tempDirs.add(dir);
  const cleanup = () => {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  return { dir, cleanup };
}

/**
 * Ours with users or ACL rules (scenarios 9, 10): fills the sqlite store's data dir through
 * the broker's own `user add` / `acl import` before it starts.
 */
function prepareOurStore(ourStore, store, users, aclRules) {
  if (users.length === 0 && aclRules === 0) return;
  if (store !== 'sqlite') throw new Error(`users and ACL rules in the bench need store sqlite, not ${store}`);
  const aclFile = aclRules > 0 ? writeAclFile(join(ourStore.dir, 'acl'), aclRules) : undefined;
  prepareOurDataDir(oursCli, ourStore.dataDir, {
    users,
    aclFile,
    expectRules: aclRules > 0 ? aclRules : undefined,
  });
}

/**
 * Starts one broker on a fresh ephemeral port; resolves once it accepts connections.
 * `store` (ours: memory, sqlite, postgres; default memory) and `persistence` (mosquitto)
 * select their persistence. Scenarios 9 and 10 add: `users` (ours: created in its sqlite store
 * before it starts), `passwordFile` (aedes, mosquitto: a `mosquitto_passwd` file of the bench
 * user), `allowAnonymous` (mosquitto; ours takes `--allow-anonymous` in `args`), `aclRules`
 * (ours, mosquitto: the generated ACL file of that many rules, lib/auth-setup.mjs) and `args`
 * (ours: extra CLI flags). `schema` (ours, postgres): that schema instead of a fresh one, not
 * dropped at stop (lib/cluster.mjs: the nodes of a cluster share one).
 */
export async function startBroker(
  name,
  {
    limits,
    store = 'memory',
    persistence = false,
    users = [],
    passwordFile = false,
    allowAnonymous = true,
    aclRules = 0,
    args: extraArgs = [],
    schema = undefined,
  } = {},
) {
  if (name === 'bare') {
    const child = spawnBroker(process.execPath, [BARE_SERVER, '--port', '0', '--host', '127.0.0.1']);
    const stdoutTail = tailOf(child.stdout);
    const stderrTail = tailOf(child.stderr);
    child.stdout.setEncoding('utf8');
    try {
      const port = await waitForListeningLine(child, stdoutTail, stderrTail, name);
      return describe(child, port, name, { stderrTail });
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }
  if (name === 'ours' || name === 'aedes') {
    const script = name === 'ours' ? oursCli : AEDES_SERVER;
    const ourStore = name === 'ours' ? ourStoreArgs(store, schema) : { args: [], cleanup: undefined };
    let passwd;
    try {
      if (name === 'ours') prepareOurStore(ourStore, store, users, aclRules);
      if (name === 'aedes' && passwordFile) {
        passwd = readableTempDir('mqtt-adapt-bench-aedes-');
        writeMosquittoPasswdFile(join(passwd.dir, 'passwd'), BENCH_USER);
      }
    } catch (error) {
      await ourStore.cleanup?.();
      passwd?.cleanup();
      throw error;
    }
    const cleanupAll = async () => {
      await ourStore.cleanup?.();
      passwd?.cleanup();
    };
    const args =
      name === 'ours'
        ? ['--port', '0', '--host', '127.0.0.1', '--log-format', 'json', ...ourStore.args, ...extraArgs]
        : ['--port', '0', ...(passwd === undefined ? [] : ['--password-file', join(passwd.dir, 'passwd')])];
    const child = spawnBroker(process.execPath, [...(name === 'ours' ? ourNodeArgs() : []), script, ...args]);
    const stdoutTail = tailOf(child.stdout);
    const stderrTail = tailOf(child.stderr);
    child.stdout.setEncoding('utf8');
    try {
      const port = await waitForListeningLine(child, stdoutTail, stderrTail, name);
      return describe(child, port, name, { stderrTail, cleanup: cleanupAll });
    } catch (error) {
      child.kill('SIGKILL');
      await cleanupAll();
      throw error;
    }
  }
  if (name === 'mosquitto') {
    const bin = process.env.MOSQUITTO_BIN ?? findExecutable('mosquitto');
    let lastError;
    // The port is found free and then bound by Mosquitto: retry if another process won the race.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-bench-mosquitto-'));
      // Started as root, Mosquitto drops to its own user: it must be able to write its db here
      // (and read its password and ACL files).
      if (persistence) chmodSync(dir, 0o777);
      else if (passwordFile || aclRules > 0) chmodSync(dir, 0o755);
      tempDirs.add(dir);
      const configFile = join(dir, 'mosquitto.conf');
      let auth;
      try {
        auth = {
          allowAnonymous,
          passwordFile: passwordFile ? writeMosquittoPasswdFile(join(dir, 'passwd'), BENCH_USER) : undefined,
          aclFile: aclRules > 0 ? writeAclFile(join(dir, 'acl'), aclRules) : undefined,
        };
      } catch (error) {
        rmSync(dir, { recursive: true, force: true });
        tempDirs.delete(dir);
        throw error;
      }
      writeFileSync(
        configFile,
        mosquittoConfig(port, limits ?? FALLBACK_LIMITS, persistence ? dir : undefined, auth),
      );
      const cleanup = () => {
        rmSync(dir, { recursive: true, force: true });
        tempDirs.delete(dir);
      };
      const child = spawnBroker(bin, ['-c', configFile]);
      const stderrTail = tailOf(child.stderr);
      tailOf(child.stdout);
      try {
        await waitForPort(child, port, stderrTail);
        return describe(child, port, name, { stderrTail, cleanup, configFile });
      } catch (error) {
        child.kill('SIGKILL');
        cleanup();
        lastError = error;
      }
    }
    throw lastError;
  }
  throw new Error(`unknown broker ${name}`);
}
