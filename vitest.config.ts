import { defineConfig } from 'vitest/config';

// Integration tests build real kernel objects and start agents; the machines have two cores, so
// files run two at a time and every wait is bounded inside the tests themselves.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'agent/**/*.test.ts', 'provider/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
