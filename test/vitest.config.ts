import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Three tiers: unit tests (pure code and fakes, no root), integration tests (a real daemon with real runc,
// conmon, CNI plugins and a registry, as root) and the VM tier (what needs cgroup v2, systemd or AppArmor: run
// inside the guest by hack/vm/test.sh, never on the host; timeouts sized for TCG, about 10x slower for JS and
// 30x for fork/exec). Integration and VM files run one at a time: they share the machine.
export default defineConfig({
  // Paths below are relative to the project root, one level up from this file.
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    projects: [
      // Unit tests measure no time; the 30 s bound (vitest's default is 5 s) only keeps a loaded CI host from
      // failing a seeded fuzz table that takes 2 s on a quiet one.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', testTimeout: 30_000 } },
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
      {
        test: {
          name: 'vm',
          include: ['test/vm/**/*.test.ts'],
          setupFiles: ['test/vm/setup.ts'],
          globalSetup: ['test/vm/daemons.ts'],
          environment: 'node',
          // One worker for all files, modules loaded once: each import costs tens of seconds under TCG.
          isolate: false,
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
