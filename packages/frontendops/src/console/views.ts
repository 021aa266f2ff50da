/**
 * Pure conversions from the deploy engine's records to what the console shows. They copy named
 * fields only, so a field added to a record later (say, one holding a bucket name) never reaches
 * the browser by accident.
 */
import type { DeployPlan } from '../engine/plan.ts';
import type { AuditEntry, AuditVerification } from '../state/audit.ts';
import type { DeploymentRecord, LivePointer, RequestInfo } from '../state/records.ts';
import type {
  AuditEntryView,
  AuditStatusView,
  DeploymentDetails,
  HistoryItem,
  LiveView,
  PlanAction,
  PlanView,
  RequestView,
} from './types.ts';

export function toRequestView(request: RequestInfo): RequestView {
  return { text: request.text, actor: request.actor, planner: request.planner, at: request.at };
}

export function toLiveView(
  pointer: LivePointer,
  record: DeploymentRecord | null,
  tag: string | null,
): LiveView {
  return {
    deployId: pointer.deployId,
    app: pointer.app,
    commit: pointer.commit,
    releasedAt: pointer.releasedAt,
    tag,
    request: record ? toRequestView(record.request) : null,
    kind: record?.kind ?? null,
  };
}

export function toHistoryItem(record: DeploymentRecord, liveDeployId: string | null): HistoryItem {
  return {
    deployId: record.deployId,
    kind: record.kind,
    app: record.app,
    commit: record.commit,
    outcome: record.outcome,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    durationMs: record.durationMs,
    copied: record.copied.length,
    deleted: record.deleted.length,
    request: toRequestView(record.request),
    live: record.deployId === liveDeployId,
  };
}

export function toDeploymentDetails(
  record: DeploymentRecord,
  context: { liveDeployId: string | null; audit: AuditEntry | null; tag: string | null },
): DeploymentDetails {
  return {
    ...toHistoryItem(record, context.liveDeployId),
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
    tag: context.tag,
    audit: context.audit && toAuditEntryView(context.audit),
  };
}

export function toAuditEntryView(entry: AuditEntry): AuditEntryView {
  return { seq: entry.seq, at: entry.at, type: entry.type, hash: entry.hash, prevHash: entry.prevHash };
}

export function toAuditStatus(result: AuditVerification): AuditStatusView {
  return {
    ok: result.ok,
    entries: result.entries,
    headHash: result.headHash,
    problem: result.problem ? { ...result.problem } : null,
  };
}

export function toPlanView(plan: DeployPlan, action: PlanAction, isProtected: boolean): PlanView {
  const short = plan.commit.slice(0, 7);
  const verb = action === 'rollback' ? 'roll back' : 'deploy';
  const description = plan.noop
    ? `${plan.app}@${short} is already live on ${plan.stack}: nothing to do`
    : `${verb} ${plan.app}@${short} to ${plan.stack}${plan.fromCommit ? ` (live: ${plan.fromCommit.slice(0, 7)})` : ''}: ` +
      `${count(plan.copies.length, 'file')} to copy, ${count(plan.prune.length, 'object')} to prune, ` +
      `${count(plan.invalidationPaths.length, 'path')} to invalidate`;
  return {
    action,
    stack: plan.stack,
    deployId: plan.deployId,
    app: plan.app,
    commit: plan.commit,
    fromCommit: plan.fromCommit,
    filesToCopy: plan.copies.length,
    unchanged: plan.unchanged,
    toPrune: plan.prune.length,
    pathsToInvalidate: [...plan.invalidationPaths],
    bytesToCopy: plan.bytesToCopy,
    noop: plan.noop,
    description,
    protected: isProtected,
  };
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
