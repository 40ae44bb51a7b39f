import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Kills what a test started and left running (a timed-out test included).
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Tests start real servers and move real bytes; two cores do not gain from more workers.
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
