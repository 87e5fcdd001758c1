import { describe, expect, it } from 'vitest';
import {
  hashSharePolicy,
  randomSharePolicy,
  roundRobinSharePolicy,
  type SharePolicy,
  SubscriptionTrie,
  type SubscriptionTrieOptions,
} from '../src/index.js';

/** A trie with `$share/g/jobs/+` members m0..m{n-1}. */
function group(n: number, options: SubscriptionTrieOptions<string> = {}): SubscriptionTrie<string> {
  const trie = new SubscriptionTrie<string>(options);
  for (let i = 0; i < n; i++) trie.add('$share/g/jobs/+', `m${i}`, { qos: 1 });
  return trie;
}

function receiver(
  trie: SubscriptionTrie<string>,
  topic = 'jobs/x',
  publisherId?: string,
): string | undefined {
  const matches = trie.match(topic, undefined, publisherId);
  expect(matches.length).toBeLessThanOrEqual(1);
  return matches[0]?.subscriber;
}

function counts(receivers: (string | undefined)[]): Record<string, number> {
  const result: Record<string, number> = {};
  for (const r of receivers) result[String(r)] = (result[String(r)] ?? 0) + 1;
  return result;
}

describe('round-robin (default)', () => {
  it('gives each member one message in turn', () => {
    for (const trie of [group(3), group(3, { sharePolicy: roundRobinSharePolicy() })]) {
      const got = Array.from({ length: 9 }, () => receiver(trie));
      expect(got).toEqual(['m0', 'm1', 'm2', 'm0', 'm1', 'm2', 'm0', 'm1', 'm2']);
    }
  });

  it('keeps a separate turn per group and per filter', () => {
    const trie = new SubscriptionTrie<string>();
    for (const m of ['a0', 'a1']) trie.add('$share/a/jobs/+', m, { qos: 0 });
    for (const m of ['b0', 'b1', 'b2']) trie.add('$share/b/jobs/+', m, { qos: 0 });
    for (const m of ['c0', 'c1']) trie.add('$share/a/jobs/#', m, { qos: 0 });
    const rounds = Array.from({ length: 3 }, () =>
      trie
        .match('jobs/x')
        .map((s) => s.subscriber)
        .sort()
        .join(' '),
    );
    expect(rounds).toEqual(['a0 b0 c0', 'a1 b1 c1', 'a0 b2 c0']);
  });

  it('is fair over many messages, whatever the topics', () => {
    const trie = group(7);
    const got = Array.from({ length: 7000 }, (_, i) => receiver(trie, `jobs/${i % 13}`));
    expect(Object.values(counts(got))).toEqual(Array(7).fill(1000));
  });

  it('skips unavailable members and passes the turn on', () => {
    const down = new Set(['m1']);
    const trie = group(3, { isAvailable: (m) => !down.has(m) });
    expect(Array.from({ length: 6 }, () => receiver(trie))).toEqual(['m0', 'm2', 'm0', 'm2', 'm0', 'm2']);
    down.clear(); // the turn is back at m0 after m2
    expect(Array.from({ length: 3 }, () => receiver(trie))).toEqual(['m0', 'm1', 'm2']);
  });

  it('skips the group when no member is available, without touching the turn', () => {
    let up = false;
    const trie = group(2, { isAvailable: () => up });
    trie.add('jobs/+', 'plain', { qos: 0 });
    expect(trie.match('jobs/x').map((s) => s.subscriber)).toEqual(['plain']);
    up = true;
    expect(receiverOfGroup(trie)).toBe('m0');
  });

  it('keeps the turn on the right member when members leave', () => {
    const trie = group(4);
    expect(receiver(trie)).toBe('m0');
    expect(receiver(trie)).toBe('m1'); // m2 is next
    trie.remove('$share/g/jobs/+', 'm0');
    expect(receiver(trie)).toBe('m2');
    trie.remove('$share/g/jobs/+', 'm3'); // the next one leaves: wrap to the start
    expect(receiver(trie)).toBe('m1');
    expect(receiver(trie)).toBe('m2');
  });
});

function receiverOfGroup(trie: SubscriptionTrie<string>): string | undefined {
  return trie.match('jobs/x').find((s) => s.shareGroup !== undefined)?.subscriber;
}

describe('random', () => {
  it('uses the injected random source', () => {
    const values = [0, 0.99, 0.5, 0.34];
    const trie = group(3, { sharePolicy: randomSharePolicy(() => values.shift()!) });
    expect(Array.from({ length: 4 }, () => receiver(trie))).toEqual(['m0', 'm2', 'm1', 'm1']);
  });

  it('spreads messages over every member and skips unavailable ones', () => {
    const trie = group(4, { sharePolicy: randomSharePolicy(), isAvailable: (m) => m !== 'm3' });
    const got = counts(Array.from({ length: 4000 }, () => receiver(trie)));
    expect(Object.keys(got).sort()).toEqual(['m0', 'm1', 'm2']);
    for (const n of Object.values(got)) expect(n).toBeGreaterThan(800);
  });
});

describe('hash (sticky)', () => {
  it('sends one publisher to one member, and different publishers to several', () => {
    const trie = group(5, { sharePolicy: hashSharePolicy('publisher') });
    const chosen = new Map<string, string | undefined>();
    for (let p = 0; p < 50; p++) {
      const publisher = `client-${p}`;
      const first = receiver(trie, `jobs/${p}`, publisher);
      for (let i = 0; i < 5; i++) expect(receiver(trie, `jobs/${i}`, publisher)).toBe(first);
      chosen.set(publisher, first);
    }
    expect(new Set(chosen.values()).size).toBeGreaterThan(2);
  });

  it('keys on the topic with by: topic, or when no publisher is given', () => {
    for (const trie of [
      group(5, { sharePolicy: hashSharePolicy('topic') }),
      group(5, { sharePolicy: hashSharePolicy() }),
    ]) {
      const perTopic = Array.from({ length: 20 }, (_, t) => receiver(trie, `jobs/t${t}`));
      const again = Array.from({ length: 20 }, (_, t) => receiver(trie, `jobs/t${t}`, undefined));
      expect(again).toEqual(perTopic);
      expect(new Set(perTopic).size).toBeGreaterThan(2);
    }
    const byTopic = group(5, { sharePolicy: hashSharePolicy('topic') });
    expect(receiver(byTopic, 'jobs/a', 'p1')).toBe(receiver(byTopic, 'jobs/a', 'p2'));
  });

  it("moves only an unavailable member's keys, to the next member", () => {
    const down = new Set<string>();
    const trie = group(4, { sharePolicy: hashSharePolicy('publisher'), isAvailable: (m) => !down.has(m) });
    const publishers = Array.from({ length: 200 }, (_, p) => `p${p}`);
    const before = publishers.map((p) => receiver(trie, 'jobs/x', p));
    down.add('m2');
    const after = publishers.map((p) => receiver(trie, 'jobs/x', p));
    for (let i = 0; i < publishers.length; i++) {
      if (before[i] === 'm2') expect(after[i]).toBe('m3');
      else expect(after[i]).toBe(before[i]);
    }
    expect(before).toContain('m2');
  });
});

describe('custom policies', () => {
  it('wraps out-of-range, fractional and non-finite indexes', () => {
    const indexes = [5, -1, 1.7, Number.NaN, Number.POSITIVE_INFINITY];
    const chosen: number[] = [];
    const policy: SharePolicy = {
      first: () => indexes.shift()!,
      chosen: (_group, index) => chosen.push(index),
    };
    const trie = group(3, { sharePolicy: policy });
    expect(Array.from({ length: 5 }, () => receiver(trie))).toEqual(['m2', 'm2', 'm1', 'm0', 'm0']);
    expect(chosen).toEqual([2, 2, 1, 0, 0]);
  });

  it('sees the group: name, filter, members and its cursor', () => {
    const seen: string[] = [];
    const policy: SharePolicy = {
      first: (g, topicName, publisherId) => {
        seen.push(`${g.name} ${g.topicFilter} ${g.members.length} ${topicName} ${publisherId}`);
        return g.members.length - 1;
      },
      chosen: (g, index) => {
        g.cursor = index;
      },
    };
    const trie = group(2, { sharePolicy: policy });
    expect(receiver(trie, 'jobs/y', 'pub')).toBe('m1');
    expect(seen).toEqual(['g jobs/+ 2 jobs/y pub']);
  });

  it('may match again from inside a callback without disturbing the outer match', () => {
    const trie = new SubscriptionTrie<string>({
      isAvailable: (m) => {
        // a nested match on the same trie, e.g. a policy that inspects other subscriptions
        expect(trie.match('x/y').map((s) => s.topicFilter)).toEqual(['x/+']);
        return m !== 'm0';
      },
    });
    trie.add('x/+', 'other', { qos: 0 });
    trie.add('$share/g/a/+', 'm0', { qos: 0 });
    trie.add('$share/g/a/+', 'm1', { qos: 0 });
    trie.add('a/#', 'plain', { qos: 0 });
    trie.add('a/b', 'plain', { qos: 0 });
    expect(trie.match('a/b').map((s) => `${s.subscriber} ${s.topicFilter}`)).toEqual([
      'plain a/#',
      'm1 $share/g/a/+',
      'plain a/b',
    ]);
  });
});
