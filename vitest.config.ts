/** One run over every workspace's tests (each workspace also runs its own with `npm test -w <dir>`). */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Most test time is waiting (spawned CLIs, servers, a browser), not computing: run more files at
    // once than there are cores. Vitest's default on this 2-core machine would be one at a time.
    maxWorkers: 4,
    projects: [
      'packages/frontendops',
      'apps/sophia-dashboard',
      'infra',
      { test: { name: 'repository', include: ['test/**/*.test.ts'], environment: 'node' } },
    ],
  },
});
