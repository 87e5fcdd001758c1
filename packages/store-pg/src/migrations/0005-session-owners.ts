import type { Migration } from './migration.js';

/**
 * Version 5: `session_owners`, one row per client id a fenced store (`PgStore` option
 * `fencing`, cluster mode) ever claimed: the node serving it and the claim's epoch, which only
 * grows. A store without `fencing` never reads or writes it: single-node writes cost nothing
 * more. Empty when created: no table is rewritten.
 */
export const migration0005: Migration = {
  version: 5,
  name: 'session owners',
  sql: `
CREATE TABLE session_owners (
  client_id text PRIMARY KEY,
  owner_node text NOT NULL,
  owner_epoch bigint NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now()
);
`,
};
