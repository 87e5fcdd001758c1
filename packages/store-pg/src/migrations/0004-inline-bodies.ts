import type { Migration } from './migration.js';

/**
 * Version 4: a delivery may carry its message body itself (`topic_name`, `payload`,
 * `message_qos`, `message_retain`, `properties`; payload NOT NULL when it does), written when
 * the message had this one delivery in the batch that saved it: the common case (one persistent
 * subscriber) then writes one row per message instead of two. NULL for deliveries stored before
 * and for those whose message has a `messages` row. Nullable columns without a default: adding
 * them rewrites nothing.
 */
export const migration0004: Migration = {
  version: 4,
  name: 'inline message bodies',
  sql: `
ALTER TABLE deliveries
  ADD COLUMN topic_name text,
  ADD COLUMN payload bytea,
  ADD COLUMN message_qos smallint,
  ADD COLUMN message_retain boolean,
  ADD COLUMN properties jsonb;
`,
};
