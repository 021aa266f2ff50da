/**
 * An approval is judged before the deploy lock, and used under it. Between the two, whoever holds the
 * deployer's credentials may record another approval policy (`frontendops approvers adopt`: an
 * approver's key was lost or stolen, and the configuration no longer lists them). The approval judged
 * under the policy recorded before must not count under the one recorded now, nor its entry record
 * the policy it was judged under over the one just adopted: the change is refused, saying why, and
 * nothing is changed. The window is opened by the site's locker, given in: it records the new policy
 * just before the deploy lock is taken.
 */
import { describe, expect, it } from 'vitest';
import type { ApprovalPolicy } from '../../../src/config.ts';
import { approvalPolicyFor } from '../../../src/config.ts';
import { deployLockName } from '../../../src/deploy/deploy-lock.ts';
import type { Locker } from '../../../src/ports.ts';
import { adoptApprovalPolicy, approvalInForce } from '../../../src/state/approval-in-force.ts';
import { readAudit } from '../../../src/state/audit.ts';
import { adoptedPolicy, approverKeysFor, approveWithCli, infraWithOidcFor } from '../../support/approver.ts';
import { STACK } from '../../support/deploy-env.ts';
import { COMMITS, connectInfra } from '../../support/mcp-infra.ts';

const { f, clients } = infraWithOidcFor();
const keys = approverKeysFor(['ada', 'mallory']);

describe('the approval policy recorded while a judged approval waits for the deploy lock', () => {
  it('another policy adopted before the lock: the approval judged under the one before does not count, and records nothing', async () => {
    const owners: Partial<ApprovalPolicy> = { approvers: { Ada: keys().ada.publicKey } };
    await adoptedPolicy(f(), owners);
    const config = f().config([STACK], owners);
    const { site } = f().t;
    // Ada's key is gone: the deployer records a policy with Mallory alone, just before the lock.
    const recovery = approvalPolicyFor(
      f().config([STACK], { approvers: { Mallory: keys().mallory.publicKey } }),
      STACK,
    );
    let armed = false;
    const locker: Locker = {
      async acquire(name, options) {
        if (armed && name === deployLockName(site.target)) {
          armed = false;
          await adoptApprovalPolicy({ ...site, approval: recovery }, 'another operator', Date.now());
        }
        return site.locker.acquire(name, options);
      },
    };
    const c = await connectInfra(
      f().server({
        config,
        openSite: async () => ({
          ...site,
          locker,
          protected: true,
          approval: approvalPolicyFor(config, STACK),
        }),
      }),
    );
    clients.push(c);
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    const deployId = target.structured.deployId as string;
    await c.call('run_sync', { handle: target.structured.handle });
    const approved = await approveWithCli(f(), deployId, keys().ada.path, owners);
    expect(approved.code, approved.stderr).toBe(0);
    const before = (await readAudit(site.state, site.target.statePrefix)).length;

    armed = true;
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(armed).toBe(false);
    expect(sync.text).toMatch(/APPROVAL_REQUIRED/);
    expect(sync.text).toMatch(
      /The approval policy the audit log records for dashboard-hosting-prod changed after this approval was judged: entry \d+: another operator adopted the approval policy in frontendops\.config\.json without an approval \(`frontendops approvers adopt`\): adds approver Mallory \(ed25519:[\w-]{43}\); removes approver Ada\./,
    );
    expect(sync.text).toMatch(/Nothing was changed/);
    expect(sync.text).toMatch(/Ask for the change again: it is judged under the policy recorded now/);
    expect(await site.records.readPointer()).toBeNull();
    // The adoption is the newest entry: no approval-used entry recorded Ada's policy over it.
    const after = await readAudit(site.state, site.target.statePrefix);
    expect(after.slice(before).map((e) => e.type)).not.toContain('approval-used');
    const inForce = await approvalInForce({ ...site, approval: recovery });
    expect(Object.keys(inForce.recorded?.approvers ?? {})).toEqual(['Mallory']);
  });
});
