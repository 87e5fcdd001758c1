import type { AclRule, UserRecord } from './store.js';

const subjects: ReadonlySet<string> = new Set(['user', 'anonymous', 'all']);
const actions: ReadonlySet<string> = new Set(['publish', 'subscribe', 'all']);
const permissions: ReadonlySet<string> = new Set(['allow', 'deny']);

/**
 * Checks a user before a store writes it, as `Store.saveUser` documents: a bad record is a
 * caller bug (`TypeError`), refused before it reaches a batch (where a database constraint
 * would fail the whole group commit, other clients' writes included). For store implementations.
 */
export function assertUserRecord(user: UserRecord): void {
  if (typeof user.username !== 'string' || typeof user.passwordHash !== 'string') {
    throw new TypeError('user record needs a string username and a string passwordHash');
  }
}

/** Checks an ACL rule as `Store.saveAclRule` documents (see `assertUserRecord`). */
export function assertAclRule(rule: AclRule): void {
  if (typeof rule.id !== 'string' || typeof rule.topicFilter !== 'string') {
    throw new TypeError('acl rule needs a string id and a string topicFilter');
  }
  if (!subjects.has(rule.subject))
    throw new TypeError(`acl rule ${rule.id}: unknown subject ${String(rule.subject)}`);
  if (!actions.has(rule.action))
    throw new TypeError(`acl rule ${rule.id}: unknown action ${String(rule.action)}`);
  if (!permissions.has(rule.permission)) {
    throw new TypeError(`acl rule ${rule.id}: unknown permission ${String(rule.permission)}`);
  }
  if ((rule.subject === 'user') !== (typeof rule.username === 'string')) {
    throw new TypeError(`acl rule ${rule.id}: username must be set if and only if subject is 'user'`);
  }
}
