import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const isEndToEnd = (spec: TestSpecification) => spec.moduleId.includes('/test/e2e/');

/**
 * The end-to-end test goes first, on a worker of its own: it spends most of its
 * minutes waiting on its stack (five quiet minutes, alert delivery), while the
 * other worker runs the rest of the suite one file at a time, as before.
 */
class EndToEndFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return [...sorted.filter(isEndToEnd), ...sorted.filter((f) => !isEndToEnd(f))];
  }
}

// Two projects: unit tests need nothing but Node; integration tests (`*.int.test.ts`)
// run real redis-server, redis-sentinel, promtool and friends, and share one TLS
// topology started by the global setup (tests that kill nodes start their own).
export default defineConfig({
  test: {
    // Vitest's default on 2 cores is one worker; the second one carries test/e2e.
    maxWorkers: 2,
    sequence: { sequencer: EndToEndFirst },
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
