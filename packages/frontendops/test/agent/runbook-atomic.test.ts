/**
 * The runbook on an atomic stack, end to end: the agent's words → its MCP tools → the local edge
 * (the viewer-request function, the KeyValueStore API) in front of the embedded S3 server, with a
 * real git repository. "deploy to 10% first", "promote", "abort the canary" and "give me a preview
 * of the latest build" each become the one tool the words name; what visitors get is read back
 * through the edge.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { runAgentRequest } from '../../src/agent/index.ts';
import type { AgentClients, AgentEvent } from '../../src/agent/types.ts';
import { defaultConfig } from '../../src/config.ts';
import { describeAgentEvent } from '../../src/console/chat.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { readHistory } from '../../src/read/history.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import type { DeploymentRecord } from '../../src/state/records.ts';
import { linkAgentClient } from '../support/agent-link.ts';
import { type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { writeCanaryRows } from '../support/canary-rows.ts';
import { Browser, releaseOf } from '../support/edge-probe.ts';
import { createTestRepo, snapshotRepo, type TestRepo } from '../support/git-repo.ts';

let t: AtomicEnv;
let repo: TestRepo;
let clients: AgentClients;
const called: string[] = [];
const config = { ...defaultConfig(), appPath: 'apps/sophia-dashboard' };

/** The stack (atomic-snapshot.ts) and the repository (its head and tags) as they are now, to put back. */
async function snapshot() {
  const [stack, history] = [await snapshotAtomicEnv(t), await snapshotRepo(repo)];
  return {
    async restore() {
      await stack.restore();
      await history.restore();
    },
  };
}
/**
 * The story the cases tell, told once through the agent as they tell it, each step kept for the cases
 * that start from it: dashboard1 live, dashboard2 the latest build; dashboard2 on a 10% canary; the
 * canary promoted (tagged); a newer build, v3, committed and published.
 */
const story = {} as Record<
  'start' | 'onCanary10' | 'promoted' | 'v3Published',
  Awaited<ReturnType<typeof snapshot>>
>;

/** Commits a change to the dashboard and publishes its build (v3); returns the commit. */
async function addV3(): Promise<string> {
  await mkdir(join(repo.dir, 'apps', 'sophia-dashboard'), { recursive: true });
  await writeFile(join(repo.dir, 'apps', 'sophia-dashboard', 'v3.txt'), 'v3\n');
  await repo.git(['add', '--', 'apps/sophia-dashboard/v3.txt']);
  await repo.git(['commit', '-q', '-m', 'dashboard: v3']);
  const sha = (await repo.git(['rev-parse', 'HEAD'])).trim();
  await t.publish(sha, 'v3');
  return sha;
}

/** The stack made protected (a person's answer trusted), and an infra server on it for the agent. */
async function protectedInfra() {
  const protectedConfig = {
    ...config,
    protected: [t.site.target.stack],
    approval: { approvers: {}, trustElicitation: true },
  };
  const site = await t.open({ protected: true, approval: protectedConfig.approval });
  const infra = await link(
    createInfraServer({
      config: protectedConfig,
      defaultStack: t.site.target.stack,
      openSite: async () => site,
    }),
  );
  return { protectedConfig, infra };
}

/** The agent's client of `server`; the tools the planners call on it go to `called`. */
const link = (server: McpServer) =>
  linkAgentClient(server, (name) => {
    if (name !== 'record_request') called.push(name);
  });

beforeAll(async () => {
  t = await startAtomicEnv();
  repo = await createTestRepo();
  await t.publish(repo.commits.dashboard1, 'v1');
  await t.publish(repo.commits.dashboard2, 'v2');
  await deployArtifact(t.site, {
    app: 'sophia-dashboard',
    commit: repo.commits.dashboard1,
    request: request('first'),
  });
  const infra = await link(
    createInfraServer({ config, defaultStack: t.site.target.stack, openSite: async () => t.site }),
  );
  const git = await link(
    createGitServer({ host: createLocalGit({ repoDir: repo.dir }), defaultPath: 'apps/sophia-dashboard' }),
  );
  clients = { infra, git, close: async () => void (await Promise.allSettled([infra.close(), git.close()])) };
  const step = async (text: string) => {
    const result = await run(text);
    if (result.outcome !== 'succeeded') throw new Error(`${text}: ${result.outcome}: ${result.message}`);
  };
  story.start = await snapshot();
  await step('deploy the latest dashboard to 10% first');
  story.onCanary10 = await snapshot();
  await step('promote');
  story.promoted = await snapshot();
  await addV3();
  story.v3Published = await snapshot();
  asked.length = 0;
});
afterAll(async () => {
  await clients?.close?.();
  await repo?.cleanup();
  await t?.stop();
});

const asked: string[] = [];
/** The last run's events, as the agent told them (the console publishes them to every session). */
const told: AgentEvent[] = [];
const run = (text: string, answer = true) => {
  called.length = 0;
  told.length = 0;
  return runAgentRequest(text, {
    actor: 'ada',
    planner: 'runbook',
    onEvent: (event) => told.push(event),
    approve: async (question) => {
      asked.push(question.summary);
      return answer
        ? { approved: true, by: 'ada', via: 'test' }
        : { approved: false, by: 'nobody', via: 'test' };
    },
    clients,
    config,
    cwd: repo.dir,
    env: {},
  });
};
/** What a visitor gets: a fresh visitor, and the sticky cookie the edge gives it. */
const visitor = async () => releaseOf((await new Browser(t.edge.url).navigate('/')).body);
const served = async () => releaseOf(await (await fetch(t.edge.url)).text());

describe('the runbook on an atomic stack', () => {
  it('"deploy to 10% first": one start_canary of the latest build for 10%; most visitors keep the live one', async () => {
    await story.start.restore();
    const result = await run('deploy the latest dashboard to 10% first');
    expect(result.outcome, result.message).toBe('succeeded');
    expect(called).toContain('start_canary');
    expect(called).not.toContain('run_sync');
    expect(result.message).toMatch(
      /^10% of visitors on dashboard-atomic now get sophia-dashboard [0-9a-f]{7}/,
    );
    expect((await t.store().read()).value).toMatchObject({ weight: 10 });
    expect(await served()).toBe('v1');
  });

  it('"what\'s live?" names the canary and its share', async () => {
    await story.onCanary10.restore();
    const result = await run("what's live?");
    expect(result.message).toMatch(/Meanwhile a canary of sophia-dashboard@[0-9a-f]{7} gets 10% of visitors/);

    // The release store changed outside FrontendOps (half the visitors on the canary): said first.
    const store = t.store();
    const recorded = await store.read();
    await store.write({ ...recorded.value, weight: 50 } as NonNullable<typeof recorded.value>, recorded.etag);
    try {
      const changed = await run("what's live?");
      expect(changed.message.split('\n')[0]).toMatch(/^WARNING: not what visitors get: .*50%/);
    } finally {
      const now = await store.read();
      await store.write(recorded.value as NonNullable<typeof recorded.value>, now.etag);
    }
  });

  it('"promote" with a canary running promotes that canary (one key write), tagged', async () => {
    await story.onCanary10.restore();
    const result = await run('promote');
    expect(result.outcome, result.message).toBe('succeeded');
    expect(called).toContain('promote_canary');
    expect(called).not.toContain('promote_release');
    expect(result.commit).toBe(repo.commits.dashboard2);
    expect(result.tag).toMatch(/^dashboard-deploy-\d{8}-1$/);
    expect(await served()).toBe('v2');
    expect(await visitor()).toBe('v2');
    expect((await t.store().read()).value).not.toHaveProperty('canary');
  });

  it('"abort the canary" ends one (everyone back on the live release); with none running it says so', async () => {
    await story.promoted.restore();
    // A canary of the older build, then aborted.
    const started = await run(`deploy ${repo.commits.dashboard1.slice(0, 7)} to 25% first`);
    expect(started.outcome, started.message).toBe('succeeded');
    expect((await t.store().read()).value).toMatchObject({ weight: 25 });
    // While it runs, a deploy is refused by the server before anything changed (CONFLICT): a
    // refusal in the server's words (exit 2), as the CLI says it, not a failure.
    const blocked = await run(`deploy ${repo.commits.dashboard2.slice(0, 7)}`);
    expect(blocked.outcome, blocked.message).toBe('refused');
    expect(blocked.message).toMatch(
      /^A canary of sophia-dashboard@[0-9a-f]{7} runs on .*Nothing was changed\.$/s,
    );
    expect((await t.store().read()).value).toMatchObject({ weight: 25 });
    const aborted = await run('abort the canary');
    expect(aborted.outcome, aborted.message).toBe('succeeded');
    // Everyone goes back to the live release: nothing "new" is served, and no nested brackets.
    expect(aborted.message).toMatch(
      /everyone gets the live release again \(one key write; verified: the CDN serves it\)/,
    );
    expect(aborted.message).not.toMatch(/new release/);
    expect(called).toEqual(['get_status', 'abort_canary']);
    expect((await t.store().read()).value).not.toHaveProperty('canary');
    expect(await served()).toBe('v2');
    const none = await run('stop the canary');
    expect(none).toMatchObject({ outcome: 'noop', message: expect.stringMatching(/No canary runs/) });
    expect(called).toEqual(['get_status']);
  });

  it('"give me a preview of the latest build": a link the edge serves as that build; the link stays out of the audit', async () => {
    await story.promoted.restore();
    const v3 = await addV3();
    const result = await run('give me a preview of the latest build');
    expect(result.outcome, result.message).toBe('answered');
    expect(called).toContain('preview_release');
    expect(result.commit).toBe(v3);
    const url = new URL(/https?:\/\/\S+/.exec(result.message)?.[0] as string);
    const token = url.searchParams.get('fo_preview') as string;
    expect(token.length).toBeGreaterThan(20);
    expect(releaseOf((await new Browser(url.origin).navigate(`${url.pathname}${url.search}`)).body)).toBe(
      'v3',
    );
    expect(await served()).toBe('v2');
    const audit = await readAudit(t.site.state, t.target.statePrefix);
    expect(JSON.stringify(audit)).not.toContain(token);
    // Nor in what the console's event stream, which every session of it reads, says of the run.
    expect(told.some((event) => event.type === 'result' && event.call.tool === 'preview_release')).toBe(true);
    expect(JSON.stringify(told.map(describeAgentEvent))).not.toContain(token);
    expect(audit.at(-1)).toMatchObject({ type: 'agent-request', data: { intent: 'preview' } });
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('on an unprotected stack a canary, like a deploy, is not put to a person (it was, and declined with no terminal)', async () => {
    await story.v3Published.restore();
    asked.length = 0;
    const started = await run('deploy to 25% first', false);
    expect(started.outcome, started.message).toBe('succeeded');
    const ended = await run('abort the canary', false);
    expect(ended.outcome, ended.message).toBe('succeeded');
    expect(asked).toEqual([]);
    expect(await served()).toBe('v2');
  });

  it('on a protected stack the canary start and its abort are put to the person with the deploy id a confirmation binds to (the console confirms by it)', async () => {
    await story.v3Published.restore();
    const { protectedConfig, infra } = await protectedInfra();
    const questions: Array<{ action: string; deployId?: string }> = [];
    try {
      const ask = (text: string) =>
        runAgentRequest(text, {
          actor: 'ada',
          planner: 'runbook',
          approve: async (question) => {
            questions.push({
              action: question.action,
              ...(question.deployId ? { deployId: question.deployId } : {}),
            });
            return { approved: true, by: 'ada', via: 'test' };
          },
          clients: { ...clients, infra },
          config: protectedConfig,
          cwd: repo.dir,
          env: {},
        });
      const started = await ask('deploy to 20% first');
      expect(started.outcome, started.message).toBe('succeeded');
      const canary = (await t.store().read()).value?.canary;
      expect(canary).toBeDefined();
      const ended = await ask('abort the canary');
      expect(ended.outcome, ended.message).toBe('succeeded');
      expect(questions).toEqual([
        { action: 'canary', deployId: expect.stringMatching(/^[0-9a-f]{7}-[0-9a-f]{10}$/) },
        { action: 'abort', deployId: questions[0]?.deployId },
      ]);
    } finally {
      await infra.close();
    }
  });

  it("on a protected stack a canary's start row is no release to roll back to: refused before anyone is asked", async () => {
    await story.v3Published.restore();
    const rows = (await readHistory(t.site, { limit: 50 })).deployments;
    const start = rows.find((d) => d.kind === 'canary-start');
    expect(start).toBeDefined();
    const { protectedConfig, infra } = await protectedInfra();
    const questions: string[] = [];
    try {
      called.length = 0;
      const result = await runAgentRequest(`roll back to ${start?.deployId}`, {
        actor: 'ada',
        planner: 'runbook',
        approve: async (question) => {
          questions.push(question.summary);
          return { approved: true, by: 'ada', via: 'test' };
        },
        clients: { ...clients, infra },
        config: protectedConfig,
        cwd: repo.dir,
        env: {},
      });
      expect(result.outcome, result.message).toBe('refused');
      // Said as what it is, not as an id nobody knows (the history the person read lists it).
      expect(result.message).toMatch(
        new RegExp(
          `^${start?.deployId} is the history's row of a canary's start of .*: only a share of visitors got that build`,
        ),
      );
      expect(result.message).toMatch(/Nothing was changed\./);
      expect(questions).toEqual([]);
      expect(called).not.toContain('rollback');
    } finally {
      await infra.close();
    }
  });

  it("yesterday's version is found past today's canary rows: they are no release, and a page of them hides none", async () => {
    await story.v3Published.restore();
    const live = (await t.site.records.readPointer())?.value;
    const record = (await t.site.records.readRecord(live?.deployId as string)) as DeploymentRecord;
    // Tomorrow, a hundred rows of canaries started and aborted (the shape the atomic apply writes
    // them in): as many rows as the runbook used to read, none of them a release.
    const tomorrow = Date.now() + 24 * 60 * 60 * 1000;
    await writeCanaryRows(t.site, record, 100, (i) => new Date(tomorrow + i).toISOString());
    called.length = 0;
    const result = await runAgentRequest("roll back to yesterday's version", {
      actor: 'ada',
      planner: 'runbook',
      approve: async () => ({ approved: false, by: 'nobody', via: 'test' }),
      clients,
      config,
      cwd: repo.dir,
      env: {},
      now: () => new Date(tomorrow + 1000),
    });
    // Yesterday's release is the one live today.
    expect(result.outcome, result.message).toBe('noop');
    expect(result.message).toContain(`Yesterday's release ${live?.deployId} is still live`);
    expect(called).not.toContain('rollback');
  });
});
