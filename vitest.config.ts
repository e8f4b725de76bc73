import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/fixture-bundle.ts'],
    setupFiles: ['test/setup/temp-dirs.ts'],
    // Native addons (onnxruntime, hnswlib, uWebSockets) are happiest in separate processes.
    pool: 'forks',
    // A forked test process that dies (a native crash) is named, with the test it was in.
    reporters: ['default', './test/setup/unfinished-files.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Servers under test share two cores with the whole suite: waits that would be shed in production
    // (the queue deadline, and the overload one) are the overload tests' subject alone, and they set
    // them themselves.
    env: { VITRINE_PROGRESS: '0', VITRINE_QUEUE_DEADLINE_MS: '60000', VITRINE_OVERLOAD_DEADLINE_MS: '60000' },
  },
});
