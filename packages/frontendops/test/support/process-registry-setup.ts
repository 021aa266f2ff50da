/**
 * Once per test run: a registry of the processes tests start (test/support/processes.ts), and at the
 * end, a sweep that kills every process group (and lone process) still listed — whatever a timed-out
 * test or a dead worker left behind — and says so, so a leak is seen rather than left running.
 * Part of the suite's global setup (global-setup.ts), and all of the hygiene fixture's run
 * (test/hygiene.test.ts), which needs nothing built and no git history.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRegistered, PIDS_ENV } from './processes.ts';

export default function setup() {
  const registry = mkdtempSync(join(tmpdir(), 'frontendops-test-pids-'));
  process.env[PIDS_ENV] = registry;
  return () => {
    const left = killRegistered(registry);
    if (left.length > 0) console.warn(`global teardown: killed what tests left running: ${left.join(', ')}`);
    rmSync(registry, { recursive: true, force: true });
  };
}
