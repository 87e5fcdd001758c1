import { migration0001 } from './0001-initial.js';
import { migration0002 } from './0002-auth-records.js';
import { migration0003 } from './0003-session-expiry.js';
import { migration0004 } from './0004-inline-bodies.js';
import { migration0005 } from './0005-session-owners.js';
import type { Migration } from './migration.js';

export type { Migration } from './migration.js';

/** Every migration in version order. Append new ones; never edit one that has shipped. */
export const migrations: readonly Migration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
];

/** The schema version this package writes and reads. */
export const latestSchemaVersion: number = migrations[migrations.length - 1]?.version ?? 0;
