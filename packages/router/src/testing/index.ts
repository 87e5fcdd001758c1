export { FakeClock } from './fake-clock.js';
export { FakeTransport } from './fake-transport.js';
export type { StoreContractHarness } from './store-contract.js';
export { runStoreContract } from './store-contract.js';
