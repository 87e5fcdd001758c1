import { describe, expect, it } from 'vitest';
import type { Store } from '../store.js';
import { aclRule, mosquittoHash, user } from './store-contract-auth.js';
import {
  deliveryRecord,
  itIf,
  retainedRecord,
  sessionRecord,
  storedMessage,
  subscriptionOptions,
} from './store-contract-fixtures.js';
import type { ContractRun } from './store-contract-run.js';

/** Runs `write`, then asserts `authVersion()` increased past `before`; returns the new value. */
async function expectAdvanced(store: Store, before: number, what: string, write: () => Promise<void>) {
  await write();
  const after = await store.authVersion();
  expect(after, `authVersion after ${what} (was ${before})`).toBeGreaterThan(before);
  return after;
}

/** `authVersion()`: what a broker polls to reload users and ACL rules. */
export function describeAuthVersionContract(run: ContractRun): void {
  const itConcurrent = itIf(run.harness.durable, 'durable is false: a second instance is the same store');

  describe('authVersion', () => {
    it('is a number that increases with every user and ACL write and delete', async () => {
      const store = run.store;
      let version = await store.authVersion();
      expect(typeof version).toBe('number');
      expect(Number.isFinite(version)).toBe(true);
      const steps: Array<[string, () => Promise<void>]> = [
        ['saveUser (insert)', () => store.saveUser(user('alice'))],
        ['saveUser (replace)', () => store.saveUser(user('alice', mosquittoHash))],
        ['saveUser (same record again)', () => store.saveUser(user('alice', mosquittoHash))],
        ['saveUser (second user)', () => store.saveUser(user('bob'))],
        ['deleteUser', () => store.deleteUser('alice')],
        ['saveAclRule (insert)', () => store.saveAclRule(aclRule('r1'))],
        ['saveAclRule (replace)', () => store.saveAclRule(aclRule('r1', { permission: 'deny' }))],
        ['saveAclRule (second rule)', () => store.saveAclRule(aclRule('r2', { subject: 'anonymous' }))],
        ['deleteAclRule', () => store.deleteAclRule('r1')],
      ];
      for (const [what, write] of steps) version = await expectAdvanced(store, version, what, write);
    });

    it('does not change on reads, failed writes or session, message and retained writes', async () => {
      const store = run.store;
      await store.saveUser(user('alice'));
      await store.saveAclRule(aclRule('r1'));
      const version = await store.authVersion();
      store.saveMessage(storedMessage(1));
      store.saveSession(sessionRecord('c', { username: 'alice' }));
      store.saveSubscription('c', 'a/#', subscriptionOptions());
      store.saveDelivery('c', deliveryRecord(1, 1));
      store.updateDelivery('c', 1, 7, false);
      store.addInboundQos2('c', 3);
      store.saveRetained(retainedRecord('status'));
      await store.flush();
      store.deleteDelivery('c', 1);
      store.deleteMessage(1);
      store.deleteInboundQos2('c', 3);
      store.deleteSubscription('c', 'a/#');
      store.deleteRetained('status');
      store.deleteSession('c');
      await store.flush();
      await store.findRetained('#');
      await store.getUser('alice');
      await store.listUsers();
      await store.listAclRules();
      await store.saveAclRule(aclRule('bad', { subject: 'user' })).catch(() => undefined);
      expect(await store.authVersion()).toBe(version);
      expect(await store.authVersion()).toBe(version);
    });

    it('survives a restart; writes after it go on increasing', async () => {
      await run.store.saveUser(user('alice'));
      await run.store.saveAclRule(aclRule('r1'));
      await run.store.deleteUser('alice');
      const version = await run.store.authVersion();
      const first = await run.restart(run.store);
      expect(await first.store.authVersion()).toBe(version);
      const next = await expectAdvanced(first.store, version, 'saveUser after restart', () =>
        first.store.saveUser(user('carol')),
      );
      const second = await run.restart(first.store);
      expect(await second.store.authVersion()).toBe(next);
    });

    itConcurrent(
      'a write by a second instance on the same database is seen by the first at once',
      async () => {
        const a = run.store;
        await a.saveUser(user('alice'));
        await a.saveAclRule(aclRule('r1'));
        const b = await run.reopen(a);
        await b.open();
        let version = await a.authVersion();
        expect(await b.authVersion()).toBe(version);

        version = await expectAdvanced(a, version, 'saveUser by the other instance', () =>
          b.saveUser(user('bob', mosquittoHash)),
        );
        expect(await a.getUser('bob')).toEqual(user('bob', mosquittoHash));
        expect((await a.listUsers()).map((record) => record.username)).toEqual(['alice', 'bob']);

        version = await expectAdvanced(a, version, 'saveUser (replace) by the other instance', () =>
          b.saveUser(user('alice', mosquittoHash)),
        );
        expect(await a.getUser('alice')).toEqual(user('alice', mosquittoHash));

        const rule = aclRule('r2', {
          subject: 'user',
          username: 'bob',
          action: 'publish',
          permission: 'deny',
        });
        version = await expectAdvanced(a, version, 'saveAclRule by the other instance', () =>
          b.saveAclRule(rule),
        );
        expect(await a.listAclRules()).toEqual([aclRule('r1'), rule]);

        version = await expectAdvanced(a, version, 'deleteAclRule by the other instance', () =>
          b.deleteAclRule('r1'),
        );
        expect(await a.listAclRules()).toEqual([rule]);

        version = await expectAdvanced(a, version, 'deleteUser by the other instance', () =>
          b.deleteUser('alice'),
        );
        expect(await a.getUser('alice')).toBeUndefined();

        // Writes of both instances at once: both are kept, the version moves on.
        await Promise.all([a.saveUser(user('from-a')), b.saveUser(user('from-b'))]);
        const both = await a.authVersion();
        expect(both).toBeGreaterThan(version);
        expect(await b.authVersion()).toBe(both);
        expect((await b.listUsers()).map((record) => record.username)).toEqual(['bob', 'from-a', 'from-b']);
      },
    );
  });
}
