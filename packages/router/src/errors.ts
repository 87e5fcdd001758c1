export type RouterErrorCode =
  /** A `BrokerOptions` value out of range. */
  | 'ROUTER_INVALID_OPTION'
  /** A message passed to `Broker.publish` that cannot be routed (bad topic, QoS). */
  | 'ROUTER_INVALID_MESSAGE'
  /** The broker is closed. */
  | 'ROUTER_CLOSED';

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
