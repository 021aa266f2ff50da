/**
 * What the console's tests start from: a stack, the test repository's two dashboard commits published
 * (builds "v1" and "v2"), and the first of them live.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { runAgentRequest } from '../../src/agent/index.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { type ConsoleOptions, type ConsoleServer, startConsole } from '../../src/console/server.ts';
import type { ActionResult, PlanAction, PlanView } from '../../src/console/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import type { Site } from '../../src/site.ts';
import { linkAgentClient } from './agent-link.ts';
import { snapshotStack } from './bucket-snapshot.ts';
import { publishAsCi, STACK, startDeployEnv, type TestDeployEnv } from './deploy-env.ts';
import { writeFixtureBuild } from './fixture-build.ts';
import { createTestRepo, snapshotRepo, type TestRepo } from './git-repo.ts';

export const APP = 'sophia-dashboard';

export interface ConsoleTestEnv {
  t: TestDeployEnv;
  repo: TestRepo;
  /** The live commit. */
  C1: string;
  /** The latest commit of apps/sophia-dashboard, published, not live. */
  C2: string;
}

export async function startConsoleEnv(options: { protected?: boolean } = {}): Promise<ConsoleTestEnv> {
  const t = await startDeployEnv({}, options);
  const repo = await createTestRepo();
  const C1 = repo.commits.dashboard1;
  const C2 = repo.commits.dashboard2;
  for (const [i, commit] of [C1, C2].entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `build-${i}`), { version: `v${i + 1}` });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  }
  await deployArtifact(t.site, {
    app: APP,
    commit: C1,
    request: { text: 'first deploy', actor: 'alice', planner: 'cli', at: new Date().toISOString() },
  });
  return { t, repo, C1, C2 };
}

/**
 * The console on that stack, reading the test repository, with a stand-in page (these tests are
 * about the API; the browser tests build and drive the real UI); `options` adds to or replaces these.
 */
export async function startConsoleOn(
  { t, repo }: ConsoleTestEnv,
  options: Partial<ConsoleOptions> = {},
): Promise<ConsoleServer> {
  const uiDir = join(t.tmp, 'ui');
  await mkdir(uiDir, { recursive: true });
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>console</title>');
  return startConsole({
    config: await loadConfig(t.tmp),
    stacks: [STACK],
    openSite: async () => t.site,
    git: createLocalGit({ repoDir: repo.dir }),
    uiDir,
    actor: 'ada (console)',
    ...options,
  });
}

export interface ConsoleEnvSnapshot {
  /** Puts the stack and the repository back as they were taken. */
  restore(): Promise<void>;
}

/** Per environment: the snapshot it was last put back to (or taken at), and the S3 log's mark then. */
const lastSet = new WeakMap<TestDeployEnv, { snapshot: ConsoleEnvSnapshot; mark: number }>();

/**
 * What a console's case starts from, to put back before the next case instead of making it again:
 * the hosting bucket and the stack's state prefix (records, audit chain, pin, publish log) as
 * bucket-snapshot.ts restores them, the builds of the artifacts bucket (a case may publish one; a
 * published build is never written again, so only the builds published since are deleted), and the
 * test repository's refs and commit (git-repo.ts snapshotRepo).
 *
 * Restoring the snapshot the environment was last put back to, with no write to the S3 server since
 * and the same refs, changes nothing and is skipped: a case that only read leaves the next case the
 * stack as it found it.
 */
export async function snapshotConsoleEnv({ t, repo }: ConsoleTestEnv): Promise<ConsoleEnvSnapshot> {
  const buckets = await snapshotStack(t.site);
  const builds = new Set((await t.site.artifacts.list('')).map((o) => o.key));
  const refs = await snapshotRepo(repo);
  const untouched = async (since: number) =>
    (await t.requestsSince(since)).every((r) => r.method === 'GET' || r.method === 'HEAD');
  const snapshot: ConsoleEnvSnapshot = {
    async restore() {
      const last = lastSet.get(t);
      if (last?.snapshot === snapshot && (await refs.unchanged()) && (await untouched(last.mark))) return;
      await buckets.restore();
      const published = (await t.site.artifacts.list('')).map((o) => o.key).filter((key) => !builds.has(key));
      if (published.length > 0) await t.site.artifacts.delete(published);
      await refs.restore();
      lastSet.set(t, { snapshot, mark: await t.mark() });
    },
  };
  lastSet.set(t, { snapshot, mark: await t.mark() });
  return snapshot;
}

/**
 * The console as `frontendops console` runs it (its own UI), on the site `openSite` opens, reading the
 * test repository: its agent the runbook planner, talking to the infra and git servers in process
 * over linked transports. The caller closes the server and both clients.
 */
export async function startAgentConsole(
  { repo }: Pick<ConsoleTestEnv, 'repo'>,
  { config, openSite }: { config: Config; openSite: () => Promise<Site> },
): Promise<{ server: ConsoleServer; clients: { infra: Client; git: Client } }> {
  const gitHost = createLocalGit({ repoDir: repo.dir });
  const clients = {
    infra: await linkAgentClient(createInfraServer({ config, openSite, defaultStack: STACK })),
    git: await linkAgentClient(createGitServer({ host: gitHost, defaultPath: 'apps/sophia-dashboard' })),
  };
  const server = await startConsole({
    config,
    stacks: [STACK],
    openSite,
    git: gitHost,
    actor: 'release-manager (console)',
    agent: (text, options) =>
      runAgentRequest(text, {
        actor: options.actor,
        approve: options.approve,
        onEvent: options.onEvent,
        clients,
        stack: STACK,
        config,
        planner: 'runbook',
        cwd: repo.dir,
      }),
  });
  return { server, clients };
}

/**
 * A POST to the console's API (`path`: /api/stacks/<stack>/unpin, /api/canary/start…), as the page
 * sends it; the console's answer. Anything but 200 throws with the console's words.
 */
export async function postToConsole<T>(server: ConsoleServer, path: string, body: object): Promise<T> {
  const res = await fetch(new URL(path, server.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`the console refused ${path}: ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * A plan confirmed in the console as its buttons confirm one: the plan of `action` read, and posted
 * back with its deploy id and `body` (why; which release).
 */
export async function confirmInConsole(
  server: ConsoleServer,
  action: PlanAction,
  body: { message?: string; to?: string } = {},
  stack = STACK,
): Promise<ActionResult> {
  const planUrl = new URL(`/api/stacks/${stack}/plan`, server.url);
  planUrl.searchParams.set('action', action);
  if (body.to) planUrl.searchParams.set('to', body.to);
  const plan = (await (
    await fetch(planUrl, { headers: { authorization: `Bearer ${server.token}` } })
  ).json()) as PlanView;
  return postToConsole<ActionResult>(server, `/api/stacks/${stack}/${action}`, {
    ...body,
    deployId: plan.deployId,
  });
}
