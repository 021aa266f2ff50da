/**
 * Two operators deploying to one stack must meet at one lock, however each reaches it. The attack:
 * the same S3 server named `127.0.0.1` by one and `localhost` by the other, and (on the local
 * environment) each with a lock directory of its own (FRONTENDOPS_LOCK_DIR). Before, their locks
 * did not meet — the lock's name and the file lock's directory were made from the endpoint as
 * spelt, and the embedded server ignored conditional writes, so the local environment used file
 * locks — and two in-place deploys copied over each other: the site served a mix of both builds.
 * - On the local environment the lock is an object in the state bucket (the server honours
 *   conditional writes as S3 does), named by the stack's state location only: the second operator
 *   is refused (LOCKED) until the first is done, whatever its endpoint or lock directory.
 * - On a loopback endpoint that ignores conditional writes the file lock is all there is: the two
 *   spellings of this machine share one lock directory. (Two lock directories there cannot meet:
 *   docs/architecture.md says to leave FRONTENDOPS_LOCK_DIR alone.)
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, defaultConfig } from '../../src/config.ts';
import { takeDeployLock } from '../../src/deploy/deploy-lock.ts';
import type { DeployTarget } from '../../src/engine/types.ts';
import { type LocalEnvironment, startLocalEnvironment } from '../../src/local/dev.ts';
import type { Site } from '../../src/site.ts';
import { LOCAL_STACK } from '../../src/stacks/local.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { readStack } from '../../src/stacks/resolve.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { GIT_IDENTITY as GIT } from '../support/git-repo.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const run = promisify(execFile);
const request = (actor: string): RequestInfo => ({
  text: 'deploy',
  actor,
  planner: 'cli',
  at: new Date().toISOString(),
});

/** The endpoint with its loopback host spelt the other way. */
const otherSpelling = (endpoint: string) => {
  const url = new URL(endpoint);
  url.hostname = url.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
  return url.toString().replace(/\/$/, '');
};

/** Operator A holds the deploy lock; operator B, reaching the stack its own way, is refused. */
async function secondIsRefused(a: Site, b: Site) {
  const held = await takeDeployLock(a, { request: request('operator-a') });
  try {
    const second = takeDeployLock(b, { request: request('operator-b'), waitMs: 0 });
    await expect(second).rejects.toMatchObject({ code: 'LOCKED' });
    await expect(second).rejects.toThrow(/operator-a/);
  } finally {
    await held.release();
  }
  // Once A is done, B goes on.
  await (await takeDeployLock(b, { request: request('operator-b') })).release();
}

describe('the local environment', () => {
  let repo: string;
  let local: LocalEnvironment;
  const sites: Site[] = [];
  const notices: string[] = [];
  beforeAll(async () => {
    repo = await mkdtemp(join(tmpdir(), 'frontendops-locks-meet-'));
    await mkdir(join(repo, 'site'));
    await writeFile(join(repo, 'site', 'index.html'), '<!doctype html><title>v1</title>');
    const git = (args: string[]) => run('git', args, { cwd: repo, env: { ...process.env, ...GIT } });
    await git(['init', '-q']);
    await git(['add', '-A']);
    await git(['commit', '-q', '-m', 'v1']);
    const config: Config = { ...defaultConfig(), app: 'demo-app', appPath: 'site', build: { output: '.' } };
    local = await startLocalEnvironment({ cwd: repo, config, propagationMs: 0 });
    const { target, access } = await readStack(LOCAL_STACK, { config, cwd: repo });
    const open = async (of: DeployTarget, lockDir: string) => {
      const site = await connectSite(of, {
        ...(access ? { access } : {}),
        lockDir,
        onNotice: (n) => notices.push(n),
      });
      sites.push(site);
      return site;
    };
    sites.push(
      await open(target, join(repo, 'locks-a')),
      await open({ ...target, endpoint: otherSpelling(target.endpoint as string) }, join(repo, 'locks-b')),
    );
  });
  afterAll(async () => {
    for (const site of sites) site.close();
    await local?.close();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('two operators, two spellings of its endpoint, two lock directories: one lock', async () => {
    const [a, b] = sites as [Site, Site];
    expect(a.target.endpoint).not.toBe(b.target.endpoint);
    await secondIsRefused(a, b);
    // No file lock was used: the bucket serialises them, on any machine.
    expect(notices.join('\n')).not.toMatch(/file lock/);
  });
});

describe('a loopback endpoint that ignores conditional writes', () => {
  let s3: TestS3;
  const sites: Site[] = [];
  beforeAll(async () => {
    s3 = await startTestS3(['state'], { conditionalWrites: false });
    const target: DeployTarget = {
      stack: 'loopback',
      artifactsBucket: 'state',
      hostingBucket: 'state',
      stateBucket: 'state',
      statePrefix: '.frontendops/state/loopback/',
      region: 'us-east-1',
      endpoint: s3.endpoint,
      prune: true,
    };
    for (const endpoint of [s3.endpoint, otherSpelling(s3.endpoint)])
      sites.push(
        await connectSite(
          { ...target, endpoint },
          { access: { credentials: s3.credentials }, onNotice: () => {} },
        ),
      );
  });
  afterAll(async () => {
    for (const site of sites) site.close();
    await s3?.stop();
  });

  it("127.0.0.1 and localhost share this machine's file lock", async () => {
    const [a, b] = sites as [Site, Site];
    await secondIsRefused(a, b);
  });
});
