/**
 * The small interfaces the core talks through. One adapter file per backend in src/adapters/.
 * Absence is a value (null), not an exception; failures are FrontendOpsError with a stable code.
 */
import type { ReleasePointer } from './atomic/release-pointer.ts';

export type { ReleasePointer };

// ── Object storage (S3 and anything speaking its protocol) ─────────────────────────────────────

export interface ObjectMeta {
  contentType?: string;
  cacheControl?: string;
  /** x-amz-meta-* user metadata (keys lower-case). */
  metadata?: Record<string, string>;
}

export interface ObjectHead extends ObjectMeta {
  etag: string;
  size: number;
  metadata: Record<string, string>;
}

export interface StoredObject extends ObjectHead {
  body: Buffer;
}

export interface ObjectSummary {
  key: string;
  size: number;
  etag: string;
}

/** S3 conditional writes: If-None-Match: * (create only) or If-Match: <etag> (compare-and-swap). */
export interface WriteCondition {
  ifNoneMatch?: '*';
  ifMatch?: string;
}

/** One bucket. A failed condition throws FrontendOpsError('PRECONDITION_FAILED'). */
export interface ObjectStore {
  readonly bucket: string;
  get(key: string): Promise<StoredObject | null>;
  head(key: string): Promise<ObjectHead | null>;
  put(
    key: string,
    body: Uint8Array | string,
    meta?: ObjectMeta,
    condition?: WriteCondition,
  ): Promise<{ etag: string }>;
  /** Server-side copy from another bucket of the same endpoint; headers are set explicitly (REPLACE). */
  copyFrom(source: { bucket: string; key: string }, key: string, meta: ObjectMeta): Promise<void>;
  /** Keys under `prefix` in UTF-8 binary order, after `startAfter`, at most `limit` of them. */
  list(prefix?: string, options?: { limit?: number; startAfter?: string }): Promise<ObjectSummary[]>;
  delete(keys: readonly string[]): Promise<void>;
  /** Probed once per store: does the endpoint honour If-None-Match / If-Match on PUT? */
  supportsConditionalWrites(): Promise<boolean>;
}

// ── CDN ───────────────────────────────────────────────────────────────────────────────────────

export interface InvalidationRequest {
  paths: readonly string[];
  /** Derived from the deploy id: sending the same batch again returns the same invalidation. */
  callerReference: string;
}

export interface InvalidationResult {
  id: string;
  status: string;
}

export interface Cdn {
  /** Idempotent per callerReference; waits and retries while too many invalidations are in progress. */
  invalidate(request: InvalidationRequest): Promise<InvalidationResult>;
}

// ── Stack outputs (where the infra server learns the target) ─────────────────────────────────

/** A stack's outputs as read from its source. Secret values are never decrypted: only their names. */
export interface StackOutputs {
  stack: string;
  /** Non-secret outputs, as plain JSON values. */
  outputs: Record<string, unknown>;
  /** Names of outputs that are secret; their values are never read into memory as plain text. */
  secretNames: string[];
  /** Human-readable description of the source kind, e.g. "pulumi state (file backend)". */
  source: string;
  /**
   * How to reach the target when the source itself knows (the embedded environment: its own key and
   * CDN endpoint). Never read from a stack's outputs: real stacks use the standard AWS SDK chain.
   */
  access?: SiteAccess;
}

export interface SiteAccess {
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** A CloudFront-API-compatible endpoint (the local edge). */
  cdnEndpoint?: string;
}

export interface StackSource {
  /** Throws FrontendOpsError('NOT_FOUND') for an unknown stack; never creates one. */
  readOutputs(stack: string): Promise<StackOutputs>;
}

// ── Git hosting ───────────────────────────────────────────────────────────────────────────────

export interface CommitInfo {
  sha: string;
  shortSha: string;
  message: string;
  author: string;
  date: string;
}

export interface TagInfo {
  name: string;
  /** The commit the tag points at. */
  sha: string;
  message: string;
  date?: string;
}

export interface GitHost {
  /** Newest commit on `ref` (default: the default branch / HEAD) touching `path`; null when none. */
  latestCommit(path: string, ref?: string): Promise<CommitInfo | null>;
  /** A commit by sha, short sha, tag or branch; null when unknown. */
  getCommit(ref: string): Promise<CommitInfo | null>;
  /**
   * What a release adds: commits reachable from `head` but not from `base` that touch `path`,
   * newest first, at most `limit` (default 20; `truncated` when there were more). NOT_FOUND when
   * `base` or `head` is unknown.
   */
  commitsBetween(
    base: string,
    head: string,
    path: string,
    limit?: number,
  ): Promise<{ commits: CommitInfo[]; truncated: boolean }>;
  /** Creates an annotated tag and its ref. CONFLICT when the name is taken. */
  createTag(input: { name: string; sha: string; message: string }): Promise<TagInfo>;
  /** Annotated and lightweight tags whose name starts with `prefix`. */
  listTags(prefix: string): Promise<TagInfo[]>;
}

// ── Coordination and people ───────────────────────────────────────────────────────────────────

export interface HeldLock {
  owner: string;
  release(): Promise<void>;
}

export interface Locker {
  /** Waits up to waitMs; then throws FrontendOpsError('LOCKED') naming the holder. */
  acquire(name: string, options: { owner: string; ttlMs: number; waitMs: number }): Promise<HeldLock>;
}

export type ApprovalAction = 'deploy' | 'rollback' | 'invalidate';

export interface ApprovalRequest {
  action: ApprovalAction;
  stack: string;
  /** What would happen, in words that name no bucket or secret. */
  summary: string;
  /** The planned deploy id the approval is for, when known: an approval is for this plan only. */
  deployId?: string;
}

export interface ApprovalDecision {
  approved: boolean;
  /** Who approved (or declined), and through what: "--yes", "elicitation", "console", … */
  by: string;
  via: string;
}

export interface Approver {
  approve(request: ApprovalRequest): Promise<ApprovalDecision>;
}

// ── Release pointer (atomic releases) ─────────────────────────────────────────────────────────

/** The pointer as read, with the version a conditional write must name. */
export interface ReleasePointerRead {
  /** null: no pointer yet (the edge then serves the bucket root, as before atomic releases). */
  value: ReleasePointer | null;
  /** The store's ETag when the pointer was read. */
  etag: string;
}

/**
 * Where the live (and canary) release is named: one key of a CloudFront KeyValueStore, read by the
 * viewer-request function at every edge. A write is one conditional request, so switching, rolling
 * back and promoting are atomic and lose no concurrent update.
 */
export interface ReleaseStore {
  read(): Promise<ReleasePointerRead>;
  /** Throws FrontendOpsError('PRECONDITION_FAILED') when the store changed since `ifEtag`. */
  write(value: ReleasePointer, ifEtag: string): Promise<{ etag: string }>;
  /** The secret preview links are signed with; created in the store on first use. */
  previewSecret(): Promise<string>;
}
