/**
 * Conversions from the deploy engine's records to what only the console shows (a deployment's
 * details with its audit entry, the audit status); status, history and plans are the shared read
 * models of src/read/views.ts. Named fields only, so a field added to a record later never reaches
 * the browser by accident.
 */
import type { DeployPlan } from '../engine/plan.ts';
import { type SiteVerification, uncheckedNotes, untaggedNote } from '../read/verify-site.ts';
import { type PlanViewOptions, toHistoryItem, toPlanView } from '../read/views.ts';
import type { AuditEntry } from '../state/audit.ts';
import type { DeploymentRecord } from '../state/records.ts';
import type {
  AuditEntryView,
  AuditStatusView,
  CanaryAction,
  DeploymentDetails,
  PlanAction,
  PlanView,
} from './types.ts';

export function toDeploymentDetails(
  record: DeploymentRecord,
  context: { liveDeployId: string | null; audit: AuditEntry | null; tag: string | null },
): DeploymentDetails {
  return {
    ...toHistoryItem(record, { liveDeployId: context.liveDeployId, tag: context.tag }),
    artifactDigest: record.artifactDigest,
    fromDeployId: record.fromDeployId,
    fromCommit: record.fromCommit,
    copiedFiles: [...record.copied],
    deletedFiles: [...record.deleted],
    unchanged: record.plan.unchanged,
    bytes: record.plan.bytes,
    retained: [...record.plan.retained],
    invalidation: record.invalidation && {
      paths: [...record.invalidation.paths],
      ids: [...record.invalidation.ids],
    },
    verification: record.verification && {
      ok: record.verification.ok,
      ...(record.verification.url ? { url: record.verification.url } : {}),
      attempts: record.verification.attempts,
      detail: record.verification.detail,
    },
    error: record.error ? { code: record.error.code, message: record.error.message } : null,
    audit: context.audit && toAuditEntryView(context.audit),
  };
}

export function toAuditEntryView(entry: AuditEntry): AuditEntryView {
  return { seq: entry.seq, at: entry.at, type: entry.type, hash: entry.hash, prevHash: entry.prevHash };
}

export function toAuditStatus(verification: SiteVerification): AuditStatusView {
  const { result } = verification;
  return {
    ok: result.ok,
    entries: result.entries,
    headHash: result.headHash,
    problem: result.problem ? { ...result.problem } : null,
    anchors: result.anchors,
    untagged: result.untagged && {
      deployments: [...result.untagged.deployments],
      note: untaggedNote(result.untagged),
    },
    notes: uncheckedNotes(verification),
  };
}

export const toConsolePlan = (
  plan: DeployPlan,
  action: PlanAction | CanaryAction,
  isProtected: boolean,
  /** What the dry run's run finishes (toPlanView's); a promote lifts the pin a finished rollback sets. */
  stopped: Omit<PlanViewOptions, 'liftsPin'> = {},
): PlanView => ({
  ...toPlanView(plan, isProtected, { ...stopped, liftsPin: action === 'promote' }),
  action,
});
