/** First restart delay of a worker that died; doubled per failure in a row. */
export const RESTART_BASE_DELAY_MS = 500;
/** Longest wait between two restarts of one worker. */
export const RESTART_MAX_DELAY_MS = 30_000;
/** A worker that served this long before it exited was healthy: its restart is quick again. */
export const STABLE_AFTER_MS = 30_000;

/**
 * The restart delays of one worker slot: 0.5 s, 1 s, 2 s, ... up to 30 s while it keeps dying
 * (or failing to start), so that a worker that cannot start (database down, port taken by
 * someone else) never spins; back to 0.5 s once a run lasted `STABLE_AFTER_MS` after it was ready.
 */
export class RestartBackoff {
  #failures = 0;

  /** The delay before the next start; `readyForMs`: how long the run that ended was ready (undefined: never). */
  next(readyForMs: number | undefined): number {
    if (readyForMs !== undefined && readyForMs >= STABLE_AFTER_MS) this.#failures = 0;
    this.#failures++;
    // The exponent is capped so that 2 ** n stays a small finite number after many failures.
    return Math.min(RESTART_MAX_DELAY_MS, RESTART_BASE_DELAY_MS * 2 ** Math.min(this.#failures - 1, 16));
  }
}
