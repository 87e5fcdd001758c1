import { afterEach, beforeEach, describe } from 'vitest';
import type { Store } from '../store.js';
import { describeAuthContract } from './store-contract-auth.js';
import { describeAuthVersionContract } from './store-contract-auth-version.js';
import { describeBatchingContract } from './store-contract-batching.js';
import { describeDurabilityContract } from './store-contract-durability.js';
import { describeMessagesContract } from './store-contract-messages.js';
import { describeRetainedContract } from './store-contract-retained.js';
import { ContractRun } from './store-contract-run.js';
import { describeSessionsContract } from './store-contract-sessions.js';

/** How the contract suite gets store instances of one `Store` implementation. */
export interface StoreContractHarness {
  /** A fresh, isolated, EMPTY store (own SQLite file, own PostgreSQL schema), not yet opened. */
  create(): Promise<Store>;
  /** A new instance on the same database as `store` (after `store.close()`, or without it for crash cases), not yet opened. */
  reopen(store: Store): Promise<Store>;
  /** Simulates a crash: drop the store WITHOUT flush/close (e.g. close the raw db handle abruptly). Optional; crash tests are skipped with a visible `it.skip` reason when absent. */
  crash?(store: Store): Promise<void>;
  /** Removes what create() made (files, schema). */
  destroy?(store: Store): Promise<void>;
  /** True for stores that survive restarts (sqlite, pg); false for memory (restart tests then reopen the same instance, which keeps its state). */
  durable: boolean;
}

/** Per test and per hook: generous for PostgreSQL in CI, the whole memory suite takes < 2 s. */
const timeoutMs = 30_000;

/**
 * Registers the `Store` contract tests (vitest `describe`/`it`) for one implementation. Call it
 * at the top level of a test file:
 *
 * ```ts
 * // test/contract.test.ts of a store package; runStoreContract comes from @mqtt-adapt/router/testing
 * runStoreContract('MyStore', {
 *   durable: true,
 *   create: async () => new MyStore({ path: freshTempPath() }),
 *   reopen: async (store) => new MyStore({ path: (store as MyStore).path }),
 *   crash: async (store) => (store as MyStore).dropHandleWithoutFlush(),
 *   destroy: async (store) => removeFile((store as MyStore).path),
 * });
 * ```
 *
 * Every test gets a fresh store from `create()`, opened; it is closed and destroyed after.
 * Orders the `Store` interface leaves open (sessions, subscriptions, inbound ids, retained) are
 * compared sorted; delivery order (`seq`), user order (username) and ACL rule order (insertion)
 * are compared as is. Cases that need a crash or a second independent instance on the same
 * database are skipped, with the reason in their name, when the harness cannot provide them.
 */
export function runStoreContract(name: string, harness: StoreContractHarness): void {
  describe(`Store contract: ${name}`, { timeout: timeoutMs }, () => {
    const run = new ContractRun(harness);
    beforeEach(() => run.setUp(), timeoutMs);
    afterEach(() => run.tearDown(), timeoutMs);

    describeSessionsContract(run);
    describeMessagesContract(run);
    describeBatchingContract(run);
    describeRetainedContract(run);
    describeAuthContract(run);
    describeAuthVersionContract(run);
    describeDurabilityContract(run);
  });
}
