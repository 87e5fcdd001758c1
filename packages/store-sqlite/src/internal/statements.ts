import type Database from 'better-sqlite3';
import type { WriteOp } from './group-commit.js';

/** Every statement the store runs, prepared once per open database. */
export interface Statements {
  readonly saveSession: WriteOp;
  readonly deleteSession: WriteOp;
  readonly saveSubscription: WriteOp;
  readonly deleteSubscription: WriteOp;
  readonly addInboundQos2: WriteOp;
  readonly deleteInboundQos2: WriteOp;
  readonly saveRetained: WriteOp;
  readonly deleteRetained: WriteOp;
  readonly saveUser: WriteOp;
  readonly deleteUser: WriteOp;
  readonly saveAclRule: WriteOp;
  readonly deleteAclRule: WriteOp;
  /** Takes the `meta` key (`'auth_version'`): a write binds at least one parameter. */
  readonly bumpCounter: WriteOp;

  readonly retainedAll: Database.Statement;
  readonly retainedOne: Database.Statement<[string]>;
  readonly retainedRange: Database.Statement<[string, string]>;
  readonly getUser: Database.Statement<[string]>;
  readonly listUsers: Database.Statement;
  readonly listAclRules: Database.Statement;
  readonly counter: Database.Statement<[string]>;
}

export function prepareStatements(db: Database.Database): Statements {
  const write = (name: string, arity: number, sql: string): WriteOp => ({
    stmt: db.prepare(sql),
    arity,
    name,
    closesSegment: name === 'saveSession' || name === 'deleteSession',
  });
  return {
    saveSession: write(
      'saveSession',
      5,
      `INSERT INTO sessions (client_id, protocol_version, session_expiry_interval, username, expires_at)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET
         protocol_version = excluded.protocol_version,
         session_expiry_interval = excluded.session_expiry_interval,
         username = excluded.username,
         expires_at = excluded.expires_at`,
    ),
    deleteSession: write('deleteSession', 1, 'DELETE FROM sessions WHERE client_id = ?'),
    // `SELECT ... FROM sessions WHERE client_id = ?`: a write for a client without a session is
    // ignored instead of failing the batch on the foreign key. The WHERE also keeps SQLite's
    // parser from reading ON CONFLICT as a join constraint.
    saveSubscription: write(
      'saveSubscription',
      7,
      `INSERT INTO subscriptions (client_id, topic_filter, qos, no_local, retain_as_published, retain_handling,
                                  subscription_identifier)
       SELECT client_id, ?, ?, ?, ?, ?, ? FROM sessions WHERE client_id = ?
       ON CONFLICT (client_id, topic_filter) DO UPDATE SET
         qos = excluded.qos,
         no_local = excluded.no_local,
         retain_as_published = excluded.retain_as_published,
         retain_handling = excluded.retain_handling,
         subscription_identifier = excluded.subscription_identifier`,
    ),
    deleteSubscription: write(
      'deleteSubscription',
      2,
      'DELETE FROM subscriptions WHERE client_id = ? AND topic_filter = ?',
    ),
    addInboundQos2: write(
      'addInboundQos2',
      2,
      `INSERT INTO inbound_qos2 (client_id, packet_id)
       SELECT client_id, ? FROM sessions WHERE client_id = ?
       ON CONFLICT (client_id, packet_id) DO NOTHING`,
    ),
    deleteInboundQos2: write(
      'deleteInboundQos2',
      2,
      'DELETE FROM inbound_qos2 WHERE client_id = ? AND packet_id = ?',
    ),
    saveRetained: write(
      'saveRetained',
      4,
      'INSERT OR REPLACE INTO retained (topic_name, payload, qos, properties) VALUES (?, ?, ?, ?)',
    ),
    deleteRetained: write('deleteRetained', 1, 'DELETE FROM retained WHERE topic_name = ?'),
    saveUser: write(
      'saveUser',
      2,
      `INSERT INTO users (username, password_hash) VALUES (?, ?)
       ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash`,
    ),
    deleteUser: write('deleteUser', 1, 'DELETE FROM users WHERE username = ?'),
    // A rule saved again keeps its place, like \`Map.set\` on an existing key.
    saveAclRule: write(
      'saveAclRule',
      6,
      `INSERT INTO acl_rules (id, position, subject, username, topic_filter, action, permission)
       VALUES (?, (SELECT coalesce(max(position), 0) + 1 FROM acl_rules), ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET
         subject = excluded.subject,
         username = excluded.username,
         topic_filter = excluded.topic_filter,
         action = excluded.action,
         permission = excluded.permission`,
    ),
    deleteAclRule: write('deleteAclRule', 1, 'DELETE FROM acl_rules WHERE id = ?'),
    bumpCounter: write('bumpCounter', 1, 'UPDATE meta SET value = value + 1 WHERE key = ?'),

    retainedAll: db.prepare('SELECT topic_name, payload, qos, properties FROM retained ORDER BY topic_name'),
    retainedOne: db.prepare('SELECT topic_name, payload, qos, properties FROM retained WHERE topic_name = ?'),
    retainedRange: db.prepare(
      `SELECT topic_name, payload, qos, properties FROM retained
       WHERE topic_name >= ? AND topic_name < ? ORDER BY topic_name`,
    ),
    getUser: db.prepare('SELECT username, password_hash FROM users WHERE username = ?'),
    // BINARY collation: UTF-8 byte order, which is code point order.
    listUsers: db.prepare('SELECT username, password_hash FROM users ORDER BY username'),
    listAclRules: db.prepare(
      'SELECT id, subject, username, topic_filter, action, permission FROM acl_rules ORDER BY position',
    ),
    counter: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
  };
}
