/** End-to-end latency (received by the bridge to confirmed by the destination) over recent messages. */
export interface LatencySummary {
  /** Messages measured since start (the percentiles cover the last `windowSize` of them). */
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface RuleMetricsSnapshot {
  readonly rule: string;
  readonly direction: 'uplink' | 'downlink';
  /** Messages the destination confirmed (uplink) or the broker accepted (downlink). */
  readonly forwarded: number;
  /** Messages not delivered: dead-lettered, or handed back unacknowledged (closed, dead letter failed). */
  readonly failed: number;
  /** Retry attempts after a failed send. A retry after an unconfirmed send may store a duplicate. */
  readonly retried: number;
  readonly deadLettered: number;
  /** Sends the destination recognised as duplicates of an earlier one (NATS `Nats-Msg-Id`). */
  readonly duplicates: number;
  /** Messages accepted and not finished, plus callers waiting for room. */
  readonly queueDepth: number;
  /** True while the rule is at its bound and the broker should stop reading from publishers. */
  readonly saturated: boolean;
  readonly latency: LatencySummary;
}

export interface MetricsSnapshot {
  /** ISO 8601 time of the snapshot. */
  readonly at: string;
  readonly rules: readonly RuleMetricsSnapshot[];
}

const windowSize = 1024;

/** Counters and a latency window for one rule. */
export class RuleMetrics {
  forwarded = 0;
  failed = 0;
  retried = 0;
  deadLettered = 0;
  duplicates = 0;
  readonly #samples = new Float64Array(windowSize);
  #count = 0;
  #sum = 0;
  #max = 0;

  constructor(
    readonly rule: string,
    readonly direction: 'uplink' | 'downlink',
  ) {}

  recordLatency(ms: number): void {
    this.#samples[this.#count % windowSize] = ms;
    this.#count++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  snapshot(queueDepth: number, saturated: boolean): RuleMetricsSnapshot {
    return {
      rule: this.rule,
      direction: this.direction,
      forwarded: this.forwarded,
      failed: this.failed,
      retried: this.retried,
      deadLettered: this.deadLettered,
      duplicates: this.duplicates,
      queueDepth,
      saturated,
      latency: this.#latency(),
    };
  }

  #latency(): LatencySummary {
    const n = Math.min(this.#count, windowSize);
    const sorted = Array.from(this.#samples.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(q * n))]!);
    return {
      count: this.#count,
      meanMs: this.#count === 0 ? 0 : this.#sum / this.#count,
      p50Ms: at(0.5),
      p90Ms: at(0.9),
      p99Ms: at(0.99),
      maxMs: this.#max,
    };
  }
}
