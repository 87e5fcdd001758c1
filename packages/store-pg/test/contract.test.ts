import type { Store } from '@mqtt-adapt/router';
import { runStoreContract } from '@mqtt-adapt/router/testing';
import { beforeEach } from 'vitest';
import { PgStore } from '../src/index.js';
import { dropSchema, freshSchema, requirePostgres, testStore } from './helpers.js';

beforeEach(requirePostgres);

function asPg(store: Store): PgStore {
  if (!(store instanceof PgStore)) throw new TypeError(`expected a PgStore, got ${store.name}`);
  return store;
}

// Every contract test gets its own schema; reopen is a new PgStore (a new pool) on it, crash
// drops the pending batch and ends the pool without flushing.
runStoreContract('postgres', {
  durable: true,
  create: async () => testStore(freshSchema()),
  reopen: async (store) => testStore(asPg(store).schema),
  crash: async (store) => asPg(store).abort(),
  destroy: async (store) => dropSchema(asPg(store).schema),
});
