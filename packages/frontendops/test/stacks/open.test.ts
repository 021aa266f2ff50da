/**
 * The lock a site takes (connectSite in stacks/open.ts) is chosen at its first use: the S3 lock when
 * the state bucket's endpoint honours conditional writes, else — for an endpoint on this machine — the
 * file lock. Whichever it chose, it keeps the Locker contract (test/support/contracts/locker.ts), with
 * holders in other processes that open the chosen lock directly. A stack opened with the environment a
 * server or the console was given takes its lock directory and SDK endpoints from that environment.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { defaultConfig } from '../../src/config.ts';
import type { DeployTarget } from '../../src/engine/types.ts';
import { createStackOpener } from '../../src/mcp/infra/stacks.ts';
import type { Site } from '../../src/site.ts';
import { LOCAL_DISTRIBUTION_ID, LOCAL_STACK } from '../../src/stacks/local.ts';
import { writeLocalEnv } from '../../src/stacks/local-env-file.ts';
import { connectSite, LOCK_DIR_ENV, lockDirFor, openSite as openStack } from '../../src/stacks/open.ts';
import { startCloudFrontDouble } from '../support/cloudfront-double.ts';
import { lockerContract } from '../support/contracts/locker.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';
import { type S3Proxy, startS3Proxy } from '../support/s3-proxy.ts';

const STATE = 'site-state';
const HOSTING = 'site-hosting';

let s3: TestS3;
let proxy: S3Proxy;
let upstream: ReturnType<typeof createS3Client>;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-open-'));
  s3 = await startTestS3([STATE, HOSTING]);
  upstream = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials });
  proxy = await startS3Proxy(s3.endpoint, upstream, { conditional: true });
});
afterAll(async () => {
  await proxy?.close();
  upstream?.destroy();
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const target = (stack: string, endpoint: string): DeployTarget => ({
  stack,
  artifactsBucket: STATE,
  hostingBucket: STATE,
  stateBucket: STATE,
  statePrefix: `.frontendops/state/${stack}/`,
  region: 'us-east-1',
  endpoint,
  prune: true,
});

/** A site on the embedded S3 server, directly (no conditional writes) or through the proxy (with them). */
async function openSite(stack: string, conditional: boolean) {
  const notices: string[] = [];
  const lockDir = join(tmp, `locks-${stack}`);
  const site = await connectSite(target(stack, conditional ? proxy.endpoint : s3.endpoint), {
    access: { credentials: s3.credentials },
    lockDir,
    onNotice: (notice) => notices.push(notice),
  });
  return { site, lockDir, notices };
}

lockerContract('a site whose endpoint honours conditional writes (the S3 lock)', async () => {
  const { site } = await openSite('with-conditions', true);
  return {
    locker: site.locker,
    holderSpec: {
      kind: 's3',
      endpoint: proxy.endpoint,
      credentials: s3.credentials,
      bucket: STATE,
      prefix: site.target.statePrefix,
    },
    cleanup: async () => site.close(),
  };
});

lockerContract('a site on this machine without conditional writes (the file lock)', async () => {
  const { site, lockDir } = await openSite('without-conditions', false);
  return {
    locker: site.locker,
    holderSpec: { kind: 'file', dir: lockDir },
    cleanup: async () => site.close(),
  };
});

describe('the lock a site chooses', () => {
  let opened: Site[] = [];
  afterAll(() => {
    for (const site of opened) site.close();
    opened = [];
  });

  it('is the S3 lock, under the state prefix, when the endpoint honours conditional writes', async () => {
    const { site, lockDir, notices } = await openSite('chooses-s3', true);
    opened.push(site);
    const held = await site.locker.acquire('deploy-x', { owner: 'alice', ttlMs: 60_000, waitMs: 0 });
    expect((await site.state.list(`${site.target.statePrefix}locks/`)).map((o) => o.key)).toEqual([
      `${site.target.statePrefix}locks/deploy-x.json`,
    ]);
    await expect(readdir(lockDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(notices).toEqual([]);
    await held.release();
  });

  it('is the file lock in its lock directory, said once, when the endpoint on loopback ignores them', async () => {
    const { site, lockDir, notices } = await openSite('chooses-file', false);
    opened.push(site);
    const held = await site.locker.acquire('deploy-x', { owner: 'alice', ttlMs: 60_000, waitMs: 0 });
    expect(await readdir(lockDir)).toContain('deploy-x.json');
    expect(await site.state.list(`${site.target.statePrefix}locks/`)).toEqual([]);
    await held.release();
    await (await site.locker.acquire('deploy-y', { owner: 'alice', ttlMs: 60_000, waitMs: 0 })).release();
    expect(notices).toEqual([expect.stringMatching(/ignores conditional writes.*file lock on this machine/)]);
  });
});

describe('a stack opened with the environment a server or the console was given', () => {
  it("locks in that environment's lock directory, not the process's", async () => {
    // The embedded S3 server on loopback ignores conditional writes: the file lock, in FRONTENDOPS_LOCK_DIR.
    expect(process.env[LOCK_DIR_ENV]).toBeUndefined();
    const cwd = join(tmp, 'given-env-project');
    await mkdir(join(cwd, '.frontendops'), { recursive: true, mode: 0o700 });
    await writeLocalEnv(cwd, {
      pid: process.pid,
      startedAt: new Date(0).toISOString(),
      s3Endpoint: s3.endpoint,
      credentials: s3.credentials,
      buckets: { artifacts: STATE, hosting: HOSTING },
      distributionId: LOCAL_DISTRIBUTION_ID,
      edgeUrl: 'http://127.0.0.1:9/',
      cdnEndpoint: 'http://127.0.0.1:9/',
      dataDir: join(cwd, 'data'),
    });
    const env = { [LOCK_DIR_ENV]: join(tmp, 'given-locks') };
    // What `mcp infra` opens its stacks with (mcp/infra/server.ts), and the console's agent too.
    const opener = createStackOpener(defaultConfig(), {
      cwd,
      env,
      onTarget: () => undefined,
      onNotice: () => undefined,
    });
    try {
      const site = await opener.open(LOCAL_STACK);
      const held = await site.locker.acquire('deploy-x', { owner: 'alice', ttlMs: 60_000, waitMs: 0 });
      try {
        expect(await readdir(env[LOCK_DIR_ENV])).toEqual([basename(lockDirFor(site.target, env))]);
        expect(await readdir(lockDirFor(site.target, env))).toContain('deploy-x.json');
      } finally {
        await held.release();
      }
    } finally {
      opener.close();
    }
  });

  it("invalidates at that environment's CloudFront endpoint, the one it checked for", async () => {
    // Of a stack the local edge serves, opened without --stack local (no cdnEndpoint given): the
    // endpoint is the environment's AWS_ENDPOINT_URL_CLOUDFRONT, as the check before any write says.
    expect(process.env.AWS_ENDPOINT_URL_CLOUDFRONT ?? process.env.AWS_ENDPOINT_URL).toBeUndefined();
    const edge = await startCloudFrontDouble({ distributionIds: [LOCAL_DISTRIBUTION_ID] });
    try {
      const site = await openStack('edge', defaultConfig(), tmp, {
        read: {
          target: { ...target('edge', s3.endpoint), distributionId: LOCAL_DISTRIBUTION_ID },
          access: { credentials: s3.credentials },
          named: true,
        },
        env: { AWS_ENDPOINT_URL_CLOUDFRONT: edge.endpoint },
        onNotice: () => undefined,
      });
      try {
        expect(site.cdn?.unavailable).toBeUndefined();
        await site.cdn?.invalidate({ paths: ['/index.html'], callerReference: 'given-env-1' });
        expect(edge.createRequests()).toHaveLength(1);
      } finally {
        site.close();
      }
    } finally {
      await edge.close();
    }
  });
});
