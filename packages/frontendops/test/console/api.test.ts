import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AgentResult } from '../../src/agent/types.ts';
import { loadConfig } from '../../src/config.ts';
import type { ConsoleAgent } from '../../src/console/chat.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import type {
  ActionResult,
  ApiError,
  AuditStatusView,
  ChatReply,
  DeploymentDetails,
  HistoryItem,
  PinResult,
  PlanView,
  StatusView,
} from '../../src/console/types.ts';
import type { ApprovalDecision, ApprovalRequest } from '../../src/ports.ts';
import { readAudit } from '../../src/state/audit.ts';
import {
  type ConsoleEnvSnapshot,
  snapshotConsoleEnv,
  startConsoleEnv,
  startConsoleOn,
} from '../support/console-env.ts';
import { openEventStream } from '../support/console-events.ts';
import { newSession, sessionInPage } from '../support/console-sign-in.ts';
import { ARTIFACTS, HOSTING, publishAsCi, STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import type { TestRepo } from '../support/git-repo.ts';

const APP = 'sophia-dashboard';
const C3 = '3333333ccccccccccccccccccccccccccccccccc';
/** The repository's two dashboard commits; the second is "the latest". */
let C1: string;
let C2: string;

let t: TestDeployEnv;
let repo: TestRepo;
let server: ConsoleServer;
const asked: { request: ApprovalRequest; decision: ApprovalDecision }[] = [];
/** The deploy id the stand-in agent plans; a test changes it to play "a newer build was published". */
const FIRST_PLANNED_ID = '3333333-0000000001';
let plannedId = FIRST_PLANNED_ID;
/**
 * The stack as the cases start from it: C1 live (as the environment starts); C2 deployed over it in
 * the console; then rolled back in the console, which pins C1 ("totals are wrong").
 */
let c1Live: ConsoleEnvSnapshot;
let c2Live: ConsoleEnvSnapshot;
let pinnedToC1: ConsoleEnvSnapshot;

/** Stands in for runAgentRequest: asks for one approval of its plan, as the real agent's gate does before a deploy. */
const agent: ConsoleAgent = async (text, options) => {
  options.onEvent({
    type: 'intent',
    planner: 'runbook',
    intent: 'deploy',
    description: `understood: ${text}`,
  });
  if (!/deploy/.test(text)) return agentResult(text, 'answered', 'Live: 3333333.');
  const request: ApprovalRequest = {
    action: 'deploy',
    stack: STACK,
    summary: `deploy sophia-dashboard@${plannedId.slice(0, 7)} to ${STACK}: 3 files to copy`,
    deployId: plannedId,
  };
  const decision = await options.approve(request, { asked: ['deploy'] });
  asked.push({ request, decision });
  options.onEvent({ type: 'approval', request, decision });
  return agentResult(
    text,
    decision.approved ? 'succeeded' : 'declined',
    decision.approved
      ? 'done'
      : `Nothing was changed: not approved. Run it again with --yes to approve, or \`frontendops approve ${plannedId} --stack ${STACK}\`.`,
  );
};

beforeAll(async () => {
  const env = await startConsoleEnv({ protected: true });
  ({ t, repo, C1, C2 } = env);
  server = await startConsoleOn(env, { agent, actor: 'tester (console)' });
  c1Live = await snapshotConsoleEnv(env);
  const deploy = await getJson<PlanView>(`${stackUrl('plan')}?action=deploy-latest`);
  expect((await post(stackUrl('deploy-latest'), { deployId: deploy.deployId })).status).toBe(200);
  c2Live = await snapshotConsoleEnv(env);
  const back = await getJson<PlanView>(`${stackUrl('plan')}?action=rollback`);
  const rollback = await post(stackUrl('rollback'), { deployId: back.deployId, message: 'totals are wrong' });
  expect(rollback.status).toBe(200);
  pinnedToC1 = await snapshotConsoleEnv(env);
});
afterAll(async () => {
  await server?.close();
  await repo?.cleanup();
  await t?.stop();
});

const origin = () => new URL(server.url).origin;
const stackUrl = (resource: string) => `${origin()}/api/stacks/${STACK}/${resource}`;
const bearer = () => ({ authorization: `Bearer ${server.token}` });

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: bearer() });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

async function post(url: string, body: unknown, headers: Record<string, string> = bearer()) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('access', () => {
  it('refuses every API call without the token, and with a wrong one', async () => {
    await c1Live.restore();
    for (const path of ['/api/session', `/api/stacks/${STACK}/status`, '/api/events']) {
      const res = await fetch(`${origin()}${path}`);
      expect(res.status).toBe(401);
      expect(((await res.json()) as ApiError).message).toMatch(/token/);
    }
    const wrong = await fetch(`${origin()}/api/session`, {
      headers: { authorization: 'Bearer nope-nope-nope-nope' },
    });
    expect(wrong.status).toBe(401);
    const plan = await getJson<PlanView>(`${stackUrl('plan')}?action=deploy-latest`);
    const mutation = await post(stackUrl('deploy-latest'), { deployId: plan.deployId }, {});
    expect(mutation.status).toBe(401);
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
  });

  it('signs a browser in with a sign-in address: a session id in the page, no cookie', async () => {
    const res = await fetch(server.signInAddress());
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    const id = sessionInPage(await res.text()) ?? '';
    const session = await fetch(`${origin()}/api/session`, { headers: { authorization: `Bearer ${id}` } });
    expect(session.status).toBe(200);

    // The session is this console's, never the token itself, and only as a bearer header: a cookie
    // (sent by a browser to every port of 127.0.0.1) counts for nothing, whatever it holds.
    const port = new URL(server.url).port;
    expect(id).not.toContain(server.token);
    expect(id.length).toBeGreaterThanOrEqual(43);
    for (const cookie of [
      `frontendops_console_${port}=${id}`,
      `frontendops_console_${port}=${server.token}`,
      `frontendops_console=${server.token}`,
    ]) {
      const refused = await fetch(`${origin()}/api/session`, { headers: { cookie } });
      expect(refused.status, cookie).toBe(401);
    }
    // Another port of the same host is another origin.
    const otherPort = await fetch(`${origin()}/api/session`, {
      headers: { ...bearer(), origin: `http://127.0.0.1:${Number(port) + 1}` },
    });
    expect(otherPort.status).toBe(403);

    const bad = await fetch(`${server.url}?signin=not-a-code-of-this-console`, { redirect: 'manual' });
    expect(bad.status).toBe(403);
    expect(bad.headers.get('set-cookie')).toBeNull();
  });

  it('refuses mutations by an old-style cookie, a session marked cross-site, and any request from another origin or Host', async () => {
    await c1Live.restore();
    const id = await newSession(server);
    const cookie = `frontendops_console_${new URL(server.url).port}=${id}`;
    const plan = await getJson<PlanView>(`${stackUrl('plan')}?action=deploy-latest`);
    const byCookie = await post(
      stackUrl('deploy-latest'),
      { deployId: plan.deployId },
      { cookie, 'x-frontendops-console': '1' },
    );
    expect(byCookie.status).toBe(401);
    const crossSite = await post(
      stackUrl('deploy-latest'),
      { deployId: plan.deployId },
      { authorization: `Bearer ${id}`, 'sec-fetch-site': 'cross-site' },
    );
    expect(crossSite.status).toBe(403);
    const otherOrigin = await post(
      stackUrl('deploy-latest'),
      { deployId: plan.deployId },
      { ...bearer(), origin: 'http://evil.example' },
    );
    expect(otherOrigin.status).toBe(403);
    // fetch() may not set Host; node:http sends what a rebound DNS name would.
    expect(await statusWithHost('/api/session', 'evil.example')).toBe(403);
    expect(await statusWithHost('/api/session', `localhost:${new URL(server.url).port}`)).toBe(200);
    for (const authorization of [bearer().authorization, `Bearer ${id}`]) {
      const form = await fetch(stackUrl('deploy-latest'), {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: `deployId=${plan.deployId}`,
      });
      expect(form.status).toBe(403);
    }
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
  });

  it('serves the page with a strict content security policy', async () => {
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    // Never framed by another page (clickjacking a confirm button): both the CSP and the older header say so.
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('what the console shows', () => {
  it('shows the live release with who and which request, and never a bucket name or endpoint', async () => {
    await c1Live.restore();
    const res = await fetch(stackUrl('status'), { headers: bearer() });
    const text = await res.text();
    const status = JSON.parse(text) as StatusView;
    expect(status.live?.commit).toBe(C1);
    expect(status.live?.request).toMatchObject({ text: 'first deploy', actor: 'alice', planner: 'cli' });
    expect(status.protected).toBe(true);
    for (const secret of [ARTIFACTS, HOSTING, t.s3.endpoint, t.cdn.endpoint])
      expect(text).not.toContain(secret);
  });

  it('plans the latest artifact without changing anything', async () => {
    await c1Live.restore();
    const plan = await getJson<PlanView>(`${stackUrl('plan')}?action=deploy-latest`);
    expect(plan).toMatchObject({ action: 'deploy-latest', commit: C2, fromCommit: C1, noop: false });
    expect(plan.filesToCopy).toBeGreaterThan(0);
    expect(plan.description).toContain(C2.slice(0, 7));
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
  });

  it('reports the audit chain as verified', async () => {
    await c1Live.restore();
    const audit = await getJson<AuditStatusView>(stackUrl('audit'));
    // The first release: the environment marked, the release going live, its record.
    expect(audit).toMatchObject({ ok: true, entries: 3, problem: null });
  });

  it('answers 404 with what to do for an unknown stack or deployment', async () => {
    const stack = await fetch(`${origin()}/api/stacks/other-stack/status`, { headers: bearer() });
    expect(stack.status).toBe(404);
    expect(((await stack.json()) as ApiError).message).toMatch(/--stack other-stack/);
    const missing = await fetch(stackUrl('deployments/0000000-0000000000'), { headers: bearer() });
    expect(missing.status).toBe(404);
    const malformed = await fetch(stackUrl('deployments/%E0%A4%A'), { headers: bearer() });
    expect(malformed.status).toBe(400);
  });

  it('refuses a history limit that is not a whole number from 1 to 500, as the CLI (it was read as 50, or 1)', async () => {
    for (const limit of ['abc', '-5', '0', '501', '1e2', ' 5']) {
      const res = await fetch(stackUrl(`history?limit=${encodeURIComponent(limit)}`), { headers: bearer() });
      expect(res.status, limit).toBe(400);
      expect(((await res.json()) as ApiError).message).toMatch(
        /expected a whole number of deployments from 1 to 500, e\.g\. \?limit=50\./,
      );
    }
    const ok = await fetch(stackUrl('history?limit=2'), { headers: bearer() });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { deployments: unknown[] }).deployments.length).toBeLessThanOrEqual(2);
    // A person's page, as long as `history --limit` takes (it was 200 here).
    expect((await fetch(stackUrl('history?limit=500'), { headers: bearer() })).status).toBe(200);
  });

  it('refuses what is not a deploy id at once, with 400 and what to do, never asking the storage', async () => {
    // The server's log (stderr, where a failure's detail goes): nothing of it for these.
    const logged = vi.spyOn(process.stderr, 'write');
    try {
      for (const id of ['..%2F..%2Fx', '%00', 'x'.repeat(3000), 'nope-123', '3F2C1A9-0123456789']) {
        const started = Date.now();
        const res = await fetch(stackUrl(`deployments/${id}`), { headers: bearer() });
        const body = (await res.json()) as ApiError;
        expect(res.status, id.slice(0, 20)).toBe(400);
        expect(body.error).toBe('BAD_INPUT');
        expect(body.message).toMatch(/is not a deploy id/);
        expect(body.message).toMatch(
          /is not a deploy id: expected 7 hex digits, "-", 10 hex digits \(e\.g\. 3f2c1a9-0123456789\)/,
        );
        expect(body.message).toMatch(/history/);
        // What was sent is shown shortened and with its control characters escaped.
        expect(body.message.length).toBeLessThan(400);
        expect(body.message).not.toContain('\0');
        expect(Date.now() - started).toBeLessThan(2000);
      }
      expect(
        logged.mock.calls.map(([chunk]) => String(chunk)).filter((line) => line.includes('[frontendops')),
      ).toEqual([]);
    } finally {
      logged.mockRestore();
    }
  });
});

describe('deploy and roll back, confirmed by plan', () => {
  it('refuses a stale plan with 409 and the new plan, changing nothing', async () => {
    await c1Live.restore();
    const res = await post(stackUrl('deploy-latest'), { deployId: '2222222-0000000000' });
    expect(res.status).toBe(409);
    const body = (await res.json()) as ApiError;
    expect(body.error).toBe('PLAN_CHANGED');
    expect(body.plan?.commit).toBe(C2);
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
    expect(await t.site.records.readPending()).toBeNull();
  });

  it('deploys the confirmed plan, streaming progress, and records it with its audit entry', async () => {
    await c1Live.restore();
    const stream = await openEventStream(origin(), server.token);
    try {
      const plan = await getJson<PlanView>(`${stackUrl('plan')}?action=deploy-latest`);
      const runId = 'run-deploy-0001';
      const res = await post(stackUrl('deploy-latest'), { deployId: plan.deployId, runId });
      const result = (await res.json()) as ActionResult;
      expect(res.status).toBe(200);
      expect(result).toMatchObject({ deployId: plan.deployId, outcome: 'succeeded', commit: C2 });
      // The console tags its deploys too, with the request in words.
      expect(result.tag).toMatch(/^dashboard-deploy-\d{8}-1$/);
      const message = await repo.git(['tag', '-l', '--format=%(contents)', result.tag ?? '']);
      expect(message).toContain('Deploy the latest build (confirmed in the console by tester)');
      // …and the tag anchors the audit chain, as every deploy path's does.
      const head = (await readAudit(t.site.state, t.target.statePrefix)).at(-1);
      expect(message).toMatch(new RegExp(`^Stack: ${STACK}$`, 'm'));
      expect(message).toContain(`Audit-Head: ${head?.seq}:${head?.hash}`);
      await stream.waitFor((e) => e.runId === runId && e.event.type === 'done');
      const types = stream.events.filter((e) => e.runId === runId).map((e) => e.event.type);
      expect(types[0]).toBe('plan');
      expect(types).toContain('copy');
      expect(types).toContain('step');
      // Progress in people's words, the engine's words beside them.
      const steps = stream.events.flatMap((e) =>
        e.runId === runId && e.event.type === 'step' ? [e.event] : [],
      );
      expect(steps.map((e) => e.headline)).toContain(`Visitors now get ${APP}@${C2.slice(0, 7)}.`);
      expect(steps.find((e) => e.step === 'pointer')?.detail).toBe(`${APP}@${C2.slice(0, 7)} is live`);

      const history = await getJson<{ deployments: HistoryItem[] }>(stackUrl('history'));
      expect(history.deployments.map((d) => d.commit)).toEqual([C2, C1]);
      expect(history.deployments[0]).toMatchObject({
        live: true,
        tag: expect.stringMatching(/^dashboard-deploy-/),
        request: {
          planner: 'console',
          actor: 'tester (console)',
          text: 'Deploy the latest build (confirmed in the console by tester)',
        },
      });

      const details = await getJson<DeploymentDetails>(stackUrl(`deployments/${plan.deployId}`));
      expect(details.copiedFiles).toContain('/index.html');
      expect(details.invalidation?.ids.length).toBeGreaterThan(0);
      expect(details.audit).toMatchObject({ seq: 5, type: 'deploy' }); // after the release entry (4) of this deploy
      expect(details.fromCommit).toBe(C1);

      // The record rewritten around the log (another requester): the page names no entry for it.
      const key = `${t.target.statePrefix}deployments/${plan.deployId}.json`;
      const original = await t.site.state.get(key);
      if (!original) throw new Error('the record is missing');
      const record = JSON.parse(original.body.toString('utf8'));
      const forged = { ...record, request: { ...record.request, actor: 'mallory' } };
      await t.site.state.put(key, JSON.stringify(forged), { contentType: 'application/json' });
      try {
        const rewritten = await getJson<DeploymentDetails>(stackUrl(`deployments/${plan.deployId}`));
        expect(rewritten.audit).toBeNull();
      } finally {
        await t.site.state.put(key, original.body, { contentType: 'application/json' });
      }
      const restored = await getJson<DeploymentDetails>(stackUrl(`deployments/${plan.deployId}`));
      expect(restored.audit).toMatchObject({ seq: 5, type: 'deploy' });

      // A live pointer written around the log naming the release before: neither page calls it live.
      const [, before] = history.deployments;
      if (!before) throw new Error('the first deploy is in the history');
      const pointerKey = `${t.target.statePrefix}live.json`;
      const pointer = await t.site.state.get(pointerKey);
      if (!pointer) throw new Error('no live pointer');
      const live = JSON.parse(pointer.body.toString('utf8'));
      await t.site.state.put(
        pointerKey,
        JSON.stringify({ ...live, deployId: before.deployId, commit: before.commit }),
        { contentType: 'application/json' },
      );
      try {
        const forged = await getJson<DeploymentDetails>(stackUrl(`deployments/${before.deployId}`));
        expect(forged.live).toBe(false);
        const rows = await getJson<{ deployments: HistoryItem[] }>(stackUrl('history'));
        expect(rows.deployments.filter((d) => d.live)).toEqual([]);
      } finally {
        await t.site.state.put(pointerKey, pointer.body, { contentType: 'application/json' });
      }
    } finally {
      stream.close();
    }
  });

  it('rolls back to the previous release with a confirmed plan', async () => {
    await c2Live.restore();
    const plan = await getJson<PlanView>(`${stackUrl('plan')}?action=rollback`);
    expect(plan).toMatchObject({ action: 'rollback', commit: C1, fromCommit: C2 });
    const res = await post(stackUrl('rollback'), { deployId: plan.deployId, message: 'totals are wrong' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ActionResult).pinned).toBe(true);
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
    const audit = await getJson<AuditStatusView>(stackUrl('audit'));
    // The environment marked; each of the three went live and was recorded; the rollback's pin.
    expect(audit).toMatchObject({ ok: true, entries: 8 });
  });

  it('refuses a malformed body with what was expected', async () => {
    const res = await post(stackUrl('deploy-latest'), { deployId: '../../x y' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ApiError).message).toMatch(/deployId/);
    // Why, in words that read as they are: a direction override would make the record read otherwise.
    const pin = await post(stackUrl('pin'), { message: 'approved by \u202eecila' });
    expect(pin.status).toBe(400);
    expect(((await pin.json()) as ApiError).message).toMatch(/message.*U\+202E \(RIGHT-TO-LEFT OVERRIDE\)/);
  });
});

describe('pin, promote, redeploy: after a rollback the stack is pinned', () => {
  it('status shows the pin; the latest build is refused past it (409 PINNED) in the page’s words', async () => {
    await pinnedToC1.restore();
    const status = await getJson<StatusView>(stackUrl('status'));
    expect(status.pin).toMatchObject({ commit: C1, cause: 'rollback', reason: 'totals are wrong' });
    const plan = await getJson<PlanView>(`${stackUrl('plan')}?action=deploy-latest`);
    expect(plan.pin).toMatchObject({ commit: C1 });
    const res = await post(stackUrl('deploy-latest'), { deployId: plan.deployId });
    expect(res.status).toBe(409);
    const body = (await res.json()) as ApiError;
    expect(body.error).toBe('PINNED');
    expect(body.message).toMatch(
      /^This stack is pinned to sophia-dashboard@[0-9a-f]{7} .*Promote a release .* or unpin/,
    );
    expect(body.message).not.toMatch(/frontendops |--yes/);
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
  });

  it('the plan says what is in the release: commits with subject and author, files by kind, the CDN refresh', async () => {
    await pinnedToC1.restore();
    const plan = await getJson<PlanView>(`${stackUrl('plan')}?action=promote`);
    expect(plan).toMatchObject({ action: 'promote', commit: C2, fromCommit: C1 });
    expect(plan.commits).toMatchObject({
      direction: 'forward',
      commits: [{ sha: C2, message: 'dashboard: add App\n\nLonger body line.', author: 'Ada Release' }],
    });
    expect(plan.contents?.files.html).toMatchObject({ changed: 1, paths: { changed: ['/index.html'] } });
    expect(plan.contents?.invalidation).toMatch(/^The CDN refreshes 2 paths/);
    const back = await getJson<PlanView>(`${stackUrl('plan')}?action=rollback&to=${C1.slice(0, 7)}`);
    expect(back.commits?.direction).toMatch(/same|back/);
  });

  it('unpin and pin, each recorded with who and why', async () => {
    await pinnedToC1.restore();
    const unpinned = await post(stackUrl('unpin'), { message: 'fixed forward' });
    expect((await unpinned.json()) as PinResult).toMatchObject({ changed: true, pin: { commit: C1 } });
    expect((await getJson<StatusView>(stackUrl('status'))).pin).toBeNull();
    const again = (await (await post(stackUrl('unpin'), {})).json()) as PinResult;
    expect(again).toMatchObject({ changed: false, pin: null });
    const pinned = (await (await post(stackUrl('pin'), { message: 'freeze' })).json()) as PinResult;
    expect(pinned).toMatchObject({ changed: true, pin: { commit: C1, cause: 'pin', reason: 'freeze' } });
    const audit = await readAudit(t.site.state, t.target.statePrefix);
    expect(audit.at(-1)).toMatchObject({
      type: 'pin',
      data: { by: 'tester (console)', reason: 'freeze' },
    });
  });

  it('promote makes the latest live for everyone and clears the pin; redeploy goes to any release of the history', async () => {
    await pinnedToC1.restore();
    const plan = await getJson<PlanView>(`${stackUrl('plan')}?action=promote`);
    const promoted = (await (
      await post(stackUrl('promote'), { deployId: plan.deployId })
    ).json()) as ActionResult;
    expect(promoted).toMatchObject({ outcome: 'succeeded', commit: C2, unpinned: true, pinned: false });
    expect(promoted.tag).toMatch(/^dashboard-deploy-/);
    expect((await getJson<StatusView>(stackUrl('status'))).pin).toBeNull();
    const record = await t.site.records.readRecord(promoted.deployId);
    expect(record?.request.text).toBe(
      'Promote the latest build for everyone and clear the pin (confirmed in the console by tester)',
    );

    const first = (await t.site.records.listRecords()).records.at(-1);
    const redeploy = await getJson<PlanView>(`${stackUrl('plan')}?action=redeploy&to=${first?.deployId}`);
    expect(redeploy).toMatchObject({ action: 'redeploy', kind: 'deploy', commit: C1, to: first?.deployId });
    const done = (await (
      await post(stackUrl('redeploy'), { deployId: redeploy.deployId, to: first?.deployId })
    ).json()) as ActionResult;
    expect(done).toMatchObject({ outcome: 'succeeded', commit: C1, pinned: false });
    expect((await t.site.records.readRecord(done.deployId))?.request.text).toBe(
      `Redeploy ${C1.slice(0, 7)} (confirmed in the console by tester)`,
    );
  });
});

describe('chat', () => {
  const chat = async (body: Record<string, unknown>) => {
    const res = await post(`${origin()}/api/chat`, body);
    return { status: res.status, body: (await res.json()) as ChatReply & ApiError };
  };
  // The stand-in agent plans the first id again: one case plays a newer build with another.
  beforeEach(() => {
    plannedId = FIRST_PLANNED_ID;
  });

  it('shows the plan the agent needs confirmed, with its deploy id, and no terminal advice', async () => {
    await publishAsCi(t.site, {
      dir: (await writeFixtureBuild(join(t.tmp, 'build-3'), { version: 'v3' })).dir,
      app: APP,
      commit: C3,
    });
    const first = await chat({ text: 'deploy the latest dashboard' });
    expect(first.status).toBe(200);
    expect(first.body.confirm).toEqual({
      action: 'deploy',
      stack: STACK,
      summary: `deploy sophia-dashboard@3333333 to ${STACK}: 3 files to copy`,
      deployId: plannedId,
    });
    expect(first.body.answer).toBe('Nothing has changed yet: this needs your confirmation.');
    expect(first.body.approvals).toEqual([expect.objectContaining({ approved: false, deployId: plannedId })]);
    expect(asked.at(-1)?.decision.approved).toBe(false);
    expect(JSON.stringify(first.body)).not.toMatch(/--yes|frontendops approve/);
  });

  it('approves exactly the confirmed plan, once; a used confirmation is refused', async () => {
    // The plan waits for its confirmation, as the page shows it.
    expect((await chat({ text: 'deploy the latest dashboard' })).body.confirm?.deployId).toBe(plannedId);
    const wrong = await chat({
      text: 'deploy the latest dashboard',
      confirm: { deployId: '3333333-9999999999' },
    });
    expect(wrong.status).toBe(409);
    expect(wrong.body.error).toBe('CONFIRMATION_USED');
    const confirmed = await chat({ text: 'deploy the latest dashboard', confirm: { deployId: plannedId } });
    expect(confirmed.body).toMatchObject({ ok: true, answer: 'done', confirm: null });
    expect(asked.at(-1)?.decision).toEqual({
      approved: true,
      by: 'tester (console)',
      via: `the console (confirmed plan ${plannedId})`,
    });
    const again = await chat({ text: 'deploy the latest dashboard', confirm: { deployId: plannedId } });
    expect(again.status).toBe(409);
  });

  it('a different plan (a newer build published meanwhile) is not approved: it is shown instead', async () => {
    const shown = await chat({ text: 'deploy the latest dashboard' });
    const confirmedId = shown.body.confirm?.deployId as string;
    plannedId = '4444444-0000000002';
    const replaced = await chat({ text: 'deploy the latest dashboard', confirm: { deployId: confirmedId } });
    expect(asked.at(-1)?.decision.approved).toBe(false);
    expect(replaced.body).toMatchObject({
      replaced: confirmedId,
      confirm: { deployId: '4444444-0000000002' },
    });
    expect(replaced.body.answer).toMatch(
      /^The plan changed since you confirmed 3333333-0000000001, so nothing was changed/,
    );
  });

  it('a newer request replaces a waiting confirmation: its button no longer works', async () => {
    const shown = await chat({ text: 'deploy the latest dashboard' });
    await chat({ text: "what's live?" });
    const late = await chat({
      text: 'deploy the latest dashboard',
      confirm: { deployId: shown.body.confirm?.deployId },
    });
    expect(late.status).toBe(409);
    expect(late.body.message).toMatch(/already used, or a newer request replaced it/);
  });

  it('refuses a body it does not take with an example body that it takes', async () => {
    const refused = await chat({ text: "what's live?", approve: false });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/Unrecognized key: "approve"/);
    const example = /Send (\{"text": [^}]*\})/.exec(refused.body.message)?.[1];
    expect(example, refused.body.message).toBeDefined();
    expect(refused.body.message.replace(/Unrecognized key: "approve"/, '')).not.toMatch(/approve/);
    const accepted = await chat(JSON.parse(example ?? '{}') as Record<string, unknown>);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body).toMatchObject({ ok: true, confirm: null });
  });

  it('says so when no agent is available', async () => {
    const bare = await startConsole({
      config: await loadConfig(t.tmp),
      stacks: [STACK],
      openSite: async () => t.site,
      uiDir: join(t.tmp, 'ui'),
    });
    try {
      const res = await fetch(`${new URL(bare.url).origin}/api/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bare.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text: "what's live?" }),
      });
      expect(res.status).toBe(503);
      expect(bare.token).not.toBe(server.token);
      const session = await (
        await fetch(`${new URL(bare.url).origin}/api/session`, {
          headers: { authorization: `Bearer ${bare.token}` },
        })
      ).json();
      expect(session).toMatchObject({ chat: false, chatReason: expect.stringMatching(/not available/) });
    } finally {
      await bare.close();
    }
  });
});

describe('closing', () => {
  it('close() returns once the requests still reading a stack are done, their page gone or not', async () => {
    // The stack as the console is handed it, each call of its stores and records counted while it runs.
    let running = 0;
    let calls = 0;
    const counted = <T extends object>(part: T): T =>
      new Proxy(part, {
        get(target, key) {
          const value = Reflect.get(target, key, target);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            const result = value.apply(target, args);
            if (!(result instanceof Promise)) return result;
            calls++;
            running++;
            return result.finally(() => running--);
          };
        },
      });
    const site = {
      ...t.site,
      records: counted(t.site.records),
      hosting: counted(t.site.hosting),
      state: counted(t.site.state),
      artifacts: counted(t.site.artifacts),
    };
    let asked!: () => void;
    const opening = new Promise<void>((resolve) => {
      asked = resolve;
    });
    let open!: () => void;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    const own = await startConsoleOn(
      { t, repo, C1, C2 },
      {
        openSite: async () => {
          asked();
          await opened;
          return site;
        },
      },
    );
    const answer = fetch(`${new URL(own.url).origin}/api/stacks/${STACK}/status`, {
      headers: { authorization: `Bearer ${own.token}` },
    }).catch((error: unknown) => error);
    await opening;
    // The console stops while that request waits for its stack; the stack then comes.
    const closing = own.close();
    open();
    await closing;
    expect(await answer).toBeInstanceOf(Error);
    expect(calls).toBeGreaterThan(0);
    expect(running).toBe(0);
  });
});

function statusWithHost(path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin()}${path}`, { headers: { ...bearer(), host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

function agentResult(request: string, outcome: AgentResult['outcome'], message: string): AgentResult {
  return {
    request,
    actor: 'tester',
    planner: 'runbook',
    intent: 'deploy',
    outcome,
    message,
    calls: [],
    dryRun: false,
  };
}
