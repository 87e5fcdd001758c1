import { describe, expect, it } from 'vitest';
import { isTopicError, type Subscription, type SubscriptionOptions, SubscriptionTrie } from '../src/index.js';

function filtersMatching(trie: SubscriptionTrie<string>, topic: string): string[] {
  return trie
    .match(topic)
    .map((s) => s.topicFilter)
    .sort();
}

function trieOf(...filters: string[]): SubscriptionTrie<string> {
  const trie = new SubscriptionTrie<string>();
  for (const filter of filters) trie.add(filter, 'c', { qos: 0 });
  return trie;
}

describe('SubscriptionTrie matching rules', () => {
  it('matches levels exactly and case-sensitively', () => {
    const trie = trieOf('sport/tennis', 'Sport/Tennis', 'sport/tennis/player1', 'sport');
    expect(filtersMatching(trie, 'sport/tennis')).toEqual(['sport/tennis']);
    expect(filtersMatching(trie, 'Sport/Tennis')).toEqual(['Sport/Tennis']);
    expect(filtersMatching(trie, 'sport/tenni')).toEqual([]);
    expect(filtersMatching(trie, 'sport/tennis/')).toEqual([]);
  });

  it("matches '#' at the parent level and any depth below", () => {
    const trie = trieOf('sport/#', 'sport/tennis/#');
    expect(filtersMatching(trie, 'sport')).toEqual(['sport/#']);
    expect(filtersMatching(trie, 'sport/')).toEqual(['sport/#']);
    expect(filtersMatching(trie, 'sport/tennis')).toEqual(['sport/#', 'sport/tennis/#']);
    expect(filtersMatching(trie, 'sport/tennis/player1/ranking')).toEqual(['sport/#', 'sport/tennis/#']);
    expect(filtersMatching(trie, 'sports')).toEqual([]);
  });

  it("matches '#' alone against every topic not starting with '$'", () => {
    const trie = trieOf('#');
    for (const topic of ['a', '/', '/a', 'a/b/c', ' ', 'A$'])
      expect(filtersMatching(trie, topic)).toEqual(['#']);
    for (const topic of ['$SYS', '$SYS/x', '$', '$share/g/a'])
      expect(filtersMatching(trie, topic)).toEqual([]);
  });

  it("matches '+' against exactly one level, empty included", () => {
    const trie = trieOf('sport/+', '+', '+/+', '/+', 'a/+/c');
    expect(filtersMatching(trie, 'sport/tennis')).toEqual(['+/+', 'sport/+']);
    expect(filtersMatching(trie, 'sport')).toEqual(['+']);
    expect(filtersMatching(trie, 'sport/')).toEqual(['+/+', 'sport/+']);
    expect(filtersMatching(trie, '/finance')).toEqual(['+/+', '/+']);
    expect(filtersMatching(trie, '/')).toEqual(['+/+', '/+']);
    expect(filtersMatching(trie, 'a//c')).toEqual(['a/+/c']);
    expect(filtersMatching(trie, 'a/b/c/d')).toEqual([]);
  });

  it("keeps '$' topics away from filters starting with a wildcard", () => {
    const trie = trieOf('#', '+/monitor/Clients', '+', '$SYS/#', '$SYS/monitor/+', '$SYS');
    expect(filtersMatching(trie, '$SYS/monitor/Clients')).toEqual(['$SYS/#', '$SYS/monitor/+']);
    expect(filtersMatching(trie, '$SYS')).toEqual(['$SYS', '$SYS/#']);
    expect(filtersMatching(trie, 'SYS/monitor/Clients')).toEqual(['#', '+/monitor/Clients']);
    // only the first character counts
    expect(filtersMatching(trie, 'a$')).toEqual(['#', '+']);
  });

  it('treats leading and trailing slashes as empty levels', () => {
    const trie = trieOf('/a', 'a/', 'a', '/', '+/a', 'a/+', '//');
    expect(filtersMatching(trie, '/a')).toEqual(['+/a', '/a']);
    expect(filtersMatching(trie, 'a/')).toEqual(['a/', 'a/+']);
    expect(filtersMatching(trie, 'a')).toEqual(['a']);
    expect(filtersMatching(trie, '/')).toEqual(['/']);
    expect(filtersMatching(trie, '//')).toEqual(['//']);
  });

  it('does not treat a literal wildcard character in a topic as a wildcard', () => {
    // topic names never hold wildcards once validated; the trie still compares them literally
    const trie = trieOf('a/b');
    expect(filtersMatching(trie, 'a/+')).toEqual([]);
  });

  it('walks topics deeper than maxLevels without trouble', () => {
    const trie = new SubscriptionTrie<string>({ maxLevels: 3 });
    trie.add('a/#', 'c', { qos: 0 });
    trie.add('a/+/+', 'c', { qos: 0 });
    trie.add('#', 'c', { qos: 0 });
    const deep = `a/${'x/'.repeat(10_000)}x`;
    expect(trie.match(deep).map((s) => s.topicFilter)).toEqual(['#', 'a/#']);
    expect(filtersMatching(trie, 'a/b/c')).toEqual(['#', 'a/#', 'a/+/+']);
    expect(filtersMatching(trie, 'a/b/c/d')).toEqual(['#', 'a/#']);
  });
});

describe('SubscriptionTrie add, remove, options', () => {
  it('returns true for a new subscription and replaces the options of an existing one', () => {
    const trie = new SubscriptionTrie<string, SubscriptionOptions>();
    expect(trie.add('a/+', 'c1', { qos: 0 })).toBe(true);
    expect(trie.add('a/+', 'c2', { qos: 1 })).toBe(true);
    expect(trie.add('a/+', 'c1', { qos: 2, subscriptionIdentifier: 7 })).toBe(false);
    expect(trie.size).toBe(2);
    const c1 = trie.match('a/b').find((s) => s.subscriber === 'c1')!;
    expect(c1.options).toEqual({ qos: 2, subscriptionIdentifier: 7 });
    expect(c1.topicFilter).toBe('a/+');
    expect(c1.shareGroup).toBeUndefined();
    expect(trie.get('a/+', 'c1')).toBe(c1);
    expect(trie.get('a/+', 'c3')).toBeUndefined();
    expect(trie.get('a/b', 'c1')).toBeUndefined();
  });

  it('compares subscribers with ===', () => {
    const a = { id: 'x' };
    const b = { id: 'x' };
    const trie = new SubscriptionTrie<{ id: string }>();
    expect(trie.add('t', a, { qos: 0 })).toBe(true);
    expect(trie.add('t', b, { qos: 0 })).toBe(true);
    expect(trie.remove('t', { id: 'x' })).toBe(false);
    expect(trie.remove('t', a)).toBe(true);
    expect(trie.match('t').map((s) => s.subscriber)).toEqual([b]);
  });

  it('removes exactly one subscription and reports whether it existed', () => {
    const trie = trieOf('a/b', 'a/+', 'a/#');
    trie.add('a/b', 'd', { qos: 1 });
    expect(trie.remove('a/b', 'c')).toBe(true);
    expect(trie.remove('a/b', 'c')).toBe(false);
    expect(trie.remove('a/c', 'c')).toBe(false);
    expect(trie.remove('x/y/z', 'c')).toBe(false);
    expect(trie.remove('a/#/b', 'c')).toBe(false); // invalid: cannot be subscribed
    expect(trie.match('a/b').map((s) => `${s.subscriber} ${s.topicFilter}`)).toEqual([
      'c a/#',
      'c a/+',
      'd a/b',
    ]);
    expect(trie.size).toBe(3);
  });

  it('prunes every node so an emptied trie is back to nothing', () => {
    const trie = new SubscriptionTrie<string>();
    const filters = [
      'a/b/c',
      'a/b',
      'a/+/c',
      'a/#',
      '#',
      '+',
      '/',
      '//',
      '$SYS/#',
      '$share/g/a/b',
      '$share/h/a/b',
    ];
    for (const filter of filters) {
      trie.add(filter, 'x', { qos: 0 });
      trie.add(filter, 'y', { qos: 1 });
    }
    expect(trie.size).toBe(filters.length * 2);
    expect(trie.experimental_nodeCount).toBeGreaterThan(0);
    for (const filter of [...filters].reverse()) expect(trie.remove(filter, 'x')).toBe(true);
    for (const filter of filters) expect(trie.remove(filter, 'y')).toBe(true);
    expect(trie.size).toBe(0);
    expect(trie.experimental_nodeCount).toBe(0);
    expect([...trie.subscriptions()]).toEqual([]);
  });

  it('counts nodes: one per distinct level path', () => {
    const trie = trieOf('a/b/c');
    expect(trie.experimental_nodeCount).toBe(3);
    trie.add('a/b/d', 'c', { qos: 0 });
    trie.add('a/+', 'c', { qos: 0 });
    trie.add('a/#', 'c', { qos: 0 });
    expect(trie.experimental_nodeCount).toBe(6);
    trie.remove('a/b/c', 'c');
    expect(trie.experimental_nodeCount).toBe(5);
  });

  it('switches children from one node to an array to a Map and back, matching all along', () => {
    const trie = new SubscriptionTrie<string>();
    const levels = Array.from({ length: 40 }, (_, i) => `l${i}`);
    for (const level of levels) {
      trie.add(`r/${level}`, 'c', { qos: 0 });
      expect(filtersMatching(trie, `r/${level}`)).toEqual([`r/${level}`]);
    }
    for (const level of levels) expect(filtersMatching(trie, `r/${level}`)).toEqual([`r/${level}`]);
    expect(filtersMatching(trie, 'r/l40')).toEqual([]);
    for (const [i, level] of levels.entries()) {
      trie.remove(`r/${level}`, 'c');
      expect(filtersMatching(trie, `r/${level}`)).toEqual([]);
      for (const other of levels.slice(i + 1, i + 4))
        expect(filtersMatching(trie, `r/${other}`)).toEqual([`r/${other}`]);
    }
    expect(trie.experimental_nodeCount).toBe(0);
  });

  it('keeps add and remove right for a filter with many subscribers (indexed list)', () => {
    const trie = new SubscriptionTrie<string>();
    const ids = Array.from({ length: 100 }, (_, i) => `c${i}`);
    for (const id of ids) expect(trie.add('all', id, { qos: 0 })).toBe(true);
    for (const id of ids) expect(trie.add('all', id, { qos: 1 })).toBe(false);
    expect(trie.match('all')).toHaveLength(100);
    expect(trie.match('all').every((s) => s.options.qos === 1)).toBe(true);
    // remove every other one, then the rest, checking the survivors each time
    for (const [i, id] of ids.entries()) if (i % 2 === 0) expect(trie.remove('all', id)).toBe(true);
    expect(
      trie
        .match('all')
        .map((s) => s.subscriber)
        .sort(),
    ).toEqual(ids.filter((_, i) => i % 2 === 1).sort());
    for (const [i, id] of ids.entries()) {
      expect(trie.remove('all', id)).toBe(i % 2 === 1);
      expect(trie.get('all', id)).toBeUndefined();
    }
    expect(trie.size).toBe(0);
    expect(trie.experimental_nodeCount).toBe(0);
  });

  it('throws the TopicError of an invalid filter from add', () => {
    const trie = new SubscriptionTrie<string>({ maxLevels: 2 });
    for (const [filter, code] of [
      ['a/#/b', 'TOPIC_INVALID_WILDCARD'],
      ['', 'TOPIC_EMPTY'],
      ['$share//a', 'TOPIC_INVALID_SHARE'],
      ['a/b/c', 'TOPIC_TOO_DEEP'],
    ] as const) {
      let thrown: unknown;
      try {
        trie.add(filter, 'c', { qos: 0 });
      } catch (error) {
        thrown = error;
      }
      expect(isTopicError(thrown) && thrown.code).toBe(code);
    }
    expect(trie.size).toBe(0);
    expect(trie.experimental_nodeCount).toBe(0);
  });

  it('rejects a bad maxLevels as a bug', () => {
    expect(() => new SubscriptionTrie({ maxLevels: 0 })).toThrow(RangeError);
  });

  it('writes into a reused output array, truncating what was there', () => {
    const trie = trieOf('a/#', 'a/+', 'a/b');
    const out: Subscription<string>[] = [];
    expect(trie.match('a/b', out)).toBe(out);
    expect(out).toHaveLength(3);
    trie.match('a', out);
    expect(out.map((s) => s.topicFilter)).toEqual(['a/#']);
    trie.match('zzz', out);
    expect(out).toEqual([]);
  });

  it('returns the same entry objects on every match (no copy per match)', () => {
    const trie = trieOf('a/+');
    expect(trie.match('a/b')[0]).toBe(trie.match('a/c')[0]);
  });

  it('lists and clears every subscription', () => {
    const trie = trieOf('a', 'a/+', '#', '$share/g/a');
    expect([...trie.subscriptions()].map((s) => s.topicFilter).sort()).toEqual([
      '#',
      '$share/g/a',
      'a',
      'a/+',
    ]);
    trie.clear();
    expect(trie.size).toBe(0);
    expect(trie.experimental_nodeCount).toBe(0);
    expect(trie.match('a')).toEqual([]);
    expect(trie.add('a', 'c', { qos: 0 })).toBe(true);
  });
});

describe('SubscriptionTrie shared subscriptions', () => {
  it('delivers to exactly one member per (group, filter) and to every non-shared subscription', () => {
    const trie = new SubscriptionTrie<string>();
    trie.add('$share/g1/a/+', 'm1', { qos: 1 });
    trie.add('$share/g1/a/+', 'm2', { qos: 1 });
    trie.add('$share/g2/a/+', 'm3', { qos: 1 });
    trie.add('$share/g1/a/b', 'm4', { qos: 1 }); // same group name, other filter: its own share
    trie.add('a/+', 'm1', { qos: 0 });
    const matches = trie.match('a/b');
    const shared = matches.filter((s) => s.shareGroup !== undefined);
    expect(shared.map((s) => `${s.shareGroup} ${s.topicFilter}`).sort()).toEqual([
      'g1 $share/g1/a/+',
      'g1 $share/g1/a/b',
      'g2 $share/g2/a/+',
    ]);
    expect(matches.filter((s) => s.shareGroup === undefined).map((s) => s.subscriber)).toEqual(['m1']);
    expect(trie.size).toBe(5);
    expect(trie.match('a/c').filter((s) => s.shareGroup !== undefined)).toHaveLength(2);
  });

  it('applies the $ rule to the filter inside $share', () => {
    const trie = new SubscriptionTrie<string>();
    trie.add('$share/g/#', 'm', { qos: 0 });
    trie.add('$share/g/$SYS/#', 'm', { qos: 0 });
    expect(trie.match('$SYS/x').map((s) => s.topicFilter)).toEqual(['$share/g/$SYS/#']);
    expect(trie.match('x').map((s) => s.topicFilter)).toEqual(['$share/g/#']);
  });

  it('keeps shared and non-shared subscriptions of one subscriber apart', () => {
    const trie = new SubscriptionTrie<string>();
    expect(trie.add('$share/g/a', 'c', { qos: 1 })).toBe(true);
    expect(trie.add('a', 'c', { qos: 0 })).toBe(true);
    expect(trie.add('$share/g/a', 'c', { qos: 2 })).toBe(false);
    expect(trie.get('$share/g/a', 'c')!.options.qos).toBe(2);
    expect(trie.get('a', 'c')!.options.qos).toBe(0);
    expect(trie.remove('$share/h/a', 'c')).toBe(false);
    expect(trie.remove('$share/g/a', 'c')).toBe(true);
    expect(trie.remove('$share/g/a', 'c')).toBe(false);
    expect(trie.match('a').map((s) => s.topicFilter)).toEqual(['a']);
  });
});
