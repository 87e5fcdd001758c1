export type RouterErrorCode =
  /** A `BrokerOptions` value out of range. */
  | 'ROUTER_INVALID_OPTION'
  /** A message passed to `Broker.publish` that cannot be routed (bad topic, QoS). */
  | 'ROUTER_INVALID_MESSAGE'
  /** The broker is closed. */
  | 'ROUTER_CLOSED'
  /** `accept` before `await broker.open()`. */
  | 'ROUTER_NOT_OPEN';

/** Errors the router throws for its caller's mistakes. Network input never throws. */
export class RouterError extends Error {
  override readonly name = 'RouterError';
  readonly code: RouterErrorCode;

  constructor(code: RouterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isRouterError(error: unknown): error is RouterError {
  if (!(error instanceof Error) || error.name !== 'RouterError') return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ROUTER_');
}

export type StoreErrorCode =
  /** The database could not be opened (missing, unwritable, corrupt). */
  | 'STORE_UNAVAILABLE'
  /** The database was written by a newer schema version than this store knows. */
  | 'STORE_SCHEMA_TOO_NEW'
  /** A batch could not be committed: none of it is known to be durable. */
  | 'STORE_WRITE_FAILED'
  /** The store is closed. */
  | 'STORE_CLOSED';

/** Errors of `Store` implementations. Stores wrap driver errors in it with `cause`. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isStoreError(error: unknown): error is StoreError {
  if (!(error instanceof Error) || error.name !== 'StoreError') return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('STORE_');
}
