/**
 * What one approval covers, attacked from the state bucket and from the tools:
 * - a request whose hour was stretched in the bucket (its expiry moved to 2099) is never approved,
 *   never reused, and an approval good for more than an hour after it was signed does not count;
 * - an approval of a deploy does not let promote_release lift a pin nobody approved, nor does a
 *   GitHub job allowed to deploy make an older release live through promote_release;
 * - the approver is shown a release's promote as a promote that clears the pin.
 */
import { describe, expect, it } from 'vitest';
import { loadApproverKey, signStatement } from '../../../src/approval/keys.ts';
import type { ApprovalPolicy } from '../../../src/config.ts';
import {
  adoptedPolicy,
  approverKeysFor,
  approveWithCli,
  findApprovalRequests,
  infraWithOidcFor,
} from '../../support/approver.ts';
import { ARTIFACTS, STACK } from '../../support/deploy-env.ts';
import { COMMITS, connectInfra, type InfraClient } from '../../support/mcp-infra.ts';

const { f, oidc, clients } = infraWithOidcFor();
const keys = approverKeysFor(['Ada']);

const policy = (extra: Partial<ApprovalPolicy> = {}) => ({
  approvers: { Ada: keys().Ada.publicKey },
  ...extra,
});
async function client(approval: Partial<ApprovalPolicy> = policy(), env?: Record<string, string>) {
  const c = await connectInfra(
    f().server({ config: f().config([STACK], approval), ...(env ? { env } : {}) }),
  );
  clients.push(c);
  return c;
}
const live = async () => (await f().t.site.records.readPointer())?.value ?? null;
const requestKey = (action: string, deployId: string) =>
  `${f().t.site.target.statePrefix}approvals/requests/${action}-${deployId}.json`;

/** `frontendops approve` as Ada runs it (approver.ts approveWithCli). */
const approve = (deployId: string, extra: string[] = []) =>
  approveWithCli(f(), deployId, keys().Ada.path, policy(), extra);

async function deployApproved(c: InfraClient, commit: string) {
  const target = await c.call('get_deploy_target', { commit });
  const deployId = target.structured.deployId as string;
  expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(/APPROVAL_REQUIRED/);
  expect((await approve(deployId)).code).toBe(0);
  const sync = await c.call('run_sync', { handle: target.structured.handle });
  expect(sync.structured.outcome, sync.text).toBe('synced');
  await c.call('invalidate_cdn', { deployId });
}

describe('attack: an approval request stretched in the state bucket', () => {
  it('is not approved, not reused, and a signature over the stretched hour does not count', async () => {
    const c = await client();
    await deployApproved(c, COMMITS[0]);
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const deployId = target.structured.deployId as string;
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );
    const [request] = await findApprovalRequests(f().t.site, deployId);
    if (!request) throw new Error('no request was made');
    const stretched = { ...request, expiresAt: '2099-01-01T00:00:00.000Z' };
    const store = f().t.s3.store(ARTIFACTS);
    await store.put(requestKey('deploy', deployId), JSON.stringify(stretched));

    const refused = await approve(deployId);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /was changed after the server wrote it: it runs from .* to 2099-01-01T00:00:00\.000Z, not the one hour the server gives a request\. Nothing was approved/,
    );
    expect(
      await store.get(`${f().t.site.target.statePrefix}approvals/signed/deploy-${deployId}.json`),
    ).toBeNull();

    // Ada's real key over the stretched request (as a fooled or older tool would sign it).
    const statement = {
      v: 1,
      stack: STACK,
      action: 'deploy',
      deployId,
      nonce: request.nonce,
      expiresAt: stretched.expiresAt,
      approver: 'Ada',
      publicKey: keys().Ada.publicKey,
      signedAt: new Date().toISOString(),
    };
    const signature = signStatement(await loadApproverKey(keys().Ada.path, undefined), statement);
    await store.put(
      `${f().t.site.target.statePrefix}approvals/signed/deploy-${deployId}.json`,
      JSON.stringify({ statement, signature }),
    );
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.text).toMatch(/APPROVAL_REQUIRED.*it answers another request/s);
    // The server made a new request (a new nonce, its own hour) rather than reuse the stretched one.
    const [renewed] = await findApprovalRequests(f().t.site, deployId);
    expect(renewed?.nonce).not.toBe(request.nonce);
    expect(Date.parse(renewed?.expiresAt ?? '') - Date.parse(renewed?.requestedAt ?? '')).toBe(3_600_000);
    // The same signature with the renewed request stretched to match it: more than an hour after signing.
    await store.put(
      requestKey('deploy', deployId),
      JSON.stringify({ ...renewed, expiresAt: stretched.expiresAt }),
    );
    const statement2 = { ...statement, nonce: renewed?.nonce as string };
    await store.put(
      `${f().t.site.target.statePrefix}approvals/signed/deploy-${deployId}.json`,
      JSON.stringify({
        statement: statement2,
        signature: signStatement(await loadApproverKey(keys().Ada.path, undefined), statement2),
      }),
    );
    const again = await c.call('run_sync', { handle: target.structured.handle });
    expect(again.text).toMatch(/APPROVAL_REQUIRED/);
    expect((await live())?.commit).toBe(COMMITS[0]);
  });
});

describe('a release promote is its own approval', () => {
  it("a deploy's approval does not lift a pin; the approver sees the promote and the pin; then it lands once", async () => {
    const c = await client();
    // Ada approves a deploy of COMMITS[1] (no pin then); someone pins; the promote of the same plan.
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const deployId = target.structured.deployId as string;
    await c.call('run_sync', { handle: target.structured.handle });
    expect((await approve(deployId, ['--action', 'deploy'])).code).toBe(0);
    expect((await c.call('pin_release', { reason: 'freeze' })).isError).toBe(false);
    const promote = await c.call('promote_release', { to: COMMITS[1] });
    expect(promote.isError).toBe(true);
    expect(promote.text).toMatch(/APPROVAL_REQUIRED/);
    expect(promote.text).toContain(`frontendops approve ${deployId}`);
    expect((await live())?.commit).toBe(COMMITS[0]);

    const shown = await approve(deployId, ['--action', 'promote']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stderr).toMatch(/promote: .*; the pin \([0-9a-f]{7}, by .*\) is cleared/);
    const done = await c.call('promote_release', { to: COMMITS[1] });
    expect(done.structured).toMatchObject({ outcome: 'succeeded', commit: COMMITS[1] });
    expect(done.structured.unpinned).not.toBeNull();
  });

  it('a GitHub job allowed to deploy cannot promote an older release; one allowed to promote can', async () => {
    const github = (actions: Array<'deploy' | 'promote'>) => ({
      approvers: {},
      github: {
        repository: 'sophia/dashboard',
        environment: 'production',
        actions,
        issuer: oidc().issuer,
        audience: 'frontendops',
      },
    });
    const job = (run: string) =>
      oidc().job({ repository: 'sophia/dashboard', environment: 'production', run_id: run });
    // The stack's earlier approvals recorded another policy: the deployer adopts one whose job may promote.
    await adoptedPolicy(f(), github(['deploy', 'promote']));
    const deployOnly = await client(github(['deploy']), job('91'));
    const older = await deployOnly.call('promote_release', { to: COMMITS[0] });
    expect(older.text).toMatch(/APPROVAL_REQUIRED.*covers deploy, not promote/s);
    expect((await live())?.commit).toBe(COMMITS[1]);

    const promoter = await client(github(['deploy', 'promote']), job('92'));
    const back = await promoter.call('promote_release', { to: COMMITS[0] });
    expect(back.structured).toMatchObject({ outcome: 'succeeded', commit: COMMITS[0] });
  });
});
