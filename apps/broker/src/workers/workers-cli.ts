import type { BrokerConfig } from '../config.js';
import { exitCodeFor, isBrokerAppError } from '../errors.js';
import { createLogger } from '../logger.js';
import { runWorkersPrimary } from './workers-primary.js';

/**
 * The CLI with `--workers N` (N > 1): the primary's logger and its error handling, as the
 * single-process path has them. A startup failure of a worker is printed here once, as the one
 * line a single process prints, with the same exit code.
 */
export async function runWorkersCli(config: BrokerConfig, configFile: string | undefined): Promise<void> {
  const log = await createLogger(config.log);
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(1);
  });
  if (configFile) log.debug({ configFile }, 'config file read');
  try {
    await runWorkersPrimary(config, log);
  } catch (error) {
    if (!isBrokerAppError(error)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(exitCodeFor(error));
  }
}
