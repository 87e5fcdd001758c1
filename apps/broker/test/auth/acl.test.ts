import { describe, expect, it } from 'vitest';
import { Acl, type AclRuleSpec } from '../../src/auth/acl.js';
import { covers, intersects, specificity } from '../../src/auth/acl-filters.js';

function rule(
  topicFilter: string,
  permission: 'allow' | 'deny' = 'allow',
  action: AclRuleSpec['action'] = 'all',
  who: string | 'anonymous' | 'all' = 'all',
): AclRuleSpec {
  const subject = who === 'all' || who === 'anonymous' ? who : 'user';
  return { subject, username: subject === 'user' ? who : undefined, topicFilter, action, permission };
}

const L = (filter: string) => filter.split('/');

describe('filter relations', () => {
  it('specificity: literal > + > #', () => {
    const order = ['a/b/c', 'a/+/c', 'a/b/#', 'a/+', 'a/#', '+/+', '#'];
    const scores = order.map((f) => specificity(L(f)));
    expect([...scores].sort((x, y) => y - x)).toEqual(scores);
  });

  it('covers and intersects, $ topics included', () => {
    expect(covers(L('a/#'), L('a/b/+'))).toBe(true);
    expect(covers(L('a/+'), L('a/#'))).toBe(false);
    expect(covers(L('#'), L('$SYS/x'))).toBe(false);
    expect(covers(L('+/b'), L('a/b'))).toBe(true);
    expect(intersects(L('a/#'), L('a'))).toBe(true);
    expect(intersects(L('a/+'), L('+/b'))).toBe(true);
    expect(intersects(L('a/b'), L('a/c'))).toBe(false);
    expect(intersects(L('#'), L('$SYS/#'))).toBe(false);
    expect(intersects(L('a/b/c'), L('a/b'))).toBe(false);
  });
});

describe('ACL decisions', () => {
  it('no rules: everything allowed; any rule: unmatched topics denied', () => {
    const open = new Acl([]).forClient('u', 'c');
    expect(open.mayPublish('x')).toBe(true);
    expect(open.maySubscribe('#')).toBe(true);
    const closed = new Acl([rule('a/#')]).forClient('u', 'c');
    expect(closed.mayPublish('a/1')).toBe(true);
    expect(closed.mayPublish('b/1')).toBe(false);
    expect(closed.mayRead('b/1')).toBe(false);
  });

  it('the most specific rule decides; deny wins a tie', () => {
    const acl = new Acl([
      rule('#'),
      rule('secret/#', 'deny'),
      rule('secret/open', 'allow'),
      rule('x/+', 'allow'),
      rule('x/+', 'deny'),
    ]);
    const client = acl.forClient('u', 'c');
    expect(client.mayRead('public')).toBe(true);
    expect(client.mayRead('secret/plans')).toBe(false);
    expect(client.mayRead('secret/open')).toBe(true);
    expect(client.mayPublish('x/1')).toBe(false);
  });

  it('subjects: a user, anonymous clients, everyone', () => {
    const acl = new Acl([
      rule('users/#', 'allow', 'all', 'alice'),
      rule('guest/#', 'allow', 'all', 'anonymous'),
      rule('common', 'allow'),
    ]);
    const alice = acl.forClient('alice', 'c1');
    const anon = acl.forClient(undefined, 'c2');
    const bob = acl.forClient('bob', 'c3');
    expect([alice.mayPublish('users/1'), anon.mayPublish('users/1'), bob.mayPublish('users/1')]).toEqual([
      true,
      false,
      false,
    ]);
    expect([alice.mayPublish('guest/1'), anon.mayPublish('guest/1'), bob.mayPublish('guest/1')]).toEqual([
      false,
      true,
      false,
    ]);
    expect([alice.mayPublish('common'), anon.mayPublish('common'), bob.mayPublish('common')]).toEqual([
      true,
      true,
      true,
    ]);
  });

  it('actions: publish and subscribe (which also governs receiving) apart', () => {
    const acl = new Acl([rule('cmd/#', 'allow', 'subscribe'), rule('data/#', 'allow', 'publish')]);
    const client = acl.forClient('u', 'c');
    expect(client.maySubscribe('cmd/#')).toBe(true);
    expect(client.mayRead('cmd/1')).toBe(true);
    expect(client.mayPublish('cmd/1')).toBe(false);
    expect(client.mayPublish('data/1')).toBe(true);
    expect(client.maySubscribe('data/#')).toBe(false);
  });

  it('%u and %c patterns apply per client, never widened by odd names', () => {
    const acl = new Acl([rule('devices/%c/#', 'allow'), rule('users/%u/inbox', 'allow', 'subscribe')]);
    expect(acl.forClient('ann', 'dev-1').mayPublish('devices/dev-1/t')).toBe(true);
    expect(acl.forClient('ann', 'dev-1').mayPublish('devices/dev-2/t')).toBe(false);
    expect(acl.forClient('ann', 'dev-1').mayRead('users/ann/inbox')).toBe(true);
    expect(acl.forClient(undefined, 'dev-1').mayRead('users//inbox')).toBe(false);
    expect(acl.forClient('ann', '#').mayPublish('devices/x/t')).toBe(false);
    expect(acl.forClient('a/b', 'c').mayRead('users/a/b/inbox')).toBe(false);
  });

  it('a wide subscription is granted when it overlaps what is allowed; deliveries are filtered', () => {
    const acl = new Acl([rule('sensors/#', 'allow', 'subscribe'), rule('#', 'deny', 'subscribe', 'bob')]);
    const alice = acl.forClient('alice', 'a');
    expect(alice.maySubscribe('#')).toBe(true);
    expect(alice.mayRead('sensors/1')).toBe(true);
    expect(alice.mayRead('other')).toBe(false);
    expect(alice.maySubscribe('other/#')).toBe(false);
    expect(alice.maySubscribe('$share/g/sensors/+')).toBe(true);
    expect(acl.forClient('bob', 'b').maySubscribe('#')).toBe(false);
  });

  it('invalid rule filters are set aside, not applied', () => {
    const acl = new Acl([rule('a/#/b'), rule('$share/g/x'), rule('ok/#')]);
    expect(acl.invalidRules.map((r) => r.topicFilter)).toEqual(['a/#/b', '$share/g/x']);
    expect(acl.ruleCount).toBe(1);
  });

  it('agrees with a naive scan over many rules and topics', () => {
    const filters = ['#', 'a/#', 'a/+', 'a/b', '+/b', 'a/+/c', 'a/b/#', '+/+/+', 'c/#'];
    const topics = ['a', 'a/b', 'a/c', 'b/b', 'a/b/c', 'a/x/c', 'c', 'c/d/e', '$SYS/x'];
    const rules = filters.map((f, i) =>
      rule(f, i % 3 === 0 ? 'deny' : 'allow', i % 2 === 0 ? 'all' : 'publish'),
    );
    const client = new Acl(rules).forClient('u', 'c');
    for (const topic of topics) {
      let best = -1;
      let deny = false;
      for (const r of rules) {
        const levels = L(r.topicFilter);
        const matches = covers(levels, L(topic));
        if (!matches) continue;
        const s = specificity(levels);
        if (s > best) {
          best = s;
          deny = r.permission === 'deny';
        } else if (s === best && r.permission === 'deny') deny = true;
      }
      expect(client.mayPublish(topic), topic).toBe(best >= 0 && !deny);
    }
  });
});
