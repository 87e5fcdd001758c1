import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'broker',
    include: ['test/**/*.test.ts'],
    // Integration tests spawn the built CLI (dist/cli.js) as a child process: the root
    // `pnpm test` builds it through turbo before vitest runs; on its own, run
    // `npx -y pnpm@12.4.2 --filter @mqtt-adapt/broker... build` first (test/integration/helpers.ts
    // fails with that hint when dist/cli.js is missing, and warns when it is older than src/).
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
