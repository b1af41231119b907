import { defineConfig } from 'vitest/config';

// Three projects so each can be run alone (`vitest run --project unit`) and tuned to
// its cost. Browser tests run in Node and drive system Chromium via playwright-core;
// this is NOT Vitest browser mode.
//
// Vitest runs projects with the same sequence.groupOrder together and requires them to
// share maxWorkers, so each project has its own group: unit first (fast feedback),
// then integration, then browser, then docker (images, containers, the compose cluster).
export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Property tests run hundreds of cases: at a load of 16 on 2 cores (agents and
          // browsers beside the run) one took over 5 s. Fast normally; not a timed test.
          testTimeout: 20_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Files spawn Redis and several server processes each; two at a time keeps a
          // 2-core CI box from timing out on CPU contention rather than on real bugs.
          maxWorkers: 2,
          testTimeout: 30_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          // One Chromium (plus its servers) at a time: several would starve each other.
          maxWorkers: 1,
          testTimeout: 90_000,
          hookTimeout: 90_000,
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: 'docker',
          include: ['test/docker/**/*.test.ts'],
          // A real engine builds images and runs a compose cluster: one file at a time, and
          // hooks long enough for a first (cold) image build.
          maxWorkers: 1,
          testTimeout: 120_000,
          hookTimeout: 600_000,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
