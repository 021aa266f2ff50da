/**
 * The local environment (`frontendops dev`) runs atomic releases: its edge runs the release router
 * with a KeyValueStore (endpoint and ARN in env.json and the `local` stack's outputs) and a
 * propagation delay; a deploy is one key write that visitors see as a whole release; a restart
 * sets the in-memory store again from the state.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Config, defaultConfig } from '../../src/config.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishBuild } from '../../src/deploy/publish.ts';
import { type LocalEnvironment, startLocalEnvironment } from '../../src/local/dev.ts';
import { LOCAL_STACK } from '../../src/stacks/local.ts';
import { openSite } from '../../src/stacks/open.ts';
import { writeReleaseBuild } from '../support/atomic-env.ts';
import { Browser, Probe, releaseOf } from '../support/edge-probe.ts';
import { GIT_IDENTITY as GIT } from '../support/git-repo.ts';

const run = promisify(execFile);
let repo: string;
const config: Config = {
  ...defaultConfig(),
  app: 'demo-app',
  appPath: 'site',
  build: { output: '.' },
  spa: true,
};
const open: LocalEnvironment[] = [];
const repos: string[] = [];

/** A repository whose app (site/) is release v1, committed, with no local environment yet. */
async function makeRepo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'frontendops-dev-atomic-'));
  repos.push(dir);
  await writeReleaseBuild(join(dir, 'site'), 'v1');
  const git = (args: string[]) => run('git', args, { cwd: dir, env: { ...process.env, ...GIT } });
  await git(['init', '-q']);
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', 'v1']);
  return dir;
}

beforeAll(async () => {
  repo = await makeRepo();
});
// A case that failed before closing its environment leaves none running for the next.
afterEach(async () => {
  for (const env of open.splice(0)) await env.close();
});
afterAll(async () => {
  for (const dir of repos) await rm(dir, { recursive: true, force: true });
});

async function start(propagationMs: number, cwd = repo) {
  const env = await startLocalEnvironment({ cwd, config, propagationMs });
  open.push(env);
  return env;
}

const request = () => ({
  text: 'deploy',
  actor: 'test',
  planner: 'cli' as const,
  at: new Date().toISOString(),
});
const V2 = 'e2'.repeat(20);

describe('the local environment in atomic mode', () => {
  it('names the release store in env.json and the local stack; deploys are one key write, seen as whole releases', async () => {
    const local = await start(150);
    const envFile = JSON.parse(await readFile(join(repo, '.frontendops', 'env.json'), 'utf8'));
    expect(envFile.releaseStore).toMatchObject({
      arn: expect.stringMatching(/^arn:aws:cloudfront::\d{12}:key-value-store\//),
      endpoint: expect.stringMatching(/^http:\/\/localhost:\d+$/),
      propagationMs: 150,
    });
    const site = await openSite(LOCAL_STACK, config, repo, { onNotice: () => undefined });
    try {
      expect([site.mode, site.releaseGraceMs, site.spa]).toEqual(['atomic', 150, true]);
      const first = await deployArtifact(site, {
        app: 'demo-app',
        commit: local.published.commit,
        request: request(),
      });
      expect(first.outcome).toBe('succeeded');
      expect(releaseOf(await (await fetch(local.env.edgeUrl)).text())).toBe('v1');
      // spa: "/dir/" is a client route too.
      expect(releaseOf(await (await fetch(`${local.env.edgeUrl}/accounts/recent/`)).text())).toBe('v1');

      // A second build, deployed while visitors load pages: each gets a whole release.
      const build = await writeReleaseBuild(join(repo, 'build-v2'), 'v2');
      await publishBuild(site, { dir: build.dir, app: 'demo-app', commit: V2 }, first.request);
      const probe = new Probe();
      const probers = [0, 1, 2].map(() => probe.run(new Browser(local.env.edgeUrl)));
      try {
        await probe.pagesAfterNow(6);
        const second = await deployArtifact(site, { app: 'demo-app', commit: V2, request: first.request });
        expect(second).toMatchObject({ outcome: 'succeeded', invalidation: null });
        await probe.pagesAfterNow(6);
      } finally {
        probe.stop();
        await Promise.all(probers);
      }
      expect(probe.broken).toEqual([]);
      expect([...probe.releasesSeen].sort()).toEqual(['v1', 'v2']);
    } finally {
      site.close();
    }
    await local.close();
    open.pop();
  });

  it('a restart sets the in-memory store from the state: the same release is served, a deploy of it is a no-op', async () => {
    // A repository of its own: its environment made v2 live (not the v1 it publishes when it starts), then stopped.
    const dir = await makeRepo();
    const before = await start(0, dir);
    let site = await openSite(LOCAL_STACK, config, dir, { onNotice: () => undefined });
    try {
      const build = await writeReleaseBuild(join(dir, 'build-v2'), 'v2');
      await publishBuild(site, { dir: build.dir, app: 'demo-app', commit: V2 }, request());
      const deployed = await deployArtifact(site, { app: 'demo-app', commit: V2, request: request() });
      expect(deployed.outcome).toBe('succeeded');
    } finally {
      site.close();
    }
    await before.close();
    open.pop();

    const local = await start(0, dir);
    expect(releaseOf(await (await fetch(local.env.edgeUrl)).text())).toBe('v2');
    site = await openSite(LOCAL_STACK, config, dir, { onNotice: () => undefined });
    try {
      const again = await deployArtifact(site, { app: 'demo-app', commit: V2, request: request() });
      expect(again.outcome).toBe('noop');
    } finally {
      site.close();
    }
    await local.close();
    open.pop();
  });

  it('a restart serves the site on the port of the last run, so its links still open; another free one when that is taken, said so', async () => {
    const first = await start(0);
    const port = new URL(first.env.edgeUrl).port;
    await first.close();
    open.pop();
    const again = await start(0);
    expect(again.env.edgeUrl).toBe(first.env.edgeUrl);
    await again.close();
    open.pop();
    // Another program took the port meanwhile: a free one, and the log says the old links are gone.
    const holder = createServer();
    await new Promise<void>((done) => holder.listen(Number(port), '127.0.0.1', done));
    try {
      const said: string[] = [];
      const moved = await startLocalEnvironment({
        cwd: repo,
        config,
        propagationMs: 0,
        log: (l) => said.push(l),
      });
      open.push(moved);
      expect(new URL(moved.env.edgeUrl).port).not.toBe(port);
      expect(said.join('\n')).toContain(
        `the site's port of the last run (${port}) is in use: the site is on ${moved.env.edgeUrl} now`,
      );
      await moved.close();
      open.pop();
    } finally {
      await new Promise((done) => holder.close(done));
    }
  });

  it('the propagation delay comes from FRONTENDOPS_EDGE_PROPAGATION_MS when not given', async () => {
    const saved = process.env.FRONTENDOPS_EDGE_PROPAGATION_MS;
    process.env.FRONTENDOPS_EDGE_PROPAGATION_MS = 'soon';
    try {
      await expect(startLocalEnvironment({ cwd: repo, config })).rejects.toThrow(/0 to 60000/);
    } finally {
      if (saved === undefined) delete process.env.FRONTENDOPS_EDGE_PROPAGATION_MS;
      else process.env.FRONTENDOPS_EDGE_PROPAGATION_MS = saved;
    }
  });
});
