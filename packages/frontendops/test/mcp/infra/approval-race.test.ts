/**
 * Two approvers answer one request at about the same time, as happens when a request is posted to a
 * team channel: both run `frontendops approve`, both read the plan, both say yes. Each checked that
 * nobody had approved it yet before showing the plan, so the check must hold again when the answer
 * is written. Both answers used to be recorded, and `audit verify` then reported the second record
 * of one approval as tampered, for good: the chain is append-only.
 */
import { describe, expect, it } from 'vitest';
import { loadApproverKey } from '../../../src/approval/keys.ts';
import { approveRequest } from '../../../src/cli/approve-deploy.ts';
import { isFrontendOpsError } from '../../../src/errors.ts';
import { readAudit, verifyAudit } from '../../../src/state/audit.ts';
import { approversOf, protectedInfraFor } from '../../support/approver.ts';
import { request } from '../../support/atomic-env.ts';
import { COMMITS } from '../../support/mcp-infra.ts';

const infra = protectedInfraFor(['Ada', 'Bob']);

const entries = () => readAudit(infra().f.t.site.state, infra().f.t.site.target.statePrefix);

describe('two approvers answering one request at once', () => {
  it('one approval is recorded and used; the other approver is told who approved it, and nothing else is recorded', async () => {
    const { f, c, site, keys } = infra();
    const approvers = approversOf(keys);
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    const deployId = target.structured.deployId as string;
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );

    // Each is shown the plan, and says yes only once both have been shown it.
    let shown = 0;
    let bothShown = () => {};
    const together = new Promise<void>((resolve) => {
      bothShown = resolve;
    });
    const approveAs = (who: 'Ada' | 'Bob') =>
      approveRequest(site, {
        deployId,
        request: request(`approve as ${who}`),
        loadKey: () => loadApproverKey(keys[who].path, undefined),
        confirm: async () => {
          if (++shown === 2) bothShown();
          await together;
          return true;
        },
      });
    const answers = await Promise.allSettled([approveAs('Ada'), approveAs('Bob')]);

    expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    const refused = answers.find((a) => a.status === 'rejected')?.reason;
    expect(isFrontendOpsError(refused, 'CONFLICT'), String(refused)).toBe(true);
    const given = (await entries()).filter((e) => e.type === 'approval' && e.data.deployId === deployId);
    expect(given).toHaveLength(1);
    expect((refused as Error).message).toMatch(
      new RegExp(`is already approved, by ${given[0]?.data.by}\\b.*Nothing more to approve`),
    );
    expect((await verifyAudit(f.t.site.state, f.t.site.target.statePrefix, { approvers })).problems).toEqual(
      [],
    );

    // The one approval recorded is the one the change then uses.
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.isError, sync.text).toBe(false);
    const used = (await entries()).filter((e) => e.type === 'approval-used' && e.data.deployId === deployId);
    expect(used).toHaveLength(1);
    expect(String(used[0]?.data.by)).toMatch(new RegExp(`^${given[0]?.data.by} \\(approver key `));
    expect((await verifyAudit(f.t.site.state, f.t.site.target.statePrefix, { approvers })).problems).toEqual(
      [],
    );
  });
});
