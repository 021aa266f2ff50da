/**
 * Once per test run:
 * - the tool is built (scripts/build.js, incremental: under a second when nothing changed), so what tests
 *   spawn — the CLI (bin/ runs dist/bundle), the embedded S3 server's child process — is the code
 *   under test, however the run was started (`npm test`, `npx vitest`, one file);
 * - the registry of the processes tests start, swept at the end (process-registry-setup.ts);
 * - the git history test repositories copy (test/support/git-repo.ts), removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestRepoTemplate, TEMPLATE_ENV } from './git-repo.ts';
import processRegistry from './process-registry-setup.ts';

const BUILD = fileURLToPath(new URL('../../scripts/build.js', import.meta.url));

export default async function setup() {
  execFileSync(process.execPath, [BUILD], { stdio: 'inherit' });
  const sweep = processRegistry();
  const template = mkdtempSync(join(tmpdir(), 'frontendops-git-template-'));
  await makeTestRepoTemplate(template);
  process.env[TEMPLATE_ENV] = template;
  return () => {
    rmSync(template, { recursive: true, force: true });
    sweep();
  };
}
