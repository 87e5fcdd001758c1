export { redactConnectionString } from './internal/connection.js';
export type { PgStoreOptions } from './options.js';
export { PgStore } from './pg-store.js';
