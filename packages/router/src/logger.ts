type LogFn = {
  (obj: object, msg?: string): void;
  (msg: string): void;
};

/** The subset of pino's logger the router uses: objects first, message second. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop = (): void => {};

/** Default logger: every level is an empty function, so disabled logging costs one call. */
export const silentLogger: Logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop };
