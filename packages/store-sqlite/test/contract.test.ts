import type { Store } from '@mqtt-adapt/router';
import { runStoreContract } from '@mqtt-adapt/router/testing';
import { SqliteStore } from '../src/index.js';
import { crashStore, newStore, removeStoreDir } from './helpers.js';

function asSqlite(store: Store): SqliteStore {
  if (!(store instanceof SqliteStore))
    throw new TypeError('the sqlite harness got a store it did not create');
  return store;
}

runStoreContract('sqlite', {
  durable: true,
  // A fresh temp directory per store, so tests never share a database.
  create: async () => newStore(),
  // A new instance on the same file; the suite opens it.
  reopen: async (store) => new SqliteStore({ path: asSqlite(store).path }),
  // Discard the pending batch and close the raw handle: no flush, no close().
  crash: async (store) => crashStore(asSqlite(store)),
  destroy: async (store) => removeStoreDir(asSqlite(store)),
});
