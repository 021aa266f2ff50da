/**
 * The state of atomic releases beside the deployment records, under `<statePrefix>atomic/`:
 *
 * - `state.json`: the running canary, the open preview links and the releases edges may still
 *   serve for a while after a switch (so nothing they reference is pruned too early). Bound by the
 *   audit chain: the entry that ends the operation that wrote it carries its digest;
 * - `releases/<releaseId>.json`: a release whose files are all in the hosting bucket — its non-asset
 *   files and its index.html's sha256 — written after its last copy and removed before its first
 *   deletion, so switching back to it needs no listing and no manifest (the same time at any size).
 *   Bound by the audit chain as state.json is, and its removal too;
 * - `pending.json`: the operation in flight, written before its first copy. The KeyValueStore
 *   write is the commit point: a re-run under the lock compares the store with the pending
 *   operation's pointer and either finishes it (the write landed) or drops it (it did not).
 *
 * The live pointer (`live.json`) stays what the history, status and rollbacks read; atomic
 * operations keep it in step with the KeyValueStore.
 */
import type { AtomicOp, AtomicPlan } from '../engine/atomic-plan.ts';
import { type ApprovalUsed, type ObjectStore, overVersion, type WriteCondition } from '../ports.ts';
import { stateDigest } from './audit.ts';
import { putJsonObject } from './json-object.ts';
import { ATOMIC_PENDING, ATOMIC_STATE, releaseIndexName } from './names.ts';
import { parseStateObject, type RequestInfo, readBackFrom, type StoppedBy } from './records.ts';

export interface ReleaseNameRef {
  releaseId: string;
  app: string;
  commit: string;
  artifactDigest: string;
}

export interface CanaryRecord extends ReleaseNameRef {
  /** The deploy id the canary gets when promoted. */
  deployId: string;
  weight: number;
  startedAt: string;
  request: RequestInfo;
}

export interface PreviewRecord extends ReleaseNameRef {
  expiresAt: string;
  createdAt: string;
  actor: string;
}

export interface RetiringRecord {
  releases: ReleaseNameRef[];
  /** Edges served the bucket root (an in-place layout) before this switch. */
  root: boolean;
  /** Until when edges may still serve them (the switch plus the grace). */
  until: string;
  /** The operation whose switch retired them (a re-run adds it once). */
  by: string;
}

export interface AtomicStateRecord {
  canary: CanaryRecord | null;
  previews: PreviewRecord[];
  retiring: RetiringRecord[];
  /**
   * The release store (its ARN) the newest switch wrote: a store that names no environment yet is
   * claimed only by a stack whose state names that store, or none (written before it was kept:
   * stacks/open.ts recordsServed). Absent in states written before.
   */
  releaseStore?: string;
}

export interface AtomicPending {
  op: AtomicOp;
  plan: AtomicPlan;
  request: RequestInfo;
  startedAt: string;
  /** Set once the KeyValueStore names plan.pointerAfter and the state followed: only the finish remains. */
  switched: boolean;
  switchedAt?: string;
  /** What the switch wrote to state.json (its stateDigest): the operation's last audit entry binds it. */
  stateDigest?: string;
  /** The release indexes it writes before its switch (name under the state prefix → stateDigest), bound likewise. */
  indexes?: Record<string, string>;
  /** The store's value before, when the state did not name it (someone switched outside FrontendOps). */
  drift?: unknown;
  /**
   * The release indexes its prune deletes, saved before they go: a re-run after a stop past the prune
   * (which finds nothing left to delete) still binds them as gone in the operation's last entry.
   */
  pruning?: string[];
  /** The error that stopped it before it went live, when one was seen (a crash leaves none). */
  stoppedBy?: StoppedBy;
  /** A rollback someone asked for: pinned before this record goes (as PendingDeploy's). */
  pinOnSuccess?: true;
  /** The approval it used (a protected stack's): its last entry names it, and is held to it. */
  approval?: ApprovalUsed;
}

/** A release whose files are all in place (see the module comment). */
export interface ReleaseIndex extends ReleaseNameRef {
  /** Its non-asset site paths, under `_releases/<releaseId>/`. */
  files: string[];
  /** How many content-hashed assets it references. */
  assets: number;
  indexSha256: string | null;
  uploadedAt: string;
}

export const EMPTY_ATOMIC_STATE: AtomicStateRecord = { canary: null, previews: [], retiring: [] };

export function createAtomicRecords(store: ObjectStore, prefix: string) {
  const key = (name: string) => `${prefix}${name}`;
  // Returns the value's digest, for the audit entry that binds it. Made before the write, as
  // records.ts does: a value the audit cannot bind is refused with nothing written, not left as a
  // pending plan that switches the site and then cannot be recorded, for every later operation to
  // trip over.
  const write = async (name: string, value: unknown, condition: WriteCondition = {}): Promise<string> => {
    const digest = stateDigest(value);
    await putJsonObject(store, key(name), value, condition);
    return digest;
  };
  const read = async <T>(name: string): Promise<T | null> => {
    const object = await store.get(key(name));
    return object ? parseStateObject<T>(key(name), object.body) : null;
  };
  /**
   * The state, and the ETag of what was read (null: there was none), for a write over it; `stored`,
   * the object as read (null: none), for holding it to the audit chain (state/recorded-state.ts).
   */
  const readStateVersion = async (): Promise<{
    state: AtomicStateRecord;
    etag: string | null;
    stored: unknown;
  }> => {
    const object = await store.get(key(ATOMIC_STATE));
    const stored = object ? parseStateObject<AtomicStateRecord>(key(ATOMIC_STATE), object.body) : null;
    return { state: { ...EMPTY_ATOMIC_STATE, ...stored }, etag: object?.etag ?? null, stored };
  };
  return {
    readState: async (): Promise<AtomicStateRecord> => (await readStateVersion()).state,
    readStateVersion,
    /**
     * Written only under the deploy lock. Returns its digest, for the audit entry that binds it.
     * `after`: the version it was made from (readStateVersion). Where the store honours conditional
     * writes it is written only over that version: a holder that lost its lock, whatever its lock
     * last said, cannot put back what it read over what was written since. PRECONDITION_FAILED then.
     */
    writeState: async (state: AtomicStateRecord, after?: { etag: string | null }): Promise<string> => {
      if (!after || !(await store.supportsConditionalWrites())) return write(ATOMIC_STATE, state);
      return write(ATOMIC_STATE, state, overVersion(after.etag));
    },
    readReleaseIndex: (releaseId: string) => read<ReleaseIndex>(releaseIndexName(releaseId)),
    /** Returns its digest, for the audit entry that binds it. */
    writeReleaseIndex: (index: ReleaseIndex): Promise<string> =>
      write(releaseIndexName(index.releaseId), index),
    deleteReleaseIndexes: (releaseIds: readonly string[]) =>
      releaseIds.length ? store.delete(releaseIds.map((id) => key(releaseIndexName(id)))) : Promise.resolve(),
    /** The interrupted operation's record; its request marked as read back from it (RequestInfo.resumedFrom). */
    readPending: async (): Promise<AtomicPending | null> => {
      const pending = await read<AtomicPending>(ATOMIC_PENDING);
      return pending && { ...pending, request: readBackFrom(pending.request, ATOMIC_PENDING) };
    },
    writePending: async (pending: AtomicPending): Promise<void> => {
      await write(ATOMIC_PENDING, pending);
    },
    clearPending: () => store.delete([key(ATOMIC_PENDING)]),
  };
}

export type AtomicRecords = ReturnType<typeof createAtomicRecords>;
