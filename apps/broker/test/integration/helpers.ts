import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * Integration harness: runs the BUILT broker (`dist/cli.js`) as a child process, the way users
 * run it. The root `pnpm test` builds every package through turbo before vitest starts; run on
 * its own, `npx -y pnpm@12.4.2 --filter @mqtt-adapt/broker... build` first. `assertBuilt()`
 * fails with that hint when `dist/cli.js` is missing, and warns when it is older than a file in
 * `src/` (only a warning: turbo may keep an unchanged dist/ of a touched but identical source).
 */

export const appDir = fileURLToPath(new URL('../..', import.meta.url));
export const cliPath = join(appDir, 'dist', 'cli.js');
const BUILD_HINT =
  'run `npx -y pnpm@12.4.2 --filter @mqtt-adapt/broker... build` (the root `pnpm test` does)';

let checkedBuild = false;

export function assertBuilt(): void {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: ${BUILD_HINT}`);
  if (checkedBuild) return;
  checkedBuild = true;
  const builtAt = statSync(cliPath).mtimeMs;
  const newer = sourceFiles(join(appDir, 'src')).find((file) => statSync(file).mtimeMs > builtAt);
  if (newer) console.warn(`warning: ${cliPath} is older than ${newer}; testing a stale build? ${BUILD_HINT}`);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** One pino JSON line of the broker's stdout. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TestBroker {
  /**
   * The `--data-dir` the harness gave this broker (a fresh directory, removed when the broker
   * exits), or `undefined` when the test passed its own `--data-dir` or `MQTT_ADAPT_DATA_DIR`.
   */
  readonly dataDir: string | undefined;
  readonly host: string;
  readonly port: number;
  /** `mqtt://host:port`, for MQTT.js. */
  readonly url: string;
  /** Every stdout line parsed so far (JSON lines; a non-JSON line becomes `{ msg: line }`). */
  readonly lines: LogLine[];
  /** Every stderr line so far. */
  readonly stderr: string[];
  readonly child: ChildProcess;
  /** Resolves with the first line (already seen or still to come) that matches. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` (default SIGTERM) and resolves when the process exited. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<Exit & { durationMs: number }>;
  readonly exited: Promise<Exit>;
}

export interface StartOptions {
  /**
   * Extra CLI flags, after `--port 0 --host 127.0.0.1 --log-format json --data-dir <fresh>`
   * (the harness's `--data-dir` is left out when these give one).
   */
  readonly args?: readonly string[];
  /** Extra environment variables (any `MQTT_ADAPT_*` of the test runner's environment is dropped). */
  readonly env?: Readonly<Record<string, string>>;
  readonly readyTimeoutMs?: number;
}

const running = new Set<ChildProcess>();
// A crashed test run must not leave brokers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Every broker process runs in its own scratch directory (removed when it exits), so that the
 * default `--data-dir ./data` of a test that gives none is never the repository's, and no two
 * brokers ever share a database. `DATABASE_URL` of the runner's environment is dropped too.
 */
function spawnCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  scratch = scratchDir(),
): ChildProcess {
  assertBuilt();
  const baseEnv = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('MQTT_ADAPT_') && name !== 'DATABASE_URL',
    ),
  );
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: scratch,
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => {
    running.delete(child);
    rmSync(scratch, { recursive: true, force: true });
  });
  return child;
}

function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'mqtt-adapt-test-broker-'));
}

/** Whether a command line (or its environment) names the data directory itself. */
function givesDataDir(args: readonly string[], env: Readonly<Record<string, string>> = {}): boolean {
  return (
    env.MQTT_ADAPT_DATA_DIR !== undefined ||
    args.some((arg) => arg === '--data-dir' || arg.startsWith('--data-dir='))
  );
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

function parseLine(text: string): LogLine {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) return parsed as LogLine;
  } catch {
    // Not JSON (a pretty line, a stack trace): kept as text so that a test can still see it.
  }
  return { level: 0, msg: text };
}

/**
 * Starts `node dist/cli.js --port 0 --host 127.0.0.1` and resolves once its `listening` line
 * told the bound port. Rejects with the process's stderr if it exits first.
 */
export async function startTestBroker(options: StartOptions = {}): Promise<TestBroker> {
  const scratch = scratchDir();
  const extra = options.args ?? [];
  const dataDir = givesDataDir(extra, options.env) ? undefined : join(scratch, 'data');
  const child = spawnCli(
    [
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--log-format',
      'json',
      ...(dataDir === undefined ? [] : ['--data-dir', dataDir]),
      ...extra,
    ],
    options.env,
    scratch,
  );
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = parseLine(text);
    lines.push(line);
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  createInterface({ input: child.stderr! }).on('line', (text) => stderr.push(text));
  const exited = exitOf(child);

  const waitForLine = (match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (line: LogLine) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no matching log line within ${timeoutMs} ms; stdout: ${JSON.stringify(lines)}`));
      }, timeoutMs);
      waiters.add(waiter);
      void exited.then((exit) => {
        if (!waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(
          new Error(`broker exited (${JSON.stringify(exit)}) before the line; stderr: ${stderr.join('\n')}`),
        );
      });
    });
  };

  let stopping: Promise<Exit & { durationMs: number }> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM') => {
    stopping ??= (async () => {
      const startedAt = performance.now();
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const exit = await exited;
      clearTimeout(killer);
      return { ...exit, durationMs: performance.now() - startedAt };
    })();
    return stopping;
  };

  let ready: LogLine;
  try {
    ready = await waitForLine((line) => line.msg === 'listening', options.readyTimeoutMs ?? 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const host = String(ready.host);
  const port = Number(ready.port);
  const url = `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { dataDir, host, port, url, lines, stderr, child, waitForLine, stop, exited };
}

export interface CliRun extends Exit {
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** Runs the CLI to its end (e.g. `--help`, a config error); SIGKILLs it after `timeoutMs`. */
export async function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = 10_000,
): Promise<CliRun> {
  const startedAt = performance.now();
  const child = spawnCli(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = await exitOf(child);
  clearTimeout(killer);
  // 'exit' may come before the pipes are drained.
  await Promise.all([streamEnd(child.stdout!), streamEnd(child.stderr!)]);
  return { ...exit, stdout, stderr, durationMs: performance.now() - startedAt };
}

function streamEnd(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    if ((stream as { readableEnded?: boolean }).readableEnded) resolve();
    else stream.once('close', () => resolve());
  });
}

/** A raw TCP connection to the broker, for malformed and flooding input. */
export function openSocket(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves with every byte the peer sent once it closed the connection. */
export function readUntilClosed(socket: Socket, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // A reset by the broker is a way of closing too: 'close' follows the error.
    socket.on('error', () => socket.destroy());
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}
