import type { Store } from '@mqtt-adapt/router';
import { expectTypeOf } from 'vitest';
import {
  openSqliteStore,
  SCHEMA_VERSION,
  SQLITE_DATABASE_FILE,
  type SqliteStore,
  type SqliteStoreOptions,
  type SqliteStoreStats,
  type SqliteSynchronous,
} from '../src/index.js';

// Public types are reachable from the package root.
expectTypeOf<SqliteStore>().toExtend<Store>();
expectTypeOf(openSqliteStore).returns.toEqualTypeOf<SqliteStore>();
expectTypeOf<SqliteStoreOptions['synchronous']>().toEqualTypeOf<SqliteSynchronous | undefined>();
expectTypeOf<SqliteStore['stats']>().toEqualTypeOf<SqliteStoreStats>();
expectTypeOf(SCHEMA_VERSION).toBeNumber();
expectTypeOf(SQLITE_DATABASE_FILE).toBeString();
