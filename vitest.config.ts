/** One run over every workspace's tests (each workspace also runs its own with `npm test -w <dir>`). */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      'packages/frontendops',
      'apps/sophia-dashboard',
      'infra',
      { test: { name: 'repository', include: ['test/**/*.test.ts'], environment: 'node' } },
    ],
  },
});
