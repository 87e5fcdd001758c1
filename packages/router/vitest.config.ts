import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'router',
    include: ['test/**/*.test.ts'],
  },
});
