import type { Migration } from './migration.js';

/**
 * `sessions.expires_at`: when an offline 5.0 session with a finite Session Expiry Interval ends,
 * in milliseconds since the Unix epoch (NULL while online or never expiring). Sessions stored
 * before it have none: the router gives them their interval again from the next start.
 */
export const sessionExpiry: Migration = {
  version: 3,
  name: 'session expiry',
  sql: `
    ALTER TABLE sessions ADD COLUMN expires_at INTEGER;
  `,
};
