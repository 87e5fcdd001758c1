import type { Migration } from './migration.js';

/**
 * The first schema. Rowid tables where `ORDER BY rowid` gives insertion order (sessions,
 * subscriptions, inbound QoS 2 ids: the order the memory store's `Map`/`Set` keep); `WITHOUT
 * ROWID` where rows are only reached by their key. Deliveries name their message without a
 * foreign key: the router deletes a message once no delivery refers to it, and one
 * out-of-order delete must not fail a whole group-commit batch (`open()` skips, and logs, a
 * delivery whose message is gone). Writes for a client id without a session are ignored
 * (`INSERT ... SELECT ... FROM sessions`), as in the memory store.
 */
export const initialSchema: Migration = {
  version: 1,
  name: 'initial schema',
  sql: `
    CREATE TABLE sessions (
      client_id TEXT PRIMARY KEY NOT NULL,
      protocol_version INTEGER NOT NULL,
      session_expiry_interval INTEGER
    );

    CREATE TABLE subscriptions (
      client_id TEXT NOT NULL REFERENCES sessions (client_id) ON DELETE CASCADE,
      topic_filter TEXT NOT NULL,
      qos INTEGER NOT NULL,
      no_local INTEGER NOT NULL,
      retain_as_published INTEGER NOT NULL,
      retain_handling INTEGER NOT NULL,
      subscription_identifier INTEGER,
      PRIMARY KEY (client_id, topic_filter)
    );

    CREATE TABLE messages (
      id INTEGER PRIMARY KEY NOT NULL,
      topic_name TEXT NOT NULL,
      payload BLOB NOT NULL,
      qos INTEGER NOT NULL,
      retain INTEGER NOT NULL,
      properties TEXT
    );

    CREATE TABLE deliveries (
      client_id TEXT NOT NULL REFERENCES sessions (client_id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      message_id INTEGER NOT NULL,
      qos INTEGER NOT NULL,
      retain INTEGER NOT NULL,
      packet_id INTEGER,
      released INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (client_id, seq)
    ) WITHOUT ROWID;

    CREATE TABLE inbound_qos2 (
      client_id TEXT NOT NULL REFERENCES sessions (client_id) ON DELETE CASCADE,
      packet_id INTEGER NOT NULL,
      PRIMARY KEY (client_id, packet_id)
    );

    CREATE TABLE retained (
      topic_name TEXT PRIMARY KEY NOT NULL,
      payload BLOB NOT NULL,
      qos INTEGER NOT NULL,
      properties TEXT
    ) WITHOUT ROWID;

    CREATE TABLE users (
      username TEXT PRIMARY KEY NOT NULL,
      password_hash BLOB NOT NULL,
      salt BLOB NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE acl_rules (
      id TEXT PRIMARY KEY NOT NULL,
      position INTEGER NOT NULL UNIQUE,
      username TEXT,
      topic_filter TEXT NOT NULL,
      access TEXT NOT NULL CHECK (access IN ('read', 'write', 'readwrite', 'deny'))
    );
  `,
};
