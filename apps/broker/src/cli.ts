#!/usr/bin/env node
import { ADMIN_COMMANDS, runAdminCommand } from './admin/admin-command.js';
import { prepareCli } from './cli-command.js';
import { runClusterCommand } from './cluster/cluster-command.js';
import { exitCodeFor, isBrokerAppError } from './errors.js';
import { createLogger } from './logger.js';
import { exitOnSignals, reloadOnSignal } from './shutdown.js';
import { type RunningBroker, startBroker } from './start-broker.js';
import { WORKER_ENV } from './workers/worker-messages.js';

// The `mqtt-adapt` executable. Exit codes: 0 stopped cleanly (or --help, --version,
// --print-config), 1 runtime error (port in use, forced shutdown, crash), 2 invalid config.
// `mqtt-adapt user ...` and `mqtt-adapt acl ...` manage users and ACL rules in the store;
// `mqtt-adapt cluster status` lists the nodes of a cluster. With `--workers N` this process is
// the primary of N worker processes (src/workers/); a single process runs none of that code.
const argv = process.argv.slice(2);
// A worker of our own primary: it takes its config from the primary, not from argv and env.
const isWorker = process.env[WORKER_ENV] !== undefined;
const isAdmin = (ADMIN_COMMANDS as readonly string[]).includes(argv[0] ?? '');
const isClusterCommand = argv[0] === 'cluster';
const command = isWorker || isAdmin || isClusterCommand ? undefined : prepareCli(argv, process.env);
if (isWorker) {
  const { runWorker } = await import('./workers/worker-process.js');
  await runWorker();
} else if (isClusterCommand) {
  // `mqtt-adapt cluster status`: the membership table of the shared PostgreSQL.
  process.exitCode = await runClusterCommand(argv, process.env, process);
} else if (command === undefined) {
  // `mqtt-adapt acl list | head`: a reader that stops early is no error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
  const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  process.exitCode = await runAdminCommand(argv, process.env, io);
} else if (command.kind === 'exit') {
  process.stdout.write(command.stdout);
  process.stderr.write(command.stderr);
  process.exitCode = command.exitCode;
} else if (command.config.workers > 1) {
  const { runWorkersCli } = await import('./workers/workers-cli.js');
  await runWorkersCli(command.config, command.configFile);
} else {
  const log = await createLogger(command.config.log);
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(1);
  });
  let running: RunningBroker | undefined;
  // Before listening: see exitOnSignals. A signal during startup exits 0 at once.
  exitOnSignals(log, {
    timeoutMs: command.config.shutdownTimeoutMs,
    stop: () => running?.close(),
    describe: () => ({ connections: running?.broker.stats.connections ?? 0 }),
  });
  // SIGHUP re-reads the tls/wss certificate files; installed early, as its default action kills.
  reloadOnSignal(log, () => running?.reloadCertificates());
  if (command.configFile) log.debug({ configFile: command.configFile }, 'config file read');
  try {
    running = await startBroker(command.config, { logger: log });
  } catch (error) {
    if (!isBrokerAppError(error)) throw error;
    // One plain line on stderr (not a log record): it is meant for the person starting the broker.
    process.stderr.write(`${error.message}\n`);
    process.exit(exitCodeFor(error));
  }
}
