/**
 * The attack: `npm start` (`frontendops dev`) in a repository whose configuration names the real
 * production stack — as its default, in FRONTENDOPS_STACK, even unprotected — used to resolve that
 * name and deploy to it, approving itself. The embedded environment must touch nothing else.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { cli } from '../support/run-cli.ts';

let prod: TestDeployEnv;
let repo: TestRepo;

beforeAll(async () => {
  prod = await startDeployEnv();
  repo = await createTestRepo();
  const outputs = await prod.writeOutputs({ cdn: true });
  await mkdir(join(repo.dir, 'site'), { recursive: true });
  await writeFile(join(repo.dir, 'site', 'index.html'), '<!doctype html><title>site</title><h1>hello</h1>\n');
  await writeFile(
    join(repo.dir, 'frontendops.config.json'),
    JSON.stringify({
      app: 'site',
      appPath: 'site',
      build: { output: '.' },
      defaultStack: STACK,
      protected: [],
      stacks: { [STACK]: { backend: 'outputs', file: outputs } },
    }),
  );
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-q', '-m', 'site: first page']);
});
afterAll(async () => {
  await repo?.cleanup();
  await prod?.stop();
});

describe('frontendops dev touches the embedded environment only', () => {
  it('with production as the default stack, in FRONTENDOPS_STACK, with its credentials in the environment', async () => {
    await prod.s3.settle();
    const before = prod.s3.requests.length;
    const dev = await cli(['dev', '--once', '--no-console'], {
      cwd: repo.dir,
      env: { ...prod.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_STACK: STACK, FRONTENDOPS_ACTOR: 'dev' },
    });
    expect(dev.code, dev.stdout + dev.stderr).toBe(0);
    expect(dev.stdout).toMatch(/stack: local/);
    expect(dev.stdout).toMatch(/SUCCEEDED/);
    await prod.s3.settle();
    // Not one request reached production's S3, and its CDN saw no invalidation.
    expect(prod.s3.requests.slice(before)).toEqual([]);
    expect(prod.cdn.createRequests()).toEqual([]);
    expect(await prod.site.records.readPointer()).toBeNull();
  });
});
