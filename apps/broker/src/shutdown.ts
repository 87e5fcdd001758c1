import type { Logger } from 'pino';

export interface ShutdownOptions {
  /** Longest graceful stop; past it the process exits 1 with a warning. */
  readonly timeoutMs: number;
  /** The graceful stop, e.g. `RunningBroker.close`. Undefined while the broker is starting. */
  readonly stop: () => Promise<void> | undefined;
  /** Fields for the `shutting down` line, e.g. `{ connections }`. */
  readonly describe?: () => object;
  /** Default `process.exit`; tests pass their own. */
  readonly exit?: (code: number) => void;
  readonly signals?: readonly NodeJS.Signals[];
}

/**
 * SIGINT / SIGTERM: run `stop()` (stop accepting, `broker.close()`: clients are disconnected,
 * wills of connected clients published; then the listeners close) and exit 0. Past
 * `timeoutMs`, or on a second signal, exit 1 at once with a warning.
 *
 * Install this before the broker starts listening: a signal that arrives with no handler
 * kills the process with the default action, and a supervisor (or a test) may send one as soon
 * as it reads the `listening` line. Returns a function that removes the handlers.
 */
export function exitOnSignals(log: Logger, options: ShutdownOptions): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal during shutdown; exiting now');
      exit(1);
      return;
    }
    stopping = true;
    log.info({ signal, ...options.describe?.() }, 'shutting down');
    const timer = setTimeout(() => {
      log.warn({ timeoutMs: options.timeoutMs }, 'shutdown took too long; exiting anyway');
      exit(1);
    }, options.timeoutMs);
    Promise.resolve(options.stop()).then(
      () => {
        clearTimeout(timer);
        log.info('stopped');
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        log.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

/**
 * SIGHUP: `reload()` (the certificate files of the tls and wss listeners are read again).
 * Install it before listening, as `exitOnSignals`: without a handler, SIGHUP's default action
 * kills the process; `reload` does nothing while the broker starts. Returns a function that
 * removes the handler.
 */
export function reloadOnSignal(
  log: Logger,
  reload: () => unknown,
  signal: NodeJS.Signals = 'SIGHUP',
): () => void {
  const onSignal = (): void => {
    log.info({ signal }, 'reloading certificates');
    try {
      reload();
    } catch (error) {
      log.error({ err: error, signal }, 'reload failed');
    }
  };
  process.on(signal, onSignal);
  return () => {
    process.off(signal, onSignal);
  };
}
