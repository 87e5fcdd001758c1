import { describe, expect, it } from 'vitest';
import {
  type Delivery,
  DeliveryMerger,
  mergeBySubscriber,
  type Subscription,
  type SubscriptionOptions,
  SubscriptionTrie,
} from '../src/index.js';

function summary(deliveries: readonly Delivery<string>[]): string[] {
  return deliveries.map(
    (d) =>
      `${d.subscriber} q${d.qos}${d.shareGroup === undefined ? '' : ` share=${d.shareGroup}`}` +
      `${d.subscriptionIdentifiers === undefined ? '' : ` ids=${d.subscriptionIdentifiers.join(',')}`}` +
      `${d.retainAsPublished ? ' rap' : ''} first=${d.subscription.topicFilter}`,
  );
}

function trie(subs: [string, string, SubscriptionOptions][]): SubscriptionTrie<string> {
  const t = new SubscriptionTrie<string>();
  for (const [filter, subscriber, options] of subs) t.add(filter, subscriber, options);
  return t;
}

describe('mergeBySubscriber', () => {
  it('merges one subscriber at its highest QoS with every subscription identifier in match order', () => {
    const t = trie([
      ['a/#', 'c1', { qos: 0, subscriptionIdentifier: 1 }],
      ['a/+', 'c1', { qos: 2 }],
      ['a/b', 'c1', { qos: 1, subscriptionIdentifier: 3, retainAsPublished: true }],
      ['a/b', 'c2', { qos: 1 }],
    ]);
    const matches = t.match('a/b');
    expect(matches.map((m) => m.topicFilter)).toEqual(['a/#', 'a/+', 'a/b', 'a/b']);
    expect(summary(mergeBySubscriber(matches))).toEqual(['c1 q2 ids=1,3 rap first=a/#', 'c2 q1 first=a/b']);
  });

  it('keeps each shared delivery apart, even beside a non-shared one of the same subscriber', () => {
    const t = trie([
      ['a/+', 'c1', { qos: 0 }],
      ['$share/g/a/+', 'c1', { qos: 1, subscriptionIdentifier: 9 }],
      ['$share/h/a/+', 'c1', { qos: 2 }],
      ['a/b', 'c1', { qos: 1, subscriptionIdentifier: 4 }],
    ]);
    expect(summary(mergeBySubscriber(t.match('a/b')))).toEqual([
      'c1 q1 ids=4 first=a/+',
      'c1 q1 share=g ids=9 first=$share/g/a/+',
      'c1 q2 share=h first=$share/h/a/+',
    ]);
  });

  it("drops the publisher's own noLocal subscriptions and keeps its others", () => {
    const t = trie([
      ['a/#', 'pub', { qos: 2, noLocal: true }],
      ['a/b', 'pub', { qos: 1 }],
      ['a/+', 'other', { qos: 1, noLocal: true }],
    ]);
    const matches = t.match('a/b');
    expect(summary(mergeBySubscriber(matches, 'pub'))).toEqual(['other q1 first=a/+', 'pub q1 first=a/b']);
    expect(summary(mergeBySubscriber(matches))).toEqual(['pub q2 first=a/#', 'other q1 first=a/+']);
    const onlyOwn = trie([['x', 'pub', { qos: 0, noLocal: true }]]).match('x');
    expect(mergeBySubscriber(onlyOwn, 'pub')).toEqual([]);
  });

  it('gives the same result with and without the Map, around the linear limit', () => {
    for (const count of [0, 1, 15, 31, 32, 33, 80]) {
      const matches: Subscription<string>[] = [];
      for (let i = 0; i < count; i++) {
        const qos = (i % 3) as 0 | 1 | 2;
        matches.push({
          subscriber: `c${i % 5}`,
          topicFilter: `f${i}`,
          shareGroup: i % 7 === 6 ? 'g' : undefined,
          options: { qos, subscriptionIdentifier: i % 2 === 0 ? i : undefined },
        });
      }
      const merged = mergeBySubscriber(matches);
      // the obvious model: group by subscriber, shared ones alone
      const expected: string[] = [];
      const seen = new Map<string, { qos: number; ids: number[]; first: string }>();
      const order: (string | { shared: Subscription<string> })[] = [];
      for (const m of matches) {
        if (m.shareGroup !== undefined) {
          order.push({ shared: m });
          continue;
        }
        const s = seen.get(m.subscriber);
        const id = m.options.subscriptionIdentifier;
        if (s === undefined) {
          seen.set(m.subscriber, {
            qos: m.options.qos,
            ids: id === undefined ? [] : [id],
            first: m.topicFilter,
          });
          order.push(m.subscriber);
        } else {
          s.qos = Math.max(s.qos, m.options.qos);
          if (id !== undefined) s.ids.push(id);
        }
      }
      for (const o of order) {
        if (typeof o === 'string') {
          const s = seen.get(o)!;
          expected.push(`${o} q${s.qos}${s.ids.length ? ` ids=${s.ids.join(',')}` : ''} first=${s.first}`);
        } else {
          const id = o.shared.options.subscriptionIdentifier;
          expected.push(
            `${o.shared.subscriber} q${o.shared.options.qos} share=g${id === undefined ? '' : ` ids=${id}`} first=${o.shared.topicFilter}`,
          );
        }
      }
      expect(summary(merged)).toEqual(expected);
    }
  });
});

describe('DeliveryMerger', () => {
  it('reuses its delivery objects and gives fresh identifier arrays', () => {
    const t = trie([
      ['a/#', 'c1', { qos: 1, subscriptionIdentifier: 1 }],
      ['a/b', 'c2', { qos: 0 }],
      ['x', 'c3', { qos: 2 }],
    ]);
    const merger = new DeliveryMerger<string>();
    expect(merger.merge(t.match('a/b'))).toBe(2);
    expect(merger.length).toBe(2);
    const first = merger.deliveries[0]!;
    const ids = first.subscriptionIdentifiers;
    expect(ids).toEqual([1]);
    expect(merger.merge(t.match('x'))).toBe(1);
    expect(merger.deliveries[0]).toBe(first);
    expect(summary(merger.deliveries.slice(0, merger.length))).toEqual(['c3 q2 first=x']);
    expect(ids).toEqual([1]); // the kept array was not reused
    expect(merger.merge([])).toBe(0);
  });
});
