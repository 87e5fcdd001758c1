import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'store-pg',
    include: ['test/**/*.test.ts'],
    // Every test file talks to the real PostgreSQL; give slow CI machines room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
