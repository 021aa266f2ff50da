/**
 * The approval policy in force for a protected stack, read from its audit chain, and the recovery that
 * records the configured one (approval-policy.ts says why approvals are held to what the log records).
 */
import { FrontendOpsError } from '../errors.ts';
import type { Site } from '../site.ts';
import {
  canonicalPolicy,
  POLICY_ADOPTED,
  type PolicyInForce,
  policyInForce,
  recordedIn,
  recordsPolicy,
} from './approval-policy.ts';
import { appendAudit, newestEntryWhere } from './audit.ts';
import type { AuditEntry } from './audit-entry.ts';

/**
 * The policy in force for a protected stack's approvals: one read of the chain from its newest
 * entry back to the newest that records a policy (the whole chain where none does).
 */
export async function approvalInForce(site: Site): Promise<PolicyInForce> {
  const entry = await newestEntryWhere(site.state, site.target.statePrefix, recordsPolicy);
  if (!entry) return policyInForce(site.approval, null);
  const recorded = recordedIn(entry);
  if ('problem' in recorded) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The audit log of ${site.target.stack} says who approves its changes in a way FrontendOps never writes (${recorded.problem}), so no approval can be held to it. Nothing was changed. Run \`frontendops audit verify --stack ${site.target.stack}\` to see what changed.`,
    );
  }
  return policyInForce(site.approval, recorded);
}

/**
 * Records the configured policy as the one the audit log holds, without an approval: what whoever
 * holds the deployer's credentials does when no recorded approver can approve any more (lost keys).
 * They can append entries anyway (docs/security.md); whoever can only change the configuration
 * cannot. `by`: who ran it, as the entry records it.
 */
export async function adoptApprovalPolicy(site: Site, by: string, now: number): Promise<AuditEntry> {
  return appendAudit(site.state, site.target.statePrefix, site.locker, {
    type: POLICY_ADOPTED,
    data: { stack: site.target.stack, by, policy: canonicalPolicy(site.approval) },
    at: new Date(now),
  });
}
