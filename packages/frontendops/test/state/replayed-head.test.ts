/**
 * Someone who can write the state prefix (the deployer role may write the audit head; entries it may
 * only create) replays the past: the live pointer as an older entry bound it, copied back from the
 * bucket's versions, and the head moved back onto that entry. Every entry stays in place, each
 * object is "as bound" by the entry the head names, and nothing is edited, only put back.
 *
 * Before, what held the state to the chain read the head and believed its entry: the lock's check
 * let a rollback go from the replayed pointer (to the release before the superseded one, not the one
 * before the release live), its append then walked the head forward over the skipped entries and
 * bound what it wrote, and `audit verify` passed afterwards; `status` told the replayed pointer as
 * recorded (exit 0). A head moved back alone is still walked forward by the next change (audit.test).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import type { ObjectStore } from '../../src/ports.ts';
import { readStatus } from '../../src/read/status.ts';
import { changeDigest, openApprovalRequest } from '../../src/state/approvals.ts';
import { type AuditHead, readAuditHead, verifyAudit } from '../../src/state/audit.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type AtomicEnv, startAtomicEnv } from '../support/atomic-env.ts';
import { type BucketSnapshot, snapshotBuckets, snapshotStack } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writesSince } from '../support/refusal.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'change', actor: 'ada', planner: 'cli', at: new Date().toISOString() };
const [A, B, C] = ['a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3'] as const;

let t: TestDeployEnv;
/** A, B, C deployed: C live, its entries the newest. */
let cLive: BucketSnapshot;
/** The live pointer as stored while B was live, and the head then (the entry that bound it). */
let bPointer: Buffer;
let bHead: AuditHead;

const key = (name: string) => `${t.target.statePrefix}${name}`;
const put = (name: string, body: string | Buffer) =>
  t.site.state.put(key(name), body, { contentType: 'application/json' });
const verdict = async () =>
  (await verifyAudit(t.site.state, t.target.statePrefix)).problems.map((p) => p.kind);

/** The agent asks for an approval of a deploy of `commit`, as the infra server records one (no lock). */
async function askApproval(commit: string): Promise<void> {
  const planned = await deployArtifact(t.site, { app: APP, commit, request, dryRun: true });
  await openApprovalRequest(t.site, {
    action: 'deploy',
    deployId: planned.deployId,
    summary: `deploy ${APP}@${commit.slice(0, 7)}`,
    app: APP,
    commit,
    change: changeDigest(planned.plan),
    requestedBy: 'claude-code',
    now: Date.now(),
  });
}

/** The replay: B's pointer put back, and the head moved back onto the entry that bound it. */
async function replayB(): Promise<void> {
  await put('live.json', bPointer);
  await put('audit/head.json', JSON.stringify(bHead));
}

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'replayed-head' });
  await publishFixtureBuilds(t, APP, [A, B, C], { from: 0 });
  await deployArtifact(t.site, { app: APP, commit: A, request });
  await deployArtifact(t.site, { app: APP, commit: B, request });
  bPointer = (await t.site.state.get(key('live.json')))?.body as Buffer;
  bHead = (await readAuditHead(t.site.state, t.target.statePrefix)) as AuditHead;
  // The agent asks for an approval of C first (as the infra server does on a protected stack): an
  // entry that binds none of the state objects, so the entry after the head moved back binds them
  // as the head's entry does.
  await askApproval(C);
  await deployArtifact(t.site, { app: APP, commit: C, request });
  cLive = await snapshotStack(t.site);
}, 180_000);
afterAll(() => t?.stop());
beforeEach(() => cLive.restore());

describe('an older pointer put back, the head moved back onto the entry that bound it', () => {
  it('a rollback refuses TAMPERED before it writes anything (before: it went to A, and verify passed after)', async () => {
    await replayB();
    expect(await verdict()).toContain('tampered');
    const mark = await t.mark();
    const attempt = rollbackRelease(t.site, { request });
    await expect(attempt).rejects.toMatchObject({ code: 'TAMPERED' });
    await expect(attempt).rejects.toThrow(
      /live\.json of \S+ changed outside FrontendOps.*Nothing was changed/s,
    );
    expect(await writesSince(t, mark)).toEqual([]);
    expect((await t.site.state.get(key('live.json')))?.body).toEqual(bPointer);
    expect(await verdict()).toContain('tampered');

    // Put back as it was, the same rollback goes to the release before C.
    await cLive.restore();
    expect((await rollbackRelease(t.site, { request })).commit).toBe(B);
    expect(await verdict()).toEqual([]);
  });

  it('a pin deleted, the head moved back to before it: the pin holds, the deploy past it refused (before: it went live)', async () => {
    const head = (await readAuditHead(t.site.state, t.target.statePrefix)) as AuditHead;
    // Asked for an approval (an entry binding no state object), then pinned C.
    await askApproval(B);
    await pinRelease(t.site, { request });
    await t.site.state.delete([key('pin.json')]);
    await put('audit/head.json', JSON.stringify(head));
    const live = (await t.site.state.get(key('live.json')))?.body;
    const mark = await t.mark();
    // The pin is held as the chain records it: put back (as a pin.json deleted right after its pin
    // is: pin-crash.test), and the deploy refused by it, nothing else written.
    await expect(deployArtifact(t.site, { app: APP, commit: B, request })).rejects.toMatchObject({
      code: 'PINNED',
    });
    expect(await writesSince(t, mark)).toEqual([`PUT ${key('pin.json')}`]);
    expect((await t.site.state.get(key('live.json')))?.body).toEqual(live);
  });

  it('status does not tell the replayed pointer as recorded', async () => {
    expect((await readStatus(t.site)).recorded.state).toBe('as-recorded');
    await replayB();
    const status = await readStatus(t.site);
    expect(status.live?.commit).toBe(B); // what the pointer says
    expect(status.recorded.state).toBe('changed-outside');
    expect(status.live?.request).toBeNull();
  });
});

/**
 * The head moved back alone passes the lock's check (the state is as the newest entry binds it); what
 * the change reads again under its lock must be held to the same entries. Held to the head's entry
 * instead, an older copy put back while the change copies its files (the lock object says when one
 * runs) matched it, and the change bound it: here a canary aborted since, back in the state.
 */
describe('the head moved back alone, an older copy put back while the change runs', () => {
  let a: AtomicEnv;
  const [V1, V2, V4] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'd4d4d4d4d4d4d4d4'] as const;
  const stateKey = () => `${a.target.statePrefix}atomic/state.json`;

  beforeAll(async () => {
    a = await startAtomicEnv({ stack: 'replayed-head-atomic', conditionalWrites: true });
    await a.publishVersions([V1, V2]);
    await a.publish(V4, 'v4');
    await deployArtifact(a.site, { app: APP, commit: V1, request });
    await deployArtifact(a.site, { app: APP, commit: V2, request });
  }, 180_000);
  afterAll(() => a?.stop());

  it('a preview stops before it binds the canary put back (before: it bound it, verify clean)', async () => {
    await startCanary(a.site, { app: APP, commit: V1, weightPercent: 50, request });
    const withCanary = (await a.site.state.get(stateKey()))?.body as Buffer;
    const canaryHead = (await readAuditHead(a.site.state, a.target.statePrefix)) as AuditHead;
    await abortCanary(a.site, { request });
    await a.site.state.put(`${a.target.statePrefix}audit/head.json`, JSON.stringify(canaryHead), {
      contentType: 'application/json',
    });
    let edited = false;
    const hosting: ObjectStore = {
      ...a.site.hosting,
      async copyFrom(source, target, meta) {
        if (!edited) {
          edited = true;
          await a.site.state.put(stateKey(), withCanary, { contentType: 'application/json' });
        }
        return a.site.hosting.copyFrom(source, target, meta);
      },
    };
    await expect(
      previewLink({ ...a.site, hosting }, { app: APP, commit: V4, request, verify: false }),
    ).rejects.toMatchObject({ code: 'TAMPERED' });
    expect(edited).toBe(true);
    expect((await a.site.state.get(stateKey()))?.body).toEqual(withCanary);
  });
});

/**
 * Whoever can write the whole state bucket puts the chain back to an older valid prefix: every entry,
 * object and the head as they were after an older switch (no deploy tag given, so nothing anchors the
 * chain). On an atomic stack the CDN's release store, which that party cannot write, still serves the
 * newer switch: status says what is served is not what is recorded, and `audit verify` fails.
 */
describe('an atomic chain put back whole to an older valid prefix', () => {
  let a: AtomicEnv;
  const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;

  beforeAll(async () => {
    a = await startAtomicEnv({ stack: 'rolled-back-atomic', conditionalWrites: true });
    await a.publishVersions([V1, V2]);
    await deployArtifact(a.site, { app: APP, commit: V1, request });
  }, 180_000);
  afterAll(() => a?.stop());

  it('is told by status and fails verify: the release store serves the switch the chain lost', async () => {
    const saved = await snapshotBuckets([{ store: a.site.state, prefix: a.target.statePrefix }]);
    await deployArtifact(a.site, { app: APP, commit: V2, request });
    await saved.restore();
    const status = await readStatus(a.site);
    expect(status.live?.commit).toBe(V1);
    // V2's release index is bound only by the entries put back out, so what it says is not believed.
    expect(status.served).toMatchObject({ state: 'changed-outside', live: { commit: null } });
    const verified = await verifyAudit(a.site.state, a.target.statePrefix, {
      releaseStore: a.site.releases,
    });
    expect(verified.ok).toBe(false);
    expect(verified.problems.map((p) => p.reason).join('\n')).toMatch(
      /the CDN's release store names .* it was changed outside FrontendOps/,
    );
  });
});
