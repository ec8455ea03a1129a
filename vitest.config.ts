import { defineConfig } from 'vitest/config';

// The default suite (`npm test`). Slow suites (fuzzing, e2e federation runs)
// have their own scripts and configs so this one stays well under 15 minutes.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.slow.test.ts', 'node_modules/**'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Real chains and libp2p hosts per file: keep parallelism modest on 2-core CI.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
