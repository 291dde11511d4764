import { defineConfig } from 'vitest/config';

// Two projects: unit tests need nothing but Node; integration tests (`*.int.test.ts`)
// run real redis-server, redis-sentinel, promtool and friends, and share one TLS
// topology started by the global setup (tests that kill nodes start their own).
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
    // No retries: a flaky test is a bug to fix, not to hide.
    retry: 0,
    reporters: ['default'],
  },
});
