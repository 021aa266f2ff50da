/**
 * `frontendops approve <handle-or-deployId> --stack <stack>`: a person approves one planned deploy or
 * rollback of a protected stack from a terminal, for MCP clients that cannot ask (no elicitation).
 * The approval names the plan's deploy id and is recorded in the state bucket with who and when (plus
 * an audit entry); the infra server's run_sync / rollback accept it for that plan only, within an hour.
 */
import type { Command } from 'commander';
import { deployArtifact, rollbackRelease } from '../../deploy/deploy.ts';
import type { Environment } from '../../environment.ts';
import { badInput, FrontendOpsError } from '../../errors.ts';
import { type ApprovalRecord, DEPLOY_ID, recordApproval } from '../../mcp/infra-approvals.ts';
import { looksLikeHandle, readHandleClaims } from '../../mcp/infra-handles.ts';
import { describePlan } from '../../mcp/infra-schemas.ts';
import { actor, cliRequest, DEFAULT_STACK, printJson, withStack } from '../context.ts';

export interface ApproveOptions {
  /** A handle from get_deploy_target, or a deploy id (from a refusal message, plan_deploy, …). */
  ref: string;
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
export async function approveDeploy(env: Environment, options: ApproveOptions): Promise<ApproveResult> {
  const ref = options.ref.trim();
  const request = cliRequest(`approve ${ref.slice(0, 40)}`);
  let deployId: string;
  let action: 'deploy' | 'rollback' = 'deploy';
  let description: string;

  if (looksLikeHandle(ref)) {
    const claims = readHandleClaims(ref);
    if (claims.stack !== env.target.stack) {
      throw badInput(
        `This handle is for stack ${claims.stack}, not ${env.target.stack}. Run the command with --stack ${claims.stack}.`,
      );
    }
    const { plan } = await deployArtifact(env, {
      app: claims.app,
      commit: claims.commit,
      request,
      dryRun: true,
    });
    if (plan.deployId !== claims.deployId) {
      throw new FrontendOpsError(
        'CONFLICT',
        `The live release of ${env.target.stack} changed since this handle was issued, so its plan is stale. Nothing was approved. Ask the agent for a new deploy target and approve that.`,
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
    description = `deployment ${deployId} of ${env.target.stack}`;
    const rollback = await rollbackRelease(env, { request, dryRun: true }).catch(() => null);
    if (rollback?.plan.deployId === deployId) {
      action = 'rollback';
      description = describePlan(rollback.plan);
    }
  }

  const live = (await env.records.readPointer())?.value;
  if (live?.deployId === deployId || (await env.records.readRecord(deployId))) {
    throw new FrontendOpsError(
      'CONFLICT',
      `Deployment ${deployId} has already happened on ${env.target.stack}; there is nothing left to approve.`,
    );
  }
  const record = await recordApproval(env, {
    deployId,
    action,
    summary: description,
    by: options.by,
    via: 'cli',
    ...(options.now ? { now: options.now } : {}),
  });
  return { record, description };
}

export function registerApproveCommand(program: Command): void {
  program
    .command('approve')
    .description(
      'Approve a planned deploy or rollback of a protected stack (for MCP clients that cannot ask): pass the ' +
        'handle from get_deploy_target or the deploy id from the refusal message',
    )
    .argument('<handle-or-deployId>', 'the handle (fo1.…) or deploy id to approve')
    .option('--stack <ref>', 'stack name or outputs JSON file', DEFAULT_STACK)
    .option('--as <name>', 'who approves (recorded in the audit log); default: you')
    .option('--json', 'print the approval record as JSON')
    .action(async (ref: string, flags: { stack: string; as?: string; json?: boolean }) => {
      await withStack(flags.stack, async (env) => {
        const result = await approveDeploy(env, { ref, by: flags.as ?? actor() });
        if (flags.json) return printJson(result.record);
        console.log(
          `Approved: ${result.description} (deploy id ${result.record.deployId}) by ${result.record.approvedBy}, ` +
            `valid until ${result.record.expiresAt}. The agent can now call ${result.record.action === 'rollback' ? 'rollback' : 'run_sync'} again.`,
        );
      });
    });
}
