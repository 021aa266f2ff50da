/**
 * `frontendops approve <handle-or-deployId> --stack <stack>`: a person approves one planned deploy or
 * rollback of a protected stack from a terminal, for MCP clients that cannot ask (no elicitation).
 * The approval names the plan's deploy id and is recorded in the state bucket with who and when (plus
 * an audit entry); the infra server's run_sync / rollback accept it for that plan only, within an hour.
 */
import { deployArtifact, rollbackRelease } from '../deploy/deploy.ts';
import { describePlan } from '../engine/describe.ts';
import { DEPLOY_ID } from '../engine/ids.ts';
import { badInput, FrontendOpsError } from '../errors.ts';
import { looksLikeHandle, readHandleClaims } from '../mcp/infra/handles.ts';
import type { Site } from '../site.ts';
import { type ApprovalRecord, recordApproval } from '../state/approvals.ts';
import type { RequestInfo } from '../state/records.ts';

export interface ApproveOptions {
  /** A handle from get_deploy_target, or a deploy id (from a refusal message, plan_deploy, …). */
  ref: string;
  request: RequestInfo;
  /** Who approves; recorded. */
  by: string;
  now?: () => number;
}

export interface ApproveResult {
  record: ApprovalRecord;
  /** What was approved, e.g. "sync sophia-dashboard@3f2c1a9 to dashboard-hosting-prod: 4 files to copy, …" */
  description: string;
}

/**
 * Records the approval. A handle is checked against what is live now (a stale plan is refused); a
 * deploy id that already went live is refused. The handle's signature is not checked here (the
 * server's secret stays in the server): run_sync checks it, and the approval only names a deploy id.
 */
export async function approveDeploy(site: Site, options: ApproveOptions): Promise<ApproveResult> {
  const ref = options.ref.trim();
  const { request } = options;
  let deployId: string;
  let action: 'deploy' | 'rollback' = 'deploy';
  let description: string;

  if (looksLikeHandle(ref)) {
    const claims = readHandleClaims(ref);
    if (claims.stack !== site.target.stack) {
      throw badInput(
        `This handle is for stack ${claims.stack}, not ${site.target.stack}. Run the command with --stack ${claims.stack}.`,
      );
    }
    const { plan } = await deployArtifact(site, {
      app: claims.app,
      commit: claims.commit,
      request,
      dryRun: true,
    });
    if (plan.deployId !== claims.deployId) {
      throw new FrontendOpsError(
        'CONFLICT',
        `The live release of ${site.target.stack} changed since this handle was issued, so its plan is stale. Nothing was approved. Ask the agent for a new deploy target and approve that.`,
      );
    }
    deployId = claims.deployId;
    description = describePlan(plan);
  } else {
    if (!DEPLOY_ID.test(ref)) {
      throw badInput(
        `"${ref.slice(0, 80)}" is neither a handle (fo1.…) nor a deploy id (e.g. 3f2c1a9-0123456789). Pass the handle or deploy id named in the refusal message.`,
      );
    }
    deployId = ref;
    description = `deployment ${deployId} of ${site.target.stack}`;
    const rollback = await rollbackRelease(site, { request, dryRun: true }).catch(() => null);
    if (rollback?.plan.deployId === deployId) {
      action = 'rollback';
      description = describePlan(rollback.plan);
    }
  }

  const live = (await site.records.readPointer())?.value;
  if (live?.deployId === deployId || (await site.records.readRecord(deployId))) {
    throw new FrontendOpsError(
      'CONFLICT',
      `Deployment ${deployId} has already happened on ${site.target.stack}; there is nothing left to approve.`,
    );
  }
  const record = await recordApproval(site, {
    deployId,
    action,
    summary: description,
    by: options.by,
    via: 'cli',
    ...(options.now ? { now: options.now } : {}),
  });
  return { record, description };
}
