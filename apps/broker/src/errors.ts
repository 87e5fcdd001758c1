/** Closed set of error codes the broker app raises (STYLE.md §4). */
export type BrokerAppErrorCode =
  /** A config value from a flag, the environment or the config file is invalid. Exit code 2. */
  | 'BROKER_CONFIG_INVALID'
  /** The config file cannot be read or parsed. Exit code 2. */
  | 'BROKER_CONFIG_FILE'
  /** A listener's port is taken by another process. Exit code 1. */
  | 'BROKER_PORT_IN_USE'
  /** A listener cannot bind for another reason (privileges, unknown host). Exit code 1. */
  | 'BROKER_LISTEN_FAILED'
  /**
   * The store cannot be opened at startup (data directory not creatable, corrupt or newer
   * database, PostgreSQL unreachable). Nothing was bound. Exit code 1.
   */
  | 'BROKER_STORE_UNAVAILABLE'
  /**
   * A bridge could not start for a reason retrying will not fix (the engine refused its stream
   * or queue declaration, the broker refused its subscription). An unreachable engine is not
   * one: the broker starts and the bridge keeps retrying. Exit code 1.
   */
  | 'BROKER_BRIDGE_FAILED'
  /** Cluster mode cannot start: NATS unreachable, or the membership table cannot be written. Exit code 1. */
  | 'BROKER_CLUSTER_UNAVAILABLE'
  /** A `--workers` worker exited before it was ready without a reason of its own (a crash). Exit code 1. */
  | 'BROKER_WORKER_FAILED';

/**
 * An error whose message is the one line the CLI prints before it exits, e.g.
 * `config: listeners[0].port = 70000 is not a port (0-65535)`.
 */
export class BrokerAppError extends Error {
  override readonly name = 'BrokerAppError';
  readonly code: BrokerAppErrorCode;

  constructor(code: BrokerAppErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Detects the error by name and code, so that two copies of this package still agree. */
export function isBrokerAppError(error: unknown): error is BrokerAppError {
  if (!(error instanceof Error) || error.name !== 'BrokerAppError') return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('BROKER_');
}

/** Exit code for an error that reached the CLI: 2 for config errors, 1 for everything else. */
export function exitCodeFor(error: unknown): 1 | 2 {
  if (
    isBrokerAppError(error) &&
    (error.code === 'BROKER_CONFIG_INVALID' || error.code === 'BROKER_CONFIG_FILE')
  ) {
    return 2;
  }
  return 1;
}
