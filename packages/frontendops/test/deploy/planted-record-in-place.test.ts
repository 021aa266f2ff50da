/**
 * In place, the deployment record under the deploy id of a crash-recovery record (pending.json), which
 * no entry binds, with the live pointer left as the chain binds it. FrontendOps leaves that shape in one
 * way only (deploy.ts recordSuperseded): a deploy that finds another stopped before its pointer moved
 * writes the stopped one's row, saying superseded, of its build and request, then the entry binding it;
 * stopped between the two, `audit verify` rightly calls the row unfinished, and the next deploy records
 * it. A row saying that deploy went live (succeeded, failed) is written only after its pointer moved to
 * it (apply.ts finishMoved), so the pointer has it. Before, verify called any record under
 * pending.json's deploy id unfinished ("run the deploy again to finish it"): one planted beside a
 * planted pending.json, saying a deploy went live that the pointer never had, was excused as a stopped
 * deploy's, and a promote of its id was told to wait for that deploy. Now it is tampered, as on an
 * atomic stack (stopped-superseded.test.ts), and nothing takes it for a deployment.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import type { DeployPlan } from '../../src/engine/plan.ts';
import { FrontendOpsError, isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import type { DeploymentRecord } from '../../src/state/records.ts';
import { request } from '../support/atomic-env.ts';
import { auditVerdict } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { refusal, writesSince } from '../support/refusal.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

let t: TestDeployEnv;
let deployed: BucketSnapshot;
const key = (name: string) => `${t.target.statePrefix}${name}`;

/** The same site, but S3 refuses every copy into its hosting bucket: a deploy stops before its pointer. */
const refusingCopies = (site: Site): Site => ({
  ...site,
  hosting: {
    ...site.hosting,
    copyFrom: async () => {
      throw new FrontendOpsError('UPSTREAM', 'S3 could not copy into the hosting bucket');
    },
  },
});

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'planted-record-in-place' });
  await publishFixtureBuilds(t, APP, [V1, V2, V3]);
  await deployArtifact(t.site, { app: APP, commit: V1, request: request('ship v1') });
  deployed = await snapshotBuckets([{ store: t.site.state, prefix: t.target.statePrefix }]);
}, 180_000);
beforeEach(async () => {
  await deployed.restore();
});
afterAll(() => t?.stop());

describe("in place: a record under pending.json's deploy id, the live pointer unchanged", () => {
  it('a genuine stop between a superseded row and its entry: unfinished, and the next deploy records it', async () => {
    await expect(
      deployArtifact(refusingCopies(t.site), { app: APP, commit: V2, request: request('ship v2') }),
    ).rejects.toThrow(/could not copy/);
    const stopped = await t.site.records.readPending();
    const live = (await t.site.state.get(key('live.json')))?.body.toString();
    await expect(
      deployArtifact(
        stoppingSite(
          t.site,
          (k, body) => /\/audit\/\d{10}\.json$/.test(k) && String(body).includes('"outcome":"superseded"'),
        ),
        { app: APP, commit: V3, request: request('ship v3') },
      ),
    ).rejects.toThrow('the process stopped');
    // The shape: the stopped deploy's pending.json and its row, the pointer as the chain binds it.
    expect((await t.site.records.readPending())?.plan.deployId).toBe(stopped?.plan.deployId);
    expect((await t.site.state.get(key('live.json')))?.body.toString()).toBe(live);
    expect(await auditVerdict(t)).toEqual([`unfinished: deployments/${stopped?.plan.deployId}.json`]);

    await deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3 again') });
    expect(await auditVerdict(t)).toEqual([]);
  });

  it('a row saying it went live, planted beside a planted pending.json: tampered, and no change takes it for a deployment', async () => {
    const { plan } = await deployArtifact(t.site, {
      app: APP,
      commit: V2,
      request: request('x'),
      dryRun: true,
    });
    const { deployId } = plan as DeployPlan;
    const asked = request('approved by Ada');
    await t.site.records.writePending({
      plan: plan as DeployPlan,
      request: asked,
      startedAt: new Date().toISOString(),
      pointerMoved: false,
    });
    const live = await t.site.records.readPointer();
    const genuine = live && (await t.site.records.readRecord(live.value.deployId));
    if (!genuine) throw new Error('v1 is recorded');
    const planted: DeploymentRecord = {
      ...genuine,
      deployId,
      commit: V2,
      artifactDigest: plan.artifactDigest,
      request: asked,
      outcome: 'succeeded',
    };
    await t.site.state.put(key(`deployments/${deployId}.json`), JSON.stringify(planted), {
      contentType: 'application/json',
    });

    // Before: "unfinished: … Deploy <id> was interrupted after writing it: run the deploy again".
    const problems = (await verifyAudit(t.site.state, t.target.statePrefix)).problems;
    expect(problems.map((p) => `${p.kind}: ${p.object}`)).toEqual([`tampered: deployments/${deployId}.json`]);
    expect(problems[0]?.reason).toMatch(/added around the chain/);

    const before = await t.mark();
    const promote = await refusal(resolveRelease(t.site, APP, deployId));
    expect(isFrontendOpsError(promote, 'TAMPERED'), String(promote)).toBe(true);
    expect(promote.message).toMatch(/not written by FrontendOps/);
    const rollback = await refusal(rollbackRelease(t.site, { to: deployId, request: request('back') }));
    expect(isFrontendOpsError(rollback, 'NOT_FOUND'), String(rollback)).toBe(true);
    expect(await writesSince(t, before)).toEqual([]);
  });
});
