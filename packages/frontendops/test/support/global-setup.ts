/**
 * Once per test run: a registry of the processes tests start (test/support/processes.ts), and at the
 * end, a sweep that kills every process group still listed — whatever a timed-out or crashed test
 * left behind — and says so, so a leak is seen rather than left running.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killGroup, PIDS_ENV } from './processes.ts';

export default function setup() {
  const registry = mkdtempSync(join(tmpdir(), 'frontendops-test-pids-'));
  process.env[PIDS_ENV] = registry;
  return () => {
    const left = readdirSync(registry).map(Number).filter(Number.isInteger);
    for (const pid of left) killGroup(pid);
    if (left.length > 0)
      console.warn(
        `global teardown: killed ${left.length} process group(s) tests left running: ${left.join(', ')}`,
      );
    rmSync(registry, { recursive: true, force: true });
  };
}
