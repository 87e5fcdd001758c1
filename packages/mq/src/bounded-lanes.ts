import PQueue from 'p-queue';

export interface BoundedLanesOptions {
  /** Work accepted at once (running plus waiting behind its lane). Default 256. */
  readonly maxInFlight?: number;
  /** Tasks running at once across all lanes. Default 16. */
  readonly concurrency?: number;
  /** `onSaturated` fires at `maxInFlight`; `onDrained` once accepted plus waiting work falls to this. Default half. */
  readonly lowWater?: number;
  onSaturated?(): void;
  onDrained?(): void;
}

/**
 * A bounded pool of serial lanes. Tasks with the same key run one after another in the order they
 * were given (a retry happens inside its task, so it keeps its place); tasks of different keys
 * run in parallel up to `concurrency`. At most `maxInFlight` tasks are accepted; later callers
 * wait in arrival order, which is the backpressure: the broker is holding their acks.
 */
export class BoundedLanes {
  readonly maxInFlight: number;
  readonly #queue: PQueue;
  readonly #tails = new Map<string, Promise<void>>();
  readonly #waiting: Array<() => void> = [];
  readonly #idle: Array<() => void> = [];
  readonly #lowWater: number;
  readonly #options: BoundedLanesOptions;
  #accepted = 0;
  #saturated = false;

  constructor(options: BoundedLanesOptions = {}) {
    this.maxInFlight = options.maxInFlight ?? 256;
    const concurrency = options.concurrency ?? 16;
    if (!(this.maxInFlight >= 1)) throw new RangeError(`maxInFlight ${this.maxInFlight} must be at least 1`);
    if (!(concurrency >= 1)) throw new RangeError(`concurrency ${concurrency} must be at least 1`);
    this.#queue = new PQueue({ concurrency });
    this.#lowWater = options.lowWater ?? Math.floor(this.maxInFlight / 2);
    this.#options = options;
  }

  /** Tasks accepted and not finished. Never above `maxInFlight`. */
  get inFlight(): number {
    return this.#accepted;
  }

  /** Callers waiting for room. Bounded by what the broker lets publishers have unacknowledged. */
  get waiting(): number {
    return this.#waiting.length;
  }

  get isSaturated(): boolean {
    return this.#saturated;
  }

  /** Runs `task` in the lane of `key`, after every earlier task of that key. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    if (this.#accepted < this.maxInFlight && this.#waiting.length === 0) return this.#admit(key, task);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push(() => {
        this.#admit(key, task).then(resolve, reject);
      });
    });
  }

  /** Resolves once nothing is accepted or waiting. */
  onIdle(): Promise<void> {
    if (this.#accepted === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #admit<T>(key: string, task: () => Promise<T>): Promise<T> {
    this.#accepted++;
    if (!this.#saturated && this.#accepted >= this.maxInFlight) {
      this.#saturated = true;
      this.#options.onSaturated?.();
    }
    const previous = this.#tails.get(key);
    const result = previous ? previous.then(() => this.#queue.add(task)) : this.#queue.add(task);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#tails.set(key, tail);
    void tail.then(() => this.#finish(key, tail));
    return result;
  }

  #finish(key: string, tail: Promise<void>): void {
    if (this.#tails.get(key) === tail) this.#tails.delete(key);
    this.#accepted--;
    while (this.#waiting.length > 0 && this.#accepted < this.maxInFlight) this.#waiting.shift()!();
    if (this.#saturated && this.#accepted + this.#waiting.length <= this.#lowWater) {
      this.#saturated = false;
      this.#options.onDrained?.();
    }
    if (this.#accepted === 0 && this.#waiting.length === 0) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }
}
