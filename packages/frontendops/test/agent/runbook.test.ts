import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliApprover, runAgentRequest } from '../../src/agent/index.ts';
import type { AgentClients, AgentEvent, ApprovalRequest } from '../../src/agent/types.ts';
import { exitCodeFor } from '../../src/cli/commands/agent.ts';
import { unpinRelease } from '../../src/deploy/pin.ts';
import { adoptApprovalPolicy } from '../../src/state/approval-in-force.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import { type AgentSnapshot, type AgentTestEnv, startAgentTestEnv } from '../support/agent-env.ts';
import { requestBy, STACK } from '../support/deploy-env.ts';
import { sharedHistory } from '../support/shared-history.ts';

let e: AgentTestEnv;
let clients: AgentClients;
/**
 * The story the cases tell, told once through the agent as they tell it, each step's stack and
 * repository kept for the cases that start from it: nothing deployed; the latest dashboard (dashboard2)
 * deployed and tagged; a release v3 deployed and undone, dashboard2 live again and pinned; v3 promoted
 * over the pin. The first deploy's id is the one the rollback case's approval names.
 */
const story = {} as {
  start: AgentSnapshot;
  deployed: AgentSnapshot;
  firstDeployId: string | undefined;
  rolledBack: AgentSnapshot;
  promoted: AgentSnapshot;
};

/**
 * The story's steps, run in beforeAll: each checked by the case that tells it again (a broken one
 * fails there), and the cases starting from what one left skipped when it broke.
 */
const told = sharedHistory('the one that tells that step again');
const [DEPLOYED, ROLLED_BACK, PROMOTED] = [
  'Deploy the latest dashboard.',
  'v3 deployed, then "undo the last deploy"',
  'promote the latest',
];

beforeAll(async () => {
  e = await startAgentTestEnv();
  clients = await e.connect();
  const step = async (text: string) => {
    const result = await run(text);
    if (result.outcome !== 'succeeded') throw new Error(`${text}: ${result.outcome}: ${result.message}`);
    return result;
  };
  story.start = await e.snapshot();
  await told.step(DEPLOYED, async () => {
    story.firstDeployId = (await step('Deploy the latest dashboard.')).deployId;
    story.deployed = await e.snapshot();
  });
  await told.step(ROLLED_BACK, async () => {
    await e.addRelease('v3');
    await step('Deploy the latest dashboard');
    await step('undo the last deploy');
    story.rolledBack = await e.snapshot();
  });
  await told.step(PROMOTED, async () => {
    await step('promote the latest');
    story.promoted = await e.snapshot();
  });
  asked.length = 0;
});
afterAll(async () => {
  await e?.stop();
});

const asked: ApprovalRequest[] = [];
const approveAll = async (request: ApprovalRequest) => {
  asked.push(request);
  return { approved: true, by: 'Ada Release', via: 'test' };
};

const run = (text: string, options: Partial<Parameters<typeof runAgentRequest>[1]> = {}) =>
  runAgentRequest(text, {
    actor: 'ada',
    planner: 'runbook',
    approve: approveAll,
    clients,
    config: e.config,
    cwd: e.repo.dir,
    env: {},
    ...options,
  });

const tags = async () => (await e.repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean);
const auditOf = async () => readAudit(e.t.site.state, e.t.target.statePrefix);

describe('runbook planner end to end (in-process MCP servers, embedded S3, real git)', () => {
  it('refuses "delete the hosting bucket" without calling any tool, and audits the refusal', async () => {
    const before = e.received.length;
    const result = await run('delete the hosting bucket');
    expect(result.outcome).toBe('refused');
    expect(result.message).toMatch(/won't delete/);
    expect(result.message).toMatch(/deploy the latest build/);
    expect(e.received.length).toBe(before);
    const last = (await auditOf()).at(-1);
    expect(last).toMatchObject({
      type: 'agent-request',
      data: {
        request: { text: 'delete the hosting bucket', claimedBy: 'ada', planner: 'runbook' },
        client: { claimed: true },
        outcome: 'refused',
      },
    });
  });

  it('a request naming another stack than the one it acts on is refused before any tool, saying how to reach it', async () => {
    await story.start.restore();
    const before = e.received.length;
    const result = await run('Deploy the latest dashboard to local', { stack: STACK });
    expect(result.outcome).toBe('refused');
    expect(result.message).toBe(
      `The request names local, but this agent acts on ${STACK}. Nothing was done. To act on local, ask again with that stack chosen (\`frontendops agent --stack local "…"\`); to act on ${STACK}, leave the other stack's name out.`,
    );
    expect(e.received.length).toBe(before);
    expect((await auditOf()).at(-1)).toMatchObject({ type: 'agent-request', data: { outcome: 'refused' } });
    // Its own name, or none, is fine; so is a word a stack shares without "to", "on"…: "locally built".
    for (const text of [
      `Deploy the latest dashboard to ${STACK}`,
      'Deploy the locally built latest dashboard',
    ]) {
      expect((await run(text, { stack: STACK, dryRun: true })).outcome, text).toBe('planned');
    }
  });

  it('a request naming another app than the configured one is refused before any tool, naming that one', async () => {
    const before = e.received.length;
    const tagsBefore = await tags();
    const brochure = { ...e.config, app: 'brochure' };
    for (const [text, word] of [
      ['deploy shop', 'shop'],
      ["deploy shop's latest build", 'shop'],
      ['ship blog to production', 'blog'],
      ['roll back the shop', 'shop'],
      ['pin the shop', 'shop'],
    ] as const) {
      const result = await run(text, { stack: STACK, config: brochure });
      expect(result.outcome, text).toBe('refused');
      expect(result.message).toMatch(
        new RegExp(`^The request names "${word}", but .* has one app: brochure\\. Nothing was done\\.`),
      );
    }
    expect(e.received.length).toBe(before);
    expect(await tags()).toEqual(tagsBefore);
  });

  it('a stack or release the words name that it cannot read is refused before any tool, never read as its own or the latest', async () => {
    const before = e.received.length;
    const tagsBefore = await tags();
    for (const [text, word] of [
      ['deploy the latest to prod-eu-1', 'prod-eu-1'],
      ['deploy release-candidate', 'release-candidate'],
      ['promote the rc-2 build', 'rc-2'],
    ] as const) {
      const result = await run(text, { stack: STACK });
      expect(result.outcome, text).toBe('refused');
      expect(result.message).toMatch(
        new RegExp(
          `^"${word}" is neither a stack this agent knows nor a release I can read .*Nothing was done\\. This agent acts on ${STACK};`,
        ),
      );
    }
    const rollback = await run('roll back to release-candidate', { stack: STACK });
    expect(rollback.outcome).toBe('refused');
    expect(rollback.message).toMatch(
      /"release-candidate" is not a release I can read as where to roll back to/,
    );
    expect(e.received.length).toBe(before);
    expect(await tags()).toEqual(tagsBefore);
    // The app's name, its directory and a tag are read as they are.
    for (const text of [
      `deploy the latest ${e.config.app}`,
      'deploy the latest to the site',
      'promote v1.4.2',
    ]) {
      const result = await run(text, { stack: STACK, dryRun: true });
      expect(result.message, text).not.toMatch(/is neither a stack/);
    }
  });

  it('--dry-run lists the deploy and calls only read-only tools; nothing changes', async () => {
    await story.start.restore();
    const before = e.received.length;
    const events: AgentEvent[] = [];
    const result = await run('Deploy the latest dashboard', {
      dryRun: true,
      onEvent: (ev) => events.push(ev),
    });
    expect(events.flatMap((ev) => (ev.type === 'plan-step' ? [ev.tool] : []))).toEqual([
      'get_deploy_target',
      'run_sync',
      'invalidate_cdn',
      'create_deploy_tag',
    ]);
    expect(result.outcome).toBe('planned');
    expect(result.calls.map((c) => [c.tool, c.status])).toEqual([
      ['latest_commit', 'ok'],
      ['plan_deploy', 'ok'],
      ['get_deploy_target', 'skipped'],
      ['run_sync', 'skipped'],
      ['invalidate_cdn', 'skipped'],
      ['create_deploy_tag', 'skipped'],
    ]);
    expect(e.received.slice(before).map((r) => r.name)).toEqual(['latest_commit', 'plan_deploy']);
    expect(await e.hostingIndex()).toBeNull();
    expect(await tags()).toEqual([]);
  });

  it('declined for want of a terminal or --yes, it says how to approve', async () => {
    await story.start.restore();
    const approve = createCliApprover({ yes: false, interactive: false, actor: 'ada', ask: async () => 'n' });
    const result = await run('Deploy the latest dashboard', { approve });
    expect(result.outcome).toBe('declined');
    expect(result.message).toBe(
      "Nothing was changed: run_sync on the server's stack was not approved: nobody via no terminal to ask and no --yes. Run it again with --yes to approve, or from a terminal to be asked.",
    );
    expect(await e.hostingIndex()).toBeNull();
  });

  it("a declined approval changes nothing and passes on why, in the approver's words", async () => {
    await story.start.restore();
    asked.length = 0;
    const before = e.received.length;
    const result = await run('Deploy the latest dashboard', {
      approve: async (request) => {
        asked.push(request);
        return { approved: false, by: 'nobody', via: 'no terminal to ask and no --yes' };
      },
    });
    expect(result.outcome).toBe('declined');
    expect(result.message).toMatch(/not approved: nobody via no terminal to ask and no --yes\.$/);
    expect(asked).toHaveLength(1);
    expect(e.received.slice(before).map((r) => r.name)).not.toContain('run_sync');
    expect(await e.hostingIndex()).toBeNull();
  });

  it('"Deploy the latest dashboard.": latest commit → target → approval → sync → invalidate → tag', async (context) => {
    told.check(context, DEPLOYED);
    await story.start.restore();
    asked.length = 0;
    const events: AgentEvent[] = [];
    const before = e.received.length;
    const result = await run('Deploy the latest dashboard.', { onEvent: (ev) => events.push(ev) });

    expect(result.message).toContain('Deployed');
    expect(result).toMatchObject({
      outcome: 'succeeded',
      commit: e.repo.commits.dashboard2,
      planner: 'runbook',
    });
    expect(e.received.slice(before).map((r) => r.name)).toEqual([
      'latest_commit',
      'get_deploy_target',
      'run_sync',
      'invalidate_cdn',
      'create_deploy_tag',
      'get_status',
    ]);
    // The served content is the v2 build.
    expect(await e.hostingIndex()).toContain('Sophia v2');
    // One human approval, describing the plan without a bucket name.
    expect(asked).toHaveLength(1);
    expect(asked[0]?.stack).toBe(STACK);
    expect(asked[0]?.summary).toMatch(/deploy sophia-dashboard@[0-9a-f]{7} to dashboard-hosting-prod/);
    expect(asked[0]?.summary).not.toContain(e.t.target.hostingBucket);
    // The request's words and actor reached the deployment record through the gate.
    const sync = e.received.find((r) => r.name === 'run_sync');
    expect(sync?.args).toMatchObject({
      request: 'Deploy the latest dashboard.',
      requestedBy: 'ada',
      planner: 'runbook',
    });
    const record = await e.t.site.records.readRecord(String(result.deployId));
    expect(record?.request).toMatchObject({
      text: 'Deploy the latest dashboard.',
      actor: 'ada (as claimed by frontendops-agent)',
    });
    // The tag exists on the deployed commit.
    expect(result.tag).toMatch(/^dashboard-deploy-\d{8}-1$/);
    expect(await tags()).toEqual([result.tag]);
    expect((await e.repo.git(['rev-list', '-n', '1', String(result.tag)])).trim()).toBe(
      e.repo.commits.dashboard2,
    );
    expect(result.filesChanged).toBeGreaterThan(0);
    expect(result.invalidationIds?.length).toBe(1);
    expect(events.map((ev) => ev.type)).toEqual(
      expect.arrayContaining(['intent', 'call', 'result', 'approval', 'done']),
    );
    // The audit chain verifies and links the request to the deploy.
    const audit = await verifyAudit(e.t.site.state, e.t.target.statePrefix);
    expect(audit.ok).toBe(true);
    const entry = (await auditOf()).filter((a) => a.type === 'agent-request').at(-1);
    expect(entry?.data).toMatchObject({
      outcome: 'succeeded',
      deployId: result.deployId,
      commit: e.repo.commits.dashboard2,
      tag: result.tag,
      request: { text: 'Deploy the latest dashboard.', claimedBy: 'ada', planner: 'runbook' },
    });
    expect(((entry?.data.calls ?? []) as Array<{ tool: string }>).map((c) => c.tool)).toContain('run_sync');
  });

  it('deploying again is a no-op that asks no one', async (context) => {
    told.need(context, DEPLOYED);
    await story.deployed.restore();
    asked.length = 0;
    const result = await run('ship the newest dashboard');
    expect(result.outcome).toBe('noop');
    expect(asked).toHaveLength(0);
  });

  it("a deploy tag the agent makes hides the stack's buckets in the request's words, as the CLI's does", async (context) => {
    // Every later request's model reads the tags (list_deploy_tags); the git server cannot hide what
    // it does not know, so the infra server, which knows the stack, gives the words the tag carries.
    told.need(context, DEPLOYED);
    await story.start.restore();
    const { hostingBucket, artifactsBucket } = e.t.target;
    const result = await run(
      `Deploy the latest dashboard. Note: it is served from bucket ${hostingBucket}, builds kept in bucket ${artifactsBucket}.`,
    );
    expect(result.outcome, result.message).toBe('succeeded');
    const message = await e.repo.git(['tag', '-l', '--format=%(contents)', String(result.tag)]);
    expect(message).toContain('Note: it is served from bucket [hidden], builds kept in bucket [hidden].');
    const listed = await clients.git.callTool({ name: 'list_deploy_tags', arguments: {} });
    for (const bucket of [hostingBucket, artifactsBucket]) {
      expect(message).not.toContain(bucket);
      expect(JSON.stringify(listed)).not.toContain(bucket);
    }
    // The deployment's record keeps the words as they were asked: the state is not the model's.
    const record = await e.t.site.records.readRecord(String(result.deployId));
    expect(record?.request.text).toContain(hostingBucket);
  });

  it('words that say not to, name two changes, or a sha or share it cannot read change nothing, even with --yes', async (context) => {
    told.need(context, DEPLOYED);
    await story.deployed.restore();
    // "don't …" is never that change: beside a read-only question, the question is answered.
    const before = e.received.length;
    const answered = await run("don't roll back, just tell me what is live");
    expect(answered).toMatchObject({ outcome: 'answered', intent: 'status' });
    expect(e.received.slice(before).map((r) => r.name)).toEqual(['get_status']);
    for (const [text, reason] of [
      ["don't roll back", /says not to make a change/],
      ['do not deploy anything', /says not to make a change/],
      ['deploy the latest dashboard and then roll back', /more than one change/],
      ['pin it and deploy the latest', /more than one change/],
      ['deploy e088ed', /"e088ed" is not a commit or tag I can read/],
      ['roll back to e088ed', /"e088ed" is not a commit or tag I can read/],
      ['deploy ｅ088ed9', /"ｅ088ed9" is not a commit or tag I can read/],
      ['deploy e088ed9 to fifty percent first', /"fifty percent" is a share of visitors I cannot read/],
    ] as const) {
      for (const dryRun of [true, false]) {
        const start = e.received.length;
        asked.length = 0;
        const result = await run(text, { dryRun });
        expect(result.outcome, text).toBe('refused');
        expect(result.message, text).toMatch(reason);
        expect(result.calls, text).toEqual([]);
        expect(e.received.slice(start), text).toEqual([]);
        expect(asked, text).toEqual([]);
      }
    }
    expect(await e.hostingIndex()).toContain('Sophia v2');
  });

  it('status and history answer from the servers', async (context) => {
    told.need(context, DEPLOYED);
    await story.deployed.restore();
    const status = await run("what's live on prod?");
    expect(status).toMatchObject({
      outcome: 'answered',
      intent: 'status',
      commit: e.repo.commits.dashboard2,
    });
    expect(status.message).toContain(e.repo.commits.dashboard2.slice(0, 7));
    const history = await run('show the deploy history');
    expect(history.outcome).toBe('answered');
    expect(history.message).toMatch(/1 deployment/);
    // The time it lists is the one `frontendops history` lists: when the deployment finished.
    const [listed] = (history.data as { deployments: { startedAt: string; finishedAt: string }[] })
      .deployments;
    expect(listed?.finishedAt).not.toBe(listed?.startedAt);
    expect(history.message).toContain(`\n${listed?.finishedAt.replace('T', ' ').slice(0, 19)}  deploy  `);
  });

  it('a new release, then "undo the last deploy" brings the previous content back', async (context) => {
    told.check(context, ROLLED_BACK);
    await story.deployed.restore();
    const v3 = await e.addRelease('v3');
    const deployed = await run('Deploy the latest dashboard');
    expect(deployed).toMatchObject({ outcome: 'succeeded', commit: v3 });
    expect(await e.hostingIndex()).toContain('Sophia v3');

    asked.length = 0;
    const result = await run('undo the last deploy');
    expect(result.outcome).toBe('succeeded');
    expect(result.commit).toBe(e.repo.commits.dashboard2);
    expect(await e.hostingIndex()).toContain('Sophia v2');
    // A rollback is a deployment too: it gets its own deploy tag on the commit now live.
    expect(result.tag).toMatch(/^dashboard-deploy-\d{8}-\d+$/);
    // Its tag says it is a rollback, of what to what: the infra server's receipt vouches for both.
    const tagged = await e.repo.git(['tag', '-l', '--format=%(contents)', result.tag ?? '']);
    expect(tagged.split('\n')[0]).toBe(
      `Roll back sophia-dashboard from ${v3.slice(0, 7)} to ${e.repo.commits.dashboard2.slice(0, 7)}`,
    );
    expect(asked.map((a) => a.action)).toEqual(['rollback']);
    expect(asked[0]?.summary).toBe(
      `roll back ${STACK} from ${v3.slice(0, 7)} (${deployed.deployId}) to ${e.repo.commits.dashboard2.slice(0, 7)} (${story.firstDeployId})`,
    );
    const status = await run('status');
    expect(status.commit).toBe(e.repo.commits.dashboard2);
    expect((await verifyAudit(e.t.site.state, e.t.target.statePrefix)).ok).toBe(true);

    // "roll back" again: the rollback's own release is what it goes to, so nothing changes; said as
    // such, with the live release's deploy id (one the history has), and how to go further back.
    const again = await run('roll back');
    expect(again.outcome, again.message).toBe('noop');
    expect(again.deployId).toBe(result.deployId);
    expect(again.message).toMatch(/is already live on .*: nothing changed\./);
    expect(again.message).toMatch(/To go further back, name the release/);
    expect(again.message).not.toMatch(/^Rolled back/);
    expect(again.tag).toBeUndefined();
  });

  it('"what would change" plans without a handle; "invalidate the CDN" repeats the live invalidation safely', async (context) => {
    told.need(context, ROLLED_BACK);
    await story.rolledBack.restore();
    const before = e.received.length;
    const plan = await run('what would change if I deployed the latest?');
    expect(plan.outcome).toBe('planned');
    expect(plan.message).toMatch(/sophia-dashboard@[0-9a-f]{7}/);
    // What is in it: the commits since the live release (git server), files by kind, the CDN refresh in words.
    expect(plan.message).toMatch(
      /Commits this release adds \(1\):\n {2}[0-9a-f]{7} dashboard: v3 — Ada Release/,
    );
    expect(plan.message).toMatch(
      /Files: HTML: 1 changed · hashed assets: 2 added, 2 removed · other files: no change/,
    );
    expect(plan.message).toMatch(/The CDN refreshes 2 paths \(\/, \/index\.html\)/);
    // Both ways, as every surface reads them: the other way names commits of the live release a
    // rewritten history leaves out (agent/release-commits-rewritten.test.ts); here none.
    expect(e.received.slice(before).map((r) => r.name)).toEqual([
      'latest_commit',
      'plan_deploy',
      'commits_between',
      'commits_between',
    ]);
    const cdn = await run('invalidate the CDN');
    expect(cdn).toMatchObject({ outcome: 'succeeded', intent: 'invalidate' });
    expect(e.received.slice(before).map((r) => r.name)).toContain('invalidate_cdn');
  });

  it('"roll back to yesterday\'s version" picks the release live at the end of yesterday from the history', async (context) => {
    told.need(context, ROLLED_BACK);
    await story.rolledBack.restore();
    const tomorrow = new Date(Date.now() + 24 * 3600_000);
    const before = e.received.length;
    const result = await run("roll back to yesterday's version", { now: () => tomorrow });
    // Seen from tomorrow, "yesterday's" release is the one live now: nothing to do.
    expect(result.outcome).toBe('noop');
    expect(result.message).toMatch(/still live/);
    expect(e.received.slice(before).map((r) => r.name)).toEqual(['get_status', 'get_history']);
    const today = await run("roll back to yesterday's version");
    expect(today.outcome).toBe('refused');
    expect(today.message).toMatch(/No release .* finished before today/);
  });

  it('a deploy of a commit with no published build is refused in the server’s words (not a failure), and is audited', async (context) => {
    told.need(context, ROLLED_BACK);
    await story.rolledBack.restore();
    const live = (await run('status')).deployId;
    const result = await run(`deploy ${e.repo.commits.infra}`);
    expect(result.outcome, result.message).toBe('refused');
    expect(result.message).toMatch(/^No build of sophia-dashboard is published for commit [0-9a-f]{40}\./);
    expect(result.message).toMatch(/Publish it first .*Nothing was changed\.$/s);
    expect(result.message).not.toMatch(/NOT_FOUND|failed/);
    expect(result.message).not.toContain(e.t.target.artifactsBucket);
    expect(result.calls.at(-1)).toMatchObject({ tool: 'get_deploy_target', status: 'error' });
    const entry = (await auditOf()).at(-1);
    expect(entry?.data).toMatchObject({ outcome: 'refused' });
    expect((await run('status')).deployId).toBe(live);
  });

  it('a commit the words name that does not exist is refused (not a failure), saying what to do, and audited', async (context) => {
    told.need(context, ROLLED_BACK);
    await story.rolledBack.restore();
    for (const text of ['deploy abcdef1', 'roll back to abcdef1', 'promote abcdef1']) {
      const result = await run(text, { dryRun: text.startsWith('promote') });
      expect(result.outcome, text).toBe('refused');
      expect(result.message).toMatch(/^"abcdef1" names no commit, branch or tag in the repository/);
      expect(result.message).toMatch(/Nothing was changed.*"show the deploy history"/s);
      expect(result.calls.at(-1)).toMatchObject({ tool: 'get_commit', status: 'error' });
      expect((await auditOf()).at(-1)?.data).toMatchObject({ outcome: 'refused' });
    }
    // A deploy id the stack never had: the rollback tool's NOT_FOUND, said as a refusal.
    // On this protected stack, refused before anyone is asked to approve it, the rollback never called.
    const live = (await run('status')).deployId;
    asked.length = 0;
    const gone = await run('roll back to abcdef0-0123456789');
    expect(gone.outcome, gone.message).toBe('refused');
    expect(gone.message).toMatch(/abcdef0-0123456789[\s\S]*Nothing was changed\./);
    expect(gone.message).toMatch(/nobody was asked to approve it.*"show the deploy history"/s);
    expect(gone.message).not.toMatch(/NOT_FOUND|failed/);
    expect(asked).toEqual([]);
    expect(gone.calls.map((c) => c.tool)).not.toContain('rollback');
    expect((await run('status')).deployId).toBe(live);
  });

  it('a question about a release is answered with what it holds, never acted on (it used to deploy it)', async (context) => {
    told.need(context, ROLLED_BACK);
    await story.rolledBack.restore();
    const live = (await run('status')).deployId;
    const tagsBefore = await tags();
    const before = e.received.length;
    const asked = await run(`what is in release ${e.repo.commits.dashboard2.slice(0, 7)}`);
    expect(asked.outcome, asked.message).toBe('planned');
    expect(asked.commit).toBe(e.repo.commits.dashboard2);
    const how = await run('how do I roll back?');
    expect(how.outcome).toBe('refused');
    expect(how.message).toMatch(/reads as a question, so nothing was changed.*say "roll back"/s);
    const called = e.received.slice(before).map((r) => r.name);
    for (const change of ['run_sync', 'rollback', 'promote_release', 'start_canary', 'pin_release']) {
      expect(called).not.toContain(change);
    }
    expect((await run('status')).deployId).toBe(live);
    expect(await tags()).toEqual(tagsBefore);
  });

  it("an unknown stack is refused before any tool runs; no entry goes to another stack's audit", async () => {
    const before = (await auditOf()).length;
    const result = await run('status', { stackRef: 'nope' });
    expect(result).toMatchObject({ outcome: 'refused', intent: 'status', calls: [] });
    expect(result.message).toMatch(/Unknown stack "nope"/);
    expect(result.auditError).toMatch(
      /no audit entry was written: the request stopped before its stack was known/,
    );
    expect(result.auditError).not.toMatch(/could not be reached/);
    expect((await auditOf()).length).toBe(before);
  });

  it('after the rollback the stack is pinned: "Deploy the latest" is refused, naming the pin and the ways forward', async (context) => {
    told.need(context, ROLLED_BACK);
    await story.rolledBack.restore();
    const status = await run('is prod pinned?');
    expect(status.message).toMatch(/Pinned to [0-9a-f]{7} by ada/);
    const result = await run('Deploy the latest dashboard');
    expect(result.outcome).toBe('refused');
    expect(result.message).toMatch(/^dashboard-hosting-prod is pinned to sophia-dashboard@[0-9a-f]{7}/);
    expect(result.message).toMatch(/promote the latest[\s\S]*unpin/);
    expect(await e.hostingIndex()).toContain('Sophia v2');
  });

  it('"promote the latest": one approval bound to the planned deploy id, the release goes live, the pin is cleared, tagged', async (context) => {
    told.check(context, PROMOTED);
    await story.rolledBack.restore();
    asked.length = 0;
    const before = e.received.length;
    const result = await run('promote the latest');
    expect(result.outcome).toBe('succeeded');
    expect(result.message).toMatch(/^Promoted sophia-dashboard [0-9a-f]{7} \("dashboard: v3"\)/);
    expect(result.message).toMatch(
      /The pin \([0-9a-f]{7}, by ada \(as claimed by frontendops-agent\)\) is cleared/,
    );
    expect(result.tag).toMatch(/^dashboard-deploy-\d{8}-\d+$/);
    expect(await e.hostingIndex()).toContain('Sophia v3');
    expect(asked).toHaveLength(1);
    const plan = e.received.slice(before).find((r) => r.name === 'plan_deploy');
    expect(asked[0]).toMatchObject({ action: 'promote', deployId: result.deployId });
    expect(asked[0]?.summary).toMatch(
      /^promote sophia-dashboard@[0-9a-f]{7} on dashboard-hosting-prod and clear the pin/,
    );
    expect(plan).toBeDefined();
    expect((await run('status')).message).not.toMatch(/Pinned/);
  });

  it('"pin prod" pins the live release; on this protected stack "unpin" is declined: a person unpins at a terminal', async (context) => {
    told.need(context, PROMOTED);
    await story.promoted.restore();
    const pinned = await run('pin prod');
    expect(pinned).toMatchObject({ outcome: 'succeeded', intent: 'pin' });
    expect(pinned.message).toMatch(/^Pinned dashboard-hosting-prod to sophia-dashboard [0-9a-f]{7}/);
    expect((await run('Deploy the latest dashboard')).outcome).toMatch(/refused|noop/);
    // Lifting it would let the next approved deploy make any release live: the infra server refuses it.
    const unpin = await run('unpin');
    expect(unpin).toMatchObject({ outcome: 'declined', intent: 'unpin' });
    expect(unpin.message).toMatch(/is protected: lifting its pin .*Unpin at a terminal/);
    expect(await readPin(e.t.site)).toMatchObject({ cause: 'pin' });
    // Its dry run says the same, not that it would unpin.
    const dry = await run('unpin', { dryRun: true });
    expect(dry).toMatchObject({ outcome: 'declined', intent: 'unpin' });
    expect(dry.message).not.toMatch(/Would unpin/);
    expect(dry.message).toMatch(
      /dashboard-hosting-prod is protected: lifting its pin .*Unpin at a terminal: `frontendops unpin --stack dashboard-hosting-prod`/,
    );
  });

  it('"pin <sha>" pins only that release, and only when it is the live one; another is refused, nothing pinned', async (context) => {
    told.need(context, PROMOTED);
    await story.promoted.restore();
    const status = await clients.infra.callTool({ name: 'get_status', arguments: {} });
    const live = (status.structuredContent as { live: { commit: string } }).live.commit;
    const other = [e.repo.commits.dashboard1, e.repo.commits.dashboard2].find((c) => c !== live) as string;
    const refused = await run(`pin ${other.slice(0, 7)}`);
    expect(refused.outcome).not.toBe('succeeded');
    expect(refused.message).toMatch(/live/);
    expect(await e.t.site.records.readPointer()).toMatchObject({ value: { commit: live } });
    expect(await readPin(e.t.site)).toBeNull();
    const pinned = await run(`pin ${live.slice(0, 7)}`);
    expect(pinned).toMatchObject({ outcome: 'succeeded', commit: live });
  });

  it('"roll back to <short sha>" goes back to that retained release; on a protected stack the approval names its plan', async (context) => {
    told.need(context, PROMOTED);
    await story.promoted.restore();
    asked.length = 0;
    const short = e.repo.commits.dashboard2.slice(0, 7);
    const result = await run(`roll back to ${short}`);
    expect(result).toMatchObject({ outcome: 'succeeded', commit: e.repo.commits.dashboard2 });
    expect(result.message).toMatch(/now pinned to [0-9a-f]{7}/);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.deployId).toBe(result.deployId);
    // And "redeploy" a named release is a deploy of it: refused while pinned, through once unpinned.
    const v3 = (await e.repo.git(['rev-parse', 'HEAD'])).trim();
    expect((await run(`redeploy ${v3.slice(0, 7)}`)).outcome).toBe('refused');
    await unpinRelease(e.t.site, { request: requestBy('unpin') });
    expect(await run(`redeploy ${v3.slice(0, 7)}`)).toMatchObject({ outcome: 'succeeded', commit: v3 });
  });

  it("a protected stack whose approver has not signed: not approved (exit 2), with the server's way to approve", async (context) => {
    told.need(context, PROMOTED);
    await story.promoted.restore();
    // The stack stops trusting the agent's own answer: only its approver's signature counts.
    const trusting = e.config.approval;
    e.config.approval = { approvers: { Ada: `ed25519:${'A'.repeat(43)}` }, trustElicitation: false };
    // The approvals before recorded the trusting policy: the deployer adopts this one (an approval
    // by a client the stack trusted would have adopted it too).
    await adoptApprovalPolicy({ ...e.t.site, approval: e.config.approval }, 'the tests', Date.now());
    try {
      await e.addRelease('v5');
      const live = await e.hostingIndex();
      asked.length = 0;
      const result = await run('Deploy the latest dashboard');
      expect(result.outcome, result.message).toBe('declined');
      expect(exitCodeFor(result)).toBe(2);
      expect(result.message).toMatch(
        /^Not approved yet: run_sync needs an approval this request does not have/,
      );
      // The server's words: what needs approving and how (the approver's command for this plan).
      expect(result.message).toMatch(/APPROVAL_REQUIRED: dashboard-hosting-prod is a protected environment/);
      expect(result.message).toMatch(
        /frontendops approve [0-9a-f]{7}-[0-9a-f]{10} --stack dashboard-hosting-prod/,
      );
      // Said to the person running the agent, not to an MCP client: ask again, no tool arguments.
      expect(result.message).toMatch(/then ask the agent again, in the same words/);
      expect(result.message).not.toMatch(/call run_sync again|same arguments/);
      expect(result.message).not.toMatch(/failed/);
      expect(await e.hostingIndex()).toBe(live);
      expect((await auditOf()).at(-1)?.data).toMatchObject({ outcome: 'declined' });
    } finally {
      e.config.approval = trusting;
    }
  });
});
