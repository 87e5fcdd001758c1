import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Subscription, SubscriptionTrie } from '../src/index.js';
import { filterArb, qosArb, subscriberArb, topicArb } from './arbitraries.js';
import { referenceMatches, referenceShare } from './reference.js';

interface Added {
  filter: string;
  subscriber: string;
  qos: 0 | 1 | 2;
}

/** The latest options of every (filter, subscriber), as the trie should hold them. */
function model(adds: Added[]): Map<string, Added> {
  const result = new Map<string, Added>();
  for (const add of adds) result.set(`${add.filter}\u0000${add.subscriber}`, add);
  return result;
}

/**
 * Checks one match against the reference: every matching non-shared subscription once, and
 * per matching (group, filter) exactly one available member, or none if none is available.
 */
function checkMatch(
  subs: Map<string, Added>,
  topic: string,
  got: readonly Subscription<string>[],
  isAvailable: (s: string) => boolean,
): void {
  const expectedPlain: string[] = [];
  const groups = new Map<string, Added[]>();
  for (const sub of subs.values()) {
    const { group, filter } = referenceShare(sub.filter);
    if (!referenceMatches(filter, topic)) continue;
    if (group === undefined) expectedPlain.push(`${sub.subscriber} ${sub.filter} q${sub.qos}`);
    else groups.set(sub.filter, [...(groups.get(sub.filter) ?? []), sub]);
  }
  const gotPlain = got.filter((s) => s.shareGroup === undefined);
  expect(gotPlain.map((s) => `${s.subscriber} ${s.topicFilter} q${s.options.qos}`).sort()).toEqual(
    expectedPlain.sort(),
  );
  const gotShared = got.filter((s) => s.shareGroup !== undefined);
  const expectedGroups = [...groups.entries()].filter(([, members]) =>
    members.some((m) => isAvailable(m.subscriber)),
  );
  expect(gotShared.map((s) => s.topicFilter).sort()).toEqual(expectedGroups.map(([filter]) => filter).sort());
  for (const s of gotShared) {
    const member = groups.get(s.topicFilter)!.find((m) => m.subscriber === s.subscriber);
    expect(member).toBeDefined();
    expect(isAvailable(s.subscriber)).toBe(true);
    expect(s.options.qos).toBe(member!.qos);
    expect(s.shareGroup).toBe(referenceShare(s.topicFilter).group);
  }
}

const addsArb = fc.array(fc.record({ filter: filterArb, subscriber: subscriberArb, qos: qosArb }), {
  maxLength: 40,
});

describe('SubscriptionTrie agrees with the reference matcher', () => {
  it('for random subscriptions, topics and availability', () => {
    fc.assert(
      fc.property(
        addsArb,
        fc.array(topicArb, { minLength: 1, maxLength: 10 }),
        fc.subarray(['c0', 'c1', 'c2', 'c3', 'c4']),
        (adds, topics, down) => {
          const isAvailable = (s: string) => !down.includes(s);
          const trie = new SubscriptionTrie<string>({ isAvailable });
          for (const add of adds) trie.add(add.filter, add.subscriber, { qos: add.qos });
          const subs = model(adds);
          expect(trie.size).toBe(subs.size);
          const out: Subscription<string>[] = [];
          for (const topic of topics) {
            checkMatch(subs, topic, trie.match(topic), isAvailable);
            checkMatch(subs, topic, trie.match(topic, out), isAvailable);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('at scale: hundreds of subscriptions over many distinct levels (tables, big lists)', () => {
    // levels from a wide alphabet so nodes get dozens of children (ChildTable, resizes),
    // and a few popular filters with many subscribers (indexed lists)
    const wideLevel = fc.oneof(
      fc.constantFrom('a', 'b', '', '$x'),
      fc.integer({ min: 0, max: 60 }).map((n) => `l${n}`),
    );
    const wideFilter = fc
      .tuple(fc.array(fc.oneof(wideLevel, fc.constant('+')), { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
      .filter((f) => f.length > 0 && !f.startsWith('$share/'));
    const wideTopic = fc.array(wideLevel, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
    const many = fc.integer({ min: 0, max: 49 }).map((n) => `s${n}`);
    const add = fc.oneof(
      fc.record({ filter: wideFilter, subscriber: many, qos: qosArb }),
      fc.record({ filter: fc.constantFrom('a/#', 'l1/+', '$share/g/l2/#'), subscriber: many, qos: qosArb }),
    );
    fc.assert(
      fc.property(
        fc.array(add, { minLength: 200, maxLength: 600 }),
        fc.array(wideTopic, { minLength: 50, maxLength: 50 }),
        (adds, topics) => {
          const trie = new SubscriptionTrie<string>();
          for (const a of adds) trie.add(a.filter, a.subscriber, { qos: a.qos });
          const subs = model(adds);
          for (const topic of [...topics, 'a', 'a/b', 'l1/x', 'l2/y/z']) {
            checkMatch(subs, topic, trie.match(topic), () => true);
          }
          // remove half, check again, then the rest: back to empty
          const entries = [...subs.values()];
          for (const e of entries.slice(0, entries.length >> 1)) {
            expect(trie.remove(e.filter, e.subscriber)).toBe(true);
            subs.delete(`${e.filter}\u0000${e.subscriber}`);
          }
          for (const topic of topics.slice(0, 10)) checkMatch(subs, topic, trie.match(topic), () => true);
          for (const e of subs.values()) expect(trie.remove(e.filter, e.subscriber)).toBe(true);
          expect(trie.size).toBe(0);
          expect(trie.experimental_nodeCount).toBe(0);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('for filters made to match the topic (no misses by luck)', () => {
    // derive filters from the topic itself so most of them match it
    const derived = topicArb.chain((topic) => {
      const levels = topic.split('/');
      const filter = fc
        .tuple(
          fc.array(fc.boolean(), { minLength: levels.length, maxLength: levels.length }),
          fc.nat({ max: levels.length }),
          fc.boolean(),
        )
        .map(([plus, cut, hash]) => {
          const kept = levels.map((l, i) => (plus[i] ? '+' : l)).slice(0, hash ? cut : levels.length);
          return hash ? [...kept, '#'].join('/') : kept.join('/');
        })
        .filter((f) => f.length > 0 && !f.startsWith('$share/'));
      return fc.tuple(fc.constant(topic), fc.array(fc.tuple(filter, subscriberArb), { maxLength: 12 }));
    });
    fc.assert(
      fc.property(derived, ([topic, filters]) => {
        const trie = new SubscriptionTrie<string>();
        const adds = filters.map(([filter, subscriber]) => ({ filter, subscriber, qos: 0 as const }));
        for (const add of adds) trie.add(add.filter, add.subscriber, { qos: 0 });
        checkMatch(model(adds), topic, trie.match(topic), () => true);
      }),
      { numRuns: 500 },
    );
  });
});
