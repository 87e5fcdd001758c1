import type { Migration } from './migration.js';

/**
 * Version 1: every table of the `Store` contract. Runs with `search_path` set to the store's
 * schema, so names are unqualified.
 */
export const migration0001: Migration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE sessions (
  client_id text PRIMARY KEY,
  -- Insertion order, kept across updates (the snapshot lists sessions in it).
  position bigint GENERATED ALWAYS AS IDENTITY,
  protocol_version smallint NOT NULL,
  session_expiry_interval bigint
);

CREATE TABLE subscriptions (
  client_id text NOT NULL REFERENCES sessions (client_id) ON DELETE CASCADE,
  topic_filter text NOT NULL,
  position bigint GENERATED ALWAYS AS IDENTITY,
  qos smallint NOT NULL,
  no_local boolean NOT NULL,
  retain_as_published boolean NOT NULL,
  retain_handling smallint NOT NULL,
  subscription_identifier integer,
  PRIMARY KEY (client_id, topic_filter)
);

-- Message bodies shared by deliveries. epoch is the store instance (one per open()) that
-- wrote the row, so two broker nodes allocating the same router id never collide.
CREATE TABLE messages (
  epoch bigint NOT NULL,
  id bigint NOT NULL,
  topic_name text NOT NULL,
  payload bytea NOT NULL,
  qos smallint NOT NULL,
  retain boolean NOT NULL,
  properties jsonb,
  PRIMARY KEY (epoch, id)
);

CREATE TABLE deliveries (
  client_id text NOT NULL REFERENCES sessions (client_id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  message_epoch bigint NOT NULL,
  message_id bigint NOT NULL,
  qos smallint NOT NULL,
  retain boolean NOT NULL,
  packet_id integer,
  released boolean NOT NULL,
  PRIMARY KEY (client_id, seq)
);

CREATE TABLE inbound_qos2 (
  client_id text NOT NULL REFERENCES sessions (client_id) ON DELETE CASCADE,
  packet_id integer NOT NULL,
  position bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (client_id, packet_id)
);

-- COLLATE "C": byte order, so the primary key serves topic_name LIKE 'prefix%'.
CREATE TABLE retained (
  topic_name text COLLATE "C" PRIMARY KEY,
  payload bytea NOT NULL,
  qos smallint NOT NULL,
  properties jsonb
);

CREATE TABLE users (
  username text PRIMARY KEY,
  password_hash bytea NOT NULL,
  salt bytea NOT NULL
);

CREATE TABLE acl_rules (
  id text PRIMARY KEY,
  position bigint GENERATED ALWAYS AS IDENTITY,
  username text,
  topic_filter text NOT NULL,
  access text NOT NULL CHECK (access IN ('read', 'write', 'readwrite', 'deny'))
);

CREATE SEQUENCE store_epochs;
`,
};
