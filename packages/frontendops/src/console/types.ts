/**
 * The console's JSON API, as the browser sees it. Shared by the server (src/console/*.ts) and the UI
 * (src/console/ui/), types only. Nothing here names a bucket, an endpoint or a credential: the
 * DeployTarget stays on the server (DESIGN §1.1); the public site URL is fine to show.
 */

export interface RequestView {
  text: string;
  actor: string;
  planner: string;
  at: string;
}

export interface LiveView {
  deployId: string;
  app: string;
  commit: string;
  releasedAt: string;
  /** The deploy tag naming this deployment, when the git host is known to the console. */
  tag: string | null;
  /** The request that made this release live; null when its record is missing. */
  request: RequestView | null;
  kind: 'deploy' | 'rollback' | null;
}

export interface StatusView {
  stack: string;
  protected: boolean;
  siteUrl: string | null;
  live: LiveView | null;
  releases: { deployId: string; commit: string; releasedAt: string }[];
  /** An interrupted deploy waits to be finished. */
  pending: boolean;
  notices: string[];
}

export interface HistoryItem {
  deployId: string;
  kind: 'deploy' | 'rollback';
  app: string;
  commit: string;
  outcome: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  copied: number;
  deleted: number;
  request: RequestView;
  live: boolean;
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
  problem: { seq: number; reason: string } | null;
}

export type PlanAction = 'deploy-latest' | 'rollback';

export interface PlanView {
  action: PlanAction;
  stack: string;
  deployId: string;
  app: string;
  commit: string;
  fromCommit: string | null;
  filesToCopy: number;
  unchanged: number;
  toPrune: number;
  pathsToInvalidate: string[];
  bytesToCopy: number;
  noop: boolean;
  /** One sentence, e.g. "deploy sophia-dashboard@3f2c1a9 to dashboard-hosting-prod: 4 files to copy, …". */
  description: string;
  /** A human must confirm (always true in the console; protected stacks are named so). */
  protected: boolean;
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
  action: 'deploy' | 'rollback' | 'invalidate';
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
