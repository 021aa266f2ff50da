/**
 * A command run with --json that fails prints its error on stdout as well, as the one object a
 * script reads: `{"error": {"code", "message", "exitCode"}}`, beside the usual line on stderr and the
 * exit code. Before, stdout was empty and a CI step parsing it failed on the empty string.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../support/run-cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-json-errors-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it('deploy --json with a bad commit: the error as JSON on stdout, exit 2', async () => {
  const run = await cli(['deploy', '--json', '--commit', 'not-a-sha', '--stack', 'nowhere'], { cwd: dir });
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/^error: /);
  const printed = JSON.parse(run.stdout);
  expect(printed).toEqual({
    error: { code: expect.stringMatching(/^[A-Z_]+$/), message: expect.any(String), exitCode: 2 },
  });
  expect(run.stderr).toContain(printed.error.message);
});

it('without --json stdout stays empty', async () => {
  const run = await cli(['deploy', '--commit', 'not-a-sha', '--stack', 'nowhere'], { cwd: dir });
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
});
