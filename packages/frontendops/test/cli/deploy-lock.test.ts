/**
 * One deploy at a time across every process of this machine that can reach a target, when the S3
 * endpoint ignores conditional writes (the embedded server): the file lock lives in one machine-wide
 * directory (not under TMPDIR, the working directory or HOME) and is named by the target (endpoint,
 * buckets, state prefix), not by the stack's name. Two real CLI processes, started with different
 * TMPDIR, HOME and working directory, or naming the same target by two stack names, never both run.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { publishArtifact } from '../../src/deploy/publish.ts';
import { LOCK_DIR_ENV, lockDirFor } from '../../src/stacks/open.ts';
import { startCli } from '../support/cli.ts';
import { ARTIFACTS, HOSTING, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { type S3Proxy, startS3Proxy } from '../support/s3-proxy.ts';

const APP = 'sophia-dashboard';
const COMMITS = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
const STACK = 'dashboard-staging';
let t: TestDeployEnv;
let proxy: S3Proxy;
let upstream: ReturnType<typeof createS3Client>;
/** Two outputs files naming the same target: by its own name, and by an alias. */
let outputs: string;
let alias: string;

beforeAll(async () => {
  t = await startDeployEnv({ stack: STACK });
  upstream = createS3Client({ endpoint: t.s3.endpoint, credentials: t.s3.credentials });
  // A proxy that ignores conditional writes as the embedded server does, and can hold a request.
  proxy = await startS3Proxy(t.s3.endpoint, upstream, { conditional: false });
  const target = {
    artifactsBucket: ARTIFACTS,
    hostingBucket: HOSTING,
    statePrefix: `.frontendops/state/${STACK}/`,
    region: 'us-east-1',
    endpoint: proxy.endpoint,
  };
  outputs = join(t.tmp, 'staging.json');
  alias = join(t.tmp, 'alias.json');
  await writeFile(outputs, JSON.stringify({ stack: STACK, ...target }));
  await writeFile(alias, JSON.stringify({ stack: 'staging-by-another-name', ...target }));
  for (const [i, commit] of COMMITS.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `b${i}`), { version: `v${i}` });
    await publishArtifact(t.site.artifacts, { dir: build.dir, app: APP, commit });
  }
});
afterAll(async () => {
  await proxy.close();
  upstream.destroy();
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
