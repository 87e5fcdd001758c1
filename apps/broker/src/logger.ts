import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogConfig } from './config.js';

export type { Logger } from 'pino';

export interface CreateLoggerOptions {
  /** Where lines go. Default: stdout, written synchronously so nothing is lost on exit. */
  readonly destination?: DestinationStream;
  /** Whether stdout is a terminal, for `format: auto`. Default `process.stdout.isTTY`. */
  readonly isTTY?: boolean;
}

/**
 * The process logger: pino JSON lines, or pino-pretty lines when `format` is `pretty` (or
 * `auto` on a terminal). pino-pretty is loaded only when used. Both write synchronously: a
 * broker logs little at `info`, and the line before `process.exit` must not be lost.
 */
export async function createLogger(log: LogConfig, options: CreateLoggerOptions = {}): Promise<Logger> {
  const isTTY = options.isTTY ?? process.stdout.isTTY === true;
  const pretty = log.format === 'pretty' || (log.format === 'auto' && isTTY);
  const pinoOptions = { level: log.level };
  if (pretty) {
    const { default: pinoPretty } = await import('pino-pretty');
    const stream = pinoPretty({
      colorize: isTTY,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
      ...(options.destination ? { destination: options.destination } : { destination: 1 }),
    });
    return pino(pinoOptions, stream);
  }
  return pino(pinoOptions, options.destination ?? pino.destination({ fd: 1, sync: true }));
}
