/**
 * The shapes of a deploy, shared by the in-place engine (apply.ts, html-guard.ts), the atomic one
 * (atomic-*.ts) and the shell around both (deploy.ts): what is asked (DeployOptions), what happens
 * meanwhile (DeployEvent) and what comes back (DeploySummary). Types only.
 */
import type { AuditHead } from '../contract/audit-head.ts';
import type { FinishedFirst } from '../engine/describe.ts';
import type { DeployIdentity, DeployPlan } from '../engine/plan.ts';
import type { StoppedChange } from '../engine/stopped-change.ts';
import type { FileGroup } from '../engine/types.ts';
import type { ApprovalUsed, HeldLock } from '../ports.ts';
import type { AuthorizeContext } from '../state/approvals.ts';
import type { PinRecord } from '../state/pin.ts';
import type { DeploymentRecord, RequestInfo } from '../state/records.ts';
import type { Verification } from './verify.ts';

export type { StoppedChange };

export type DeployEvent =
  | { type: 'plan'; plan: DeployPlan }
  | { type: 'copy'; group: FileGroup; done: number; total: number }
  | {
      type: 'step';
      step: 'pointer' | 'prune' | 'invalidate' | 'verify' | 'record' | 'rollback' | 'resume';
      detail: string;
    };

export interface ApplyOptions {
  request: RequestInfo;
  onEvent?: (event: DeployEvent) => void;
  concurrency?: number;
  verifyTimeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => Date;
  /** Sync only: copies, pointer, prune; the invalidation, verification and record come later. */
  stopBeforeInvalidation?: boolean;
  /**
   * Called under the lock with the plan about to be applied, before its first write (not for dry
   * runs or no-ops): where a change's approval is used. Throwing stops the deploy, nothing changed.
   * Returns the approval used, if any: the change's record and entry name it (DeploymentRecord and
   * AtomicPending `approval`), and `audit verify` holds the change to it. On an atomic stack the plan
   * is an AtomicPlan (its op and release pointers), which an approval binds too.
   */
  authorize?: (plan: DeployPlan, context?: AuthorizeContext) => Promise<ApprovalUsed | undefined>;
  /**
   * The deploy lock this run holds, set by whoever took it: asked right before each change another
   * holder must not interleave with (the first visible write, the switch, the prune), so a run whose
   * lock was lost stops there (LOCKED) rather than racing the one that took it over.
   */
  lock?: Pick<HeldLock, 'assertHeld'>;
  /**
   * A rollback someone asked for (not the automatic one after a failed verification): once the CDN
   * serves it, its release is pinned as part of it, before its crash-recovery record goes.
   */
  pinOnSuccess?: boolean;
  /**
   * The stack's publish log's head as the check of the build read it (deploy/live.ts publishedBuild):
   * the deployment's entry names it (`publishHead`) rather than reading it again.
   */
  publishHead?: AuditHead | null;
}

export interface ApplyResult {
  /** null when the deploy stopped before invalidation (finishDeploy writes it). */
  record: DeploymentRecord | null;
  verification: Verification | null;
  /** The audit chain's head after the record's entry (for the deploy tag, which anchors it). */
  auditHead: AuditHead | null;
  /** The pin a rollback set (pinOnSuccess). */
  pinned?: PinRecord;
}

export type { AuditHead };

export interface DeployOptions extends ApplyOptions {
  app: string;
  commit: string;
  kind?: 'deploy' | 'rollback';
  dryRun?: boolean;
  /** How long to wait for another deploy's lock (ms). */
  waitMs?: number;
  /** Roll back to the previous release when verification fails (default true). */
  rollbackOnFailure?: boolean;
  /**
   * The pin (state/pin.ts): 'respect' (default) refuses a deploy past it; 'clear' is a promote — the
   * release goes live for everyone and the pin is lifted. A rollback always pins what it made live.
   */
  pin?: 'respect' | 'clear';
  /**
   * The build as the stack recorded it when it went live (a rollback's destination): its manifest
   * must still have that digest (deploy/artifact-copy.ts assertAsDeployed).
   */
  recorded?: RecordedBuild;
}

/** A build as the stack recorded it when it went live: which deployment (when known), and its manifest's digest then. */
export interface RecordedBuild {
  deployId?: string;
  app: string;
  commit: string;
  artifactDigest: string;
  /**
   * Chosen from live.json read before the deploy lock (a rollback's destination): under the lock it
   * must still be a release the pointer the lock's check held to the audit chain keeps (keptOrRefused).
   */
  fromPointer?: true;
}

export interface DeploySummary extends DeployIdentity {
  dryRun: boolean;
  noop: boolean;
  /** "synced": copied and live, invalidation and record still to come (finishSyncedDeploy). */
  outcome: DeploymentRecord['outcome'] | 'planned' | 'noop' | 'synced';
  copied: number;
  unchanged: number;
  pruned: number;
  retained: string[];
  invalidation: { paths: string[]; ids: string[] } | null;
  verification: DeploymentRecord['verification'];
  durationMs: number;
  plan: DeployPlan;
  /** The audit chain's head after this deploy's record (null for dry runs and no-ops). */
  auditHead?: AuditHead | null;
  /** Who asked, in what words (as recorded). */
  request: RequestInfo;
  rolledBackTo?: string;
  error?: { code: string; message: string };
  /**
   * The pin this rollback set (the environment stays on this release until a promote or unpin); for a
   * deploy that finished a stopped rollback of its release (finishedInterrupted), the pin that
   * rollback set, which stays.
   */
  pinned?: PinRecord;
  /** The pin this promote lifted. */
  unpinned?: PinRecord;
  /**
   * An interrupted change (deploy, rollback or atomic operation, of whatever kind this run is) of
   * this same release that this run finished and recorded, its release already live, so this run's
   * plan was a no-op: what to tag, as that change's own run would have tagged it.
   */
  finishedInterrupted?: {
    deployId: string;
    auditHead: AuditHead;
    /** Its kind or atomic operation (StoppedChange), not this run's. */
    kind: string;
    /** Its build, as its record says (what its tag names, not this run's manifest). */
    artifactDigest: string;
    /** The commit live before it (its record's): what a rollback's tag says it took down. */
    fromCommit: string | null;
  };
  /**
   * A dry run only: the change of this same release that went live and stopped before it was
   * verified and recorded (its crash-recovery record names it), which the run finishes, with
   * nothing else to do (its plan is a no-op): what the run does, said (describeFinish).
   */
  finishes?: StoppedChange;
  /**
   * A dry run only: a change of another release that went live and stopped before it was verified and
   * recorded, which the run finishes first, then plans from what it made live (this plan): a
   * rollback's finish pins its release (pinRefusalAhead says what that refuses). Both name what the
   * run finishes: in place a run the pin refuses before it finishes anything finishes nothing, and
   * the surfaces that judge the pin for a dry run (pin-ahead.ts asItRuns) then name neither.
   */
  finishesFirst?: StoppedChange;
  /**
   * A run only, its plan not a no-op: a change of another release that went live and stopped before
   * it was verified and recorded, which this run finished and recorded first, then planned from what
   * it made live (what its dry run said: finishesFirst). Named as what it was (describeFinished),
   * with what its finish recorded where that is not succeeded (failed: the CDN did not serve it).
   */
  finishedFirst?: FinishedFirst;
  /**
   * The change finishedFirst names, where its finish succeeded and made a release live for everyone
   * (a deploy, a rollback, a canary's promote): what its deploy tag carries, as its own run would
   * have tagged it (finishedFirstTag in git/deploy-tag.ts).
   */
  finishedFirstRecord?: {
    deployId: string;
    kind: string;
    commit: string;
    artifactDigest: string;
    request: RequestInfo;
    /** The commit live before it: what a rollback's tag says it took down. */
    fromCommit: string | null;
    auditHead: AuditHead;
  };
}
