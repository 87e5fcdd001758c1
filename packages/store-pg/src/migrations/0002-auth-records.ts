import type { Migration } from './migration.js';

/**
 * Version 2: users and ACL rules as the router's contract now has them, the auth-version counter
 * and the user name of a session's last connection.
 *
 * - `users`: `password_hash` is a self-describing hash string (PHC `$scrypt$...`, Mosquitto
 *   `$7$...`) and replaces the hash and salt `bytea`s. Version-1 users cannot be carried over
 *   (their hash had no algorithm or parameters, and no released code wrote them): dropped.
 *   `COLLATE "C"`: `listUsers` orders by code point, served by the primary key.
 * - `acl_rules`: converted in place (ids and order kept): `read` -> subscribe/allow, `write` ->
 *   publish/allow, `readwrite` -> all/allow, `deny` -> all/deny; no username -> subject `all`.
 * - `meta`: counters; `auth_version` is incremented by the statement of every user or ACL write
 *   (same transaction), so a reader never sees the new version before the write.
 * - `sessions.username`: NULL for sessions stored by version 1.
 */
export const migration0002: Migration = {
  version: 2,
  name: 'auth records',
  sql: `
DROP TABLE users;
CREATE TABLE users (
  username text COLLATE "C" PRIMARY KEY,
  password_hash text NOT NULL
);

ALTER TABLE acl_rules
  ADD COLUMN subject text,
  ADD COLUMN action text,
  ADD COLUMN permission text;
UPDATE acl_rules SET
  subject = CASE WHEN username IS NULL THEN 'all' ELSE 'user' END,
  action = CASE access WHEN 'read' THEN 'subscribe' WHEN 'write' THEN 'publish' ELSE 'all' END,
  permission = CASE access WHEN 'deny' THEN 'deny' ELSE 'allow' END;
ALTER TABLE acl_rules
  DROP COLUMN access,
  ALTER COLUMN subject SET NOT NULL,
  ALTER COLUMN action SET NOT NULL,
  ALTER COLUMN permission SET NOT NULL,
  ADD CONSTRAINT acl_rules_subject_check CHECK (subject IN ('user', 'anonymous', 'all')),
  ADD CONSTRAINT acl_rules_action_check CHECK (action IN ('publish', 'subscribe', 'all')),
  ADD CONSTRAINT acl_rules_permission_check CHECK (permission IN ('allow', 'deny')),
  ADD CONSTRAINT acl_rules_username_check CHECK ((subject = 'user') = (username IS NOT NULL));

CREATE TABLE meta (
  key text PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO meta (key, value) VALUES ('auth_version', 0);

ALTER TABLE sessions ADD COLUMN username text;
`,
};
