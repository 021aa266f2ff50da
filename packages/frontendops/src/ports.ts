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
  /** Content-Encoding, when the object has one (FrontendOps never gives one). */
  contentEncoding?: string;
  /**
   * The SHA-256 (hex) of the content that the server keeps with the object, when it answers one (S3
   * does for an object written with that checksum, as every copy FrontendOps makes is): computed by
   * the server, never by the writer, so no other bytes can carry it.
   */
  sha256?: string;
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

/** A write over the version read (its ETag), or a create when there was none: compare-and-swap. */
export const overVersion = (etag: string | null): WriteCondition =>
  etag ? { ifMatch: etag } : { ifNoneMatch: '*' };

/** What a server-side copy answered. */
export interface CopiedObject {
  sha256: string | null;
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
  /**
   * Server-side copy from another bucket of the same endpoint; headers are set explicitly (REPLACE).
   * Resolves to the SHA-256 (hex) the server computed of what it copied, or null when it gave none
   * (an S3-compatible server without checksums).
   */
  copyFrom(source: { bucket: string; key: string }, key: string, meta: ObjectMeta): Promise<CopiedObject>;
  /** Keys under `prefix` in UTF-8 binary order, after `startAfter`, at most `limit` of them. */
  list(prefix?: string, options?: { limit?: number; startAfter?: string }): Promise<ObjectSummary[]>;
  delete(keys: readonly string[]): Promise<void>;
  /**
   * Deletes `key` only while it is the version read (its ETag: S3's DeleteObject If-Match), so a
   * version another writer put since stays: PRECONDITION_FAILED then. Resolves when no object has
   * the key (gone already). Only where supportsConditionalWrites: another endpoint may ignore the
   * condition and delete whatever is there, as may one that honours it on PUT only (S3 adapter: a
   * server refusing it, 501, gets a plain delete).
   */
  deleteIf(key: string, etag: string): Promise<void>;
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
  /**
   * Loads what `invalidate` needs, so that overlaps the work before it; a change calls it first and
   * awaits it before its first write. Optional; nothing is sent.
   */
  prepare?(): Promise<void>;
  /**
   * Why no invalidation could be sent, when that is known before anything is written (a CDN whose
   * API endpoint nobody told us): a change is then refused up front, never after the release is live.
   */
  unavailable?: string;
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
  /** A KeyValueStore-API-compatible endpoint (the local edge's, http://localhost:<port>). */
  kvsEndpoint?: string;
  /** How long the edge takes to see a KeyValueStore write (the local edge's propagation delay). */
  propagationMs?: number;
}

/**
 * Where a stack's outputs come from: an outputs file, Pulumi state, Pulumi Cloud, the pulumi CLI, the
 * embedded environment. Every source passes the contract suite in test/support/contracts/stack-source.ts.
 */
export interface StackSource {
  /**
   * Reads only. Throws FrontendOpsError('NOT_FOUND') for an unknown stack, saying that nothing was
   * created and what to do; never creates one. BAD_INPUT for a malformed source (its configuration or
   * file). No error names a credential the source reads with.
   */
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
  /** ISO 8601 as toISOString writes it. A lightweight tag may have none (GitHub lists none). */
  date?: string;
}

/**
 * A git backend (the local repository, GitHub). Text that git could read as an option, a range or a
 * glob is refused as BAD_INPUT before anything runs. Every adapter passes the contract suite in
 * test/support/contracts/git-host.ts.
 */
export interface GitHost {
  /**
   * Newest commit on `ref` (default: the default branch / HEAD) touching `path`; null when none.
   * NOT_FOUND when `ref` names nothing.
   */
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
  /**
   * Creates an annotated tag and its ref, the message kept verbatim (but for trailing whitespace).
   * Returns the tag as listTags lists it. CONFLICT when the name is taken (of concurrent creates of
   * one name, one wins); NOT_FOUND for a commit the repository lacks; BAD_INPUT for a name git would
   * misread or a message with NUL.
   */
  createTag(input: { name: string; sha: string; message: string }): Promise<TagInfo>;
  /**
   * Annotated and lightweight tags (message '') whose name starts with `prefix`, each with the
   * commit it names. No message can make the listing show a tag that does not exist. The local
   * backend lists those that start with it in another case too: on a case-insensitive file system
   * (macOS's, Windows') git keeps such names in one ref file, so one takes the other's name.
   */
  listTags(prefix: string): Promise<TagInfo[]>;
  /**
   * The tag of exactly this name, as listTags lists it, or null: never one whose name only starts
   * with it. BAD_INPUT for a name git could not hold as a tag.
   */
  readTag(name: string): Promise<TagInfo | null>;
}

// ── Coordination and people ───────────────────────────────────────────────────────────────────

export interface HeldLock {
  owner: string;
  /**
   * Lets the next one in. Safe to call again, and late: a holder that was taken over (it hung past
   * its ttl) frees nothing of its successor's.
   */
  release(): Promise<void>;
  /**
   * Resolves while the lock is still ours; throws FrontendOpsError('LOCKED', details { lost: true,
   * reason }) once it is lost: taken over by another holder, or not renewed for most of its ttl, so
   * another may take it any moment (and once released). A holder calls it right before each change
   * another holder must not interleave with, and stops there when it throws. Cheap enough for that:
   * the S3 lock answers from what it knows (no request), the file lock reads its small holder file.
   */
  assertHeld(): Promise<void>;
}

/**
 * One holder at a time per name, across processes (and, for the S3 lock, machines); different names
 * never contend. A holder whose process died on this machine is taken over at once, one that stopped
 * renewing once its ttl has passed. Every locker passes the contract suite in
 * test/support/contracts/locker.ts.
 */
export interface Locker {
  /** Waits up to waitMs; then throws FrontendOpsError('LOCKED') naming the holder and the label. */
  acquire(name: string, options: LockOptions): Promise<HeldLock>;
}

export interface LockOptions {
  owner: string;
  ttlMs: number;
  waitMs: number;
  /** What the lock guards, in words for the LOCKED message (default: its name). */
  label?: string;
  /**
   * Told once, in words (waitingNotice), when another holds the lock and this acquire waits for it
   * (never when waitMs is 0): a wait is said as it begins, not only when it ends.
   */
  onWait?: (notice: string) => void;
}

/** The changes a person approves: each is its own decision (approving a deploy never approves a rollback). */
export const APPROVAL_ACTIONS = ['deploy', 'rollback', 'canary', 'promote', 'abort'] as const;
export type ApprovalAction = (typeof APPROVAL_ACTIONS)[number];

/** An approval as authenticated, by whichever channel the stack trusts. */
export interface Approval {
  /** Who, as authenticated: "alice (key ed25519:…)", "GitHub environment production …". */
  by: string;
  via: 'signed' | 'github-environment' | 'elicitation' | 'approver';
  /** A signed approval's statement and signature, which the audit entry of its use carries. */
  signed?: { statement: Readonly<Record<string, unknown>>; signature: string };
}

/**
 * The approval a change used, as the change's own audit entry names it: the request's nonce (the
 * name of its "used" marker, which the entry recording the use binds) and who gave it, how. A change
 * that names one is held to it by `audit verify` (state/approval-evidence.ts).
 */
export interface ApprovalUsed {
  nonce: string;
  by: string;
  via: Approval['via'];
}

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
  /** Declined for want of a way to ask: what the person does to approve ("run it again with --yes"). */
  next?: string;
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
  /**
   * The audit head the store anchors (AUDIT_HEAD_KEY, "<seq>:<hash>" as stored), read beside the
   * pointer; null: none; absent: not read (a pointer this run wrote).
   */
  auditHead?: string | null;
}

/**
 * Where the live (and canary) release is named: one key of a CloudFront KeyValueStore, read by the
 * viewer-request function at every edge. A write is one conditional request, so switching, rolling
 * back and promoting are atomic and lose no concurrent update.
 */
export interface ReleaseStore {
  read(): Promise<ReleasePointerRead>;
  /**
   * Throws FrontendOpsError('PRECONDITION_FAILED') when the store changed since `ifEtag`.
   * `auditHead`: the audit chain's head ("<seq>:<hash>") written to AUDIT_HEAD_KEY in the same
   * request (all or nothing), as anchorAuditHead writes it.
   */
  write(value: ReleasePointer, ifEtag: string, auditHead?: string): Promise<{ etag: string }>;
  /** The secret preview links are signed with; created in the store on first use. */
  previewSecret(): Promise<string>;
  /**
   * Writes the audit chain's head ("<seq>:<hash>") to AUDIT_HEAD_KEY over `ifEtag`, as a switch
   * writes the pointer (naming a store no switch named yet, as the first switch does);
   * PRECONDITION_FAILED as write().
   */
  anchorAuditHead(head: string, ifEtag: string): Promise<{ etag: string }>;
}
