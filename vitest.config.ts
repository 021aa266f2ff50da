/** One run over every workspace's tests (each workspace also runs its own with `npm test -w <dir>`). */
import { defineConfig } from 'vitest/config';
import frontendops from './packages/frontendops/vitest.config.ts';

/**
 * Test files that must run in a process of their own. The CloudFront Functions sandbox test stops
 * handlers that loop forever inside an await: Node 20 aborts the whole process when a vm timeout
 * ends such a handler while async hooks are enabled (nodejs/node#38503), and a module another test
 * file loaded may have enabled them. The tool's own processes enable none. The private-file test
 * wraps `node:fs/promises`' open (vi.mock) to stage a swap between a check and an open: a module
 * mock takes only in a module graph of the file's own.
 */
export const OWN_PROCESS = ['test/local/edge-function.test.ts', 'test/private-file.test.ts'];

export default defineConfig({
  test: {
    // One worker per core. Each worker loads the tool, the SDKs and vitest's transforms once, and the
    // suite is bound by CPU: on this 2-core machine, 2 workers ran the whole suite in 304 s of wall
    // time and 366 s of CPU, 4 workers in 326 s and 439 s (back to back, on a quiet machine).
    // Vitest's default here would be one at a time.
    maxWorkers: 2,
    projects: [
      {
        ...frontendops,
        root: './packages/frontendops',
        test: {
          ...frontendops.test,
          // A worker runs its files one after another in one module graph: the SDKs and the tool are
          // loaded once per worker, not once per file, and the embedded S3 process is reused
          // (test/support/local-s3.ts). What a file changes is put back when it ends:
          // process.env and the processes it started (test/support/cleanup.ts); no test here mocks modules.
          isolate: false,
          exclude: [...(frontendops.test?.exclude ?? []), ...OWN_PROCESS],
        },
      },
      {
        ...frontendops,
        root: './packages/frontendops',
        // Needs nothing built, and starts no process.
        test: { ...frontendops.test, name: 'frontendops-own-process', include: OWN_PROCESS, globalSetup: [] },
      },
      'apps/sophia-dashboard',
      'infra',
      { test: { name: 'repository', include: ['test/**/*.test.ts'], environment: 'node' } },
    ],
  },
});
