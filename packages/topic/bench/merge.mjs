// How DeliveryMerger should find a subscriber's earlier delivery: a linear search over the
// deliveries so far (no allocation, O(n²)) or a Map (one allocation, O(n)). Measures both
// strategies and the built merger, for n matches of n distinct subscribers (the common case:
// no overlap) and of n/4 subscribers with 4 matches each.
// Run from packages/topic: `npx tsup && node --expose-gc bench/merge.mjs`.
import { DeliveryMerger } from '../dist/index.js';

function linear(matches, deliveries) {
  let n = 0;
  for (const match of matches) {
    let found;
    for (let d = 0; d < n; d++) {
      if (deliveries[d].subscriber === match.subscriber) {
        found = deliveries[d];
        break;
      }
    }
    if (found) {
      if (match.options.qos > found.qos) found.qos = match.options.qos;
    } else {
      const delivery = deliveries[n++];
      delivery.subscriber = match.subscriber;
      delivery.qos = match.options.qos;
    }
  }
  return n;
}

function withMap(matches, deliveries) {
  const bySubscriber = new Map();
  let n = 0;
  for (const match of matches) {
    const found = bySubscriber.get(match.subscriber);
    if (found) {
      if (match.options.qos > found.qos) found.qos = match.options.qos;
    } else {
      const delivery = deliveries[n++];
      delivery.subscriber = match.subscriber;
      delivery.qos = match.options.qos;
      bySubscriber.set(match.subscriber, delivery);
    }
  }
  return n;
}

function cpuNs() {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

function nsPerMerge(fn, matches, deliveries) {
  const runs = [];
  for (let r = 0; r < 7; r++) {
    let count = 0;
    const start = cpuNs();
    while (cpuNs() - start < 50e6) {
      for (let i = 0; i < 1000; i++) count += fn(matches, deliveries) > 0 ? 1 : 0;
    }
    runs.push((cpuNs() - start) / count);
  }
  return runs.sort((a, b) => a - b)[3];
}

const merger = new DeliveryMerger();
const deliveries = Array.from({ length: 256 }, () => ({ subscriber: undefined, qos: 0 }));
const subscribers = Array.from({ length: 256 }, (_, i) => ({ id: `client-${i}` }));
console.log('| matches | subscribers | linear ns | Map ns | DeliveryMerger ns |');
console.log('| --- | --- | --- | --- | --- |');
for (const n of [1, 2, 4, 8, 12, 16, 24, 32, 64, 128]) {
  for (const distinct of [n, Math.max(1, n / 4)]) {
    const matches = Array.from({ length: n }, (_, i) => ({
      subscriber: subscribers[i % distinct],
      topicFilter: `f/${i}`,
      shareGroup: undefined,
      options: { qos: i % 3 },
    }));
    const row = [
      nsPerMerge(linear, matches, deliveries),
      nsPerMerge(withMap, matches, deliveries),
      nsPerMerge((m) => merger.merge(m), matches),
    ].map((ns) => ns.toFixed(0));
    console.log(`| ${n} | ${distinct} | ${row.join(' | ')} |`);
  }
}
