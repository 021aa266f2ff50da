/**
 * The approval policy in force for a protected stack, read from its audit chain, and the recovery that
 * records the configured one (approval-policy.ts says why approvals are held to what the log records).
 */

import { anchorRecorded } from '../atomic/anchored-head.ts';
import type { ApprovalPolicy } from '../config.ts';
import { acquireDeployLock } from '../deploy/deploy-lock.ts';
import { alsoSaying, FrontendOpsError, holding, isFrontendOpsError } from '../errors.ts';
import type { Site } from '../site.ts';
import {
  adoptedWords,
  canonicalPolicy,
  POLICY_ADOPTED,
  type PolicyInForce,
  policyInForce,
  recordedIn,
  recordsPolicy,
} from './approval-policy.ts';
import { appendAudit, approvalUseOnChain, assertChainHoldsAnchor, newestEntryWhere } from './audit.ts';
import type { AuditEntry } from './audit-entry.ts';

/**
 * The policy in force for a protected stack's approvals: one read of the chain from its newest
 * entry back to the newest that records a policy (the whole chain where none does).
 */
export async function approvalInForce(site: Site): Promise<PolicyInForce> {
  return policyInForce(site.approval, (await newestRecorded(site))?.policy ?? null);
}

/** The chain's newest entry recording a policy, and that policy; null: none does. */
async function newestRecorded(site: Site): Promise<{ entry: AuditEntry; policy: ApprovalPolicy } | null> {
  return recordedBy(site, await newestEntryWhere(site.state, site.target.statePrefix, recordsPolicy));
}

/** The policy `entry` (the chain's newest recording one; null: none does) records; TAMPERED where it is not one. */
function recordedBy(
  site: Site,
  entry: AuditEntry | null,
): { entry: AuditEntry; policy: ApprovalPolicy } | null {
  if (!entry) return null;
  const policy = recordedIn(entry);
  if ('problem' in policy) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The audit log of ${site.target.stack} says who approves its changes in a way FrontendOps never writes (${policy.problem}), so no approval can be held to it. Nothing was changed. Run \`frontendops audit verify --stack ${site.target.stack}\` to see what changed, and restore entry ${entry.seq} from the bucket's versions.`,
    );
  }
  return { entry, policy };
}

/**
 * Under the deploy lock, before an approval judged without it is used: the chain still records the
 * policy it was judged under (`judged`), or the one the use records (`records`, canonical: then what
 * is in force now accepts all the judged one did, and recording it again changes nothing); else
 * APPROVAL_REQUIRED saying what was recorded since (another operator's `approvers adopt`, another
 * change's approval that adopted one), with nothing changed. Asked again, the change is judged under
 * the policy recorded now. Returns the entry recording an earlier use of the approval `nonce` names
 * (approvalUseOnChain; null: none), found in the same walk of the chain.
 */
export async function assertRecordedAsJudged(
  site: Site,
  judged: PolicyInForce,
  records: ApprovalPolicy,
  nonce: string,
): Promise<AuditEntry | null> {
  const found = await approvalUseOnChain(site.state, site.target.statePrefix, nonce, recordsPolicy);
  const now = recordedBy(site, found.also);
  const recorded = JSON.stringify(now?.policy ?? null);
  if (recorded === JSON.stringify(judged.recorded) || recorded === JSON.stringify(records)) return found.used;
  const since = now
    ? `entry ${now.entry.seq}: ${adoptedWords(now.entry, judged.recorded, now.policy) ?? 'it records another one.'}`
    : 'no entry records one any more.';
  throw new FrontendOpsError(
    'APPROVAL_REQUIRED',
    `The approval policy the audit log records for ${site.target.stack} changed after this approval was judged: ${since} The approval was judged under the one recorded before, so it does not count now. Nothing was changed. Ask for the change again: it is judged under the policy recorded now.`,
  );
}

/**
 * Records the configured policy as the one the audit log holds, without an approval: what whoever
 * holds the deployer's credentials does when no recorded approver can approve any more (lost keys).
 * They can append entries anyway (docs/security.md); whoever can only change the configuration
 * cannot. `by`: who ran it, as the entry records it.
 *
 * Under the stack's deploy lock (waiting up to `waitMs` for a change under way): a change's check of
 * the policy recorded, its approval's use and, on an atomic stack, the head it anchors after that use
 * come between none of the adoption's steps, so neither anchors an older head over the other's.
 */
export async function adoptApprovalPolicy(
  site: Site,
  by: string,
  now: number,
  options: { waitMs?: number } = {},
): Promise<AuditEntry> {
  const lock = await acquireDeployLock(site, by, options.waitMs).catch((error: unknown) => {
    throw isFrontendOpsError(error, 'LOCKED')
      ? alsoSaying(error, 'The approval policy was not adopted: nothing was changed.')
      : error;
  });
  return holding(lock, async () => {
    // On an atomic stack, anchored where whoever can write only the state bucket cannot cut it.
    const { releases } = site;
    const read = site.mode === 'atomic' && releases ? await releases.read() : null;
    // A chain cut back past the head anchored there (an approval's use gone, to spend it again) is
    // refused, as a change refuses it: the adoption's anchor would vouch for the cut.
    if (read)
      await assertChainHoldsAnchor(site.state, site.target.statePrefix, site.target.stack, read.auditHead);
    const entry = await appendAudit(site.state, site.target.statePrefix, site.locker, {
      type: POLICY_ADOPTED,
      data: { stack: site.target.stack, by, policy: canonicalPolicy(site.approval) },
      at: new Date(now),
    });
    if (read && releases) {
      await anchorRecorded(releases, entry, read, {
        recorded: 'The adoption',
        unanchored: 'until an approval is next used there, only the state bucket holds it.',
      });
    }
    return entry;
  });
}
