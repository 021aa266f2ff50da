/**
 * One deploy at a time across every process of this machine that can reach a target, when the S3
 * endpoint ignores conditional writes (the embedded server): the file lock lives in one machine-wide
 * directory (not under TMPDIR, the working directory or HOME) and is named by the target (endpoint,
 * buckets, state prefix), not by the stack's name. Two real CLI processes, started with different
 * TMPDIR, HOME and working directory, or naming the same target by two stack names, never both run.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_DIR_ENV, lockDirFor } from '../../src/stacks/open.ts';
import { startCli } from '../support/cli.ts';
import { HOSTING, publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { type DeployProxy, startDeployProxy } from '../support/deploy-proxy.ts';
import type { S3Proxy } from '../support/s3-proxy.ts';

const APP = 'sophia-dashboard';
const COMMITS = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
const STACK = 'dashboard-staging';
let t: TestDeployEnv;
let proxied: DeployProxy;
let proxy: S3Proxy;
/** Two outputs files naming the same target: by its own name, and by an alias. */
let outputs: string;
let alias: string;

beforeAll(async () => {
  t = await startDeployEnv({ stack: STACK });
  // A proxy that ignores conditional writes as the embedded server does, and can hold a request.
  proxied = await startDeployProxy(t, { conditional: false });
  proxy = proxied.proxy;
  outputs = await proxied.writeOutputs('staging');
  alias = await proxied.writeOutputs('alias', { stack: 'staging-by-another-name' });
  await publishFixtureBuilds(t, APP, COMMITS, { from: 0 });
});
afterAll(async () => {
  await proxied.close();
  await rm(lockDirFor({ ...t.target, endpoint: proxy.endpoint }), { recursive: true, force: true });
  await t.stop();
});

/** A CLI process of its own, with its own TMPDIR, HOME and working directory (no lock override). */
async function deployProcess(name: string, stackFile: string, commit: string) {
  const home = join(t.tmp, name);
  await mkdir(join(home, 'tmp'), { recursive: true });
  const env: Record<string, string> = {
    ...t.cliEnv(),
    AWS_REGION: 'us-east-1',
    FRONTENDOPS_ACTOR: name,
    TMPDIR: join(home, 'tmp'),
    HOME: home,
  };
  const started = startCli(
    ['deploy', '--stack', stackFile, '--commit', commit, '--wait', '0', '--json', '--no-tag'],
    { ...env, [LOCK_DIR_ENV]: '' },
    home,
  );
  return started;
}

/** Hosting copies of a commit's files that reached the server. */
const copiesOf = (commit: string) =>
  proxy.seen.filter((r) => r.copySource?.includes(`/${commit}/files/`) && r.path.startsWith(`/${HOSTING}/`));

describe('the deploy lock without conditional writes', () => {
  it('a second process with another TMPDIR, HOME and cwd, or another stack name, is refused while the first deploys', async () => {
    // The first deploy stops at its first copy into the hosting bucket, holding the lock.
    const held = proxy.hold(
      (r) => r.method === 'PUT' && r.bucket === HOSTING && !!r.headers['x-amz-copy-source'],
    );
    const first = await deployProcess('operator-a', outputs, COMMITS[0]);
    try {
      await Promise.race([
        held.reached,
        first.done.then((r) => {
          throw new Error(`the first deploy ended before its first copy: ${r.stderr}`);
        }),
      ]);

      const second = await (await deployProcess('operator-b', outputs, COMMITS[1])).done;
      expect(second.code, second.stderr).toBe(1);
      expect(second.stderr).toMatch(
        /Deploying to dashboard-staging is locked by operator-a on \S+ \(pid \d+\)/,
      );
      expect(second.stderr).toMatch(/--wait <seconds>/);

      const renamed = await (await deployProcess('operator-c', alias, COMMITS[1])).done;
      expect(renamed.code, renamed.stderr).toBe(1);
      expect(renamed.stderr).toMatch(/is locked by operator-a on \S+ \(pid \d+\)/);

      // Neither refused deploy copied anything, and nothing moved the live pointer.
      expect(copiesOf(COMMITS[1])).toEqual([]);
      expect(await t.site.records.readPointer()).toBeNull();
    } finally {
      held.release();
    }
    const landed = await first.done;
    expect(landed.code, landed.stderr).toBe(0);
    expect(JSON.parse(landed.stdout)).toMatchObject({ commit: COMMITS[0], outcome: 'succeeded' });

    // Once it is free, the other operator's deploy runs.
    const after = await (await deployProcess('operator-b', alias, COMMITS[1])).done;
    expect(after.code, after.stderr).toBe(0);
    expect((await t.site.records.readPointer())?.value.commit).toBe(COMMITS[1]);
  });
});
