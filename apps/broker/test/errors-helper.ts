import { type BrokerAppError, isBrokerAppError } from '../src/errors.js';

/** Runs `fn`, expects it to throw a BrokerAppError, and returns it. */
export function appErrorOf(fn: () => unknown): BrokerAppError {
  try {
    fn();
  } catch (error) {
    if (isBrokerAppError(error)) return error;
    throw error;
  }
  throw new Error('expected a BrokerAppError, nothing was thrown');
}
