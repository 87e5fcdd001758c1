import type { Migration } from './migration.js';

/**
 * Users and ACL rules as the router's contract now has them, the auth-version counter and the
 * user name of a session's last connection.
 *
 * - `users`: `password_hash` is a self-describing hash string (PHC `$scrypt$...`, Mosquitto
 *   `$7$...`) and replaces the hash and salt BLOBs. Version-1 users cannot be carried over (their
 *   hash had no algorithm or parameters, and no released code wrote them): they are dropped.
 * - `acl_rules`: rebuilt (SQLite cannot add constrained columns in place) with subject, action
 *   and permission; version-1 rules are converted in place and order: `read` -> subscribe/allow,
 *   `write` -> publish/allow, `readwrite` -> all/allow, `deny` -> all/deny; a rule without a
 *   username applies to all.
 * - `meta`: counters; `auth_version` is incremented in the transaction of every user or ACL write.
 * - `sessions.username`: NULL for sessions stored by version 1.
 */
export const authRecords: Migration = {
  version: 2,
  name: 'auth records',
  sql: `
    DROP TABLE users;
    CREATE TABLE users (
      username TEXT PRIMARY KEY NOT NULL,
      password_hash TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE acl_rules_v2 (
      id TEXT PRIMARY KEY NOT NULL,
      position INTEGER NOT NULL UNIQUE,
      subject TEXT NOT NULL CHECK (subject IN ('user', 'anonymous', 'all')),
      username TEXT,
      topic_filter TEXT NOT NULL,
      action TEXT NOT NULL CHECK (action IN ('publish', 'subscribe', 'all')),
      permission TEXT NOT NULL CHECK (permission IN ('allow', 'deny')),
      CHECK ((subject = 'user') = (username IS NOT NULL))
    );
    INSERT INTO acl_rules_v2 (id, position, subject, username, topic_filter, action, permission)
    SELECT id, position,
      CASE WHEN username IS NULL THEN 'all' ELSE 'user' END,
      username,
      topic_filter,
      CASE access WHEN 'read' THEN 'subscribe' WHEN 'write' THEN 'publish' ELSE 'all' END,
      CASE access WHEN 'deny' THEN 'deny' ELSE 'allow' END
    FROM acl_rules ORDER BY position;
    DROP TABLE acl_rules;
    ALTER TABLE acl_rules_v2 RENAME TO acl_rules;

    CREATE TABLE meta (
      key TEXT PRIMARY KEY NOT NULL,
      value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('auth_version', 0);

    ALTER TABLE sessions ADD COLUMN username TEXT;
  `,
};
