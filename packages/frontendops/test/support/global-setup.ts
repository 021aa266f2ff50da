/**
 * Once per test run:
 * - the tool is built (scripts/build.js, incremental: under a second when nothing changed), so what tests
 *   spawn — the CLI (bin/ runs dist/bundle), the embedded S3 server's child process — is the code
 *   under test, however the run was started (`npm test`, `npx vitest`, one file);
 * - a registry of the processes tests start (test/support/processes.ts), and at the end, a sweep
 *   that kills every process group (and lone process) still listed — whatever a timed-out test or a
 *   dead worker left behind — and says so, so a leak is seen rather than left running;
 * - the git history test repositories copy (test/support/git-repo.ts), removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestRepoTemplate, TEMPLATE_ENV } from './git-repo.ts';
import { killRegistered, PIDS_ENV } from './processes.ts';

const BUILD = fileURLToPath(new URL('../../scripts/build.js', import.meta.url));

export default async function setup() {
  execFileSync(process.execPath, [BUILD], { stdio: 'inherit' });
  const registry = mkdtempSync(join(tmpdir(), 'frontendops-test-pids-'));
  process.env[PIDS_ENV] = registry;
  const template = mkdtempSync(join(tmpdir(), 'frontendops-git-template-'));
  await makeTestRepoTemplate(template);
  process.env[TEMPLATE_ENV] = template;
  return () => {
    rmSync(template, { recursive: true, force: true });
    const left = killRegistered(registry);
    if (left.length > 0) console.warn(`global teardown: killed what tests left running: ${left.join(', ')}`);
    rmSync(registry, { recursive: true, force: true });
  };
}
