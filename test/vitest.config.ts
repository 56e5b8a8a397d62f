import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Two tiers: unit tests (pure code and fakes, no root) and integration tests (a real daemon with real runc,
// conmon, CNI plugins and a registry, as root). Integration files run one at a time: they share the host.
export default defineConfig({
  // Paths below are relative to the project root, one level up from this file.
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
