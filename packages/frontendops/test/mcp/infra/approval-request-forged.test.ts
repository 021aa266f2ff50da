/**
 * An approval request rewritten in the state bucket, attacked from there: the request object is the
 * deployer role's to write, and its entry binds it by digest. Before, `frontendops approve` showed
 * the approver whoever the object named as having asked ("the CTO asked at … to:") and signed it,
 * and the server reused such a request when the change was asked for again. Now approve refuses a
 * request the chain does not bind as read (TAMPERED, nothing signed), and the server makes a new one.
 */
import { describe, expect, it } from 'vitest';
import { verifyAudit } from '../../../src/state/audit.ts';
import {
  approversOf,
  approveWithCli,
  findApprovalRequests,
  protectedInfraFor,
} from '../../support/approver.ts';
import { COMMITS } from '../../support/mcp-infra.ts';

const infra = protectedInfraFor(['Ada']);

const policy = () => ({ approvers: approversOf(infra().keys) });
const requestKey = (deployId: string) =>
  `${infra().f.t.site.target.statePrefix}approvals/requests/deploy-${deployId}.json`;

/** `frontendops approve` as Ada runs it (approver.ts approveWithCli). */
const approve = (deployId: string) => approveWithCli(infra().f, deployId, infra().keys.Ada.path, policy());

describe('attack: an approval request rewritten to name another requester', () => {
  it('is not shown or approved, and the server asks again with a request of its own', async () => {
    const { f, c } = infra();
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const deployId = target.structured.deployId as string;
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );
    const [request] = await findApprovalRequests(f.t.site, deployId);
    if (!request) throw new Error('no request was made');
    await f.t.site.state.put(
      requestKey(deployId),
      JSON.stringify({ ...request, requestedBy: 'the CTO (release manager)' }),
      { contentType: 'application/json' },
    );
    expect((await verifyAudit(f.t.site.state, f.t.site.target.statePrefix)).ok).toBe(false);

    const refused = await approve(deployId);
    expect(refused.stderr).not.toContain('the CTO');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not what the audit log records.*Nothing was approved/s);
    expect(
      await f.t.site.state.get(`${f.t.site.target.statePrefix}approvals/signed/deploy-${deployId}.json`),
    ).toBeNull();

    // Asked again, the server does not reuse the rewritten request: a new nonce, its own requester.
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );
    const [renewed] = await findApprovalRequests(f.t.site, deployId);
    expect(renewed?.nonce).not.toBe(request.nonce);
    expect(renewed?.requestedBy).toBe(request.requestedBy);
    const approved = await approve(deployId);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stderr).toContain(`${request.requestedBy} asked at`);
  });
});
