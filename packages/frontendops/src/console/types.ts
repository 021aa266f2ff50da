/**
 * The console's JSON API, as the browser sees it. Shared by the server (src/console/*.ts) and the UI
 * (src/console/ui/), types only. Nothing here names a bucket, an endpoint or a credential: the
 * DeployTarget stays on the server; the public site URL is fine to show.
 */

import type { ApprovalAction } from '../ports.ts';
import type { PlanView as EnginePlanView, HistoryItem, StatusView as StackStatus } from '../read/views.ts';

export type { HistoryItem, RequestView } from '../read/views.ts';

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
}

export type PlanAction = 'deploy-latest' | 'rollback';

/** The plan read model, and which of the console's actions it is for. */
export interface PlanView extends EnginePlanView {
  action: PlanAction;
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
}

export interface ApprovalAsked {
  action: ApprovalAction;
  stack: string;
  summary: string;
  approved: boolean;
}

export interface ChatReply {
  runId: string;
  /** The agent's answer in words. */
  answer: string;
  /** Approvals the agent asked for while running; declined ones can be confirmed and asked again. */
  approvals: ApprovalAsked[];
  ok: boolean;
}

/** One message on the server-sent event stream (`GET /api/events`). */
export type ConsoleEvent =
  | { source: 'deploy'; runId: string; stack: string; event: ProgressEvent }
  | { source: 'chat'; runId: string; event: ProgressEvent };

export type ProgressEvent =
  | { type: 'plan'; plan: PlanView }
  | { type: 'copy'; group: string; done: number; total: number }
  | { type: 'step'; step: string; detail: string }
  | { type: 'agent'; detail: string }
  | { type: 'done'; outcome: string }
  | { type: 'error'; code: string; message: string };

export interface SessionView {
  stacks: string[];
  actor: string;
  chat: boolean;
}

export interface ApiError {
  error: string;
  message: string;
  plan?: PlanView;
}
