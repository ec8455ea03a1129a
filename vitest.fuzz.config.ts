import { defineConfig } from 'vitest/config';

// `npm run fuzz`: long randomized decoder runs (>= 100k cases each), kept out of `npm test`.
export default defineConfig({
  test: {
    include: ['test/**/*.fuzz.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 30 * 60_000,
    pool: 'forks',
  },
});
