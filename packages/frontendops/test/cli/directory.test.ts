/**
 * `-C <dir>`: every command acts for the repository in <dir> — its configuration, its local
 * environment — wherever it was started (an MCP client starts its servers where it likes).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/run-cli.ts';

let tmp: string;
let repo: string;
let elsewhere: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-directory-'));
  repo = join(tmp, 'brochure');
  elsewhere = join(tmp, 'elsewhere');
  await mkdir(repo);
  await mkdir(elsewhere);
  await writeFile(
    join(repo, 'frontendops.config.json'),
    JSON.stringify({
      app: 'brochure',
      appPath: 'public',
      stacks: { 'brochure-prod': { backend: 'outputs', file: 'prod.json' } },
    }),
  );
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('frontendops -C <dir>', () => {
  it("reads that directory's configuration, before or after the command", async () => {
    for (const argv of [
      ['-C', repo, 'status'],
      ['status', '-C', '../brochure'],
    ]) {
      const { code, stderr } = await cli(argv, {
        cwd: elsewhere,
        env: { FRONTENDOPS_CONFIG: undefined, FRONTENDOPS_STACK: undefined },
      });
      expect(code, stderr).toBe(2);
      // The stacks it names are the ones configured in <dir>: it looked there.
      expect(stderr).toMatch(/Which stack\?[\s\S]*--stack <brochure-prod\|outputs\.json>/);
    }
  });

  it('refuses a directory that does not exist, saying what to pass, without a stack trace', async () => {
    const { code, stderr } = await cli(['-C', join(tmp, 'missing'), 'status'], { cwd: elsewhere });
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^error: -C .*missing: .* is not a directory\. Pass the directory of the repository/,
    );
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
