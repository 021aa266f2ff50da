/**
 * One approval, one change — also when the change it was used for did not happen. The attack: Ada
 * approves a deploy; its run uses the approval and then stops before anything went live (here a file
 * of the build was swapped in the artifacts bucket, TAMPERED). The same deploy asked again is the
 * same plan under the same deploy id, so Ada's signature still names it; it must not carry a second
 * run. Asked again, the server makes a new request, which a person approves again.
 *
 * And the same replay by whoever can write the state bucket: the approval's "used" marker deleted,
 * the approval still within its hour. The audit chain records its use: it does not count again.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadApproverKey } from '../../../src/approval/keys.ts';
import { approveRequest } from '../../../src/cli/approve-deploy.ts';
import { artifactFileKey } from '../../../src/engine/manifest.ts';
import { approvalInForce } from '../../../src/state/approval-in-force.ts';
import { consumeApproval } from '../../../src/state/approvals.ts';
import { readAudit } from '../../../src/state/audit.ts';
import { APPROVALS_SIGNED, APPROVALS_USED } from '../../../src/state/names.ts';
import { findApprovalRequests, protectedInfraFor } from '../../support/approver.ts';
import { request } from '../../support/atomic-env.ts';
import type { BucketSnapshot } from '../../support/bucket-snapshot.ts';
import { ARTIFACTS } from '../../support/deploy-env.ts';
import { APP, COMMITS } from '../../support/mcp-infra.ts';

const infra = protectedInfraFor(['Ada']);

/** Ada runs `frontendops approve <deployId>` and says yes. */
const adaApproves = (deployId: string) =>
  approveRequest(infra().site, {
    deployId,
    request: request('Ada approves'),
    loadKey: () => loadApproverKey(infra().keys.Ada.path, async () => ''),
    confirm: async () => true,
  });

const used = async () => {
  const { site } = infra().f.t;
  return (await site.state.list(`${site.target.statePrefix}${APPROVALS_USED}`)).length;
};
const live = async () => (await infra().f.t.site.records.readPointer())?.value ?? null;

/** Nothing deployed: where each case starts. */
let nothingDeployed: BucketSnapshot;
beforeAll(async () => {
  nothingDeployed = await infra().f.snapshot();
});

/**
 * Ada approves the deploy of COMMITS[0]; its run uses the approval, then stops before anything went
 * live (a file of the build swapped in the artifacts bucket, put right after). Returns the deploy id
 * and the request her approval answers.
 */
async function approvalUsedByAStoppedRun() {
  const { f, c } = infra();
  const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
  const deployId = target.structured.deployId as string;
  expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(/APPROVAL_REQUIRED/);
  await adaApproves(deployId);
  const [request] = await findApprovalRequests(f.t.site, deployId);
  const key = artifactFileKey(APP, COMMITS[0], '/index.html');
  const artifacts = f.t.s3.store(ARTIFACTS);
  const published = (await artifacts.get(key))?.body;
  await artifacts.put(key, '<h1>not what was published</h1>', { contentType: 'text/html' });
  expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(/TAMPERED/);
  await artifacts.put(key, published ?? '', { contentType: 'text/html' });
  expect(await live()).toBeNull();
  expect(await used()).toBe(1);
  return { deployId, nonce: request?.nonce ?? '' };
}

describe('attack: an approval used by a change that stopped before anything went live', () => {
  it('does not carry the same change again: asked again, it needs a new approval', async () => {
    await nothingDeployed.restore();
    const { f, c } = infra();
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    const deployId = target.structured.deployId as string;
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );
    await adaApproves(deployId);
    const [first] = await findApprovalRequests(f.t.site, deployId);

    // A file of the build swapped after publishing: the run uses Ada's approval, then stops.
    const key = artifactFileKey(APP, COMMITS[0], '/index.html');
    const artifacts = f.t.s3.store(ARTIFACTS);
    const published = (await artifacts.get(key))?.body;
    await artifacts.put(key, '<h1>not what was published</h1>', { contentType: 'text/html' });
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(/TAMPERED/);
    expect(await live()).toBeNull();
    expect(await used()).toBe(1);

    // Put right, the same deploy is the same plan under the same deploy id Ada signed for…
    await artifacts.put(key, published ?? '', { contentType: 'text/html' });
    const again = await c.call('get_deploy_target', { commit: COMMITS[0] });
    expect(again.structured.deployId).toBe(deployId);
    // …and her approval does not carry it a second time: a new request, with a new nonce.
    const refused = await c.call('run_sync', { handle: again.structured.handle });
    expect(refused.text).toMatch(/APPROVAL_REQUIRED/);
    expect(await live()).toBeNull();
    const [second] = await findApprovalRequests(f.t.site, deployId);
    expect(second?.nonce).toBeDefined();
    expect(second?.nonce).not.toBe(first?.nonce);
    expect(await used()).toBe(1);

    // A person approves the new request: the change lands, once.
    await adaApproves(deployId);
    const sync = await c.call('run_sync', { handle: again.structured.handle });
    expect(sync.structured).toMatchObject({ deployId, outcome: 'synced' });
    expect((await live())?.commit).toBe(COMMITS[0]);
    expect(await used()).toBe(2);
  });
});

describe('attack: the "used" marker of an approval deleted, to spend it again within its hour', () => {
  it('the audit chain records its use: refused, TAMPERED, saying when and for what; nothing changes', async () => {
    await nothingDeployed.restore();
    const { f, c } = infra();
    const { site } = f.t;
    const { deployId, nonce } = await approvalUsedByAStoppedRun();
    const [usedEntry] = (await readAudit(site.state, site.target.statePrefix)).filter(
      (e) => e.type === 'approval-used',
    );

    // Whoever writes the state bucket deletes the marker: the request reads as unused again.
    await site.state.delete([`${site.target.statePrefix}${APPROVALS_USED}${nonce}.json`]);
    expect(await used()).toBe(0);
    const again = await c.call('get_deploy_target', { commit: COMMITS[0] });
    expect(again.structured.deployId).toBe(deployId);
    const replayed = await c.call('run_sync', { handle: again.structured.handle });
    expect(replayed.isError).toBe(true);
    expect(replayed.text).toMatch(/TAMPERED/);
    expect(replayed.text).toContain(
      `already used at ${usedEntry?.at} for the deploy ${deployId} (audit entry ${usedEntry?.seq})`,
    );
    expect(replayed.text).toMatch(
      /"used" marker is missing from the state bucket, which points to tampering/,
    );
    expect(replayed.text).toMatch(/Nothing was changed/);
    expect(await live()).toBeNull();
    expect(await used()).toBe(0);

    // Asked again: a new request, which a person approves; the change then lands, once.
    const [second] = await findApprovalRequests(site, deployId);
    expect(second?.nonce).not.toBe(nonce);
    expect((await c.call('run_sync', { handle: again.structured.handle })).text).toMatch(/APPROVAL_REQUIRED/);
    await adaApproves(deployId);
    const sync = await c.call('run_sync', { handle: again.structured.handle });
    expect(sync.structured).toMatchObject({ deployId, outcome: 'synced' });
    expect((await live())?.commit).toBe(COMMITS[0]);
    expect(await used()).toBe(1);
  });

  it("spent where no request is read first (a GitHub job's key, a run already granted): refused the same", async () => {
    await nothingDeployed.restore();
    const { site } = infra().f.t;
    const { deployId, nonce } = await approvalUsedByAStoppedRun();
    await site.state.delete([`${site.target.statePrefix}${APPROVALS_USED}${nonce}.json`]);
    const entries = (await readAudit(site.state, site.target.statePrefix)).length;
    const spent = consumeApproval(infra().site, nonce, {
      action: 'deploy',
      deployId,
      approval: { by: 'Ada', via: 'signed' },
      now: Date.now(),
      judged: await approvalInForce(infra().site),
    });
    await expect(spent).rejects.toMatchObject({
      code: 'TAMPERED',
      message: expect.stringMatching(/already used at .* for the deploy .*points to tampering/),
    });
    expect(await used()).toBe(0);
    expect((await readAudit(site.state, site.target.statePrefix)).length).toBe(entries);
  });
});

describe('attack: a request\'s "used" marker and signed statement deleted, to have it approved again', () => {
  /** Whoever writes the state bucket deletes what says the request was answered: Ada is asked again. */
  async function approvedAgain(deployId: string, nonce: string, answered: { type: string }) {
    const { site } = infra().f.t;
    const prefix = site.target.statePrefix;
    const [entry] = (await readAudit(site.state, prefix)).filter((e) => e.type === answered.type).slice(-1);
    await site.state.delete([
      `${prefix}${APPROVALS_USED}${nonce}.json`,
      ...(await site.state.list(`${prefix}${APPROVALS_SIGNED}`)).map((o) => o.key),
    ]);
    const entries = (await readAudit(site.state, prefix)).length;
    await expect(adaApproves(deployId)).rejects.toMatchObject({
      code: 'TAMPERED',
      message: expect.stringContaining(
        `recorded at ${entry?.at} (audit entry ${entry?.seq}), but its objects are missing`,
      ),
    });
    await expect(adaApproves(deployId)).rejects.toMatchObject({
      message: expect.stringMatching(
        /missing from the state bucket, which points to tampering\. Nothing was approved\. Ask the agent again: it makes a new request\./,
      ),
    });
    // Nothing written: no second record of the approval, which `audit verify` would report for good.
    expect((await readAudit(site.state, prefix)).length).toBe(entries);
    expect(await site.state.list(`${prefix}${APPROVALS_SIGNED}`)).toEqual([]);
  }

  it('approved and used: `approve` refuses, TAMPERED, saying when the chain recorded it; nothing written', async () => {
    await nothingDeployed.restore();
    const { deployId, nonce } = await approvalUsedByAStoppedRun();
    await approvedAgain(deployId, nonce, { type: 'approval-used' });
  });

  it('approved, not yet used: refused the same; asked again, the server makes a new request to approve', async () => {
    await nothingDeployed.restore();
    const { f, c } = infra();
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    const deployId = target.structured.deployId as string;
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );
    await adaApproves(deployId);
    const [first] = await findApprovalRequests(f.t.site, deployId);
    await approvedAgain(deployId, first?.nonce ?? '', { type: 'approval' });

    // The agent asks again: a new request, which Ada approves; the change lands, once.
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );
    const [second] = await findApprovalRequests(f.t.site, deployId);
    expect(second?.nonce).not.toBe(first?.nonce);
    await adaApproves(deployId);
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.structured).toMatchObject({ deployId, outcome: 'synced' });
    expect((await live())?.commit).toBe(COMMITS[0]);
  });
});
