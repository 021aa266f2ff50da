/**
 * A person approving an open request as `frontendops approve` does, in process: with the approver key
 * at `keyPath`, confirming whatever plan is shown. Returns what they were shown.
 */
import { loadApproverKey } from '../../src/approval/keys.ts';
import { approveRequest } from '../../src/cli/approve-deploy.ts';
import type { Site } from '../../src/site.ts';
import { type ApprovalAction, type ApprovalRequest, findStoredRequests } from '../../src/state/approvals.ts';
import { request } from './atomic-env.ts';

export async function approveShown(
  site: Site,
  keyPath: string,
  deployId: string,
  action?: ApprovalAction,
): Promise<string> {
  let shown = '';
  await approveRequest(site, {
    deployId,
    ...(action ? { action } : {}),
    request: request('approve'),
    loadKey: () => loadApproverKey(keyPath, undefined),
    confirm: async (preview) => {
      shown = preview.description;
      return true;
    },
  });
  return shown;
}

/** Every approval request stored for this deploy id, as parsed (one per action at most). */
export const findApprovalRequests = async (site: Site, deployId: string): Promise<ApprovalRequest[]> =>
  (await findStoredRequests(site, deployId)).map((read) => read.request);
