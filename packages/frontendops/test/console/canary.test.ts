/**
 * The console's API on an atomic stack, over the real engine, the embedded S3 server and the local
 * edge in atomic mode (the viewer-request function, the KeyValueStore API): status shows the release
 * mode, the canary and open previews; a canary is started, promoted and aborted through the API
 * (each one key write, audited, the promote tagged), bound to what the page showed; a preview link
 * goes to the requester only and the edge serves that release through it while visitors keep the
 * live one. Refusals change nothing: no session or token, another origin, no canary, bad input, an
 * in-place stack.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { loadConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import type {
  ApiError,
  CanaryResult,
  HistoryItem,
  PlanView,
  PreviewResult,
  StatusView,
} from '../../src/console/types.ts';
import { promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { bucketFor } from '../../src/engine/atomic-plan.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { openEventStream } from '../support/console-events.ts';
import { newSession } from '../support/console-sign-in.ts';
import { Browser, releaseOf } from '../support/edge-probe.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';

const STACK = 'dashboard-atomic';
const IN_PLACE = 'dashboard-in-place';

let t: AtomicEnv;
let repo: TestRepo;
let server: ConsoleServer;
let inPlace: Site;
/** The repository's two dashboard commits, published as v1 and v2; v1 is live at the start. */
let C1: string;
let C2: string;
/**
 * The stacks the cases start from, made once: v1 live (every case starts there, whichever ran
 * before); v2 then on 10% as a canary; v2 promoted.
 */
let v1Live: AtomicSnapshot;
let v2OnCanary: AtomicSnapshot;
let v2Promoted: AtomicSnapshot;

beforeAll(async () => {
  t = await startAtomicEnv();
  repo = await createTestRepo();
  C1 = repo.commits.dashboard1;
  C2 = repo.commits.dashboard2;
  await t.publish(C1, 'v1');
  await t.publish(C2, 'v2');
  await deployArtifact(t.site, { app: APP, commit: C1, request: request('first deploy') });
  v1Live = await snapshotAtomicEnv(t);
  await startCanary(t.site, { app: APP, commit: C2, weightPercent: 10, request: request('v2 on 10%') });
  v2OnCanary = await snapshotAtomicEnv(t);
  await promoteCanary(t.site, { request: request('promote v2') });
  v2Promoted = await snapshotAtomicEnv(t);
  // The same buckets opened as a stack without a release store: what an in-place stack is.
  inPlace = await t.open({ inPlace: true });
  const uiDir = join(t.tmp, 'ui');
  await mkdir(uiDir, { recursive: true });
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>console</title>');
  server = await startConsole({
    config: await loadConfig(t.tmp),
    stacks: [STACK, IN_PLACE],
    openSite: async (ref) => (ref === IN_PLACE ? inPlace : t.site),
    git: createLocalGit({ repoDir: repo.dir }),
    uiDir,
    actor: 'tester (console)',
  });
}, 180_000);
beforeEach(() => v1Live.restore());
afterAll(async () => {
  await server?.close();
  await repo?.cleanup();
  await t?.stop();
});

const origin = () => new URL(server.url).origin;
const bearer = () => ({ authorization: `Bearer ${server.token}` });
const short = (sha: string) => sha.slice(0, 7);

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`${origin()}${path}`, { headers: bearer() });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

async function post<T = ApiError>(path: string, body: unknown, headers: Record<string, string> = bearer()) {
  const res = await fetch(`${origin()}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const status = (stack = STACK) => getJson<StatusView>(`/api/stacks/${stack}/status`);
/** The KeyValueStore's value and ETag, as an operator outside FrontendOps reads them. */
const store = () => t.store().read();
/** What a browser holding this fo_bucket cookie gets. */
const asBucket = async (bucket: number) =>
  releaseOf((await new Browser(t.edge.url).get('/', { cookie: `fo_bucket=${bucket}` })).body);
const newVisitor = async () => releaseOf((await new Browser(t.edge.url).navigate('/')).body);
const releaseIdOf = async (commit: string) =>
  (await t.site.records.readPointer())?.value.releases.find((r) => r.commit === commit);

describe('status on an atomic stack', () => {
  it('shows the release mode, no canary and no open preview', async () => {
    expect(await status()).toMatchObject({ mode: 'atomic', canary: null, previews: [] });
    expect((await status(IN_PLACE)).mode).toBe('in-place');
  });
});

describe('a canary through the API', () => {
  it('refuses a share out of 1–99 %, a missing stack or an unknown one; nothing changes', async () => {
    const before = await store();
    for (const percent of [0, 100, 12.5, '10']) {
      const res = await post('/api/canary/start', { stack: STACK, commit: C2, percent });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.message).toMatch(/percent/);
    }
    const noStack = await post('/api/canary/promote', {});
    expect(noStack.status).toBe(400);
    expect(noStack.body.message).toMatch(/stack/);
    const unknown = await post('/api/canary/abort', { stack: 'dashboard-nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/"dashboard-nope" is not one of them/);
    const extra = await post('/api/canary/promote', { stack: STACK, percent: 10 });
    expect(extra.status).toBe(400);
    expect((await store()).etag).toBe(before.etag);
  });

  it('takes commits and deploy ids in the shapes the tools take: a SHA-256 commit is looked up, a made-up id refused', async () => {
    const before = await store();
    const sha256 = 'a'.repeat(64);
    const unknown = await post('/api/canary/start', { stack: STACK, commit: sha256, percent: 10 });
    expect(unknown.status, JSON.stringify(unknown.body)).toBe(404);
    expect(unknown.body.message).toContain(sha256.slice(0, 7));
    const madeUp = await post('/api/canary/start', {
      stack: STACK,
      commit: C2,
      percent: 10,
      deployId: 'latest',
    });
    expect(madeUp.status).toBe(400);
    expect(madeUp.body.message).toMatch(/deployId: expected a deploy id as the infra server returns them/);
    expect((await store()).etag).toBe(before.etag);
  });

  it('abort or promote with no canary running is a clear 409; nothing changes', async () => {
    const before = await store();
    for (const verb of ['abort', 'promote']) {
      const res = await post(`/api/canary/${verb}`, { stack: STACK });
      expect(res.status).toBe(409);
      expect(res.body.message).toBe(
        `No canary runs on ${STACK}, so there is nothing to ${verb}. Nothing was changed. Everyone gets the live release.`,
      );
    }
    expect((await store()).etag).toBe(before.etag);
    expect((await status()).canary).toBeNull();
  });

  it('starts a canary from the deploy plan: 10 % of visitors get the latest build; status shows who, what and since when', async () => {
    const plan = await getJson<PlanView>(`/api/stacks/${STACK}/plan?action=deploy-latest`);
    expect(plan).toMatchObject({ commit: C2, fromCommit: C1 });
    const started = await post<CanaryResult>('/api/canary/start', {
      stack: STACK,
      deployId: plan.deployId,
      commit: plan.commit,
      percent: 10,
      message: 'watch the totals',
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body).toMatchObject({
      action: 'canary-start',
      deployId: plan.deployId,
      commit: C2,
      outcome: 'succeeded',
      percent: 10,
      tag: null,
    });
    const pointer = (await store()).value;
    expect(pointer).toMatchObject({ canary: expect.any(String), weight: 10 });
    expect(await asBucket(bucketFor(pointer?.canary as string, 'canary'))).toBe('v2');
    expect(await asBucket(bucketFor(pointer?.canary as string, 'live'))).toBe('v1');

    const now = await status();
    expect(now.canary).toEqual({
      deployId: plan.deployId,
      app: APP,
      commit: C2,
      percent: 10,
      startedAt: expect.any(String),
      by: 'tester (console)',
    });
    // The live release is still the first deploy: a canary is not in the history until promoted.
    expect(now.live?.commit).toBe(C1);
    const audit = (await readAudit(t.site.state, t.target.statePrefix)).at(-1);
    expect(audit).toMatchObject({
      type: 'canary-start',
      data: {
        weight: 10,
        request: {
          text: `Deploy ${APP}@${short(C2)} to 10% of visitors first (confirmed in the console by tester)`,
          actor: 'tester (console)',
          planner: 'console',
          message: 'watch the totals',
        },
      },
    });
  });

  it('refuses a promote without the token or session, from another origin, by an old-style cookie, or marked cross-site', async () => {
    await v2OnCanary.restore();
    const before = await store();
    const body = { stack: STACK };
    expect((await post('/api/canary/promote', body, {})).status).toBe(401);
    expect(
      (await post('/api/canary/abort', body, { authorization: 'Bearer not-the-token-at-all' })).status,
    ).toBe(401);
    expect(
      (await post('/api/canary/promote', body, { ...bearer(), origin: 'http://evil.example' })).status,
    ).toBe(403);
    const id = await newSession(server);
    // A cookie counts for nothing, even holding a live session and with the console's old header.
    const cookie = `frontendops_console_${new URL(server.url).port}=${id}`;
    expect((await post('/api/canary/promote', body, { cookie, 'x-frontendops-console': '1' })).status).toBe(
      401,
    );
    expect(
      (
        await post('/api/canary/abort', body, {
          authorization: `Bearer ${id}`,
          'sec-fetch-site': 'cross-site',
        })
      ).status,
    ).toBe(403);
    expect((await post('/api/preview', { stack: STACK, commit: C1 }, {})).status).toBe(401);
    expect((await store()).etag).toBe(before.etag);
    expect((await status()).canary?.percent).toBe(10);
  });

  it('refuses a confirmation of another canary than the one running (409), changing nothing', async () => {
    await v2OnCanary.restore();
    const before = await store();
    const res = await post('/api/canary/promote', { stack: STACK, deployId: '1111111-0000000000' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'PLAN_CHANGED' });
    expect(res.body.message).toMatch(
      new RegExp(`changed since the page showed it \\(now: ${APP}@${short(C2)} beside the live ${short(C1)}`),
    );
    expect((await store()).etag).toBe(before.etag);
  });

  it('promote: everyone gets the canary with one key write, recorded, audited and tagged; progress on the event stream', async () => {
    await v2OnCanary.restore();
    const canary = (await status()).canary;
    const stream = await openEventStream(origin(), server.token);
    try {
      const runId = 'run-promote-0001';
      // The operator's message names the hosting bucket: the audit log keeps it, the tag hides it.
      const message = `the numbers hold on ${t.target.hostingBucket}`;
      const res = await post<CanaryResult>('/api/canary/promote', {
        stack: STACK,
        deployId: canary?.deployId,
        message,
        runId,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({
        action: 'canary-promote',
        deployId: canary?.deployId,
        commit: C2,
        outcome: 'succeeded',
        percent: null,
        copied: 0,
        tag: expect.stringMatching(/^dashboard-deploy-\d{8}-1$/),
      });
      const released = await releaseIdOf(C2);
      expect((await store()).value).toEqual({ live: expect.any(String) });
      for (let bucket = 0; bucket < 100; bucket += 11) expect(await asBucket(bucket)).toBe('v2');
      expect(await newVisitor()).toBe('v2');
      expect(released?.deployId).toBe(canary?.deployId);

      const now = await status();
      expect(now.canary).toBeNull();
      expect(now.live).toMatchObject({ commit: C2, deployId: canary?.deployId, tag: res.body.tag });
      expect(now.live?.request?.text).toBe(
        `Promote the canary ${APP}@${short(C2)} to everyone (confirmed in the console by tester)`,
      );
      const entry = (await readAudit(t.site.state, t.target.statePrefix)).find(
        (e) => e.type === 'canary-promote',
      );
      expect(entry?.data).toMatchObject({
        deployId: canary?.deployId,
        request: { actor: 'tester (console)', planner: 'console', message },
        invalidationIds: [],
      });
      // The deployment's page has the entry that recorded it, as every other kind's has.
      const details = await getJson<{ audit: { seq: number; type: string } | null }>(
        `/api/stacks/${STACK}/deployments/${canary?.deployId}`,
      );
      expect(details.audit).toMatchObject({ seq: entry?.seq, type: 'canary-promote' });
      expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
      expect(t.edge.stats().invalidations).toEqual([]);
      const tagMessage = await repo.git(['tag', '-l', '--format=%(contents)', res.body.tag ?? '']);
      expect(tagMessage).toContain(`Promote the canary ${APP}@${short(C2)} to everyone`);
      // The agent reads every tag's words (list_deploy_tags): the stack's bucket is not among them.
      expect(tagMessage).toContain('the numbers hold on [hidden]');
      expect(tagMessage).not.toContain(t.target.hostingBucket);
      const history = await getJson<{ deployments: HistoryItem[] }>(`/api/stacks/${STACK}/history`);
      expect(history.deployments[0]).toMatchObject({
        deployId: canary?.deployId,
        live: true,
        kind: 'canary-promote',
      });
      // The canary's start has its row too, naming the deploy id it was promoted as.
      expect(history.deployments.find((d) => d.kind === 'canary-start')).toMatchObject({
        commit: C2,
        live: false,
        canary: { deployId: canary?.deployId, percent: expect.any(Number) },
      });

      await stream.waitFor((e) => e.runId === runId && e.event.type === 'done');
      const run = stream.events.filter((e) => e.runId === runId).map((e) => e.event);
      expect(run[0]).toMatchObject({
        type: 'plan',
        plan: { action: 'canary-promote', commit: C2 },
        headline: `Promoting the canary ${APP}@${short(C2)}: everyone gets it with one key write, nothing to refresh on the CDN.`,
      });
      expect(run.flatMap((e) => (e.type === 'step' ? [e.headline] : []))).toContain(
        `Visitors now get ${APP}@${short(C2)}.`,
      );
      expect(run.at(-1)).toEqual({ type: 'done', outcome: 'succeeded' });
    } finally {
      stream.close();
    }
  });

  it('abort: everyone back on the live release with one key write, audited; no deploy tag', async () => {
    await v2Promoted.restore();
    // A canary of the older build this time, by commit, without a plan to bind (the API allows it).
    const started = await post<CanaryResult>('/api/canary/start', {
      stack: STACK,
      commit: short(C1),
      percent: 30,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const pointer = (await store()).value;
    expect(pointer?.weight).toBe(30);
    const canaryBucket = bucketFor(pointer?.canary as string, 'canary');
    expect(await asBucket(canaryBucket)).toBe('v1');
    const canary = (await status()).canary;
    expect(canary).toMatchObject({ commit: C1, percent: 30 });

    const tagsBefore = await repo.git(['tag', '-l']);
    const res = await post<CanaryResult>('/api/canary/abort', {
      stack: STACK,
      deployId: canary?.deployId,
      message: 'errors went up',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ action: 'canary-abort', commit: C1, outcome: 'succeeded', tag: null });
    expect((await store()).value).toEqual({ live: pointer?.live });
    expect(await asBucket(canaryBucket)).toBe('v2');
    const now = await status();
    expect(now.canary).toBeNull();
    expect(now.live?.commit).toBe(C2);
    expect(await repo.git(['tag', '-l'])).toBe(tagsBefore);
    expect((await readAudit(t.site.state, t.target.statePrefix)).at(-1)).toMatchObject({
      type: 'canary-abort',
      data: {
        request: {
          text: `Abort the canary ${APP}@${short(C1)}: everyone back on the live release (confirmed in the console by tester)`,
          message: 'errors went up',
        },
      },
    });
    const again = await post('/api/canary/abort', { stack: STACK });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/^No canary runs on dashboard-atomic/);
  });
});

describe('preview links through the API', () => {
  it('answers a signed link to a release of the history; the edge serves it through the link while visitors keep the live one', async () => {
    await v2Promoted.restore();
    const first = (
      await getJson<{ deployments: HistoryItem[] }>(`/api/stacks/${STACK}/history`)
    ).deployments.find((d) => d.commit === C1 && d.request.text === 'first deploy');
    const stream = await openEventStream(origin(), server.token);
    try {
      const runId = 'run-preview-0001';
      const res = await post<PreviewResult>('/api/preview', {
        stack: STACK,
        deployId: first?.deployId,
        runId,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ stack: STACK, app: APP, commit: C1, deployId: first?.deployId });
      expect(res.body.verification?.ok).toBe(true);
      const url = new URL(res.body.url);
      expect(url.origin).toBe(new URL(t.edge.url).origin);
      const token = url.searchParams.get('fo_preview') as string;
      expect(token.length).toBeGreaterThan(20);
      expect(Date.parse(res.body.expiresAt) - Date.now()).toBeGreaterThan(23 * 3600_000);

      const reviewer = new Browser(t.edge.url);
      expect(releaseOf((await reviewer.navigate(`${url.pathname}${url.search}`)).body)).toBe('v1');
      expect(releaseOf((await reviewer.navigate('/quality')).body)).toBe('v1');
      expect(await newVisitor()).toBe('v2');
      expect((await store()).value).toEqual({ live: expect.any(String) });

      // Status lists the open preview, never its link; the event stream (every session's) neither.
      const text = await (
        await fetch(`${origin()}/api/stacks/${STACK}/status`, { headers: bearer() })
      ).text();
      expect(text).not.toContain(token);
      expect((JSON.parse(text) as StatusView).previews).toEqual([
        { app: APP, commit: C1, expiresAt: res.body.expiresAt, by: 'tester (console)' },
      ]);
      await stream.waitFor((e) => e.runId === runId && e.event.type === 'done');
      expect(JSON.stringify(stream.events)).not.toContain(token);
      expect(stream.events.filter((e) => e.runId === runId).map((e) => e.event)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ headline: `Preview of ${APP}@${short(C1)}: recorded in the audit log.` }),
          expect.objectContaining({ headline: 'Checked: the link shows the release.' }),
          { type: 'done', outcome: `preview link of ${APP}@${short(C1)} made, open for 24 hours` },
        ]),
      );
      const audit = (await readAudit(t.site.state, t.target.statePrefix)).at(-1);
      expect(audit).toMatchObject({
        type: 'preview',
        data: { commit: C1, request: { actor: 'tester (console)', planner: 'console' } },
      });
      expect(JSON.stringify(audit)).not.toContain(token);
    } finally {
      stream.close();
    }
  });

  it('previews a published commit too; a request naming both or neither, or out of 1–168 hours, is refused', async () => {
    const byCommit = await post<PreviewResult>('/api/preview', { stack: STACK, commit: short(C2), hours: 1 });
    expect(byCommit.status, JSON.stringify(byCommit.body)).toBe(200);
    expect(byCommit.body).toMatchObject({ commit: C2, deployId: null });
    expect(Date.parse(byCommit.body.expiresAt) - Date.now()).toBeLessThanOrEqual(3600_000);
    for (const body of [
      { stack: STACK },
      { stack: STACK, commit: C1, deployId: 'x' },
      { stack: STACK, commit: C1, hours: 200 },
      { stack: STACK, commit: 'not-a-sha' },
    ]) {
      const res = await post('/api/preview', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('an in-place stack', () => {
  it('refuses previews and canaries with 409, saying they need atomic releases and how to migrate; nothing changes', async () => {
    const before = await store();
    for (const [path, body] of [
      ['/api/preview', { stack: IN_PLACE, commit: C1 }],
      ['/api/canary/start', { stack: IN_PLACE, commit: C2, percent: 10 }],
      ['/api/canary/promote', { stack: IN_PLACE }],
      ['/api/canary/abort', { stack: IN_PLACE }],
    ] as const) {
      const res = await post(path, body);
      expect(res.status, path).toBe(409);
      expect(res.body.message).toMatch(
        /updates its files in place, and (preview links|canaries) need atomic releases/,
      );
      expect(res.body.message).toContain(`frontendops migrate --to atomic --stack ${IN_PLACE}`);
    }
    expect((await store()).etag).toBe(before.etag);
  });
});
