import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/fixture-bundle.ts'],
    // Native addons (onnxruntime, hnswlib, uWebSockets) are happiest in separate processes.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    env: { VITRINE_PROGRESS: '0' },
  },
});
