import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'topic',
    include: ['test/**/*.test.ts'],
  },
});
