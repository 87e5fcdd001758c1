import type { Store, StoreSnapshot } from '../store.js';
import type { StoreContractHarness } from './store-contract.js';

/**
 * The store instances of one contract test: the fresh store `beforeEach` created and opened,
 * and every instance the test opened on its database since. `tearDown` closes whatever is
 * still open and destroys the database, so a failing test leaves nothing behind.
 */
export class ContractRun {
  private created: Store | undefined = undefined;
  private opened: StoreSnapshot | undefined = undefined;
  /** Instances neither closed nor crashed yet (a Set: memory's `reopen` returns the same one). */
  private readonly live = new Set<Store>();

  constructor(readonly harness: StoreContractHarness) {}

  /** The store `create()` returned for this test, opened. */
  get store(): Store {
    if (this.created === undefined) throw new Error('store contract: no store, did beforeEach fail?');
    return this.created;
  }

  /** What `open()` of the fresh store returned. */
  get initialSnapshot(): StoreSnapshot {
    if (this.opened === undefined) throw new Error('store contract: the store was not opened');
    return this.opened;
  }

  async setUp(): Promise<void> {
    const store = await this.harness.create();
    this.created = store;
    this.live.add(store);
    this.opened = await store.open();
  }

  async tearDown(): Promise<void> {
    const created = this.created;
    this.created = undefined;
    this.opened = undefined;
    const errors: unknown[] = [];
    for (const store of this.live) {
      try {
        await store.close();
      } catch (error) {
        errors.push(error);
      }
    }
    this.live.clear();
    if (created !== undefined && this.harness.destroy !== undefined) await this.harness.destroy(created);
    if (errors.length > 0) throw errors[0];
  }

  /** `harness.reopen(store)`: a new, not yet opened instance on the same database. */
  async reopen(store: Store): Promise<Store> {
    const next = await this.harness.reopen(store);
    this.live.add(next);
    return next;
  }

  async close(store: Store): Promise<void> {
    this.live.delete(store);
    await store.close();
  }

  /** Flushes, closes, reopens and opens: what a restarted broker sees of what was flushed. */
  async restart(store: Store): Promise<{ store: Store; snapshot: StoreSnapshot }> {
    await store.flush();
    await this.close(store);
    const next = await this.reopen(store);
    return { store: next, snapshot: await next.open() };
  }

  /** Drops `store` without flush or close (requires `harness.crash`), then reopens and opens. */
  async crashAndReopen(store: Store): Promise<{ store: Store; snapshot: StoreSnapshot }> {
    const crash = this.harness.crash;
    if (crash === undefined) throw new Error('store contract: harness.crash is not defined');
    this.live.delete(store);
    await crash(store);
    const next = await this.reopen(store);
    return { store: next, snapshot: await next.open() };
  }

  /**
   * What is durable of `store` right now, without closing it (close would flush): after a crash
   * when the harness can crash, else through a second instance on the same database (memory:
   * the same instance, which holds everything).
   */
  async observeDurable(store: Store): Promise<{ store: Store; snapshot: StoreSnapshot }> {
    if (this.harness.crash !== undefined) return this.crashAndReopen(store);
    const other = await this.reopen(store);
    return { store: other, snapshot: await other.open() };
  }
}
