/**
 * Test hygiene, proven: a vitest run of the fixture test files (test/fixtures/hygiene, excluded from
 * the normal run) starts servers like `frontendops dev` does — each with the embedded S3 server's
 * child and a helper that outlives its parent; spawned by the test, or forked by the module under
 * test in the worker itself — and ends as badly as tests can: a timeout, a timeout after the server
 * itself was killed (its group living on), a worker killed outright. Once that run has exited, not
 * one of the processes it started may remain.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIDS_ENV, spawnTracked } from './support/processes.ts';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const VITEST = fileURLToPath(new URL('../../../node_modules/vitest/vitest.mjs', import.meta.url));
const CONFIG = 'test/fixtures/hygiene/vitest.config.ts';

let tmp: string;
let listed: number[] = [];
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-hygiene-'));
});
afterAll(async () => {
  for (const pid of listed.filter(alive)) process.kill(pid, 'SIGKILL'); // what a failing run left
  await rm(tmp, { recursive: true, force: true });
});

/** Is `pid` a live process? A zombie (dead, its exit status not yet collected) is not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return process.platform !== 'linux';
  }
}

describe('processes started by tests', () => {
  it('are all gone once a run whose tests timed out, lost their leader or their worker has exited', {
    timeout: 180_000,
  }, async () => {
    const pids = join(tmp, 'pids.txt');
    await writeFile(pids, '');
    const env: Record<string, string> = { HYGIENE_PIDS: pids };
    for (const [key, value] of Object.entries(process.env)) {
      // A run of its own: not this run's workers' settings, not this run's registry of processes.
      if (value !== undefined && !key.startsWith('VITEST') && key !== PIDS_ENV) env[key] = value;
    }
    const run = spawnTracked(process.execPath, [VITEST, 'run', '--config', CONFIG], {
      cwd: PACKAGE,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    run.stdout?.on('data', (d) => {
      output += d;
    });
    run.stderr?.on('data', (d) => {
      output += d;
    });
    const code = await new Promise<number | null>((resolve) => run.on('close', resolve));

    listed = (await readFile(pids, 'utf8')).split('\n').filter(Boolean).map(Number);
    // Three spawned servers (two in tests that timed out, one in a worker that died), three
    // processes each; and the S3 server and helper a module under test started in the worker.
    expect(listed, output).toHaveLength(11);
    expect(code, 'the fixture tests fail').not.toBe(0);
    expect(output).toMatch(/times out while the servers run/);
    expect(output).toMatch(/Test timed out/);

    const deadline = Date.now() + 10_000;
    while (listed.some(alive) && Date.now() < deadline) await sleep(50);
    expect(listed.filter(alive), `processes left running; the run said:\n${output}`).toEqual([]);
  });
});
