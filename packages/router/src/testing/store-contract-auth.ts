import { describe, expect, it } from 'vitest';
import type { AclRule, Store, UserRecord } from '../store.js';
import type { ContractRun } from './store-contract-run.js';

/** Hashes as `apps/broker` writes them (PHC scrypt) and as `mosquitto_passwd` does (`$7$`). */
export const scryptHash =
  '$scrypt$ln=17,r=8,p=1$3q2+7wAAAAAAAAAAAAAAAA$Yh0cLkRk0A4p+9m0xY2Vw3PqZ2n2xJmM0b8Xq4hN1lk';
export const mosquittoHash =
  '$7$101$0lEYR6Y2YsPyG4kR$pdPNXdahpWDYzpcYmRq6tknF0HMrkkOP+cPjbMdnZEDU5wOwoJYmKaaYTMsE5MPUv0sDCWXaXlVaOtBjp0FZ8Q==';

export function user(username: string, passwordHash = scryptHash): UserRecord {
  return { username, passwordHash };
}

export function aclRule(id: string, overrides: Partial<AclRule> = {}): AclRule {
  return {
    id,
    subject: 'all',
    username: undefined,
    topicFilter: `rules/${id}/#`,
    action: 'all',
    permission: 'allow',
    ...overrides,
  };
}

/** One rule per subject, action and permission (18), ids in no sortable order. */
function everyKindOfRule(): AclRule[] {
  const rules: AclRule[] = [];
  const subjects = ['user', 'anonymous', 'all'] as const;
  const actions = ['publish', 'subscribe', 'all'] as const;
  const permissions = ['deny', 'allow'] as const;
  let n = 0;
  for (const subject of subjects) {
    for (const action of actions) {
      for (const permission of permissions) {
        n++;
        rules.push({
          id: n % 2 === 0 ? `${100 - n}` : `rule-${String.fromCharCode(0x7a - n)}`,
          subject,
          username: subject === 'user' ? ['alice', 'Мария 🙂', ''][n % 3] : undefined,
          topicFilter: ['devices/%c/#', 'users/%u/+', '$SYS/#', '#', 'température/%u/%c', 'a//b'][
            n % 6
          ] as string,
          action,
          permission,
        });
      }
    }
  }
  return rules;
}

/** Rules the store must refuse with a `TypeError` (what `saveAclRule` documents). */
const invalidRules: Array<{ why: string; rule: AclRule }> = [
  { why: "subject 'user' without username", rule: aclRule('bad-1', { subject: 'user' }) },
  {
    why: "subject 'anonymous' with a username",
    rule: aclRule('bad-2', { subject: 'anonymous', username: 'a' }),
  },
  { why: "subject 'all' with a username", rule: aclRule('bad-3', { subject: 'all', username: 'a' }) },
  { why: 'an unknown action', rule: aclRule('bad-4', { action: 'read' as AclRule['action'] }) },
  { why: 'an unknown permission', rule: aclRule('bad-5', { permission: 'grant' as AclRule['permission'] }) },
  { why: 'an unknown subject', rule: aclRule('bad-6', { subject: 'everyone' as AclRule['subject'] }) },
];

async function rejectionOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

async function saveAll(store: Store, users: UserRecord[]): Promise<void> {
  for (const record of users) await store.saveUser(record);
}

/** Users and ACL rules: async calls, durable once they resolve. */
export function describeAuthContract(run: ContractRun): void {
  describe('users', () => {
    it('a new store has no users; getUser of an unknown user resolves to undefined', async () => {
      expect(await run.store.listUsers()).toEqual([]);
      expect(await run.store.getUser('nobody')).toBeUndefined();
      expect(await run.store.getUser('')).toBeUndefined();
    });

    it('passwordHash is an opaque string: PHC scrypt and Mosquitto $7$ hashes round-trip exactly', async () => {
      const store = run.store;
      const odd = `$argon2id$v=19$m=65536,t=3,p=4$${'A'.repeat(300)}$'"\\%_ ;--`;
      const users = [user('phc', scryptHash), user('mosquitto', mosquittoHash), user('odd', odd)];
      await saveAll(store, users);
      for (const record of users) expect(await store.getUser(record.username)).toEqual(record);
      const { store: reopened } = await run.restart(store);
      for (const record of users) {
        const found = await reopened.getUser(record.username);
        expect(typeof found?.passwordHash).toBe('string');
        expect(found).toEqual(record);
      }
    });

    it('saveUser inserts or replaces; deleteUser removes one; usernames are exact (case, Unicode form)', async () => {
      const store = run.store;
      const nfc = 'jos\u00e9';
      const nfd = 'jose\u0301';
      await saveAll(store, [
        user('alice'),
        user('Мария 🙂'),
        user('bob'),
        user(nfc),
        user(nfd, mosquittoHash),
      ]);
      await saveAll(store, [user('', mosquittoHash)]);
      expect(await store.getUser('ALICE')).toBeUndefined();
      expect(await store.getUser(nfd)).toEqual(user(nfd, mosquittoHash));
      expect(await store.getUser(nfc)).toEqual(user(nfc));
      await store.saveUser(user('alice', mosquittoHash));
      await store.deleteUser('bob');
      await store.deleteUser('never-existed');
      expect(await store.getUser('alice')).toEqual(user('alice', mosquittoHash));
      expect(await store.getUser('bob')).toBeUndefined();
      const { store: reopened } = await run.restart(store);
      expect(await reopened.getUser('alice')).toEqual(user('alice', mosquittoHash));
      expect(await reopened.getUser('Мария 🙂')).toEqual(user('Мария 🙂'));
      expect(await reopened.getUser('')).toEqual(user('', mosquittoHash));
      expect(await reopened.getUser('bob')).toBeUndefined();
    });

    it('listUsers orders by username in code point order (not locale, not UTF-16 units)', async () => {
      const store = run.store;
      // Code point order: '' < 'Bob' < 'alice' < 'bob' < 'zé' < 'zＡ' (U+FF21) < 'z😀' (U+1F600);
      // UTF-16 code units would put 'z😀' (0xD83D) before 'zＡ', a locale 'alice' before 'Bob'.
      const expected = ['', 'Bob', 'alice', 'bob', 'z\u00e9', 'z\uff21', 'z\u{1f600}'];
      for (const username of ['z\u{1f600}', 'bob', 'z\uff21', 'alice', '', 'z\u00e9', 'Bob'])
        await store.saveUser(user(username, `${scryptHash}-${username}`));
      await store.saveUser(user('to-delete'));
      await store.deleteUser('to-delete');
      await store.saveUser(user('bob', mosquittoHash));
      const listed = await store.listUsers();
      expect(listed.map((record) => record.username)).toEqual(expected);
      expect(listed.find((record) => record.username === 'bob')).toEqual(user('bob', mosquittoHash));
      expect(listed.find((record) => record.username === 'z\uff21')).toEqual(
        user('z\uff21', `${scryptHash}-z\uff21`),
      );
      const { store: reopened } = await run.restart(store);
      expect((await reopened.listUsers()).map((record) => record.username)).toEqual(expected);
    });

    it('saveUser rejects a passwordHash that is not a string with a TypeError and stores nothing', async () => {
      const store = run.store;
      const bytes = { username: 'u', passwordHash: Buffer.from('$7$') } as unknown as UserRecord;
      expect(await rejectionOf(() => store.saveUser(bytes))).toBeInstanceOf(TypeError);
      expect(await store.getUser('u')).toBeUndefined();
      expect(await store.listUsers()).toEqual([]);
    });
  });

  describe('ACL rules', () => {
    it('listAclRules of a new store is empty', async () => {
      expect(await run.store.listAclRules()).toEqual([]);
    });

    it('every subject, action and permission round-trips, in insertion order, across restarts', async () => {
      const store = run.store;
      const rules = everyKindOfRule();
      for (const rule of rules) await store.saveAclRule(rule);
      expect(await store.listAclRules()).toEqual(rules);
      const { store: reopened } = await run.restart(store);
      const listed = await reopened.listAclRules();
      expect(listed).toEqual(rules);
      for (const rule of listed) {
        if (rule.subject === 'user') expect(typeof rule.username).toBe('string');
        else expect(rule.username, `username of ${rule.subject} rule ${rule.id}`).toBeUndefined();
      }
    });

    it('replacing by id keeps the position (subject may change); delete removes; re-added goes last', async () => {
      const store = run.store;
      const rules = [
        aclRule('z-rule', { subject: 'user', username: 'alice', topicFilter: 'devices/%c/#' }),
        aclRule('a-rule', { topicFilter: '$SYS/#', permission: 'deny' }),
        aclRule('10', { subject: 'anonymous', topicFilter: 'public/#', action: 'subscribe' }),
        aclRule('9', { subject: 'user', username: 'Мария 🙂', topicFilter: 'users/%u/+', action: 'publish' }),
        aclRule('m', { action: 'subscribe' }),
      ];
      for (const rule of rules) await store.saveAclRule(rule);
      expect(await store.listAclRules()).toEqual(rules);
      const replaced = aclRule('a-rule', {
        subject: 'user',
        username: 'carol',
        topicFilter: 'x/+',
        action: 'publish',
      });
      const toAnonymous = aclRule('9', {
        subject: 'anonymous',
        topicFilter: 'guests/%c',
        permission: 'deny',
      });
      await store.saveAclRule(replaced);
      await store.saveAclRule(toAnonymous);
      await store.deleteAclRule('10');
      await store.deleteAclRule('no-such-rule');
      const expected = [rules[0], replaced, toAnonymous, rules[4]];
      expect(await store.listAclRules()).toEqual(expected);
      const { store: reopened } = await run.restart(store);
      const listed = await reopened.listAclRules();
      expect(listed).toEqual(expected);
      expect(listed[2]?.username).toBeUndefined();
      const readded = aclRule('10', { subject: 'all', topicFilter: 'again' });
      await reopened.saveAclRule(readded);
      expect(await reopened.listAclRules()).toEqual([...expected, readded]);
    });

    it.each(invalidRules)(
      'saveAclRule rejects a rule with $why with a TypeError and stores nothing',
      async ({ rule }) => {
        const store = run.store;
        await store.saveAclRule(aclRule('good'));
        const before = await store.authVersion();
        expect(await rejectionOf(() => store.saveAclRule(rule))).toBeInstanceOf(TypeError);
        expect(await store.listAclRules()).toEqual([aclRule('good')]);
        expect(await store.authVersion()).toBe(before);
      },
    );
  });
}
