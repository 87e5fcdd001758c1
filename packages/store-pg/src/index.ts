export type { SessionClaim } from './internal/claim.js';
export { redactConnectionString } from './internal/connection.js';
export type { PgStoreFencing, PgStoreOptions } from './options.js';
export { PgStore } from './pg-store.js';
