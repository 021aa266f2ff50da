/**
 * The console's JSON API, as the browser sees it. Shared by the server (src/console/*.ts) and the UI
 * (src/console/ui/): types, and the few constants both sides read. Nothing here names a bucket, an
 * endpoint or a credential: the DeployTarget stays on the server; the public site URL is fine to show.
 */

import type { StoppedChange } from '../deploy/types.ts';
import type { ApprovalAction } from '../ports.ts';
import type {
  PlanView as EnginePlanView,
  HistoryItem,
  PinView,
  ReleaseCommits,
  StatusView as StackStatus,
} from '../read/views.ts';

export type {
  CommitView,
  HistoryItem,
  PinView,
  PlanContents,
  PolicyChangeItem,
  ReleaseCommits,
  RequestView,
} from '../read/views.ts';

export type LiveView = NonNullable<StackStatus['live']>;

/** What the console shows of a stack: the status read model, and notes for the operator. */
export interface StatusView extends StackStatus {
  notices: string[];
}

export interface AuditEntryView {
  seq: number;
  at: string;
  type: string;
  hash: string;
  prevHash: string;
}

export interface DeploymentDetails extends HistoryItem {
  artifactDigest: string;
  fromDeployId: string | null;
  fromCommit: string | null;
  copiedFiles: string[];
  deletedFiles: string[];
  unchanged: number;
  bytes: number;
  retained: string[];
  invalidation: { paths: string[]; ids: string[] } | null;
  verification: { ok: boolean; url?: string; attempts: number; detail: string } | null;
  error: { code: string; message: string } | null;
  tag: string | null;
  audit: AuditEntryView | null;
}

export interface AuditStatusView {
  ok: boolean;
  entries: number;
  headHash: string | null;
  /** The first problem: what kind, which entry or state object, why. */
  problem: {
    kind: 'tampered' | 'damaged' | 'unfinished';
    seq?: number;
    object?: string;
    reason: string;
  } | null;
  /** Deploy tags the chain was checked against. */
  anchors: number;
  /**
   * Deployments after the newest entry the deploy tags anchor, with no tag of their own: checked, but
   * against the state bucket alone (verify's note, in its words). It does not fail verify.
   */
  untagged: { deployments: number[]; note: string } | null;
  /** What verify could not check (approvals it could not hold against a signature or the configuration, an unread release store): none fails it. */
  notes: string[];
}

/**
 * deploy-latest: the newest published build; rollback: back to a retained release (default the
 * previous one; it pins); redeploy: any release of the history, again; promote: a release (default the
 * latest) live for everyone, the pin cleared.
 */
export type PlanAction = 'deploy-latest' | 'rollback' | 'redeploy' | 'promote';

/**
 * Atomic stacks only: canary-start sends a share of visitors (1–99 %) to a build first;
 * canary-promote makes the canary live for everyone; canary-abort sends everyone back to the live
 * release. Each is one key write at the edge, nothing to invalidate.
 */
export type CanaryAction = 'canary-start' | 'canary-promote' | 'canary-abort';

/** The plan read model, which of the console's actions it is for, and what a person decides on. */
export interface PlanView extends EnginePlanView {
  action: PlanAction | CanaryAction;
  /** The release named (a deploy id or commit), for rollback / redeploy / promote to a chosen one. */
  to?: string;
  /** The commits since the live release (or leaving with a rollback), from the git host. */
  commits?: ReleaseCommits;
  /** The stack's pin, when there is one. */
  pin?: PinView | null;
  /**
   * The stopped change (of this release, live, not yet verified nor recorded) that the run finishes,
   * with nothing else to do (DeploySummary finishes): what the description then says.
   */
  finishes?: StoppedChange;
  /**
   * The stopped change of another release that the run finishes first, before this plan
   * (DeploySummary finishesFirst): the description says it, and refusedBy what that finish refuses.
   */
  finishesFirst?: StoppedChange;
}

/** What the POST actions return. */
export interface ActionResult {
  runId: string;
  deployId: string;
  outcome: string;
  commit: string;
  copied: number;
  pruned: number;
  invalidation: { paths: string[]; ids: string[] } | null;
  verification: { ok: boolean; detail: string } | null;
  durationMs: number;
  error: { code: string; message: string } | null;
  /** The deploy tag made for this change (null: none, e.g. nothing changed or no git repository). */
  tag: string | null;
  /**
   * The interrupted change (of whatever kind) of this release that this run finished, its own plan
   * a no-op: the one the tag is of (DeploySummary finishedInterrupted).
   */
  finishedInterrupted?: string;
  /**
   * A stopped change of another release this run finished and recorded before its own change, as
   * its plan said (finishesFirst): its deploy id (DeploySummary finishedFirst).
   */
  finishedFirst?: string;
  /** The deploy tag made for that stopped change (finishedFirst), as its own run would have made it. */
  finishedFirstTag?: string;
  /** A rollback (this one, or the stopped one this run finished) pinned the stack to what it made live. */
  pinned: boolean;
  /** A promote lifted the pin. */
  unpinned: boolean;
  /**
   * The switch back's deploy id where the CDN did not serve this change in time and the release
   * live before it is live again (DeploySummary rolledBackTo); null: none.
   */
  rolledBackTo: string | null;
}

/** What POST /api/canary/start, /promote and /abort answer. */
export interface CanaryResult {
  runId: string;
  stack: string;
  action: CanaryAction;
  /** The canary's deploy id: the deployment it becomes when promoted. */
  deployId: string;
  app: string;
  commit: string;
  /** succeeded, failed, noop (already so: nothing changed). */
  outcome: string;
  /** The share of visitors on the canary afterwards; null: no canary runs any more. */
  percent: number | null;
  copied: number;
  pruned: number;
  verification: { ok: boolean; detail: string } | null;
  durationMs: number;
  error: { code: string; message: string } | null;
  /** The deploy tag (a promote, which makes a release live for everyone); null otherwise. */
  tag: string | null;
  /**
   * The switch back's deploy id where the CDN did not serve this step in time: a promote is switched
   * back to the release live before it, a start ends the canary (DeploySummary rolledBackTo); null: none.
   */
  rolledBackTo: string | null;
}

/** What POST /api/preview answers, to the one who asked (status lists open previews without the link). */
export interface PreviewResult {
  stack: string;
  app: string;
  commit: string;
  /** The deployment the release was chosen by, when one was named. */
  deployId: string | null;
  /** The signed link: the site's address with a token that shows this release until expiresAt. */
  url: string;
  expiresAt: string;
  /** Files uploaded to make the release servable again (0 when it was in place). */
  copied: number;
  verification: { ok: boolean; detail: string } | null;
}

/** What pin / unpin answer. */
export interface PinResult {
  stack: string;
  /** The pin now (after pin), or the one lifted (after unpin); null: there was none. */
  pin: PinView | null;
  /** false: nothing changed (already pinned, or not pinned). */
  changed: boolean;
}

export interface ApprovalAsked {
  action: ApprovalAction;
  stack: string;
  summary: string;
  approved: boolean;
  /** The plan the approval is for (a deploy id), when the agent knew it. */
  deployId?: string;
}

/** A plan the agent needs confirmed: the page shows it with one button, bound to this deploy id. */
export interface ChatConfirm {
  action: ApprovalAction;
  stack: string;
  summary: string;
  deployId: string;
}

export interface ChatReply {
  runId: string;
  /** The agent's answer in words. */
  answer: string;
  /** Approvals the agent asked for while running. */
  approvals: ApprovalAsked[];
  ok: boolean;
  /** The plan waiting for the person's confirmation (send the same words with confirm.deployId). */
  confirm: ChatConfirm | null;
  /** Set when a confirmation was sent but the agent now plans something else (e.g. a newer build): that plan is `confirm`. */
  replaced: string | null;
}

/** One message on the server-sent event stream (`GET /api/events`). */
export type ConsoleEvent =
  | { source: 'deploy'; runId: string; stack: string; event: ProgressEvent }
  | { source: 'chat'; runId: string; event: ProgressEvent };

/** `headline` is for people; `detail` is the engine's words, shown one click away. */
export type ProgressEvent =
  | { type: 'plan'; plan: PlanView; headline?: string }
  | { type: 'copy'; group: string; done: number; total: number; headline?: string }
  | { type: 'step'; step: string; detail: string; headline?: string }
  | { type: 'agent'; detail: string; headline?: string }
  /** `headline`: what a run that finished a stopped change, with nothing else to do, did (doneEvent). */
  | { type: 'done'; outcome: string; headline?: string }
  | { type: 'error'; code: string; message: string };

export interface SessionView {
  stacks: string[];
  actor: string;
  chat: boolean;
  /** Why the chat is off, in words for the page (when `chat` is false). */
  chatReason: string | null;
}

export interface ApiError {
  error: string;
  message: string;
  plan?: PlanView;
}

/** The meta element a signed-in page finds its new session's id in (static.ts serveIndex; ui/api.ts adoptSession). */
export const SESSION_META = 'frontendops-session';

/**
 * How long a browser session lasts without signing in again: kept by the server (auth.ts
 * createSessions) and said by the page (ui/format.ts sessionLifetime), which cannot import auth.ts.
 */
export const SESSION_TTL_MS = 12 * 60 * 60_000;
