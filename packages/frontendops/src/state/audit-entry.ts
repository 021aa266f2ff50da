/**
 * The audit chain's entry and what `audit verify` reports of it: the shapes audit.ts makes and checks,
 * in a module of their own so that the checks audit.ts runs (approval-evidence.ts) can name them
 * without importing audit.ts back.
 */

export interface AuditEntry {
  seq: number;
  at: string;
  /** What happened: "deploy", "rollback", "release", "publish", "agent-request", "approval", … */
  type: string;
  data: Record<string, unknown>;
  /** State objects this entry vouches for: name under the state prefix → stateDigest of its content (ABSENT: removed). */
  objects?: Record<string, string>;
  /**
   * The objects every change acts on (TRACKED), as the chain binds them once this entry is added:
   * each one's latest binding, carried from entry to entry. A change reads it from the newest entry
   * and refuses to act on one that differs (state/recorded-state.ts); `audit verify` checks it
   * against the bindings. Entries written before it existed have none.
   */
  state?: Record<string, string>;
  /**
   * The release indexes (atomic/releases/<id>.json) the chain binds once this entry is added, each
   * one's latest binding (removed ones left out), carried as `state` is: a change that switches to a
   * kept release holds the index it uses to it with no request (deploy/atomic-apply.ts prepare).
   * Entries written before it existed have none.
   */
  indexes?: Record<string, string>;
  /**
   * The environment marker each hosting bucket holds as the chain wrote it once this entry is added
   * (bucket → the digest its newest "environment" entry recorded; `*`: an entry from before entries
   * named their bucket), carried as `state` is: a change holds the marker its lock reads to it with no
   * request (state/environment.ts). Entries written before it existed have none.
   */
  markers?: Record<string, string>;
  prevHash: string;
  hash: string;
}

/** The kinds of change that make a release live for everyone, which a deploy tag records. */
export const TAGGED_KINDS: ReadonlySet<string> = new Set(['deploy', 'rollback', 'canary-promote']);

/**
 * An entry whose deploy tag is due: a deployment that went live for everyone and was recorded as
 * succeeded. Its tag carries the chain's head at that entry or after it (a pin, a failed deploy or a
 * canary's start gets none).
 */
export const tagIsDue = (entry: Pick<AuditEntry, 'type' | 'data'>): boolean =>
  TAGGED_KINDS.has(entry.type) && entry.data.outcome === 'succeeded';

/**
 * How far the deploy tags anchor the chain, where deployments past the newest anchor have none:
 * those entries (and all after that anchor) rest on the state bucket alone.
 */
export interface UntaggedDeployments {
  /** The newest entry a deploy tag anchors and the chain holds as it (0: none). */
  anchoredUpTo: number;
  /** The chain's entries. */
  entries: number;
  /** The entries after it whose deploy tag is due (tagIsDue), not found. */
  deployments: number[];
}

export type AuditProblemKind =
  /** An entry or state object was changed, removed or added after the fact. */
  | 'tampered'
  /**
   * An object cannot be read as what it should be (cut short, not JSON), or cannot be held to what
   * should vouch for it (a log that could not be read, or breaks before it): nothing shows it altered.
   */
  | 'damaged'
  /** A deploy stopped after writing state its entry would vouch for (running it again finishes it), or an append between its two writes (the next one finishes it). */
  | 'unfinished';

export interface AuditProblem {
  kind: AuditProblemKind;
  /** The entry concerned, when there is one. */
  seq?: number;
  /** The state object concerned (its name under the state prefix), when there is one. */
  object?: string;
  reason: string;
}
