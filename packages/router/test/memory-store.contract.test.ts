import { MemoryStore } from '../src/index.js';
import { runStoreContract } from '../src/testing/index.js';

// The memory store keeps its state in the instance: "reopening" is opening the same instance
// again, so restart tests reload what it holds; it cannot crash or share a database.
runStoreContract('MemoryStore', {
  durable: false,
  create: async () => new MemoryStore(),
  reopen: async (store) => store,
});
