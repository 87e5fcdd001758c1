import type { Migration } from './migration.js';

/**
 * A delivery may carry its message body itself: `topic_name`, `payload`, `message_qos`,
 * `message_retain` and `properties` are set (payload NOT NULL) when the message had this one
 * delivery in the batch that saved it, so that the common case (one persistent subscriber) writes
 * one row per message instead of two, and deletes one. NULL for deliveries stored before, and for
 * those whose message has a `messages` row (shared by several deliveries, or large).
 */
export const inlineBodies: Migration = {
  version: 4,
  name: 'inline message bodies',
  sql: `
    ALTER TABLE deliveries ADD COLUMN topic_name TEXT;
    ALTER TABLE deliveries ADD COLUMN payload BLOB;
    ALTER TABLE deliveries ADD COLUMN message_qos INTEGER;
    ALTER TABLE deliveries ADD COLUMN message_retain INTEGER;
    ALTER TABLE deliveries ADD COLUMN properties TEXT;
  `,
};
