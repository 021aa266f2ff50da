/**
 * A request stopped on purpose (the CLI's Ctrl-C: runAgentRequest's signal) while it deploys: the
 * call in flight is cancelled, the infra server stops the change at its next safe point, and the
 * answer says what that left — "nothing went live" when it stopped before its switch, "went live …
 * run the same request again to finish it" when it was past it. Either way the same request again
 * finishes it (never "already live, nothing to do" while its deploy waits to be recorded): verified,
 * recorded, tagged, and the audit chain verifies. Real in-process MCP servers, embedded S3, real git;
 * in place, and atomic (the local edge).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { runAgentRequest } from '../../src/agent/index.ts';
import type { AgentClients } from '../../src/agent/types.ts';
import { defaultConfig } from '../../src/config.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { type AgentTestEnv, APP, startAgentTestEnv } from '../support/agent-env.ts';
import { linkAgentClient } from '../support/agent-link.ts';
import { type AtomicEnv, heldAtSwitch, request, startAtomicEnv } from '../support/atomic-env.ts';
import { releaseOf } from '../support/edge-probe.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { holdCopies } from '../support/hold-copies.ts';

const config = { ...defaultConfig(), appPath: 'apps/sophia-dashboard' };

/** The agent's two clients: an infra server on `site` (its notes kept in `notes`), a git server on `repoDir`. */
async function clientsFor(site: Site, repoDir: string, notes: string[]): Promise<AgentClients> {
  const infra = await linkAgentClient(
    createInfraServer({
      config,
      defaultStack: site.target.stack,
      openSite: async () => site,
      onNotice: (n) => notes.push(n),
    }),
  );
  const git = await linkAgentClient(
    createGitServer({ host: createLocalGit({ repoDir }), defaultPath: 'apps/sophia-dashboard' }),
  );
  return { infra, git, close: async () => void (await Promise.allSettled([infra.close(), git.close()])) };
}

const ask = (text: string, clients: AgentClients, cwd: string, signal?: AbortSignal) =>
  runAgentRequest(text, {
    actor: 'ada',
    planner: 'runbook',
    approve: async () => ({ approved: true, by: 'ada', via: 'test' }),
    clients,
    config,
    cwd,
    env: {},
    ...(signal ? { signal } : {}),
  });

/**
 * An agent environment with dashboard1 deployed, its infra server's copies held at the first one
 * when `hold` (released by the case), and the agent's clients on it. Each case gets its own: what one
 * deploys and tags is no other case's start.
 */
function inPlaceStack(options: { hold: boolean }) {
  const s = {} as {
    e: AgentTestEnv;
    clients: AgentClients;
    notes: string[];
    held: ReturnType<typeof holdCopies> | undefined;
    tags(): Promise<string[]>;
    audit(): ReturnType<typeof verifyAudit>;
  };
  beforeAll(async () => {
    s.e = await startAgentTestEnv();
    await deployArtifact(s.e.t.site, {
      app: APP,
      commit: s.e.repo.commits.dashboard1,
      request: request('first'),
    });
    s.notes = [];
    s.held = options.hold ? holdCopies(s.e.t.site) : undefined;
    s.clients = await clientsFor(s.held?.site ?? s.e.t.site, s.e.repo.dir, s.notes);
    s.tags = async () =>
      (await s.e.repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean);
    s.audit = () => verifyAudit(s.e.t.site.state, s.e.t.target.statePrefix);
  });
  afterAll(async () => {
    s.held?.release();
    await s.clients?.close?.();
    await s.e?.stop();
  });
  return s;
}

// Each test deploys twice through real servers; a busy machine is slow, not wrong.
describe('a deploy the person stops (in place)', { timeout: 120_000 }, () => {
  const s = inPlaceStack({ hold: true });

  it('stopped while run_sync copies: nothing went live, and it says so; the same request deploys it', async () => {
    const { e, clients, notes, tags, audit } = s;
    const held = s.held as ReturnType<typeof holdCopies>;
    const stop = new AbortController();
    const running = ask('Deploy the latest dashboard', clients, e.repo.dir, stop.signal);
    try {
      await held.reached;
      stop.abort(new Error('Ctrl-C'));
      await expect
        .poll(() => notes.join('\n'))
        .toMatch(/run_sync of sophia-dashboard@[0-9a-f]{7}.*stops at its next safe point/);
    } finally {
      held.release();
    }
    const result = await running;
    expect(result.outcome, result.message).toBe('failed');
    expect(result.message).toMatch(
      new RegExp(
        `^Stopped: nothing went live\\. dashboard-hosting-prod still serves sophia-dashboard@${e.repo.commits.dashboard1.slice(0, 7)}`,
      ),
    );
    expect(result.message).toMatch(/Run the same request again to do it/);
    expect(result.calls.map((c) => [c.tool, c.status])).toEqual([
      ['latest_commit', 'ok'],
      ['get_deploy_target', 'ok'],
      ['run_sync', 'error'],
    ]);
    expect(result.calls.at(-1)?.summary).toMatch(/^Interrupted/);
    // The request is in the audit chain, as every request is.
    expect((await readAudit(e.t.site.state, e.t.target.statePrefix)).at(-1)).toMatchObject({
      type: 'agent-request',
      data: { outcome: 'failed' },
    });
    expect(await e.hostingIndex()).toContain('Sophia v1');
    expect(await tags()).toEqual([]);

    const again = await ask('Deploy the latest dashboard', clients, e.repo.dir);
    expect(again.outcome, again.message).toBe('succeeded');
    expect(again.commit).toBe(e.repo.commits.dashboard2);
    expect(again.tag).toMatch(/^dashboard-deploy-\d{8}-1$/);
    expect(await e.hostingIndex()).toContain('Sophia v2');
    expect(await audit()).toMatchObject({ ok: true });
  });
});

describe('a deploy the person stops (in place), its client gone', { timeout: 120_000 }, () => {
  const s = inPlaceStack({ hold: false });

  it('a deploy that went live and was never recorded (its client gone after run_sync) is finished, not NOOP', async () => {
    const { e, clients, audit } = s;
    const v3 = await e.addRelease('v3');
    // What the stopped agent left: synced (live), neither verified nor recorded.
    const target = await clients.infra.callTool({
      name: 'get_deploy_target',
      arguments: { app: APP, commit: v3 },
    });
    const handle = (target.structuredContent as { handle: string }).handle;
    const synced = await clients.infra.callTool({ name: 'run_sync', arguments: { handle } });
    const deployId = (synced.structuredContent as { deployId: string }).deployId;
    expect(await e.hostingIndex()).toContain('Sophia v3');

    const result = await ask('Deploy the latest dashboard', clients, e.repo.dir);
    expect(result.outcome, result.message).toBe('succeeded');
    expect(result).toMatchObject({ deployId, commit: v3, tag: expect.stringMatching(/^dashboard-deploy-/) });
    expect(result.calls.map((c) => c.tool)).toEqual([
      'latest_commit',
      'get_deploy_target',
      'run_sync',
      'invalidate_cdn',
      'create_deploy_tag',
      'get_status',
    ]);
    expect(await e.t.site.records.readRecord(deployId)).toMatchObject({ outcome: 'succeeded' });
    expect(await e.t.site.records.readPending()).toBeNull();
    expect(await audit()).toMatchObject({ ok: true });
    // Done now: the same request again is the no-op it is.
    expect((await ask('Deploy the latest dashboard', clients, e.repo.dir)).outcome).toBe('noop');
  });
});

describe('a deploy the person stops past its switch (atomic)', { timeout: 120_000 }, () => {
  let t: AtomicEnv;
  let repo: TestRepo;
  let clients: AgentClients;
  const notes: string[] = [];
  let held: ReturnType<typeof heldAtSwitch>;

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'interrupt-agent-atomic' });
    repo = await createTestRepo();
    await t.publish(repo.commits.dashboard1, 'v1');
    await t.publish(repo.commits.dashboard2, 'v2');
    await deployArtifact(t.site, { app: APP, commit: repo.commits.dashboard1, request: request('first') });
    held = heldAtSwitch(t.site.releases as NonNullable<Site['releases']>);
    clients = await clientsFor({ ...t.site, releases: held.store }, repo.dir, notes);
  });
  afterAll(async () => {
    held?.release();
    await clients?.close?.();
    await repo?.cleanup();
    await t?.stop();
  });

  const served = async () => releaseOf(await (await fetch(t.edge.url)).text());

  it('stopped while its key write is on its way: it went live, it says so, and the same request finishes it, tagged', async () => {
    const stop = new AbortController();
    const running = ask('Deploy the latest dashboard', clients, repo.dir, stop.signal);
    try {
      await held.reached;
      stop.abort(new Error('Ctrl-C'));
      await expect.poll(() => notes.join('\n')).toMatch(/stops at its next safe point/);
    } finally {
      held.release();
    }
    const result = await running;
    expect(result.outcome, result.message).toBe('failed');
    expect(result.message).toMatch(
      /^Interrupted after deploy sophia-dashboard@[0-9a-f]{7} .*went live on interrupt-agent-atomic \(deployment [0-9a-f]{7}-[0-9a-f]{10}\), before it was verified and recorded/,
    );
    expect(result.message).toMatch(/Run the same request again to finish it/);
    expect(notes.join('\n')).toMatch(/was past its switch when it was asked to stop: it is live/);
    expect(await served()).toBe('v2');
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: false });

    const again = await ask('Deploy the latest dashboard', clients, repo.dir);
    expect(again.outcome, again.message).toBe('succeeded');
    expect(again).toMatchObject({
      deployId: result.deployId,
      commit: repo.commits.dashboard2,
      tag: expect.stringMatching(/^dashboard-deploy-\d{8}-1$/),
    });
    expect((await repo.git(['tag', '-l', 'dashboard-deploy-*'])).trim()).toBe(again.tag);
    expect(await served()).toBe('v2');
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });
});
