/**
 * Human approvals for protected stacks, kept next to the deployment records in the state bucket:
 * `<statePrefix>approvals/<deployId>.json`. An approval names one deploy id — and a deploy id names
 * exactly one plan (stack, app, commit, artifact, what was live) — so approving it approves that
 * plan and nothing else. Every decision also goes to the audit chain.
 */
import { z } from 'zod';
import { DEPLOY_ID } from '../engine/ids.ts';
import { badInput } from '../errors.ts';
import type { Site } from '../site.ts';
import { appendAudit } from './audit.ts';

/** How long a recorded approval stays usable. */
export const APPROVAL_TTL_MS = 60 * 60_000;

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

const approvalKey = (site: Site, deployId: string) => `${site.target.statePrefix}approvals/${deployId}.json`;

/** Records an approval (and its audit entry). Approving the same deploy id again refreshes it. */
export async function recordApproval(site: Site, input: ApprovalInput): Promise<ApprovalRecord> {
  if (!DEPLOY_ID.test(input.deployId)) {
    throw badInput(
      `"${input.deployId.slice(0, 80)}" is not a deploy id: expected 7 hex digits, "-", 10 hex digits (e.g. 3f2c1a9-0123456789). ` +
        'Use the deploy id or the handle from get_deploy_target / the refusal message.',
    );
  }
  const at = input.now?.() ?? Date.now();
  const record: ApprovalRecord = {
    deployId: input.deployId,
    stack: site.target.stack,
    action: input.action,
    summary: input.summary,
    approvedBy: input.by,
    via: input.via,
    approvedAt: new Date(at).toISOString(),
    expiresAt: new Date(at + APPROVAL_TTL_MS).toISOString(),
  };
  await site.state.put(approvalKey(site, input.deployId), JSON.stringify(record, null, 2), {
    contentType: 'application/json',
    cacheControl: 'no-cache',
  });
  await auditDecision(site, { ...input, decision: 'approved' });
  return record;
}

/** A declined approval changes nothing but is still part of the record of what happened. */
export async function recordDecline(site: Site, input: ApprovalInput): Promise<void> {
  await auditDecision(site, { ...input, decision: 'declined' });
}

/** The recorded, unexpired approval of this deploy id on this stack, or null. */
export async function readApproval(
  site: Site,
  deployId: string,
  now: () => number = Date.now,
): Promise<ApprovalRecord | null> {
  const object = await site.state.get(approvalKey(site, deployId));
  if (!object) return null;
  const parsed = approvalSchema.safeParse(JSON.parse(object.body.toString('utf8')));
  if (!parsed.success) return null;
  const record = parsed.data;
  if (record.stack !== site.target.stack || record.deployId !== deployId) return null;
  return Date.parse(record.expiresAt) > now() ? record : null;
}

async function auditDecision(
  site: Site,
  input: ApprovalInput & { decision: 'approved' | 'declined' },
): Promise<void> {
  await appendAudit(site.state, site.target.statePrefix, site.locker, {
    type: 'approval',
    data: {
      decision: input.decision,
      deployId: input.deployId,
      stack: site.target.stack,
      action: input.action,
      summary: input.summary,
      by: input.by,
      via: input.via,
    },
    at: new Date(input.now?.() ?? Date.now()),
  });
}
