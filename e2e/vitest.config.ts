import { defineConfig } from 'vitest/config';

// One deployment at a time, steps in file order: the suite drives one Docker engine.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.test.ts'],
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 900_000,
    hookTimeout: 1_200_000,
    bail: 0,
  },
});
