/**
 * Once per test run:
 * - the tool is built (scripts/build.js, incremental: under a second when nothing changed), so what tests
 *   spawn — the CLI (bin/ runs dist/bundle), the embedded S3 server's child process — is the code
 *   under test, however the run was started (`npm test`, `npx vitest`, one file);
 * - a registry of the processes tests start (test/support/processes.ts), and at the end, a sweep
 *   that kills every process group (and lone process) still listed — whatever a timed-out test or a
 *   dead worker left behind — and says so, so a leak is seen rather than left running;
 * - the git history test repositories copy (test/support/git-repo.ts), removed at the end;
 * - on Linux, a directory in memory (/dev/shm, a tmpfs) as the run's TMPDIR, when it has room and the
 *   user set no TMPDIR of their own: tests write and delete many small files (the embedded S3 server's
 *   objects and metadata, git repositories, builds), and on a disk file system every create, rename
 *   and unlink costs more kernel time. Measured on this project's 2-core machine, four S3-heavy test
 *   files took 6% less CPU. Every process tests start inherits it; it is removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestRepoTemplate, TEMPLATE_ENV } from './git-repo.ts';
import { killRegistered, PIDS_ENV } from './processes.ts';

const BUILD = fileURLToPath(new URL('../../scripts/build.js', import.meta.url));

/** Free space a memory file system needs for the run's temporary files (npm installs the packed tool). */
const MEMORY_TMP_BYTES = 2 * 1024 ** 3;

/** A directory of the run's own in /dev/shm, or null (not Linux, a TMPDIR given, too small, absent). */
function memoryTmpdir(): string | null {
  if (process.platform !== 'linux' || process.env.TMPDIR) return null;
  try {
    const { bavail, bsize } = statfsSync('/dev/shm');
    if (bavail * bsize < MEMORY_TMP_BYTES) return null;
    return mkdtempSync('/dev/shm/frontendops-test-tmp-');
  } catch {
    return null;
  }
}

export default async function setup() {
  execFileSync(process.execPath, [BUILD], { stdio: 'inherit' });
  const memoryTmp = memoryTmpdir();
  if (memoryTmp) process.env.TMPDIR = memoryTmp;
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
    if (memoryTmp) {
      rmSync(memoryTmp, { recursive: true, force: true });
      delete process.env.TMPDIR;
    }
  };
}
