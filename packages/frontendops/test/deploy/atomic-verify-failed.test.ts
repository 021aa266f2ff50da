/**
 * An atomic deploy made live by the infra server's run_sync (stopBeforeInvalidation) and finished by
 * invalidate_cdn (finishSyncedDeploy) is held to the same rule as one run in one go: when the CDN
 * does not serve it, it is recorded as failed and the previous release is switched back.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact, finishSyncedDeploy } from '../../src/deploy/deploy.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { deployedAtomicEnvFor, request } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { releaseOf } from '../support/edge-probe.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'];
const env = deployedAtomicEnvFor({}, [V1, V2], 1);
/**
 * V1 deployed and live: each case starts from it, whichever ran before (the approved case leaves an
 * entry naming an approval no approver signed, which verify reports).
 */
let deployed: AtomicSnapshot;
beforeAll(async () => {
  deployed = await snapshotAtomicEnv(env());
});
beforeEach(() => deployed.restore());

const served = async () => releaseOf(await (await fetch(env().edge.url)).text());

describe('a synced atomic deploy the CDN does not serve', () => {
  it('is recorded as failed and switched back to the release before it', async () => {
    const t = env();
    const synced = await deployArtifact(t.site, {
      app: 'sophia-dashboard',
      commit: V2,
      request: request(),
      stopBeforeInvalidation: true,
    });
    expect([synced.outcome, await served()]).toEqual(['synced', 'v2']);
    // The "CDN" keeps answering with the old page: an edge that never got the switch.
    const stale = (
      await (await fetch(`${t.edge.url}/index.html`, { headers: { cookie: 'x=1' } })).text()
    ).replace('v2', 'v1');
    const finished = await finishSyncedDeploy(t.site, synced.deployId, {
      request: request(),
      verifyTimeoutMs: 200,
      fetch: async () => new Response(stale, { status: 200, headers: { 'content-type': 'text/html' } }),
    });
    expect(finished.record.outcome).toBe('failed');
    expect(finished.rolledBackTo).toMatch(/^a1a1a1a-[0-9a-f]{10}$/);
    expect(await served()).toBe('v1');
    expect((await t.site.records.readPointer())?.value.commit).toBe(V1);
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });

  it('approved through the infra server: switched back without asking for its approval again, or naming it', async () => {
    const t = env();
    // What the CDN answers: the release live before (v1), whatever is switched to.
    const stale = await (await fetch(`${t.edge.url}/index.html`, { headers: { cookie: 'x=1' } })).text();
    expect(releaseOf(stale)).toBe('v1');
    // As the infra server runs an approved change (context.ts runApproved): its approval is used
    // once, and a plan event of another deploy id is refused as the live release having changed.
    let asked = 0;
    let watched: string | undefined;
    const approval = { nonce: 'N'.repeat(22), by: 'Ada', via: 'signed' as const };
    const result = await deployArtifact(t.site, {
      app: 'sophia-dashboard',
      commit: V2,
      request: request(),
      verifyTimeoutMs: 200,
      fetch: async () => new Response(stale, { status: 200, headers: { 'content-type': 'text/html' } }),
      authorize: async () => {
        asked += 1;
        if (asked > 1) throw new FrontendOpsError('DENIED', 'The approval of this deploy was already used.');
        return approval;
      },
      onEvent: (event) => {
        if (event.type !== 'plan') return;
        watched ??= event.plan.deployId;
        if (event.plan.deployId !== watched)
          throw new FrontendOpsError('CONFLICT', 'The live release changed.');
      },
    });
    expect(result.outcome).toBe('failed');
    expect(result.rolledBackTo).toMatch(/^a1a1a1a-[0-9a-f]{10}$/);
    expect(asked).toBe(1);
    expect(await served()).toBe('v1');
    // The failed deploy names the approval it used; the switch back, which no one approved, names none.
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    const failed = entries.findLast((e) => e.type === 'deploy' && e.data.deployId === result.deployId);
    const back = entries.findLast((e) => e.type === 'rollback' && e.data.deployId === result.rolledBackTo);
    expect(failed?.data).toMatchObject({ outcome: 'failed', approval });
    expect(back?.data).toMatchObject({ outcome: 'succeeded' });
    expect(back?.data.approval).toBeUndefined();
  });
});
