import { defineConfig } from 'vitest/config';

// `npm run test:slow`: e2e federation scenarios that take minutes each.
export default defineConfig({
  test: {
    include: ['test/**/*.slow.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 10 * 60_000,
    hookTimeout: 5 * 60_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
