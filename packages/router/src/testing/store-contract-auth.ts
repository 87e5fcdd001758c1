import { describe, expect, it } from 'vitest';
import type { AclRule, UserRecord } from '../store.js';
import { expectBytes, pseudoRandomBytes } from './store-contract-fixtures.js';
import type { ContractRun } from './store-contract-run.js';

function user(username: string, seed: number): UserRecord {
  const passwordHash = pseudoRandomBytes(64, seed);
  passwordHash[0] = 0;
  passwordHash[63] = 0;
  return { username, passwordHash, salt: pseudoRandomBytes(16, seed + 1) };
}

function expectUser(actual: UserRecord | undefined, expected: UserRecord): void {
  expect(actual?.username).toBe(expected.username);
  expectBytes(actual?.passwordHash, expected.passwordHash, `passwordHash of ${expected.username}`);
  expectBytes(actual?.salt, expected.salt, `salt of ${expected.username}`);
}

/** Users and ACL rules: async calls, durable once they resolve and a flush covers them. */
export function describeAuthContract(run: ContractRun): void {
  describe('users', () => {
    it('getUser of an unknown user resolves to undefined', async () => {
      expect(await run.store.getUser('nobody')).toBeUndefined();
      expect(await run.store.getUser('')).toBeUndefined();
    });

    it('saveUser/getUser round-trip the Buffers exactly; saving again replaces; deleteUser removes one', async () => {
      const store = run.store;
      const alice = user('alice', 1);
      const unicode = user('Мария 🙂', 2);
      const bob = user('bob', 3);
      await store.saveUser(alice);
      await store.saveUser(unicode);
      await store.saveUser(bob);
      expectUser(await store.getUser('alice'), alice);
      expectUser(await store.getUser('Мария 🙂'), unicode);
      expect(await store.getUser('ALICE')).toBeUndefined();
      const rehashed = user('alice', 10);
      await store.saveUser(rehashed);
      await store.deleteUser('bob');
      await store.deleteUser('never-existed');
      expectUser(await store.getUser('alice'), rehashed);
      expect(await store.getUser('bob')).toBeUndefined();
      const { store: reopened } = await run.restart(store);
      expectUser(await reopened.getUser('alice'), rehashed);
      expectUser(await reopened.getUser('Мария 🙂'), unicode);
      expect(await reopened.getUser('bob')).toBeUndefined();
    });
  });

  describe('ACL rules', () => {
    it('listAclRules of a new store is empty', async () => {
      expect(await run.store.listAclRules()).toEqual([]);
    });

    it('lists rules in insertion order; replacing by id keeps the position; delete removes', async () => {
      const store = run.store;
      // Ids in no sortable order: the list must follow insertion, not the id.
      const rules: AclRule[] = [
        { id: 'z-rule', username: 'alice', topicFilter: 'devices/%c/#', access: 'readwrite' },
        { id: 'a-rule', username: undefined, topicFilter: '$SYS/#', access: 'deny' },
        { id: '10', username: 'bob', topicFilter: 'users/%u/+', access: 'read' },
        { id: '9', username: 'Мария 🙂', topicFilter: 'température/#', access: 'write' },
        { id: 'm', username: undefined, topicFilter: '#', access: 'read' },
      ];
      for (const rule of rules) await store.saveAclRule(rule);
      expect(await store.listAclRules()).toEqual(rules);
      const replaced: AclRule = { id: 'a-rule', username: 'carol', topicFilter: 'x/+', access: 'write' };
      await store.saveAclRule(replaced);
      await store.deleteAclRule('10');
      await store.deleteAclRule('no-such-rule');
      const expected = [rules[0], replaced, rules[3], rules[4]];
      expect(await store.listAclRules()).toEqual(expected);
      const { store: reopened } = await run.restart(store);
      const listed = await reopened.listAclRules();
      expect(listed).toEqual(expected);
      expect(listed[2]?.username).toBe('Мария 🙂');
      expect(listed[3]?.username).toBeUndefined();
      // A rule saved again after its delete is a new rule: it goes last.
      const readded: AclRule = { id: '10', username: 'bob', topicFilter: 'again', access: 'read' };
      await reopened.saveAclRule(readded);
      expect(await reopened.listAclRules()).toEqual([...expected, readded]);
    });
  });
}
