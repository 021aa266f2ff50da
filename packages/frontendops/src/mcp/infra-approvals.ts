/**
 * Human approvals for protected stacks, kept next to the deployment records in the state bucket:
 * `<statePrefix>approvals/<deployId>.json`. An approval names one deploy id — and a deploy id names
 * exactly one plan (stack, app, commit, artifact, what was live) — so approving it approves that
 * plan and nothing else. Every decision also goes to the audit chain.
 */
import { z } from 'zod';
import type { Environment } from '../environment.ts';
import { badInput } from '../errors.ts';
import { appendAudit } from '../state/audit.ts';

/** How long a recorded approval stays usable. */
export const APPROVAL_TTL_MS = 60 * 60_000;

export const DEPLOY_ID = /^[0-9a-f]{7}-[0-9a-f]{10}$/;

const approvalSchema = z.object({
  deployId: z.string(),
  stack: z.string(),
  action: z.enum(['deploy', 'rollback']),
  summary: z.string(),
  approvedBy: z.string(),
  via: z.string(),
  approvedAt: z.string(),
  expiresAt: z.string(),
});

export type ApprovalRecord = z.infer<typeof approvalSchema>;

export interface ApprovalInput {
  deployId: string;
  action: 'deploy' | 'rollback';
  /** What is approved, in words that name no bucket. */
  summary: string;
  by: string;
  /** "cli", "elicitation", "approver:<name>" */
  via: string;
  now?: () => number;
}

const approvalKey = (env: Environment, deployId: string) =>
  `${env.target.statePrefix}approvals/${deployId}.json`;

/** Records an approval (and its audit entry). Approving the same deploy id again refreshes it. */
export async function recordApproval(env: Environment, input: ApprovalInput): Promise<ApprovalRecord> {
  if (!DEPLOY_ID.test(input.deployId)) {
    throw badInput(
      `"${input.deployId.slice(0, 80)}" is not a deploy id: expected 7 hex digits, "-", 10 hex digits (e.g. 3f2c1a9-0123456789). ` +
        'Use the deploy id or the handle from get_deploy_target / the refusal message.',
    );
  }
  const at = input.now?.() ?? Date.now();
  const record: ApprovalRecord = {
    deployId: input.deployId,
    stack: env.target.stack,
    action: input.action,
    summary: input.summary,
    approvedBy: input.by,
    via: input.via,
    approvedAt: new Date(at).toISOString(),
    expiresAt: new Date(at + APPROVAL_TTL_MS).toISOString(),
  };
  await env.state.put(approvalKey(env, input.deployId), JSON.stringify(record, null, 2), {
    contentType: 'application/json',
    cacheControl: 'no-cache',
  });
  await auditDecision(env, { ...input, decision: 'approved' });
  return record;
}

/** A declined approval changes nothing but is still part of the record of what happened. */
export async function recordDecline(env: Environment, input: ApprovalInput): Promise<void> {
  await auditDecision(env, { ...input, decision: 'declined' });
}

/** The recorded, unexpired approval of this deploy id on this stack, or null. */
export async function readApproval(
  env: Environment,
  deployId: string,
  now: () => number = Date.now,
): Promise<ApprovalRecord | null> {
  const object = await env.state.get(approvalKey(env, deployId));
  if (!object) return null;
  const parsed = approvalSchema.safeParse(JSON.parse(object.body.toString('utf8')));
  if (!parsed.success) return null;
  const record = parsed.data;
  if (record.stack !== env.target.stack || record.deployId !== deployId) return null;
  return Date.parse(record.expiresAt) > now() ? record : null;
}

async function auditDecision(
  env: Environment,
  input: ApprovalInput & { decision: 'approved' | 'declined' },
): Promise<void> {
  await appendAudit(env.state, env.target.statePrefix, env.locker, {
    type: 'approval',
    data: {
      decision: input.decision,
      deployId: input.deployId,
      stack: env.target.stack,
      action: input.action,
      summary: input.summary,
      by: input.by,
      via: input.via,
    },
    at: new Date(input.now?.() ?? Date.now()),
  });
}
