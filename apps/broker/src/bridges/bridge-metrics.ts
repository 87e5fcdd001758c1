import { Counter, Gauge, type Registry } from 'prom-client';
import type { BridgeStatus } from './bridge-runtime.js';

const PREFIX = 'mqtt_adapt_bridge_';
const RULE_LABELS = ['bridge', 'rule', 'direction'] as const;
type RuleCounter = 'forwarded' | 'failed' | 'retried' | 'deadLettered' | 'duplicates';

const COUNTERS: ReadonlyArray<readonly [RuleCounter, string, string]> = [
  ['forwarded', 'forwarded', 'Messages the destination confirmed (uplink) or the broker accepted (downlink)'],
  ['failed', 'failed', 'Messages not delivered: dead-lettered, or handed back unacknowledged'],
  ['retried', 'retried', 'Retries after a failed send or publish'],
  ['deadLettered', 'dead_lettered', 'Messages sent to the dead-letter destination (or logged, without one)'],
  ['duplicates', 'duplicates', 'Sends the destination recognised as duplicates (NATS Nats-Msg-Id)'],
];

/**
 * Per-rule bridge metrics, read from `bridge.metrics()` at every scrape: counters, queue depth,
 * saturation, end-to-end latency quantiles (received by the bridge to confirmed, last 1024
 * messages) and each bridge's reachability.
 */
export function observeBridges(registry: Registry, status: () => BridgeStatus[]): void {
  new Gauge({
    name: `${PREFIX}connected`,
    help: 'Whether the bridge reached its engine the last time it used it (0 while starting or unreachable)',
    labelNames: ['bridge', 'type'],
    registers: [registry],
    collect() {
      for (const bridge of status())
        this.set({ bridge: bridge.name, type: bridge.type }, bridge.state === 'connected' ? 1 : 0);
    },
  });
  for (const [field, name, help] of COUNTERS) {
    const reported = new Map<string, number>();
    new Counter({
      name: `${PREFIX}${name}_total`,
      help,
      labelNames: RULE_LABELS,
      registers: [registry],
      collect() {
        for (const bridge of status()) {
          for (const rule of bridge.rules) {
            const labels = { bridge: bridge.name, rule: rule.rule, direction: rule.direction };
            const key = `${bridge.name}\u0000${rule.rule}`;
            const before = reported.get(key) ?? 0;
            const current = rule[field];
            this.inc(labels, current > before ? current - before : 0);
            reported.set(key, Math.max(before, current));
          }
        }
      },
    });
  }
  new Gauge({
    name: `${PREFIX}queue_depth`,
    help: 'Messages a rule accepted and has not finished, plus those waiting for room',
    labelNames: RULE_LABELS,
    registers: [registry],
    collect() {
      for (const bridge of status())
        for (const rule of bridge.rules)
          this.set({ bridge: bridge.name, rule: rule.rule, direction: rule.direction }, rule.queueDepth);
    },
  });
  new Gauge({
    name: `${PREFIX}saturated`,
    help: 'Whether a rule is at its maxInFlight bound (its publishers are held back)',
    labelNames: RULE_LABELS,
    registers: [registry],
    collect() {
      for (const bridge of status())
        for (const rule of bridge.rules)
          this.set(
            { bridge: bridge.name, rule: rule.rule, direction: rule.direction },
            rule.saturated ? 1 : 0,
          );
    },
  });
  new Gauge({
    name: `${PREFIX}latency_seconds`,
    help: 'End-to-end latency of a rule (received to confirmed) over its last 1024 messages, by quantile',
    labelNames: [...RULE_LABELS, 'quantile'],
    registers: [registry],
    collect() {
      for (const bridge of status()) {
        for (const rule of bridge.rules) {
          const base = { bridge: bridge.name, rule: rule.rule, direction: rule.direction };
          const { p50Ms, p90Ms, p99Ms, maxMs } = rule.latency;
          this.set({ ...base, quantile: '0.5' }, p50Ms / 1000);
          this.set({ ...base, quantile: '0.9' }, p90Ms / 1000);
          this.set({ ...base, quantile: '0.99' }, p99Ms / 1000);
          this.set({ ...base, quantile: '1' }, maxMs / 1000);
        }
      }
    },
  });
}
