export { SCHEMA_VERSION } from './migrations/index.js';
export { openSqliteStore, SQLITE_DATABASE_FILE } from './open-sqlite-store.js';
export type { SqliteStoreOptions, SqliteSynchronous } from './options.js';
export type { SqliteStoreStats } from './sqlite-store.js';
export { SqliteStore } from './sqlite-store.js';
