/**
 * The audit chain: append-only JSON entries in the state bucket, each carrying the sha256 of the
 * previous one, so changing, removing or reordering any entry breaks verification. An entry is read
 * only from its own key (`audit/<its number in ten digits>.json`, under the create-only prefix the CI
 * roles cannot rewrite); anything else under `audit/` but the head is reported, never read as one.
 *
 * The chain also covers the other state objects. An entry may bind state objects (the live
 * pointer, a deployment record, an approval) by the digest of their content as written; verify
 * re-reads each bound object and compares, so an edit to any of them is found, and a record or
 * pointer that no entry binds is reported as unaccounted for, as is a bound record whose history
 * index is gone. Content no digest can be made of is reported too, never thrown.
 *
 * A chain kept in one bucket can be rewritten whole by whoever can write that bucket. What anchors
 * it outside is the deploy tag: each carries `Audit-Head: <seq>:<hash>` and the stack's name, so
 * git (and GitHub) holds a copy of the head after every deploy. `verifyAudit` given those anchors
 * fails for a rewritten, re-hashed or shortened chain. Entries after the newest anchor are only as
 * safe as the bucket (see docs/security.md).
 *
 * Publishes are recorded in a chain of their own, the publish log (names.ts PUBLISH_LOG), built and
 * checked the same way: the build job that appends to it cannot write the deploy chain (access.ts).
 * verifyAudit checks both. Each deployment's entry in the deploy chain names the publish log's head
 * it saw (`publishHead`), which the log must still hold: the deploy tags anchor it through them. The
 * entry of a change whose build another stack's log recorded (a `buildsFrom`) names that log's head
 * likewise (`publishedInHead`), which verify holds that log to.
 *
 * Appends are serialised by creating each entry only once where the store honours conditional
 * writes, and by a lock where it does not; an append interrupted between its two writes is finished
 * by the next one (see appendAudit).
 */
import pMap from 'p-map';
import { lockName } from '../adapters/lock-holder.ts';
import {
  AUDIT_HEAD_KEY,
  isInvalidReleasePointer,
  RELEASE_KEY,
  type ReleasePointer,
  sameReleases,
} from '../atomic/release-pointer.ts';
import { servedReader } from '../atomic/served.ts';
import { waitBeforeRetry } from '../backoff.ts';
import { type AuditHead, formatAuditHead, parseAuditHead } from '../contract/audit-head.ts';
import { releaseIdFor } from '../engine/atomic-plan.ts';
import { changeNoun } from '../engine/describe.ts';
import { canaryRowId } from '../engine/ids.ts';
import { defaultStatePrefix } from '../engine/target.ts';
import {
  backendErrorName,
  FrontendOpsError,
  findingOf,
  holding,
  isFrontendOpsError,
  withCleanup,
} from '../errors.ts';
import {
  type HeldLock,
  type Locker,
  type ObjectStore,
  overVersion,
  type ReleasePointerRead,
} from '../ports.ts';
import { settleAll } from '../settle-all.ts';
import {
  type ApprovalsAccepted,
  type ApprovalsChecked,
  checkApprovalEntries,
  storedStatements,
} from './approval-evidence.ts';
import {
  type AuditEntry,
  type AuditProblem,
  type AuditProblemKind,
  tagIsDue,
  type UntaggedDeployments,
} from './audit-entry.ts';
import { deleteAsRead, putJsonObject } from './json-object.ts';
import {
  APPROVAL_REQUESTS,
  APPROVALS_SIGNED,
  APPROVALS_USED,
  ATOMIC,
  ATOMIC_PENDING,
  ATOMIC_STATE,
  AUDIT,
  AUDIT_HEAD,
  auditEntryName,
  DEPLOYMENTS,
  ENVIRONMENT_MARKER,
  HISTORY,
  LIVE,
  PENDING,
  PIN,
  PUBLISH_LOG,
  RELEASE_INDEXES,
  recordName,
} from './names.ts';
import { digestOrNull, stateDigest } from './state-digest.ts';

export type { AuditEntry, AuditProblem, AuditProblemKind } from './audit-entry.ts';
export { digestOrNull, stateDigest } from './state-digest.ts';

/** The state objects changes read and act on: the live pointer, the pin, the atomic state. */
export const TRACKED = [LIVE, PIN, ATOMIC_STATE] as const;

/**
 * The chain's latest bindings after `entry` (the objects it binds; an environment entry, the marker
 * it wrote), from those before it: `state` (each TRACKED object's, ABSENT kept: removed), `indexes`
 * (each release index's, removed ones left out) and `markers` (each hosting bucket's environment
 * marker: environmentMarkerEntries; left unknown where it was unknown before).
 */
function nextBindings(
  before: Readonly<Bindings>,
  entry: {
    type?: string;
    data?: Record<string, unknown>;
    objects?: Readonly<Record<string, string>> | undefined;
  },
): Bindings {
  const state: Record<string, string> = { ...before.state };
  const indexes: Record<string, string> = { ...before.indexes };
  for (const [name, digest] of Object.entries(entry.objects ?? {})) {
    if ((TRACKED as readonly string[]).includes(name)) state[name] = digest;
    else if (!name.startsWith(RELEASE_INDEXES)) continue;
    else if (digest === ABSENT) delete indexes[name];
    else indexes[name] = digest;
  }
  const bindings: Bindings = { state: sortedKeys(state), indexes: sortedKeys(indexes) };
  if (before.markers === undefined) return bindings;
  const markers: Record<string, string> = { ...before.markers };
  const mark = markerWritten(entry);
  if (mark?.bucket === ANY_BUCKET) for (const bucket of Object.keys(markers)) markers[bucket] = mark.digest;
  if (mark) markers[mark.bucket] = mark.digest;
  return { ...bindings, markers: sortedKeys(markers) };
}

/** The latest bindings an entry carries (AuditEntry `state`, `indexes`, `markers`). */
interface Bindings {
  state: Record<string, string>;
  indexes: Record<string, string>;
  /** Undefined: not carried by the newest entry (written before entries carried it), not replayed. */
  markers?: Record<string, string>;
}

/**
 * Where AuditEntry `markers` keeps the marker of an entry from before entries named their bucket,
 * which counts for any bucket (no bucket name has a `*`).
 */
const ANY_BUCKET = '*';

/** The environment marker `entry` records writing, and to which bucket (ANY_BUCKET: any); else null. */
function markerWritten(entry: {
  type?: string;
  data?: Record<string, unknown>;
}): { bucket: string; digest: string } | null {
  const data = entry.data;
  if (entry.type !== 'environment' || !data || typeof data.markerDigest !== 'string') return null;
  if (data.hostingBucket === undefined) return { bucket: ANY_BUCKET, digest: data.markerDigest };
  return typeof data.hostingBucket === 'string'
    ? { bucket: data.hostingBucket, digest: data.markerDigest }
    : null;
}

/**
 * The digest of the environment marker the chain's newest entry writing one to `bucket` recorded, as
 * the newest entry carries it (RecordedState `markers`): null where no entry wrote one there,
 * undefined where the newest entry does not carry the markers (the chain must then be read).
 */
export function boundMarker(
  recorded: Pick<RecordedState, 'markers'>,
  bucket: string,
): string | null | undefined {
  if (recorded.markers === undefined) return undefined;
  return recorded.markers[bucket] ?? recorded.markers[ANY_BUCKET] ?? null;
}

/** What a change holds the state objects and release indexes to: the chain's latest bindings. */
export interface RecordedState extends Bindings {
  seq: number;
  /**
   * The stack the entry `seq` names (its `data.stack`), as read for these bindings; undefined where
   * it names none (an entry of a stack's own from before entries named it) or was not read.
   */
  stack?: string;
}

/** An entry's `stack` where it names one (RecordedState `stack`). */
const namedStack = (entry: { data?: Record<string, unknown> } | null): { stack?: string } =>
  typeof entry?.data?.stack === 'string' ? { stack: entry.data.stack } : {};

const sortedKeys = (map: Record<string, string>) =>
  Object.fromEntries(Object.entries(map).sort(([a], [b]) => a.localeCompare(b)));

/**
 * The TRACKED state as the chain binds it after its entry `head` names (`{}` for an empty chain):
 * that entry's `state`, or, for a chain whose newest entry has none (written before it existed, or by
 * hand), replayed from every entry. Read from the store (the entries are create-only).
 */
export async function recordedState(
  store: ObjectStore,
  prefix: string,
  head: AuditHead | null,
): Promise<RecordedState> {
  return (await readRecordedState(store, prefix, head)).recorded;
}

/**
 * An entry as one command read it from its key: what a later read of the newest entries in that
 * command (newestBindings `newest`) takes instead of reading the key again.
 */
export type EntryRead = Extract<ReadEntry, { entry: AuditEntry }>;

/**
 * recordedState, and the entry `head` names as read for it (`newest`; null where none was read: an
 * empty chain, a state this process knows under a lock, an entry missing or that is none).
 */
async function readRecordedState(
  store: ObjectStore,
  prefix: string,
  head: AuditHead | null,
): Promise<{ recorded: RecordedState; newest: EntryRead | null }> {
  if (!head) return { recorded: { state: {}, indexes: {}, markers: {}, seq: 0 }, newest: null };
  const known = knownState(store, prefix);
  if (known && known.seq === head.seq && known.hash === head.hash) return { recorded: known, newest: null };
  const read = await readEntry(store, prefix, entryKey(prefix, head.seq));
  const newest = read?.entry ? read : null;
  const entry = newest?.entry ?? null;
  let state: Record<string, string>;
  let indexes: Record<string, string>;
  let markers: Record<string, string> | undefined;
  const own = entry && entry.hash === head.hash ? entry : null;
  if (own && isRecord(own.state) && isRecord(own.indexes)) {
    state = sortedKeys(own.state as Record<string, string>);
    indexes = sortedKeys(own.indexes as Record<string, string>);
    // One from before `markers` leaves them unknown: only a change reads them, and reads the chain.
    if (isRecord(own.markers)) markers = sortedKeys(own.markers as Record<string, string>);
  } else {
    // Replayed (an entry from before `state` or `indexes`): once per chain, the next entry carries both.
    let replayed: Bindings = { state: {}, indexes: {}, markers: {} };
    for (const each of await readAudit(store, prefix)) {
      if (each.seq > head.seq) break;
      replayed = nextBindings(replayed, each);
    }
    ({ state, indexes, markers } = replayed);
    if (own && isRecord(own.state)) state = sortedKeys(own.state as Record<string, string>);
  }
  const recorded = { state, indexes, ...(markers ? { markers } : {}), ...namedStack(own), seq: head.seq };
  rememberState(store, prefix, { ...recorded, hash: head.hash });
  return { recorded, newest };
}

/**
 * recordedState at the head this process knows, while it holds a change's lock (keepAuditHeads: the
 * head it read at the lock's check, or moved since by its own appends), else at the head read now.
 * No request under the lock, in the usual case.
 */
export async function recordedStateKnown(store: ObjectStore, prefix: string): Promise<RecordedState> {
  return (await recordedStateRead(store, prefix)).recorded;
}

/**
 * recordedStateKnown, with the newest entry as it read it (readRecordedState): for a reader that
 * looks among the newest entries next (recordsStanding `newest`), so that entry is read once; and
 * the head it read (or knew), for a reader that holds the chain to it next (assertChainHoldsAnchor
 * `read`), so the head is read once.
 */
export async function recordedStateRead(
  store: ObjectStore,
  prefix: string,
): Promise<{ recorded: RecordedState; newest: EntryRead | null; head: AuditHead | null }> {
  const kept = knownHead(store, prefix);
  if (kept) {
    // Under a lock, held to the entries past the head its check walked, as the check held the state.
    const read = { ...(await readRecordedState(store, prefix, kept.record)), head: kept.record };
    const past = keeping.has(store) ? knownPast.get(store)?.get(prefix) : undefined;
    if (past?.head !== kept.record.hash) return read;
    const { head: _, ...recorded } = past;
    return { ...read, recorded };
  }
  const head = await readAuditHead(store, prefix);
  const [read, next] = await Promise.all([
    readRecordedState(store, prefix, head),
    store.get(entryKey(prefix, (head?.seq ?? 0) + 1)),
  ]);
  const past = await bindingsPastHead(store, prefix, head, read.recorded, next?.body);
  return { ...read, recorded: keptPast(store, prefix, head, past), head };
}

/**
 * `recorded` (the bindings after `head`'s entry) carried over each entry past the head that follows
 * from the one before: entry head+1 (`next`, read beside the head's entry; undefined: none), then
 * each after it. One entry past the head is an append stopped before its head moved; more are a head
 * moved back over entries still there (whoever writes the state prefix may write the head; entries
 * it may only create), onto an entry whose bindings older copies of the state objects, put back,
 * would match: held to the head's entry, that replay would read as recorded, a change would act on
 * it, and its append, walking the head forward, would bind what it made of it. An entry that is not
 * there or does not follow ends the walk (the next append refuses it: assertAppendable).
 *
 * Past head+1, entries are found by one listing of the keys after its key (an entry's key is its
 * number): those numbered on from head+2 without a gap are read together, ENTRY_READS at a time, and
 * walked in order. So a head moved back k entries costs a check three round trips from the head's
 * entry (more only past ENTRY_READS entries), not k + 1 one after another, and as many requests: the
 * listing instead of the read that found no entry.
 */
async function bindingsPastHead(
  store: ObjectStore,
  prefix: string,
  head: AuditHead | null,
  recorded: RecordedState,
  next: Buffer | undefined,
): Promise<RecordedState> {
  let bindings = recorded;
  let last = head;
  /** Carries the bindings over entry `seq` as read; false where it is missing or does not follow. */
  const walked = (body: Buffer | undefined, seq: number): boolean => {
    if (!body) return false;
    let entry: AuditEntry;
    try {
      entry = followingEntry(body, last, seq);
    } catch {
      return false;
    }
    bindings = { ...nextBindings(bindings, entry), ...namedStack(entry), seq };
    last = { seq, hash: entry.hash };
    return true;
  };
  const first = (head?.seq ?? 0) + 1;
  if (!walked(next, first)) return bindings;
  const listed = await store.list(`${prefix}${AUDIT}`, { startAfter: entryKey(prefix, first) });
  const keys = new Set(listed.map((o) => o.key));
  const more: string[] = [];
  for (let seq = first + 1; keys.has(entryKey(prefix, seq)); seq++) more.push(entryKey(prefix, seq));
  const bodies = await pMap(more, async (key) => (await store.get(key))?.body, { concurrency: ENTRY_READS });
  for (const [i, body] of bodies.entries()) if (!walked(body, first + 1 + i)) break;
  return bindings;
}

/**
 * `past` (what bindingsPastHead found after `head`'s entry), kept while this process holds a change's
 * lock (knownPast), so what is read again under it is held to those bindings; returned as given.
 */
function keptPast(
  store: ObjectStore,
  prefix: string,
  head: AuditHead | null,
  past: RecordedState,
): RecordedState {
  if (head && keeping.has(store)) {
    const kept = knownPast.get(store) ?? new Map<string, RecordedState & { head: string }>();
    knownPast.set(store, kept);
    if (past.seq === head.seq) kept.delete(prefix);
    else kept.set(prefix, { ...past, head: head.hash });
  }
  return past;
}

export type { AuditHead };

/** A copy of the head kept somewhere the state bucket's writers cannot change (a deploy tag). */
export interface AuditAnchor extends AuditHead {
  /** Where it was found, for the report: "deploy tag dashboard-deploy-20261201-1". */
  source: string;
  /**
   * The deployment its tag names: the chain up to the anchored entry must record it (a tag's head is
   * its deployment's entry or one after it), else the tag is no record of it.
   */
  deployment?: TaggedDeployment;
}

/** A deployment as its deploy tag names it. */
export interface TaggedDeployment {
  deployId: string;
  commit: string;
  artifactDigest?: string | undefined;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headHash: string | null;
  /** Anchors (deploy tags) the chain was checked against. */
  anchors: number;
  /** State objects whose content matched the entry that binds them. */
  objects: number;
  /** The first problem found (kept for readers that show one line). */
  problem?: AuditProblem;
  /** The deploy chain's, then the publish log's. */
  problems: AuditProblem[];
  /**
   * The publish log (publishes/audit/), a chain of its own that the publisher role appends to:
   * checked entry by entry like the deploy chain, and against the heads the deploy chain's entries
   * saw (`anchors`: how many entries named one).
   */
  publishLog: { entries: number; headHash: string | null; anchors: number };
  /**
   * The signed approvals the chain records (given and used), each checked against the statement its
   * approver signed (approval-evidence.ts); a forged or replayed one is among `problems`.
   */
  approvals: ApprovalsChecked;
  /**
   * Given deploy tags: the deployments after the newest entry they anchor, which have no tag and
   * rest on the state bucket alone (null when there are none, or no tags were given). Not a problem:
   * a tag may not be made yet, or was deleted by whoever can push; either way only the bucket holds them.
   */
  untagged: UntaggedDeployments | null;
}

const GENESIS = 'sha256:genesis';
/** A binding's digest for an object the entry removed: it must not exist afterwards. */
export const ABSENT = 'absent';
const entryKey = (prefix: string, seq: number) => `${prefix}${auditEntryName(seq)}`;
const headKey = (prefix: string) => `${prefix}${AUDIT_HEAD}`;
/**
 * An entry's name under its chain's prefix, as auditEntryName makes it: audit/, its number in ten
 * digits, .json, nothing deeper. Anything else under audit/ but the head is no entry (verify reports
 * it): a key such as audit/x/0000000005.json is outside the create-only prefix (AUDIT_ENTRIES), so an
 * "entry" there could be replaced or deleted at will.
 */
const ENTRY_NAME = new RegExp(`^${AUDIT}(\\d{10})\\.json$`);

/**
 * Whether `value` (as read; null: there is no object) is what `bound` (the chain's latest bindings:
 * RecordedState `state` or `indexes`) binds under `name`: said once for every reader that holds what
 * it read to the chain (state/recorded-state.ts, the status read model). A value no digest can be
 * made of, or one the chain never bound while it is there, is not.
 */
export function isAsBound(bound: Readonly<Record<string, string>>, name: string, value: unknown): boolean {
  return (bound[name] ?? ABSENT) === (value === null ? ABSENT : digestOrNull(value));
}

/**
 * Whether the chain never bound the live pointer though it has entries (`bound`: RecordedState): it
 * began before entries bound it, so a reader cannot hold the pointer to it (status says so; history
 * and the console mark live as the pointer names). The next deploy or rollback binds it.
 */
export const pointerNeverBound = (bound: Pick<RecordedState, 'seq' | 'state'>): boolean =>
  bound.seq > 0 && bound.state[LIVE] === undefined;

/**
 * The problems of `problems` (what verify found) that call one of `names` written outside FrontendOps
 * (tampered, or damaged): said once for every reader that lets verify decide about what it read.
 */
export const outsideProblems = (
  problems: readonly AuditProblem[],
  names: readonly string[],
): AuditProblem[] =>
  problems.filter(
    (p) =>
      (p.kind === 'tampered' || p.kind === 'damaged') && p.object !== undefined && names.includes(p.object),
  );

/** Why digestOrNull found no digest, for the reports. */
const UNHASHABLE = 'a lone UTF-16 surrogate, or a number JSON cannot carry';

type AuditEvent = {
  type: string;
  data: Record<string, unknown>;
  objects?: Record<string, string>;
  at?: Date;
};

/**
 * Appends an entry: reads the head (entry n), creates entry n+1 unless it exists, moves the head to it.
 *
 * Where the store honours conditional writes (S3, MinIO, R2), creating entry n+1 only if it does not
 * exist is itself the lock: of two appenders that read the same head, one creates it, the other's
 * write is refused. That saves the requests of taking and releasing a lock object, one after another,
 * on every append (three in a rollback). Elsewhere (the embedded server) appends take the locker's
 * lock, and look for entry n+1 before writing it.
 *
 * An appender that finds entry n+1 already there finishes that append before its own: when the entry
 * follows from the head (its prevHash is the head's hash, its hash is its content's), it moves the
 * head to it. So a process stopped between writing an entry and moving the head (kill -9, a lost
 * connection) leaves nothing the next append does not complete, and the entry it wrote stays in the
 * chain; a concurrent appender that is between its two writes is helped along, not waited for. An
 * entry that does not follow from the head was written by hand: TAMPERED, and nothing is written.
 * Adopting an entry gives no one a new power: whoever can write entry n+1 can write the head too.
 */
export async function appendAudit(
  store: ObjectStore,
  prefix: string,
  locker: Locker,
  event: AuditEvent,
  options: { overlap?: boolean } = {},
): Promise<AuditEntry> {
  if (await store.supportsConditionalWrites())
    return appendUntilLanded(store, prefix, event, true, options.overlap ?? false);
  // The lock's name is a digest: a "locked" message may reach an MCP client, and names no bucket.
  const lock = await locker.acquire(lockName('audit', store.bucket, prefix), {
    label: 'Writing the audit log',
    owner: `audit:${process.pid}`,
    ttlMs: 30_000,
    waitMs: 30_000,
  });
  return holding(lock, () => appendUntilLanded(store, prefix, event, false, false));
}

/**
 * How many rounds in a row an appender may find entry n+1 taken and yet gone when it reads it, with
 * the head not moving, before it gives up (about 1.5 s of waits): only someone deleting entries by
 * hand does that. An entry that is there is finished at once, without waiting.
 */
const STUCK_ATTEMPTS = 5;

/**
 * The head as this process last read or moved it, per store and chain, with the head object's ETag,
 * kept while the process holds the lock of a change (keepAuditHeads: the deploy lock, a publish's lock). An append then starts from it
 * instead of reading the head again: one request fewer, one after another, per append (a rollback
 * reads the head under its lock, then appends three times). A head that is no longer the newest
 * (another process appended without the deploy lock, as the agent's request entries and approvals
 * do) costs one refused create of entry n+1, after which the append reads the head as before. Not
 * kept beyond the lock: a long-lived process (the console, an MCP server) would carry a head past
 * hand edits of the state, such as a restore from a backup, and start entries at the wrong place.
 */
const knownHeads = new WeakMap<ObjectStore, Map<string, { record: AuditHead; etag: string }>>();
/** The TRACKED state after the newest entry this process read or wrote, kept as the heads are. */
const knownStates = new WeakMap<ObjectStore, Map<string, RecordedState & { hash: string }>>();
const knownState = (store: ObjectStore, prefix: string) =>
  keeping.has(store) ? knownStates.get(store)?.get(prefix) : undefined;
/**
 * The bindings past the head a check under the lock walked (bindingsPastHead; kept by keptPast), by
 * that head's hash: what is read again under the lock is held to them (recordedStateKnown), not to
 * the head's entry, whose older copies someone who moved the head back onto it could put back meanwhile.
 */
const knownPast = new WeakMap<ObjectStore, Map<string, RecordedState & { head: string }>>();
function rememberState(store: ObjectStore, prefix: string, known: RecordedState & { hash: string }): void {
  if (!keeping.has(store)) return;
  const states = knownStates.get(store) ?? new Map();
  knownStates.set(store, states);
  states.set(prefix, known);
}
const keeping = new WeakMap<ObjectStore, number>();
const knownHead = (store: ObjectStore, prefix: string) =>
  keeping.has(store) ? knownHeads.get(store)?.get(prefix) : undefined;
function rememberHead(store: ObjectStore, prefix: string, record: AuditHead, etag: string | undefined): void {
  if (!keeping.has(store)) return;
  const heads = knownHeads.get(store) ?? new Map<string, { record: AuditHead; etag: string }>();
  knownHeads.set(store, heads);
  if (etag) heads.set(prefix, { record, etag });
  else heads.delete(prefix);
}

/**
 * Head moves sent and not yet answered, per store and chain: those of a change's own appends
 * (`overlap`) under its lock, on a store that honours conditional writes. Such an append returns
 * once its entry is created and moves the head meanwhile: the change's next write goes out beside
 * the move, one round trip fewer per append. The change is told when a move was refused, at its next
 * own append or when it settles (settleAuditHeads: before it prunes or tells the CDN, and before its
 * lock goes). Other appends and reads of the head in this process (an agent's request entry, an
 * approval, a status) wait for the move and never take its refusal: they read the head as stored,
 * as after any stale head. Another process finds at most one entry past the head, which it already
 * handles: an append stopped between its two writes. (Where appends take a lock instead, the move is
 * part of the locked append: never overlapped.)
 */
const movingHeads = new WeakMap<ObjectStore, Map<string, Promise<void>>>();

/**
 * Waits for the head move under way in this chain, if any. The owner (the change that sent it) is
 * told when it was refused, and the move is then forgotten; anyone else only waits.
 */
async function headMoved(store: ObjectStore, prefix: string, owner: boolean): Promise<void> {
  const moving = movingHeads.get(store)?.get(prefix);
  if (!moving) return;
  if (!owner) return moving.catch(() => {});
  try {
    await moving;
  } finally {
    if (movingHeads.get(store)?.get(prefix) === moving) movingHeads.get(store)?.delete(prefix);
  }
}

/**
 * The lock a change holds over a chain in this process (heldForAppends). The change's own appends
 * (`overlap`) ask it once their entry n+1 was refused, another's written there: a holder that slept
 * past its lease between two of its writes, while the lock's next holder finished or replaced its
 * change, must not append after that holder's entries what is no longer so (LOCKED, nothing more
 * written). Where nobody appended meanwhile, nobody took over its change: its entry lands in place.
 */
const appendLocks = new WeakMap<ObjectStore, Map<string, HeldLock>>();
const assertAppendLock = (store: ObjectStore, prefix: string, overlap: boolean) =>
  overlap ? assertChangeLock(store, prefix) : undefined;

/**
 * Asks the lock the change holds over the chain at `prefix` in this process (heldForAppends), if any:
 * LOCKED once it was lost. What a change's own write asks once it finds its place taken by another's
 * (entry n+1 above; a record under its deploy id, apply.ts writeOwnRecord).
 */
export const assertChangeLock = (store: ObjectStore, prefix: string): Promise<void> | undefined =>
  appendLocks.get(store)?.get(prefix)?.assertHeld();

/**
 * Waits for the head move of the change's last append in this chain; throws what refused it. What a
 * change calls before a step it must not take on a chain it could not extend (a prune, the CDN's
 * invalidation) and before its lock goes.
 */
export function settleAuditHeads(store: ObjectStore, prefix: string): Promise<void> {
  return headMoved(store, prefix, true);
}

/**
 * `lock` as held by a change that appends to the chain at `prefix` (a deploy, a publish). While it is
 * held, this process appends from the heads it last read or moved (keepAuditHeads). Its release first
 * waits for the change's last head move (settleAuditHeads), so the change's last entry is whole before
 * the next holder reads the chain, and throws what refused that move.
 */
export function heldForAppends(lock: HeldLock, store: ObjectStore, prefix: string): HeldLock {
  const stopKeeping = keepAuditHeads(store);
  const locks = appendLocks.get(store) ?? new Map<string, HeldLock>();
  appendLocks.set(store, locks);
  locks.set(prefix, lock);
  return {
    owner: lock.owner,
    assertHeld: () => lock.assertHeld(),
    release: () =>
      withCleanup(
        () => settleAuditHeads(store, prefix),
        () => {
          stopKeeping();
          if (locks.get(prefix) === lock) locks.delete(prefix);
          return lock.release();
        },
        // Not "Letting the lock go" (errors.ts holding) again: when the change failed as well, its
        // error says that letting the lock go failed, in these words, which would say it twice.
        "The lock's own release",
      ),
  };
}

/** Keeps the heads this process reads and moves in `store` until the returned function is called. */
export function keepAuditHeads(store: ObjectStore): () => void {
  const holders = keeping.get(store) ?? 0;
  if (holders === 0) {
    knownHeads.delete(store);
    knownStates.delete(store);
    knownPast.delete(store);
  }
  keeping.set(store, holders + 1);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    const left = (keeping.get(store) ?? 1) - 1;
    if (left > 0) keeping.set(store, left);
    else {
      keeping.delete(store);
      knownHeads.delete(store);
      knownStates.delete(store);
      knownPast.delete(store);
    }
  };
}

async function appendUntilLanded(
  store: ObjectStore,
  prefix: string,
  event: AuditEvent,
  conditional: boolean,
  /** The change's own append on a conditional store: returns before its head moved (movingHeads). */
  overlap: boolean,
): Promise<AuditEntry> {
  // The entries this append tried to create: one found in place afterwards is this append's own,
  // whose answer was lost (the SDK's retry of a create that landed is refused, 412), not another's.
  const attempted = new Set<string>();
  await headMoved(store, prefix, overlap);
  const known = knownHead(store, prefix);
  if (known) {
    const entry = nextEntry(
      known.record,
      event,
      await withMarkers(store, prefix, known.record, await recordedState(store, prefix, known.record)),
    );
    attempted.add(entry.hash);
    if (await createEntry(store, prefix, entry, conditional)) {
      if (!overlap) {
        await moveHead(store, prefix, entry, conditional ? { ifMatch: known.etag } : {});
        return entry;
      }
      const moving = moveHead(store, prefix, entry, { ifMatch: known.etag });
      moving.catch(() => {}); // thrown to the change that sent it (settleAuditHeads, its next append)
      const moves = movingHeads.get(store) ?? new Map<string, Promise<void>>();
      movingHeads.set(store, moves);
      moves.set(prefix, moving);
      return entry;
    }
    // Entry n+1 exists: the head moved on since. Read it, as for a first append.
    knownHeads.get(store)?.delete(prefix);
    await assertAppendLock(store, prefix, overlap);
  }
  let previous: string | null | undefined; // the head's ETag in the last round (null: no head)
  let finished: AuditEntry | null = null; // the entry this appender last moved the head to
  for (let stuck = 0; ; ) {
    const head = await store.get(headKey(prefix));
    const last = head ? parseHead(headKey(prefix), head.body) : null;
    // The state after the head's entry: read from it, unless it is the entry just finished.
    const before =
      finished &&
      last &&
      finished.seq === last.seq &&
      finished.hash === last.hash &&
      isRecord(finished.state) &&
      isRecord(finished.indexes)
        ? {
            state: finished.state as Record<string, string>,
            indexes: finished.indexes as Record<string, string>,
            ...(isRecord(finished.markers) ? { markers: finished.markers as Record<string, string> } : {}),
          }
        : await recordedState(store, prefix, last);
    const entry = nextEntry(last, event, await withMarkers(store, prefix, last, before));
    // Under the lock (a store that ignores conditions) no condition is sent.
    const headCondition = conditional ? overVersion(head?.etag ?? null) : {};
    attempted.add(entry.hash);
    if (await createEntry(store, prefix, entry, conditional)) {
      await moveHead(store, prefix, entry, headCondition);
      return entry;
    }
    finished = await finishInterrupted(store, prefix, last, entry.seq, headCondition);
    if (finished && attempted.has(finished.hash)) {
      rememberHead(store, prefix, finished, undefined);
      return finished;
    }
    await assertAppendLock(store, prefix, overlap);
    if (finished) {
      stuck = 0;
    } else {
      const now = head?.etag ?? null;
      stuck = now === previous ? stuck + 1 : 0;
      if (stuck >= STUCK_ATTEMPTS) {
        throw new FrontendOpsError(
          'TAMPERED',
          `Audit entry ${entry.seq} keeps being refused as existing and then read as missing: the log is being edited by hand. Nothing was written. Run \`frontendops audit verify\` to see what changed.`,
        );
      }
      await waitBeforeRetry(stuck);
    }
    previous = head?.etag ?? null;
  }
}

/** Writes entry n+1 unless it exists: false when it does (created by another appender, or left by one). */
async function createEntry(
  store: ObjectStore,
  prefix: string,
  entry: AuditEntry,
  conditional: boolean,
): Promise<boolean> {
  const key = entryKey(prefix, entry.seq);
  if (!conditional && (await store.head(key))) return false;
  try {
    await store.put(
      key,
      JSON.stringify(entry),
      { contentType: 'application/json' },
      conditional ? { ifNoneMatch: '*' } : {},
    );
    return true;
  } catch (error) {
    if (isFrontendOpsError(error, 'PRECONDITION_FAILED')) return false;
    throw error;
  }
}

/**
 * Moves the head to our entry. Refused (the head changed since we read it): someone finishing our
 * append moved it to our entry, or past it, and that is success; anything else is a hand edit.
 */
async function moveHead(
  store: ObjectStore,
  prefix: string,
  entry: AuditEntry,
  condition: { ifMatch?: string; ifNoneMatch?: '*' },
): Promise<void> {
  try {
    const { etag } = await writeHead(store, prefix, entry, condition);
    rememberHead(store, prefix, entry, etag);
    if (entry.state && entry.indexes)
      rememberState(store, prefix, {
        state: entry.state,
        indexes: entry.indexes,
        ...(entry.markers ? { markers: entry.markers } : {}),
        ...namedStack(entry),
        seq: entry.seq,
        hash: entry.hash,
      });
  } catch (error) {
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
    const now = await readHeadNow(store, prefix);
    const landed = now && (now.seq > entry.seq || (now.seq === entry.seq && now.hash === entry.hash));
    // Said in our words: the store's names its key, which holds the stack's state prefix.
    if (!landed)
      throw new FrontendOpsError(
        'PRECONDITION_FAILED',
        `The audit log's head was rewritten by someone else while this change moved it to entry ${entry.seq}: that entry is written, and the head names another. Nothing more was changed. Run \`frontendops audit verify\` to see what the log says before running the change again.`,
        { cause: error },
      );
  }
}

/**
 * Entry `seq` exists though the head names the one before: moves the head to it when it follows from
 * the head. The entry when the head moved (by us or meanwhile); null when the entry has gone again.
 */
async function finishInterrupted(
  store: ObjectStore,
  prefix: string,
  last: AuditHead | null,
  seq: number,
  condition: { ifMatch?: string; ifNoneMatch?: '*' },
): Promise<AuditEntry | null> {
  const found = await store.get(entryKey(prefix, seq));
  if (!found) return null;
  const entry = followingEntry(found.body, last, seq);
  try {
    await writeHead(store, prefix, entry, condition);
  } catch (error) {
    // The appender that wrote it, or another one finishing it, moved the head first.
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
  }
  return entry;
}

/**
 * recordedState, counting an append that stopped between its entry and the head's move (entry n+1
 * there, following from the head): what the chain records once the next append finishes it, as it
 * will. A change checks the state against this, so a pin recorded there holds before it acts (it ran
 * past it before, and its own append then finished the pin's entry behind it). Entry n+1 is read
 * beside the head's entry, and any after it (a head moved back: bindingsPastHead); one that does
 * not follow is left to the append, which refuses it.
 */
export async function recordedStateAfterStopped(
  store: ObjectStore,
  prefix: string,
  head: AuditHead | null,
): Promise<RecordedState> {
  const [recorded, next] = await Promise.all([
    recordedState(store, prefix, head),
    store.get(entryKey(prefix, (head?.seq ?? 0) + 1)),
  ]);
  return keptPast(store, prefix, head, await bindingsPastHead(store, prefix, head, recorded, next?.body));
}

/**
 * Refuses, before a change writes anything, a log the change's own append would be refused on: an
 * entry past `head` that does not follow from it (a damaged head is refused by readAuditHead).
 */
export async function assertAppendable(
  store: ObjectStore,
  prefix: string,
  head: AuditHead | null,
): Promise<void> {
  const seq = (head?.seq ?? 0) + 1;
  const found = await store.get(entryKey(prefix, seq));
  if (found) followingEntry(found.body, head, seq);
}

/**
 * Reads the head and refuses a log the next append would refuse (a damaged head, an entry past it
 * that does not follow from it): what a change checks under its lock before it writes anything. A
 * deploy, which sends the head read beside others, calls readAuditHead and assertAppendable itself.
 */
export async function assertAuditWritable(store: ObjectStore, prefix: string): Promise<AuditHead | null> {
  const head = await readAuditHead(store, prefix);
  await assertAppendable(store, prefix, head);
  return head;
}

/**
 * Refuses a chain that does not hold the head the CDN's release store anchors (`anchored`, its key
 * AUDIT_HEAD_KEY as read: written at each approval's use), before a change writes anything: whoever
 * can write only the state bucket cut the chain back past it (and with it an approval's use, to spend
 * that approval again) or rewrote it. Holding it: the head is it, or the entry at its seq is stored
 * with its hash and hashes to it (the entries between are held by their links, as every append holds
 * them). Reads nothing where the store anchors nothing; one entry where the chain grew past it.
 * `read`: the chain's head as the caller read it (a change's, at its start: assertAuditWritable); what
 * is appended after that read links to it and writes no anchor, so the check holds by it (undefined:
 * read here). Returns the anchored entry where it read it (null: none read), for a reader that walks
 * the entries next (newestBindings `known`), so it is read once.
 */
export async function assertChainHoldsAnchor(
  store: ObjectStore,
  prefix: string,
  stack: string,
  anchored: string | null | undefined,
  read?: { head: AuditHead | null },
): Promise<EntryRead | null> {
  if (!anchored) return null;
  const anchor = parseAuditHead(anchored);
  const head = read ? read.head : await readAuditHead(store, prefix);
  if (anchor && head?.seq === anchor.seq && head.hash === anchor.hash) return null;
  if (anchor && head && head.seq > anchor.seq) {
    const found = await readEntry(store, prefix, entryKey(prefix, anchor.seq));
    const read = found?.entry ? found : null;
    if (read && read.entry.seq === anchor.seq && read.entry.hash === anchor.hash) {
      const { hash: _hash, ...unsigned } = read.entry;
      if (hashOf(unsigned) === anchor.hash) return read;
    }
  }
  const store_ = `the CDN's release store of ${stack} (its key ${AUDIT_HEAD_KEY})`;
  throw new FrontendOpsError(
    'TAMPERED',
    anchor
      ? `The audit log of ${stack} does not hold entry ${formatAuditHead(anchor)}, which ${store_} anchors (written at each approval's use, policy adoption and switch); the log's head is ${head ? formatAuditHead(head) : 'gone'}. Whoever can write only the state bucket cannot write that store: the log was cut back or rewritten in the state bucket, and an approval's recorded use may be among what it lost. Nothing was changed. Run \`frontendops audit verify --stack ${stack}\` to see what changed, and put the audit log back from the state bucket's object versions (every entry up to ${anchor.seq}, and its head); then run the change again.`
      : `${store_} holds ${JSON.stringify(anchored.slice(0, 100))}, which is no audit head ("<seq>:<hash>"): only the deployer role writes that store. Nothing was changed. Put the audit log's head there (the one \`frontendops audit verify --stack ${stack}\` vouches for, as "<seq>:<hash>"), then run the change again.`,
  );
}

/** Entry `seq` as read, when it follows from `last`: a well-formed entry whose prevHash is last's hash. */
function followingEntry(body: Buffer, last: AuditHead | null, seq: number): AuditEntry {
  const refuse = (why: string) =>
    new FrontendOpsError(
      'TAMPERED',
      `The audit log holds entry ${seq} after the entry its head names (${seq - 1}), but ${why}: the log was edited. Nothing was written. Run \`frontendops audit verify\` to see what changed.`,
    );
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw refuse('it is not valid JSON');
  }
  if (!isEntryShape(value) || value.seq !== seq) throw refuse(`it is not an audit entry numbered ${seq}`);
  const { hash, ...unsigned } = value;
  if (value.prevHash !== (last?.hash ?? GENESIS)) throw refuse('it does not follow from that entry');
  const digest = digestOrNull(unsigned);
  if (digest === null) throw refuse(`its content cannot be hashed (it holds ${UNHASHABLE})`);
  if (digest !== hash) throw refuse('its content does not match its hash');
  return value;
}

function nextEntry(last: AuditHead | null, event: AuditEvent, before: Bindings): AuditEntry {
  const unsigned: Omit<AuditEntry, 'hash'> = {
    seq: (last?.seq ?? 0) + 1,
    at: (event.at ?? new Date()).toISOString(),
    type: event.type,
    data: event.data,
    ...(event.objects && Object.keys(event.objects).length > 0 ? { objects: event.objects } : {}),
    ...nextBindings(before, event),
    prevHash: last?.hash ?? GENESIS,
  };
  return { ...unsigned, hash: hashOf(unsigned) };
}

/**
 * `before` (the bindings after `head`'s entry) with the markers known: where that entry does not carry
 * them (written before entries did), replayed from the chain, once: the entry appended carries them.
 */
async function withMarkers(
  store: ObjectStore,
  prefix: string,
  head: AuditHead | null,
  before: Bindings,
): Promise<Bindings> {
  if (before.markers !== undefined) return before;
  let markers: Bindings = { state: {}, indexes: {}, markers: {} };
  for (const each of await readAudit(store, prefix)) {
    if (each.seq > (head?.seq ?? 0)) break;
    markers = nextBindings(markers, each);
  }
  return { ...before, ...(markers.markers ? { markers: markers.markers } : {}) };
}

async function writeHead(
  store: ObjectStore,
  prefix: string,
  entry: AuditEntry,
  condition: { ifMatch?: string; ifNoneMatch?: '*' },
): Promise<{ etag?: string }> {
  return store.put(
    headKey(prefix),
    JSON.stringify({ seq: entry.seq, hash: entry.hash }),
    { contentType: 'application/json' },
    condition,
  );
}

/**
 * The chain's head as its head record says (null for an empty chain). `stack`: the other stack whose
 * publish log it is (a `buildsFrom`), which a refusal of its damaged head names (parseHead).
 */
export async function readAuditHead(
  store: ObjectStore,
  prefix: string,
  stack?: string,
): Promise<AuditHead | null> {
  await headMoved(store, prefix, false);
  return readHeadNow(store, prefix, stack);
}

/** The head as stored now, without waiting for this process's move of it (the move's own check). */
async function readHeadNow(store: ObjectStore, prefix: string, stack?: string): Promise<AuditHead | null> {
  const head = await store.get(headKey(prefix));
  if (!head) return null;
  const record = parseHead(headKey(prefix), head.body, stack);
  rememberHead(store, prefix, record, head.etag);
  return record;
}

/**
 * The entry the head names, as stored; null when there is no head, or the entry is missing or not an
 * entry (unchecked: verifyAudit checks). What "is this change the chain's newest already?" asks.
 */
export async function readNewestEntry(store: ObjectStore, prefix: string): Promise<AuditEntry | null> {
  const head = await readAuditHead(store, prefix);
  if (!head) return null;
  return (await readEntry(store, prefix, entryKey(prefix, head.seq)))?.entry ?? null;
}

/** The stack a publish log records builds for, and its state prefix (ofAnotherStack). */
export interface LogOwner {
  stack: string;
  prefix: string;
  /** The name its marker gives that state location, where it is another (Site historyNamed). */
  also?: string;
}

/**
 * The owner of a stack's publish log (`<state prefix>publishes/`, named by its stack), or undefined
 * where the log is not named so (no stack, another key).
 */
export const logOwner = (l: { stack?: string | undefined; log: string }): LogOwner | undefined =>
  l.stack && l.log.endsWith(PUBLISH_LOG)
    ? { stack: l.stack, prefix: l.log.slice(0, -PUBLISH_LOG.length) }
    : undefined;

/**
 * Whether an entry names (`data.stack`) a stack other than `stack`, whose state prefix is `prefix`:
 * one written to that stack's chain or log. Entries naming the stack `prefix` is the default prefix
 * of are the stack's own, from before a rename its outputs made (another `stack`, keeping that
 * `statePrefix`): the outputs are the operator's, not the state bucket's.
 */
export const ofAnotherStack = (entry: AuditEntry, stack: string, prefix: string, also?: string): boolean =>
  namesAnotherStack(entry.data.stack, stack, prefix, also);

/**
 * ofAnotherStack of an entry naming `named` (its `data.stack`, as read). `also`: the name the hosting
 * bucket's environment marker gives this state location (Site historyNamed), whose entries are the
 * stack's own too, whatever its prefix: the marker is held to the chain, as every change holds it.
 */
const namesAnotherStack = (named: unknown, stack: string, prefix: string, also?: string): boolean =>
  typeof named === 'string' && named !== stack && named !== also && defaultStatePrefix(named) !== prefix;

/**
 * The chain's newest entry as `recorded` read it (its bindings, RecordedState `stack`), when it
 * names a stack other than `stack` (ofAnotherStack), as the problem `audit verify` reports of the
 * chain (entries of another stack); null otherwise. No request: the entry was read for the bindings.
 * A change acting on them, or status telling them, would take another stack's copied history (its
 * state objects, copied with it, as it binds them) for this one's.
 */
export function newestOfAnotherStack(
  recorded: Pick<RecordedState, 'seq' | 'stack'>,
  stack: string,
  prefix: string,
  also?: string,
): AuditProblem | null {
  if (!namesAnotherStack(recorded.stack, stack, prefix, also)) return null;
  return anotherStacksProblem([{ seq: recorded.seq, stack: String(recorded.stack) }], stack, 'chain');
}

/** Where a publish log records a build (publishRecorded): the digest, and the entry that records it. */
export type PublishRecord = { artifactDigest: string; seq: number };

/**
 * The artifact digest the publish log under `log` (a chain prefix: `<state prefix>publishes/`)
 * records for app@commit, with the entry that records it (`recorded`, null when the log never
 * recorded it), and the log's head as read (`head`). Read from the head back, one entry, then twice
 * as many each round, until an entry of that build is found (the build deployed is mostly the newest
 * published: one entry read) or the whole log was read. An entry that is not one (damaged) is passed
 * over: verify reports it.
 */
export async function publishRecorded(
  store: ObjectStore,
  log: string,
  app: string,
  commit: string,
  /** The stack the log records builds for: an entry naming another one is not its record. */
  owner?: LogOwner,
): Promise<{ head: AuditHead | null; recorded: PublishRecord | null }> {
  const [read] = await publishesRecorded(
    [{ store, log, ...(owner ? { owner } : {}) }],
    app,
    commit,
    () => false,
  );
  return read ?? { head: null, recorded: null };
}

/**
 * publishRecorded of each of `logs` (null: one not read, which records nothing), their heads read
 * first, then each log's next round read together with the others' (as publishRecorded reads one),
 * a log ending where it records the build or is read whole. The first round after which a log's
 * record `answers` (as the reader needs it: under the digest it has, say) is the last: the others
 * are read no further, and say what they found so far. Until then every log is read as it would be
 * alone, so one whose record does not answer leaves the others read to the end.
 */
export async function publishesRecorded(
  logs: readonly ({ store: ObjectStore; log: string; stack?: string; owner?: LogOwner } | null)[],
  app: string,
  commit: string,
  answers: (recorded: PublishRecord) => boolean | Promise<boolean>,
): Promise<{ head: AuditHead | null; recorded: PublishRecord | null }[]> {
  const heads = await Promise.all(logs.map((l) => (l ? readAuditHead(l.store, l.log, l.stack) : null)));
  const reads = logs.map((l, i) => {
    const head = heads[i] ?? null;
    return {
      l,
      head,
      rounds: roundsBack(head?.seq ?? 0, { first: 1, most: ENTRY_READS }),
      recorded: null as PublishRecord | null,
    };
  });
  let reading = reads.filter((r) => r.l !== null);
  while (reading.length > 0) {
    const found = await Promise.all(
      reading.map(async (r) => {
        const round = r.rounds.next();
        if (round.done || !r.l) return true;
        const { store, log, owner } = r.l;
        const [from, to] = round.value;
        const entries = await pMap(
          Array.from({ length: to - from }, (_, i) => from + i + 1),
          (seq) => readEntry(store, log, entryKey(log, seq)),
          { concurrency: ENTRY_READS },
        );
        for (const e of entries.reverse()) {
          const data = e?.entry?.type === 'publish' ? e.entry.data : undefined;
          if (!e || data?.app !== app || data.commit !== commit || typeof data.artifactDigest !== 'string')
            continue;
          if (owner && e.entry && ofAnotherStack(e.entry, owner.stack, owner.prefix, owner.also)) continue;
          r.recorded = { artifactDigest: data.artifactDigest, seq: e.seq };
          return true;
        }
        return from === 0;
      }),
    );
    for (const r of reading)
      if (r.recorded && (await answers(r.recorded)))
        return reads.map(({ head, recorded }) => ({ head, recorded }));
    reading = reading.filter((_, i) => !found[i]);
  }
  return reads.map(({ head, recorded }) => ({ head, recorded }));
}

/**
 * The entry that recorded `record`, read as the record of `deployId` (the newest entry binding that
 * name, where it names the record's digest: a record copied from another deployment carries that
 * one's id, and its digest is no binding here), or null. Its deploy tag's Audit-Head names it (a
 * change returns its own entry's head). One read of the chain from its newest entry back.
 */
export async function entryRecording(
  store: ObjectStore,
  prefix: string,
  deployId: string,
  record: unknown,
): Promise<AuditEntry | null> {
  return (await recordBinding(store, prefix, deployId))(record);
}

/**
 * entryRecording before the record is read: the chain is walked for the newest entry binding the
 * record of `deployId`, and what it returns holds a record to it. So the record can be read meanwhile.
 */
export async function recordBinding(
  store: ObjectStore,
  prefix: string,
  deployId: string,
): Promise<(record: unknown) => AuditEntry | null> {
  const name = recordName(deployId);
  const { bound } = await newestBindings(store, prefix, [name]);
  const entry = bound.get(name);
  return (record) => (entry && entry.objects?.[name] === digestOrNull(record) ? entry : null);
}

/**
 * The deployment records among `records` whose content the chain binds (the newest entry binding
 * each names its digest). A record is state like any other, but nothing checks records before a
 * change starts: one written around the chain must not send a rollback anywhere. Reads the chain,
 * so only where a change takes a record as its proof (a rollback to a release the pointer no longer
 * keeps).
 */
export async function boundRecords<T extends { deployId: string }>(
  store: ObjectStore,
  prefix: string,
  records: readonly T[],
): Promise<T[]> {
  if (records.length === 0) return [];
  return records.filter(
    await chainBindsRecords(
      store,
      prefix,
      records.map((r) => r.deployId),
    ),
  );
}

/**
 * What boundRecords asks of each record, from one read of the chain (newestBindings, for the records
 * under `deployIds`): whether the newest entry binding it names its digest. For a caller that holds
 * records found one after another (each read only once the one before is held) to the same read.
 */
export async function chainBindsRecords(
  store: ObjectStore,
  prefix: string,
  deployIds: readonly string[],
): Promise<(record: { deployId: string }) => boolean> {
  const { bound } = await newestBindings(store, prefix, deployIds.map(recordName));
  return (record) => {
    const name = recordName(record.deployId);
    return bound.get(name)?.objects?.[name] === digestOrNull(record);
  };
}

/**
 * How the chain holds `record`, read as the deployment record of `deployId` (from its name), from one
 * read of the chain: `bound` (the newest entry binding it names its digest, as boundRecords says); `legacy`, one a chain begun before entries bound records
 * recorded (a deploy or rollback entry with no `objects`, which `audit verify` accepts unbound:
 * legacyRecords) as that entry says: its deploy id, app, commit, digest and outcome, and no entry
 * binds it since (what the entry does not hold, who asked and what was verified, it does not vouch
 * for); otherwise `unbound`. A record carrying another deploy id than the one it was read as (that
 * deployment's bound record, copied under this name by whoever can write the state prefix) is not
 * this deployment's: `unbound`, with no read.
 */
export async function recordStanding(
  store: ObjectStore,
  prefix: string,
  deployId: string,
  record: StandingRecord,
  options: NewestOptions = {},
): Promise<Standing> {
  const [standing] = await recordsStanding(store, prefix, [{ deployId, record }], options);
  return standing ?? 'unbound';
}

/** What recordStanding reads of a record. */
type StandingRecord = {
  deployId: string;
  app?: unknown;
  commit?: unknown;
  artifactDigest?: unknown;
  outcome?: unknown;
};
type Standing = 'bound' | 'legacy' | 'unbound';

/**
 * recordStanding for each of `read` (a record, and the deploy id it was read as), from one read of
 * the chain: for a reader that lists many (a page of the history).
 */
export async function recordsStanding(
  store: ObjectStore,
  prefix: string,
  read: readonly { deployId: string; record: StandingRecord }[],
  options: NewestOptions = {},
): Promise<Standing[]> {
  return (await recordsStandingRead(store, prefix, read, options)).standing;
}

/** recordsStanding, and the entries it read (newestBindings `entries`): for a reader that looks among them too (`also`). */
export async function recordsStandingRead(
  store: ObjectStore,
  prefix: string,
  read: readonly { deployId: string; record: StandingRecord }[],
  options: NewestOptions = {},
): Promise<{ standing: Standing[]; entries: AuditEntry[] }> {
  const own = read.filter(({ deployId, record }) => record.deployId === deployId);
  if (own.length === 0 && !options.also) return { standing: read.map(() => 'unbound'), entries: [] };
  // The whole chain is read only when no entry binds a record (a legacy one is in the old entries).
  const { bound, entries } = await newestBindings(
    store,
    prefix,
    own.map(({ deployId }) => recordName(deployId)),
    options,
  );
  const standing = read.map(({ deployId, record }): Standing => {
    if (record.deployId !== deployId) return 'unbound';
    const name = recordName(deployId);
    const binding = bound.get(name);
    if (binding) return binding.objects?.[name] === digestOrNull(record) ? 'bound' : 'unbound';
    const legacy = entries.some(
      (e) =>
        (e.type === 'deploy' || e.type === 'rollback') &&
        !e.objects &&
        e.data.deployId === record.deployId &&
        e.data.app === record.app &&
        e.data.commit === record.commit &&
        // Its digest names the build a preview uploads, and its outcome what it did: both as the entry
        // says (an entry without a digest vouches for none).
        typeof e.data.artifactDigest === 'string' &&
        e.data.artifactDigest === record.artifactDigest &&
        (typeof e.data.outcome !== 'string' || e.data.outcome === record.outcome),
    );
    return legacy ? 'legacy' : 'unbound';
  });
  return { standing, entries };
}

/** How newestBindings reads (its doc says each). */
interface NewestOptions {
  first?: number;
  known?: readonly (EntryRead | null | undefined)[];
  also?: (entry: AuditEntry) => boolean;
}

/**
 * The newest entry binding each of `names` (objects under the state prefix), read from the chain's
 * newest entry back, ENTRY_READS at a time, stopping once each name's is found. A release named by
 * deploy id is mostly a recent one, bound a few entries from the end: a chain of thousands is then
 * not read whole for it (a name bound nowhere, as a record planted around the chain, reads it all).
 * Every listed entry counts, as readAudit takes them (one past the head too); one that is not an
 * entry among those read is refused as readAudit refuses it. `entries`: those read, in order (the
 * whole chain when a name is bound nowhere). `first`: how many entries the first round reads (a
 * reader that expects the binding among the newest few, as `status` the live release's record).
 * `known`: entries the reader already read (recordedStateRead's newest, the anchored one
 * assertChainHoldsAnchor read), each taken where the listing names its key instead of read again
 * (entries are create-only); an entry appended since is listed, and read, as any other. `also`: what
 * else the reader looks for among the entries, given each, newest first: read on until it says it
 * has that too (true).
 */
export async function newestBindings(
  store: ObjectStore,
  prefix: string,
  names: readonly string[],
  options: NewestOptions = {},
): Promise<{ bound: Map<string, AuditEntry>; entries: AuditEntry[] }> {
  const bound = new Map<string, AuditEntry>();
  const wanted = new Set(names);
  if (wanted.size === 0 && !options.also) return { bound, entries: [] };
  const entries = await readBackwards(store, prefix, options, (entry) => {
    for (const name of Object.keys(entry.objects ?? {}))
      if (wanted.has(name) && !bound.has(name)) bound.set(name, entry);
    const also = options.also?.(entry) ?? true;
    return bound.size >= wanted.size && also;
  });
  return { bound, entries };
}

/** The chain's newest entry that `test` holds for, read as newestBindings reads (null: none does). */
export async function newestEntryWhere(
  store: ObjectStore,
  prefix: string,
  test: (entry: AuditEntry) => boolean,
): Promise<AuditEntry | null> {
  return (await newestEntriesWhere(store, prefix, { found: test })).found;
}

/**
 * For each test, the chain's newest entry it holds for (null: none does), in one walk from the
 * newest entry back until each has one (the whole chain when one has none).
 */
async function newestEntriesWhere<K extends string>(
  store: ObjectStore,
  prefix: string,
  tests: Readonly<Record<K, (entry: AuditEntry) => boolean>>,
): Promise<Record<K, AuditEntry | null>> {
  const names = Object.keys(tests) as K[];
  const found = Object.fromEntries(names.map((name) => [name, null])) as Record<K, AuditEntry | null>;
  const take = (entry: AuditEntry) => {
    for (const name of names) if (found[name] === null && tests[name](entry)) found[name] = entry;
    return names.every((name) => found[name] !== null);
  };
  const read = await readBackwards(store, prefix, {}, take, true);
  // What it says stands only as the chain holds it: its content hashed as it says, and each entry
  // read after it following from the one before (no reads: those are the entries read).
  const at = names.flatMap((name) => (found[name] ? [read.indexOf(found[name])] : []));
  const broken = read[brokenFrom(read, at.length > 0 ? Math.min(...at) : read.length)];
  if (broken) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The audit entry ${broken.seq} was changed after it was written (its content does not match its hash, or the next entry does not follow from it). Nothing was changed. Run \`frontendops audit verify\` to see what changed, and restore it from the bucket's versions.`,
    );
  }
  return found;
}

/**
 * Among entries read in order (readBackwards), the index of the first from `from` on whose content
 * does not hash as it says, or that the next one read does not follow from; -1: from `from` to the
 * newest read, each stands as the chain holds it (no reads).
 */
export function brokenFrom(read: readonly AuditEntry[], from: number): number {
  for (let i = Math.max(0, from); i < read.length; i++) {
    const { hash, ...unsigned } = read[i] as AuditEntry;
    const next = read[i + 1];
    if (digestOrNull(unsigned) !== hash || (next !== undefined && next.prevHash !== hash)) return i;
  }
  return -1;
}

/**
 * The chain's entries read from the newest back (newestBindings says how), each given to `take`,
 * newest first, until it says it has what it needs (true); those read, in order.
 */
async function readBackwards(
  store: ObjectStore,
  prefix: string,
  options: NewestOptions,
  take: (entry: AuditEntry) => boolean,
  /** readable's `unchanged`. */
  unchanged = false,
): Promise<AuditEntry[]> {
  const { keys } = await listChain(store, prefix);
  // The first round is one round of reads; each next one twice as long, so that a chain read to its
  // start waits on few more rounds than one read whole.
  return inRoundsBack(
    keys.length,
    { first: options.first ?? ENTRY_READS },
    async (from, to) =>
      readable(await readEntryKeys(store, prefix, keys.slice(from, to), options.known), unchanged),
    take,
  );
}

/**
 * The chain's `length` entries read from the newest back, in rounds: `first` entries, then twice as
 * many each round (at most `most`); `read` reads those at positions [from, to) in chain order, and
 * each is given to `take`, newest first, until it says it has what it needs (true). Those read, in
 * chain order. How readBackwards (from a listing) reads; publishesRecorded (from the heads) reads
 * in the same rounds (roundsBack).
 */
async function inRoundsBack<T>(
  length: number,
  sizes: { first: number; most?: number },
  read: (from: number, to: number) => Promise<T[]>,
  take: (item: T) => boolean,
): Promise<T[]> {
  const rounds: T[][] = [];
  for (const [from, to] of roundsBack(length, sizes)) {
    const round = await read(from, to);
    rounds.unshift(round);
    if ([...round].reverse().some(take)) break;
  }
  return rounds.flat();
}

/** The positions [from, to) of inRoundsBack's rounds, newest first. */
function* roundsBack(
  length: number,
  { first, most = Number.POSITIVE_INFINITY }: { first: number; most?: number },
): Generator<[number, number]> {
  for (let end = length, size = first; end > 0; end -= size, size = Math.min(size * 2, most))
    yield [Math.max(0, end - size), end];
}

/** Each object the entries bind, with its newest binding: the digest, and the entry that bound it. */
function latestBindings(entries: readonly AuditEntry[]): Map<string, { digest: string; seq: number }> {
  const bound = new Map<string, { digest: string; seq: number }>();
  for (const entry of entries) {
    for (const [name, digest] of Object.entries(entry.objects ?? {}))
      bound.set(name, { digest, seq: entry.seq });
  }
  return bound;
}

/**
 * Whether the chain records `approval` used for `deployId` (an `approval-used` entry binding its
 * "used" marker, by the same person, the same way): what a change read back from a crash-recovery
 * record may name as its approval. A record naming one the chain does not record would have
 * FrontendOps write an entry `audit verify` reports as tampered, for good. Reads the chain, so only
 * where such a record is recorded (a change that stopped and was superseded).
 */
export async function usedApprovalRecorded(
  store: ObjectStore,
  prefix: string,
  approval: { nonce?: unknown; by?: unknown; via?: unknown },
  deployId: string,
): Promise<boolean> {
  if (typeof approval.nonce !== 'string') return false;
  const used = usesApproval(approval.nonce);
  return (await readAudit(store, prefix)).some(
    (e) =>
      used(e) && e.data.deployId === deployId && e.data.by === approval.by && e.data.via === approval.via,
  );
}

/**
 * The entry recording a use of the approval `nonce` names (an `approval-used` entry binding its "used"
 * marker), or null (`used`). Read from the newest entry back to the request the nonce answers (its
 * `approval-requested` entry: no use comes before it), the whole chain for an approval asked for by
 * no request (a GitHub run's key). The marker is what says "used" first; whoever can write the state
 * bucket can delete it, and take the entry back only by cutting the chain's end (docs/security.md).
 * `also`: the newest entry it holds for, found in the same walk (what a use asks of the chain too:
 * the policy recorded, approval-in-force.ts assertRecordedAsJudged).
 */
export async function approvalUseOnChain(
  store: ObjectStore,
  prefix: string,
  nonce: string,
  also: (entry: AuditEntry) => boolean,
): Promise<{ used: AuditEntry | null; also: AuditEntry | null }> {
  const used = ofRequest(nonce, usesApproval(nonce));
  const found = await newestEntriesWhere(store, prefix, { used: used.reads, also });
  return { used: used.answer(found.used), also: found.also };
}

/**
 * The newest entry recording the request `nonce` names answered: its approval given (signed, by
 * `frontendops approve`) or used; null where none does. Read as approvalUseOnChain reads. The chain
 * records an approval as given once: a request it records answered is never answered again, whatever
 * the state bucket holds (its signed statement and "used" marker, which whoever can write it can delete).
 */
export function approvalAnswerOnChain(
  store: ObjectStore,
  prefix: string,
  nonce: string,
): Promise<AuditEntry | null> {
  const used = usesApproval(nonce);
  return newestOfRequest(store, prefix, nonce, (e) => used(e) || givesApproval(nonce)(e));
}

/**
 * How the entry `test` holds for is looked for back to the request `nonce` names: the walk stops at
 * whichever is newer (`reads`), and the entry found counts only where `test` holds for it (`answer`).
 */
const ofRequest = (nonce: string, test: (entry: AuditEntry) => boolean) => ({
  reads: (e: AuditEntry) => test(e) || (e.type === 'approval-requested' && e.data.nonce === nonce),
  answer: (found: AuditEntry | null) => (found && test(found) ? found : null),
});

/** The newest entry `test` holds for, read back to the request `nonce` names (approvalUseOnChain). */
async function newestOfRequest(
  store: ObjectStore,
  prefix: string,
  nonce: string,
  test: (entry: AuditEntry) => boolean,
): Promise<AuditEntry | null> {
  const request = ofRequest(nonce, test);
  return request.answer(await newestEntryWhere(store, prefix, request.reads));
}

/** Whether an entry records the approval `nonce` names as given: approved, with the statement signed for it. */
export const givesApproval =
  (nonce: string) =>
  (entry: Pick<AuditEntry, 'type' | 'data'>): boolean =>
    entry.type === 'approval' &&
    entry.data.decision === 'approved' &&
    (entry.data.signed as { statement?: { nonce?: unknown } } | undefined)?.statement?.nonce === nonce;

/** Whether an entry records a use of the approval `nonce` names: `approval-used`, binding its "used" marker. */
export const usesApproval =
  (nonce: string) =>
  (entry: Pick<AuditEntry, 'type' | 'objects'>): boolean =>
    entry.type === 'approval-used' && entry.objects?.[`${APPROVALS_USED}${nonce}.json`] !== undefined;

/** Every entry in order. A damaged entry is a TAMPERED error naming it (verifyAudit reports it instead). */
export async function readAudit(store: ObjectStore, prefix: string): Promise<AuditEntry[]> {
  return readable((await readEntries(store, prefix)).read);
}

/**
 * The entries read, or TAMPERED naming the first that is not one (what a change acts on must read
 * whole). `unchanged`: the reader changes nothing, and says so.
 */
function readable(read: readonly ReadEntry[], unchanged = false): AuditEntry[] {
  const damaged = read.find((r) => r.entry === null);
  if (damaged) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The audit entry ${damaged.key} is damaged (${damaged.reason}).${unchanged ? ' Nothing was changed.' : ''} Run \`frontendops audit verify\` to see what else changed, and restore it from the bucket's versions.`,
    );
  }
  return read.map((r) => r.entry as AuditEntry);
}

/** What `verifyAudit` checks beyond the state bucket. */
export interface VerifyOptions {
  /** Chain heads outside the bucket (the deploy tags' `Audit-Head:`), which the chain must still hold. */
  anchors?: readonly AuditAnchor[];
  /**
   * The stack whose chain this is (the site's, as its environment marker names it): an entry naming
   * another stack (`data.stack`: deployments, markers) was written to that stack's chain.
   */
  stack?: string;
  /** The name the stack's marker gives its state location, where it is another (Site historyNamed). */
  historyNamed?: string;
  /**
   * The hosting bucket whose environment marker sends its history to this chain: the marker must be
   * the one the newest entry that wrote it to that bucket bound (state/environment.ts).
   */
  hosting?: { bucket: string; store: ObjectStore };
  /**
   * Atomic stacks: the reader of the CDN's release store (the site's ReleaseStore), given when the
   * caller can reach it. The key edges route by must name what the chain's newest atomic operation
   * recorded (checkReleaseStore). `null`: the stack has none (it is in place), so no atomic operation
   * switched there, and no crash-recovery record of one excuses what a switch would write.
   */
  releaseStore?: { read(): Promise<ReleasePointerRead> } | null;
  /**
   * The stack's approvers (name → public key, its configuration's `approval.approvers`): a signed
   * approval the chain records counts as checked only when signed by the key listed under its name.
   */
  approvers?: Readonly<Record<string, string>>;
  /**
   * Which approvals other than signed ones the stack's configuration accepts now: a client's answer
   * (`trustElicitation`), a GitHub environment's. A record of one it does not accept stays unchecked.
   */
  accepts?: ApprovalsAccepted;
  /** The time verify judges by (ms since the epoch; default now): a request's hour, e.g. */
  now?: number;
  /**
   * The publish logs of other stacks this one deploys builds from (its `buildsFrom`, named by `stack`):
   * a release one of them recorded was published. Where this stack relies on one (a release its own
   * log does not record is recorded there, or in no log whole, which a problem there may hide), that
   * log is checked as its own is, and its problems are reported, named by its stack; one that cannot
   * be read is reported where any release its own log does not record depends on it. An append
   * stopped there is that stack's to finish, and the problems of a log it does not rely on are that
   * stack's to report (its own verify). One its stack could not be opened for (`unread`: its
   * marker, say) is told as one that could not be read.
   */
  publishLogs?: readonly ({ stack?: string; log: string } & (
    | { state: ObjectStore }
    | { state?: undefined; unread: unknown }
  ))[];
}

export async function verifyAudit(
  store: ObjectStore,
  prefix: string,
  options: VerifyOptions = {},
): Promise<AuditVerification> {
  const [deploys, publishes, others] = await Promise.all([
    untilHeadHolds(store, prefix, () => verifyAuditOnce(store, prefix, options)),
    untilHeadHolds(store, `${prefix}${PUBLISH_LOG}`, () =>
      checkChain(store, `${prefix}${PUBLISH_LOG}`, prefix, PUBLISH_LOG_WORDS),
    ),
    Promise.all(
      (options.publishLogs ?? []).map((l) => {
        const words = otherLogWords(l);
        const { stack } = l;
        if (!l.state) return { unread: l.unread, words, stack };
        return checkChain(l.state, l.log, l.log, words).then(
          (check) => ({ ...check, words, stack }),
          (unread: unknown) => ({ unread, words, stack }),
        );
      }),
    ),
  ]);
  const anchored = publishAnchors(deploys.seen, publishes);
  // Another stack's log, held to the heads entries name; one not read is reported where relied on.
  const othersAnchored = others.flatMap((o, i) => {
    const stack = options.publishLogs?.[i]?.stack;
    return 'unread' in o || !stack ? [] : publishAnchors(deploys.seen, o, { stack, words: o.words }).problems;
  });
  const read = others.flatMap((o) => ('unread' in o ? [] : [o]));
  const unreadLogs = (options.publishLogs ?? []).flatMap((l, i) =>
    others[i] && 'unread' in others[i]
      ? [{ stack: l.stack, said: `${l.stack ?? l.log}'s could not be read` }]
      : [],
  );
  const dropped = droppedLogs(deploys.seen, options.publishLogs);
  const unpublished = unpublishedDigests(
    deploys.seen,
    [...publishes.entries, ...read.flatMap((o) => o.entries)],
    [...unreadLogs, ...dropped.map((d) => ({ stack: d.stack, said: `${d.stack}'s was not read` }))],
    [
      brokenLog("this stack's", 'the publish log', publishes),
      ...read.map((o) => brokenLog(`${o.stack}'s`, `${o.stack}'s publish log`, o)),
    ].flatMap((b) => (b ? [b] : [])),
  );
  // Each publish log's entries name the stack it records builds for (those written since they do).
  const foreignLogs = [
    options.stack === undefined
      ? null
      : foreignIn(
          PUBLISH_LOG_WORDS,
          otherStacksEntries(publishes.entries, options.stack, prefix, 'publish log', options.historyNamed),
        ),
    ...others.map((o, i) => {
      const l = options.publishLogs?.[i];
      const owner = l && logOwner(l);
      if ('unread' in o || !owner) return null;
      return foreignIn(o.words, otherStacksEntries(o.entries, owner.stack, owner.prefix, 'publish log'));
    }),
  ].flatMap((p) => (p ? [p] : []));
  const problems = [
    ...deploys.problems,
    ...publishes.problems,
    ...foreignLogs,
    ...anchored.problems,
    ...othersAnchored,
    ...unpublished,
    ...reliedOnLogProblems(deploys.seen, publishes.entries, [...others, ...dropped], unpublished.length > 0),
  ];
  const { problem: _first, seen: _seen, ...rest } = deploys;
  return {
    ...rest,
    ok: problems.length === 0,
    ...(problems[0] ? { problem: problems[0] } : {}),
    problems,
    publishLog: {
      entries: publishes.read.length,
      headHash: publishes.headRecord?.hash ?? null,
      anchors: anchored.count,
    },
  };
}

/** A problem of a publish log, told in its words. */
const foreignIn = (words: ChainWords, problem: AuditProblem | null): AuditProblem | null =>
  problem && { ...problem, reason: words.reason(problem.reason) };

/** A read of the CDN's release store that got no answer (not one holding no valid pointer, which is an answer). */
class ReleaseStoreUnread {
  constructor(readonly cause: unknown) {}
}

/**
 * verifyAudit, given the CDN's release store, where a reader refuses by what verify says of one
 * object (`subject`: a deployment record no entry binds, the live pointer, as named in words) named
 * where a release is asked for: whether it is a stopped change's hangs on the switch that store
 * serves. A store that does not answer (the network, a 5xx, access denied) is neither an answer
 * (it would make a stopped change's record read as forged) nor left out (verify without a store
 * excuses any atomic/pending.json's record, one planted on an in-place stack too): refused UPSTREAM,
 * naming what could not be read and what to do, with nothing changed. Never its ARN or endpoint.
 */
export async function verifyAuditAbout(
  store: ObjectStore,
  prefix: string,
  releaseStore: VerifyOptions['releaseStore'],
  subject: string,
): Promise<AuditVerification> {
  const reader = releaseStore && {
    read: () =>
      servedReader(releaseStore)
        .read()
        .catch((error: unknown) => {
          throw isInvalidReleasePointer(error) ? error : new ReleaseStoreUnread(error);
        }),
  };
  try {
    return await verifyAudit(store, prefix, reader === undefined ? {} : { releaseStore: reader });
  } catch (error) {
    if (!(error instanceof ReleaseStoreUnread)) throw error;
    const code = isFrontendOpsError(error.cause) ? error.cause.details?.keyValueStoreCode : undefined;
    const said = backendErrorName(code) ? ` (${code})` : '';
    throw new FrontendOpsError(
      'UPSTREAM',
      `The CDN's release store (its ${RELEASE_STORE_OBJECT}) could not be read${said}, so whether ${subject} is a stopped change's could not be checked against the switch the store serves. Nothing was changed. ` +
        'Check that this machine reaches the KeyValueStore API and that its credentials may read the store (cloudfront-keyvaluestore:DescribeKeyValueStore and GetKey), then ask again.',
      { cause: error.cause, details: { object: RELEASE_STORE_OBJECT } },
    );
  }
}

/**
 * The publish log's heads as the deploy chain's entries saw them (`publishHead` in a deployment's
 * entry): each must still be an entry of the log, unchanged. The deploy chain is anchored in git by
 * the deploy tags, so whoever rewrites the publish log whole must rewrite the deploy chain as well,
 * which they show. Another stack's log (`other`, a `buildsFrom`) is held likewise to the heads the
 * entries of changes whose build was found there name (`publishedIn`, `publishedInHead`); entries
 * written before they were named hold it to nothing. A head named that is not one (an entry written
 * before head records were checked, naming a damaged one as read) is reported as damaged: the log
 * could not be held to it, and nothing says the entry was changed.
 */
function publishAnchors(
  deployEntries: readonly AuditEntry[],
  log: ChainCheck,
  other?: { stack: string; words: ChainWords },
): { count: number; problems: AuditProblem[] } {
  const problems: AuditProblem[] = [];
  const words = other?.words ?? PUBLISH_LOG_WORDS;
  let count = 0;
  for (const entry of deployEntries) {
    const named = other
      ? entry.data?.publishedIn === other.stack && entry.data.publishedInHead
      : entry.data?.publishHead;
    if (typeof named !== 'string') continue;
    const seen = parseAuditHead(named);
    if (!seen) {
      // Written by a version that named whatever head record it read, a damaged one too (its hash
      // holds: nothing says it was tampered with), but no entry of the log is named by it.
      problems.push({
        kind: 'damaged',
        seq: entry.seq,
        reason: words.reason(
          `${entryNamed(entry)} names its head as ${JSON.stringify(named)}, which names no entry as the log writes it (<seq>:sha256:<64 lowercase hex digits>), so the log could not be held to the head that ${changeNoun(entry.type)} saw`,
        ),
      });
      continue;
    }
    count += 1;
    const held = log.entries[seen.seq - 1];
    if (held?.hash === seen.hash) continue;
    // Still there as seen, past an entry that does not verify: that entry's problem says what is wrong.
    const past = log.read[seen.seq - 1]?.entry;
    if (!held && past?.seq === seen.seq && past.hash === seen.hash) continue;
    // Named as the kind of change it is (a deploy, a rollback, a canary's start, a preview).
    const saw = `${entryNamed(entry)} saw (${seen.hash})`;
    problems.push({
      kind: 'tampered',
      seq: seen.seq,
      object: `${other ? '' : PUBLISH_LOG}${auditEntryName(seen.seq)}`,
      reason: words.reason(
        held
          ? `entry ${seen.seq} is not the one ${saw}: the publish log was rewritten after that ${changeNoun(entry.type)}`
          : `it holds no entry ${seen.seq}, which ${saw}: the publish log was cut or rewritten after that ${changeNoun(entry.type)}`,
      ),
    });
  }
  return { count, problems };
}

/**
 * The stacks whose publish logs entries name as where their build was found (`publishedIn`) that
 * are not among the logs given (`given`: the configuration's `buildsFrom` as opened; undefined, the
 * caller gave none and asks nothing of them). Verify does not open a stack the configuration no
 * longer names here: what tells where its log is, and that it is that stack's, is the configuration
 * (and the stack's environment marker), which no longer vouches for it. Such a log is said not to be
 * read where relied on (reliedOnLogProblems), rather than the heads entries name in it checked
 * against nothing and its releases called unpublished.
 */
function droppedLogs(
  deployEntries: readonly AuditEntry[],
  given: VerifyOptions['publishLogs'],
): { unread: null; dropped: true; stack: string; words: ChainWords }[] {
  if (!given) return [];
  const named = new Set(deployEntries.map((e) => e.data?.publishedIn));
  return [...named].flatMap((stack) =>
    typeof stack === 'string' && !given.some((l) => l.stack === stack)
      ? [{ unread: null, dropped: true as const, stack, words: otherLogWords({ stack }) }]
      : [],
  );
}

/**
 * Where a publish log's chain, as checked, breaks (its entries verify up to `at`, not from it):
 * the entries read from there on that read as entries, whose records the chain no longer holds.
 * `whose`, `log`: how the words name it ("staging's", "staging's publish log"). Null: it verifies.
 */
function brokenLog(
  whose: string,
  log: string,
  check: ChainCheck,
): { whose: string; log: string; at: number; past: AuditEntry[] } | null {
  const from = check.entries.length;
  if (from >= check.read.length) return null;
  const past = check.read.slice(from).flatMap((r) => (r.entry ? [r.entry] : []));
  return { whose, log, at: check.read[from]?.seq ?? from + 1, past };
}

/** An entry of the deploy chain as words name it: its kind and number ("canary-start entry 7"). */
const entryNamed = (entry: AuditEntry): string => `${entry.type} entry ${entry.seq}`;

/** The digests the logs read record a release's commit under ("sha256:… or sha256:…"). */
const digestsSaid = (digests: Set<unknown>): string => [...digests].map(String).join(' or ');
/** "; they record that commit as sha256:…", where the logs read record the commit under other digests. */
const otherDigests = (digests: Set<unknown> | undefined): string =>
  digests ? `; they record that commit as ${digestsSaid(digests)}` : '';

/** Where a publish log breaks, as brokenLog tells it. */
type BrokenLog = NonNullable<ReturnType<typeof brokenLog>>;
/** A publish log verify did not read, and how that is said ("staging's could not be read"). */
type UnreadLog = { stack?: string | undefined; said: string };

/** What unpublishedDigests knows of a release no publish log read records under the digest it went out as. */
interface Unrecorded {
  /** "entry 5 records app@abc1234 going out as sha256:…" */
  release: string;
  /** The entry that says the release was found in a log not read (`publishedIn`), and that log. */
  found: { entry: AuditEntry; log: UnreadLog } | undefined;
  /** A log that records it past the entry where that log breaks (brokenLog), and that record's number. */
  past: (BrokenLog & { seq: number }) | undefined;
  /** The digests the logs read record for its commit, if any. */
  digests: Set<unknown> | undefined;
  broken: readonly BrokenLog[];
  unread: readonly UnreadLog[];
}

/**
 * Why a release no publish log read records went out, in the order the causes are judged: the first
 * that applies (its `reason` is not null) is the one told. One that may be recorded where verify could
 * not read (a log not read, or past where a log breaks) is damaged, not tampered: nothing shows it was
 * altered, it only cannot be held to a log (verify fails all the same). So is one whose commit a log
 * read records under another digest, where a log could not be read: a build expired from the
 * artifacts bucket (a lifecycle rule) and published again need not reproduce byte for byte.
 */
const UNPUBLISHED_CAUSES: readonly { kind: AuditProblemKind; reason: (r: Unrecorded) => string | null }[] = [
  {
    // Its entry says it was found in a log that was not read: not checked against it.
    kind: 'damaged',
    reason: ({ release, found }) =>
      found
        ? `${release}, which ${entryNamed(found.entry)} says ${found.log.stack}'s publish log recorded, and ${found.log.said}: it was not checked against that log`
        : null,
  },
  {
    // A log records it past the entry where that log breaks.
    kind: 'damaged',
    reason: ({ release, past }) =>
      past
        ? `${release}, which ${past.log} records in entry ${past.seq}${past.seq === past.at ? '' : `, past entry ${past.at}`}, where that log is broken: that record cannot be held to the log`
        : null,
  },
  {
    // Recorded nowhere as far as the logs verify (its commit perhaps under another digest: a build
    // expired from the artifacts bucket and published again): it may be in what could not be read past a break.
    kind: 'damaged',
    reason: ({ release, broken, unread, digests }) =>
      broken.length > 0
        ? `${release}, a build the publish logs this stack trusts do not record as far as they verify (${[...broken.map((b) => `${b.whose} is broken at entry ${b.at}`), ...unread.map((u) => u.said)].join(', ')}${otherDigests(digests)}): its record may be in what could not be read there`
        : null,
  },
  {
    // Recorded in no log read (its commit perhaps under another digest), and some could not be read.
    kind: 'damaged',
    reason: ({ release, unread, digests }) =>
      unread.length > 0
        ? `${release}, a build none of the publish logs this stack could read recorded (${unread.map((u) => u.said).join(', ')}${otherDigests(digests)}): it may be recorded there, or it was put in the artifacts bucket without publishing it`
        : null,
  },
  {
    // Every log read whole, and they record its commit published under another digest.
    kind: 'tampered',
    reason: ({ release, digests }) =>
      digests
        ? `${release}, but the publish log records that commit published as ${digestsSaid(digests)}: its manifest and files were replaced in the artifacts bucket after publishing`
        : null,
  },
  {
    // Every log read whole, and none records it.
    kind: 'tampered',
    reason: ({ release }) =>
      `${release}, a build no publish log this stack trusts recorded: it was put in the artifacts bucket without publishing it to this stack`,
  },
];

/**
 * Each release the deploy chain records (app, commit, artifact digest) against the publish log (and
 * the publish entries an older version wrote into the deploy chain itself): the digest deployed must
 * be one the log recorded for that commit. A deploy takes only a build so recorded
 * (deploy/live.ts publishedBuild); a release the log never recorded went out some other way
 * (put in the artifacts bucket without publishing, by an older version that did not ask), and one
 * under another digest was replaced in the artifacts bucket after publishing. The release is named
 * once, at the first entry that records it, with the first of UNPUBLISHED_CAUSES that applies: where
 * some logs could not be read (`unread`, said as "staging's could not be read") or break (`broken`:
 * brokenLog), a release may be recorded in what was not read, and is not called unpublished.
 */
function unpublishedDigests(
  deployEntries: readonly AuditEntry[],
  log: readonly AuditEntry[],
  unread: readonly UnreadLog[] = [],
  broken: readonly BrokenLog[] = [],
): AuditProblem[] {
  const published = new Map<string, Set<unknown>>();
  for (const entry of [...log, ...deployEntries]) {
    if (entry.type !== 'publish') continue;
    const name = `${String(entry.data.app)}@${String(entry.data.commit)}`;
    const digests = published.get(name) ?? new Set<unknown>();
    digests.add(entry.data.artifactDigest);
    published.set(name, digests);
  }
  const problems: AuditProblem[] = [];
  const said = new Set<string>(); // one problem per release, however many entries record it
  for (const entry of deployEntries) {
    if (entry.type === 'publish') continue;
    const { app, commit, artifactDigest } = entry.data ?? {};
    if (typeof app !== 'string' || typeof commit !== 'string' || typeof artifactDigest !== 'string') continue;
    const digests = published.get(`${app}@${commit}`);
    if (digests?.has(artifactDigest) || said.has(`${app}@${commit} ${artifactDigest}`)) continue;
    said.add(`${app}@${commit} ${artifactDigest}`);
    const release = `entry ${entry.seq} records ${app}@${commit.slice(0, 7)} going out as ${artifactDigest}`;
    // Where an entry of the release says it was found in a log not read (publishedIn), that log's.
    const foundIn = deployEntries.find(
      (e) =>
        e.data?.app === app &&
        e.data.commit === commit &&
        e.data.artifactDigest === artifactDigest &&
        unread.some((u) => u.stack !== undefined && u.stack === e.data.publishedIn),
    );
    const from = foundIn && unread.find((u) => u.stack === foundIn.data.publishedIn);
    const past = broken.flatMap((b) => {
      const record = b.past.find(
        (e) =>
          e.type === 'publish' &&
          e.data.app === app &&
          e.data.commit === commit &&
          e.data.artifactDigest === artifactDigest,
      );
      return record ? [{ ...b, seq: record.seq }] : [];
    })[0];
    const judged = {
      release,
      found: foundIn && from && { entry: foundIn, log: from },
      past,
      digests,
      broken,
      unread,
    };
    for (const cause of UNPUBLISHED_CAUSES) {
      const reason = cause.reason(judged);
      if (reason === null) continue;
      problems.push({ kind: cause.kind, seq: entry.seq, reason });
      break;
    }
  }
  return problems;
}

/** How the problems of another stack's publish log (a `buildsFrom`) are told: named by its stack. */
const otherLogWords = ({ stack, log }: { stack?: string; log?: string }): ChainWords => ({
  reason: (text) => `${stack ? `${stack}'s ` : ''}publish log${log ? ` (${log})` : ''}: ${text}`,
  finishedBy: `The next publish to ${stack ?? 'its stack'} finishes it.`,
});

/**
 * The problems of the other stacks' publish logs (VerifyOptions.publishLogs) this stack relies on:
 * some release its own log (`own`) does not record is recorded in that log's entries as read (whole
 * or not), or is recorded in no log whole (`unrecorded`: a problem there may hide it). An append
 * stopped there is left to that stack. A log that could not be read is reported where any release
 * relies on another log than its own (its releases were not checked against it), or where an entry
 * names a head of it (`publishedIn` its stack: publishAnchors could not hold it to that head).
 */
function reliedOnLogProblems(
  deployEntries: readonly AuditEntry[],
  own: readonly AuditEntry[],
  others: readonly ((ChainCheck | { unread: unknown; dropped?: true }) & {
    words: ChainWords;
    stack?: string | undefined;
  })[],
  unrecorded: boolean,
): AuditProblem[] {
  const missing = unpublishedDigests(deployEntries, own).length;
  return others.flatMap((other): AuditProblem[] => {
    if ('unread' in other) {
      const { unread } = other;
      const naming = deployEntries.flatMap((e) =>
        other.stack !== undefined &&
        e.data?.publishedIn === other.stack &&
        typeof e.data.publishedInHead === 'string'
          ? [entryNamed(e)]
          : [],
      );
      if (missing === 0 && naming.length === 0) return [];
      const many = naming.length > 1;
      const unchecked = [
        ...(missing > 0
          ? ['the releases of this stack its own log does not record were not checked against it']
          : []),
        ...(naming.length > 0
          ? [`the head${many ? 's' : ''} ${naming.join(', ')} saw there ${many ? 'were' : 'was'} not checked`]
          : []),
      ].join(', and ');
      if ('dropped' in other) {
        const { stack } = other;
        return [
          {
            kind: 'damaged',
            reason: other.words.reason(
              `it was not read, since this stack's "buildsFrom" does not name ${stack}, so ${unchecked}. Run verify again with ${stack} named there (the configuration from before it was dropped, say) to check them`,
            ),
          },
        ];
      }
      // Where its stack's opening refused it (its marker cannot be read, say): what is wrong and what
      // to check, in that refusal's words, without what the refusal did (verify changes nothing).
      const { wrong, check } = findingOf(unread) ?? {
        wrong: isFrontendOpsError(unread)
          ? unread.message
          : unread instanceof Error
            ? `${unread.name}${unread.message && unread.message !== unread.name ? `: ${unread.message}` : ''}`
            : String(unread),
        check: 'Check that these credentials may read it.',
      };
      return [
        {
          kind: 'damaged',
          reason: other.words.reason(
            `it could not be read (${wrong}), so ${unchecked}. ${check} Then run verify again`,
          ),
        },
      ];
    }
    const blocking = other.problems.filter((p) => p.kind !== 'unfinished');
    if (missing === 0 || blocking.length === 0) return [];
    const asRead = other.read.flatMap((r) => (r.entry ? [r.entry] : []));
    const records = unpublishedDigests(deployEntries, [...own, ...asRead]).length < missing;
    return records || unrecorded ? blocking : [];
  });
}

/**
 * Verifying reads a chain, then each object it binds: an append meanwhile can make a consistent
 * history look edited (a pointer newer than the entries read). When the head moved while we read,
 * read again; a problem found with the head unchanged throughout is a real one.
 */
async function untilHeadHolds<T extends { problems: AuditProblem[] }>(
  store: ObjectStore,
  chainPrefix: string,
  verifyOnce: () => Promise<T>,
): Promise<T> {
  const headText = async () => (await store.get(headKey(chainPrefix)))?.body.toString('utf8') ?? null;
  for (let attempt = 1; ; attempt++) {
    const before = await headText();
    const result = await verifyOnce();
    if (result.problems.length === 0 || attempt === 3 || (await headText()) === before) return result;
  }
}

/** How a chain's problems are told: the deploy chain's as they always were, the publish log's named. */
interface ChainWords {
  reason: (text: string) => string;
  /** What finishes an append stopped between its two writes. */
  finishedBy: string;
}
const DEPLOY_CHAIN_WORDS: ChainWords = {
  reason: (text) => text,
  finishedBy: 'The next deploy, rollback or pin of this stack finishes it.',
};
const PUBLISH_LOG_WORDS: ChainWords = {
  reason: (text) => `publish log: ${text}`,
  finishedBy: 'The next publish to this stack finishes it.',
};

interface ChainCheck {
  /** Every entry as read, whole or not. */
  read: ReadEntry[];
  /** The entries that verify, in order, up to the first that does not. */
  entries: AuditEntry[];
  headRecord: AuditHead | null;
  problems: AuditProblem[];
}

/**
 * One chain by itself: each entry's number (its key's and its own), link and hash, the head record
 * against the last entry, and nothing else under its audit/. Object names in problems are under
 * `base` (the stack's state prefix).
 */
async function checkChain(
  store: ObjectStore,
  chainPrefix: string,
  base: string,
  words: ChainWords,
): Promise<ChainCheck> {
  const problems: AuditProblem[] = [];
  const headName = `${chainPrefix.slice(base.length)}${AUDIT_HEAD}`;
  const [{ read, strays }, head] = await Promise.all([
    readEntries(store, chainPrefix),
    store.get(headKey(chainPrefix)),
  ]);
  let headRecord: AuditHead | null = null;
  if (head) {
    try {
      headRecord = parseHead(headKey(chainPrefix), head.body);
    } catch {
      problems.push({
        kind: 'damaged',
        object: headName,
        reason: words.reason(`the head record ${headName} is damaged (not ${HEAD_SHAPE})`),
      });
    }
  }

  const entries: AuditEntry[] = [];
  let prevHash = GENESIS;
  for (const [index, item] of read.entries()) {
    const seq = index + 1;
    const name = item.key.slice(base.length);
    if (item.entry === null) {
      problems.push({
        kind: 'damaged',
        seq: item.seq,
        object: name,
        reason: words.reason(`the audit entry ${name} is damaged (${item.reason})`),
      });
      break;
    }
    const entry = item.entry;
    const fail = (reason: string, object?: string) =>
      problems.push({
        kind: 'tampered',
        seq: entry.seq ?? seq,
        ...(object ? { object } : {}),
        reason: words.reason(reason),
      });
    if (entry.seq !== item.seq) {
      // Read in key order, it could pass for the entry its number says; entries are kept only under their own.
      fail(`${name} holds entry ${entry.seq}, not entry ${item.seq} (it was written around the chain)`, name);
      break;
    }
    if (entry.seq !== seq) {
      fail(`expected entry ${seq} here, found ${entry.seq} (an entry was removed or inserted)`);
      break;
    }
    if (entry.prevHash !== prevHash) {
      fail('its prevHash does not match the previous entry (the chain was broken)');
      break;
    }
    const { hash, ...unsigned } = entry;
    const digest = digestOrNull(unsigned);
    if (digest === null) {
      fail(`its content cannot be hashed (it holds ${UNHASHABLE}): the entry was altered`, name);
      break;
    }
    if (digest !== hash) {
      fail('its content does not match its hash (the entry was altered)');
      break;
    }
    prevHash = hash;
    entries.push(entry);
  }
  const chainWhole = problems.length === 0;
  // One whole entry past the head: an append stopped between its two writes (the next one finishes it).
  const beforeLast = entries.at(-2)?.hash ?? GENESIS;
  const interrupted =
    chainWhole &&
    entries.length > 0 &&
    (headRecord
      ? headRecord.seq === entries.length - 1 && headRecord.hash === beforeLast
      : entries.length === 1);
  if (interrupted) {
    problems.push({
      kind: 'unfinished',
      seq: entries.length,
      reason: words.reason(
        `entry ${entries.length} was written, but the head still names ${entries.length - 1}: an append stopped between writing its entry and moving the head. ${words.finishedBy}`,
      ),
    });
  } else if (
    chainWhole &&
    headRecord &&
    (headRecord.seq !== entries.length || headRecord.hash !== prevHash)
  ) {
    problems.push({
      kind: 'tampered',
      seq: headRecord.seq,
      reason: words.reason(
        `the head names entry ${headRecord.seq} but the chain ends at ${entries.length} (entries were removed from the end)`,
      ),
    });
  }
  if (chainWhole && !interrupted && !head && entries.length > 0) {
    problems.push({
      kind: 'tampered',
      seq: entries.length,
      reason: words.reason('the head record is missing'),
    });
  }
  for (const key of strays) {
    const name = key.slice(base.length);
    problems.push({
      kind: 'tampered',
      object: name,
      reason: words.reason(
        `${name} is not an audit entry at its place (${AUDIT} holds only the head and the entries, each under its own number: ${auditEntryName(1)}, …): it was written around the chain`,
      ),
    });
  }
  return { read, entries, headRecord, problems };
}

async function verifyAuditOnce(
  store: ObjectStore,
  prefix: string,
  options: VerifyOptions,
): Promise<Omit<AuditVerification, 'publishLog'> & { seen: AuditEntry[] }> {
  // 1. The chain itself: order, links, hashes.
  const { read, entries, headRecord, problems } = await checkChain(store, prefix, prefix, DEPLOY_CHAIN_WORDS);
  const foreign =
    options.stack === undefined
      ? null
      : otherStacksEntries(entries, options.stack, prefix, 'chain', options.historyNamed);
  if (foreign) problems.push(foreign);

  // 2. The anchors kept outside the bucket: each names an entry that must still be there, unchanged,
  // recording by then the deployment its tag names. A deploy tag is only as true as the repository:
  // whoever can push can push one with any head. One whose entry the chain holds unchanged without
  // that deployment, or that names no entry, is that tag's fault. One the chain contradicts may be
  // either's, even where another tag agrees with the chain: whoever can write the bucket can put it
  // back as it was before a deployment, and the same deploy run again (its id is the same) writes
  // its entry where the first one's was, under a tag of its own. The verdict says both.
  const anchors = options.anchors ?? [];
  const held = anchorsHeld(anchors, entries);
  for (const anchor of anchors) {
    const entry = read[anchor.seq - 1]?.entry;
    const pushed = `or ${anchor.source} was pushed by someone who can push to the repository`;
    const falseTag = (said: string) => ({
      kind: 'tampered' as const,
      seq: anchor.seq,
      reason: `${anchor.source} ${said}: ${anchor.source} is no record of a deployment (someone who can push to the repository pushed or moved it); delete it`,
    });
    if (held.has(anchor)) continue;
    if (anchor.seq < 1) {
      problems.push(falseTag(`anchors entry ${anchor.seq}, which no chain has`));
    } else if (entry?.hash === anchor.hash) {
      // Only an entry the chain vouches for (whole up to it) can show the tag false: one edited in
      // place keeps its hash, and the break found above is the bucket's, not the tag's.
      if (anchor.seq <= entries.length)
        problems.push(
          falseTag(
            `anchors entry ${anchor.seq}, which the chain holds as it was, but neither it nor an entry before it records the deployment the tag names (${anchor.deployment?.deployId})`,
          ),
        );
    } else if (anchor.seq > read.length) {
      problems.push({
        kind: 'tampered',
        seq: anchor.seq,
        reason: `${anchor.source} anchors entry ${anchor.seq}, but the chain ends at ${read.length} (entries were removed from the end and the head moved back, ${pushed})`,
      });
    } else if (entry) {
      problems.push({
        kind: 'tampered',
        seq: anchor.seq,
        reason: `entry ${anchor.seq} is not the one ${anchor.source} anchors (the chain was rewritten, ${pushed})`,
      });
    }
  }

  // After a broken entry nothing the chain says can be trusted: what the entries after the break
  // record is not checked (each would only repeat the break as "changed" or "added around the
  // chain", burying its cause), and said once, after it.
  const afterBreak = new Set<string>();
  if (entries.length < read.length) {
    for (const item of read.slice(entries.length)) {
      for (const name of Object.keys(item.entry?.objects ?? {})) afterBreak.add(name);
    }
  }
  if (afterBreak.size > 0) {
    const names = [...afterBreak].sort();
    const shown = names.length > 6 ? [...names.slice(0, 5), `and ${names.length - 5} more`] : names;
    const from = entries.length + 1;
    problems.push({
      kind: problems.find((p) => p.seq === from)?.kind ?? 'tampered',
      seq: from,
      reason: `from entry ${from} on the chain cannot be trusted, so the ${names.length === 1 ? 'state object' : `${names.length} state objects`} that ${from === read.length ? `entry ${from} records` : `entries ${from}–${read.length} record`} could not be checked (${shown.join(', ')}); they are checked again once the chain is whole`,
    });
  }
  const untrusted = (name: string) => afterBreak.has(name);

  // 3. The state objects: each bound one must still be what its latest binding says. An entry's
  // record of the TRACKED state must be what the entries up to it bind.
  let replayed: Bindings = { state: {}, indexes: {}, markers: {} };
  for (const entry of entries) {
    replayed = nextBindings(replayed, entry);
    if (entry.markers !== undefined && stateDigestOrNull(entry.markers) !== stateDigest(replayed.markers)) {
      problems.push({
        kind: 'tampered',
        seq: entry.seq,
        reason: `entry ${entry.seq} records the environment markers otherwise than the entries up to it wrote them: it was written by hand`,
      });
    }
    if (entry.indexes !== undefined && stateDigestOrNull(entry.indexes) !== stateDigest(replayed.indexes)) {
      problems.push({
        kind: 'tampered',
        seq: entry.seq,
        reason: `entry ${entry.seq} records the release indexes otherwise than the entries up to it bind them: it was written by hand`,
      });
    }
    if (entry.state !== undefined && stateDigestOrNull(entry.state) !== stateDigest(replayed.state)) {
      problems.push({
        kind: 'tampered',
        seq: entry.seq,
        reason: `entry ${entry.seq} records the state objects (${TRACKED.join(', ')}) otherwise than the entries up to it bind them: it was written by hand`,
      });
    }
  }
  const bound = latestBindings(entries);
  const pending = await readJsonQuietly(store, `${prefix}${PENDING}`);
  // An atomic operation writes its release indexes and atomic/state.json before its last entry binds them.
  const [atomicRecord, atomicState] = await Promise.all([
    store.head(`${prefix}${ATOMIC_PENDING}`),
    store.head(`${prefix}${ATOMIC_STATE}`),
  ]);
  const atomicPendingValue = atomicRecord
    ? (await readJsonQuietly(store, `${prefix}${ATOMIC_PENDING}`)).value
    : null;
  // The crash-recovery records are bound by no entry; one naming a rollback to a release never live
  // here was not written by FrontendOps: tampered, and it excuses nothing below as unfinished.
  const forged =
    entries.length === read.length
      ? forgedRollbackRecords(entries, [
          [PENDING, pending.value],
          [ATOMIC_PENDING, atomicPendingValue],
        ])
      : [];
  problems.push(...forged);
  const isForged = (name: string) => forged.some((p) => p.object === name);
  const pendingId = isForged(PENDING)
    ? null
    : ((pending.value as { plan?: { deployId?: string } } | null)?.plan?.deployId ?? null);
  const atomicPending = isForged(ATOMIC_PENDING) ? null : atomicRecord;
  /**
   * Whether a live pointer is the one the interrupted deploy of pending.json moves it to: that deploy
   * live, as its plan's build, first of its releases. Only such a pointer is the deploy's, stopped
   * before its entry; any other (an older retained release put back live, say) was written around
   * the chain, whatever pending.json says.
   */
  const namesPendingLive = (pointer: unknown): boolean =>
    pendingId !== null && namesRecordLive(pointer, pending.value);
  const unfinished = (what: string) =>
    pendingId
      ? ` Deploy ${pendingId} was interrupted after writing it: run the deploy again to finish it.`
      : what;
  const atomicUnfinished = atomicPending
    ? ' An atomic operation was interrupted after writing it: the next deploy or rollback of this stack finishes it.'
    : '';
  // An atomic operation writes live.json, atomic/state.json and its deployment record only after its
  // switch, which the CDN's release store then names. Where that store is given, a record whose
  // switch it does not serve excuses none of them: planted beside an edit (a release never live, a
  // canary nobody started), it would pass the edit off as that operation's, and the next change
  // would act on it and bind it. Release indexes are written before the switch, so any record may
  // excuse its own.
  const served = options.releaseStore ? servedOnce(options.releaseStore) : null;
  const atomicSwitched =
    atomicPending !== null &&
    (options.releaseStore === undefined ||
      (served !== null && (await servesSwitchOf(served, atomicPendingValue))));
  // The atomic/state.json that switch wrote, where its record says (one marked switched does): a
  // state other than it was edited since, whatever the record excuses of the rest.
  const switchState =
    isRecord(atomicPendingValue) && typeof atomicPendingValue.stateDigest === 'string'
      ? atomicPendingValue.stateDigest
      : undefined;
  // A live pointer the interrupted atomic operation wrote after its switch: one that changes the live
  // release (a canary's start or abort, a migration, writes no live.json), naming its build live.
  const switchNamesLive = (pointer: unknown): boolean =>
    atomicSwitched && changesLive(atomicPendingValue) && namesRecordLive(pointer, atomicPendingValue);
  // The deployment record the interrupted atomic operation writes after its switch, by name (or null).
  const atomicOwnRecord = ownRecordName(atomicPendingValue);
  const switchWroteState = (value: unknown): boolean =>
    atomicSwitched && (switchState === undefined || digestOrNull(value) === switchState);
  // The release indexes the interrupted atomic operation writes before its switch, with their
  // digests: one of them written again after a prune recorded its removal is that operation's.
  const pendingIndexes: Record<string, unknown> =
    atomicPending && isRecord(atomicPendingValue) && isRecord(atomicPendingValue.indexes)
      ? atomicPendingValue.indexes
      : {};
  /**
   * A preview writes its entry, then the release index it made, then atomic/state.json. Stopped
   * after its entry, the index it bound is missing and the state names no preview of that release:
   * nothing acted on the index, and asking again writes it. An index deleted after its preview went
   * into the state (or whose release a later entry recorded, or whose preview has ended) is not such
   * a stop.
   */
  let stateNames: Set<string> | null = null;
  const previewIndexUnwritten = async (name: string, seq: number): Promise<boolean> => {
    const entry = entries.find((e) => e.seq === seq);
    if (!name.startsWith(RELEASE_INDEXES) || entry?.type !== 'preview') return false;
    // Past the preview's end nothing asks for it again: an index missing then was deleted.
    const until = Date.parse(String(entry.data.expiresAt));
    if (!(until > (options.now ?? Date.now()))) return false;
    const releaseId = name.slice(RELEASE_INDEXES.length, -'.json'.length);
    if (entries.some((e) => e.seq > seq && namedByChain([e]).has(releaseId))) return false;
    stateNames ??= atomicState
      ? namedIn((await readJsonQuietly(store, `${prefix}${ATOMIC_STATE}`)).value)
      : new Set<string>();
    return !stateNames.has(releaseId);
  };
  let objectsOk = 0;
  // Every digest each approval request object was bound to, over the whole chain.
  const requestsBound = new Map<string, Set<string>>();
  for (const entry of entries) {
    for (const [name, digest] of Object.entries(entry.objects ?? {})) {
      if (!name.startsWith(APPROVAL_REQUESTS)) continue;
      const seen = requestsBound.get(name) ?? new Set<string>();
      seen.add(digest);
      requestsBound.set(name, seen);
    }
  }
  // What the chain names (deploy and release ids among it): what a crash-recovery record may excuse.
  const named = namedByChain(entries);
  const builds = buildsByChain(entries);
  for (const [name, { digest, seq }] of bound) {
    if (untrusted(name)) continue;
    const current = await readJsonQuietly(store, `${prefix}${name}`);
    const stopped = name === PIN ? interruptedPinChange(entries, read.length, current) : null;
    if (stopped && stateOf(current) !== digest) {
      const [what, again] = stopped.type === 'unpin' ? ['lifting the pin', 'Unpin'] : ['a pin', 'Pin'];
      problems.push({
        kind: 'unfinished',
        seq,
        object: name,
        reason: `entry ${seq} records ${what}, and its change to ${PIN} did not land (the process stopped between the two). ${again} again to finish it.`,
      });
      continue;
    }
    // A request asked again is recorded, then written: stopped between the two, its object is one an
    // earlier entry recorded (or none yet). Asking again replaces it; it acts on nothing meanwhile.
    if (
      name.startsWith(APPROVAL_REQUESTS) &&
      stateOf(current) !== digest &&
      (current.missing || requestsBound.get(name)?.has(stateOf(current) ?? '') === true)
    ) {
      // Past its hour nobody can approve or use it (the server and `approve` hold the object, and
      // the hour): it is over, not unfinished, and verify does not fail on it for good.
      const expiresAt = entries.find((e) => e.seq === seq)?.data.expiresAt;
      if (typeof expiresAt === 'string' && Date.parse(expiresAt) <= (options.now ?? Date.now())) {
        objectsOk++;
        continue;
      }
      problems.push({
        kind: 'unfinished',
        seq,
        object: name,
        reason: `entry ${seq} records an approval request, and its object was not written (the process stopped between the two). Asking for the change again writes a new one.`,
      });
      continue;
    }
    if (digest === ABSENT) {
      if (current.missing) objectsOk++;
      else if (pendingIndexes[name] !== undefined && pendingIndexes[name] === digestOrNull(current.value)) {
        problems.push({
          kind: 'unfinished',
          seq,
          object: name,
          reason: `${name}, whose removal entry ${seq} recorded, was written again by an operation that did not finish.${atomicUnfinished}`,
        });
      } else {
        problems.push({
          kind: 'tampered',
          seq,
          object: name,
          reason: `${name} exists, but entry ${seq} recorded its removal (it was written around the chain)`,
        });
      }
    } else if (current.missing && (await previewIndexUnwritten(name, seq))) {
      problems.push({
        kind: 'unfinished',
        seq,
        object: name,
        reason: `entry ${seq} records a preview, and its release index ${name} was not written (the process stopped between the two). Ask for the preview again to finish it.`,
      });
    } else if (current.missing) {
      // An interrupted operation deletes a release index only in its prune, which its record names
      // first; any other bound object under atomic/ it may have left missing.
      const atomic =
        name.startsWith(ATOMIC) &&
        atomicPending !== null &&
        (name !== ATOMIC_STATE || (atomicSwitched && switchState === undefined)) &&
        (!name.startsWith(RELEASE_INDEXES) ||
          (isRecord(atomicPendingValue) &&
            Array.isArray(atomicPendingValue.pruning) &&
            atomicPendingValue.pruning.includes(name.slice(RELEASE_INDEXES.length, -'.json'.length))));
      problems.push({
        kind: atomic ? 'unfinished' : 'tampered',
        seq,
        object: name,
        reason: `${name}, bound by entry ${seq}, is missing (it was deleted).${atomic ? atomicUnfinished : ''}`,
      });
    } else if (current.damaged) {
      problems.push({ kind: 'damaged', seq, object: name, reason: `${name} is damaged (not valid JSON)` });
    } else if (digestOrNull(current.value) === null) {
      // Valid JSON, but no digest can be made of it: not what entry `seq` bound, which had one.
      problems.push({
        kind: 'tampered',
        seq,
        object: name,
        reason: `${name} holds a value no entry can record (${UNHASHABLE}): it was changed after entry ${seq} recorded it`,
      });
    } else if (stateDigest(current.value) !== digest) {
      // An interrupted atomic operation writes live.json after its switch, then the entry binding it.
      const atomicLive = name === LIVE && switchNamesLive(current.value);
      const live = name === LIVE && (namesPendingLive(current.value) || atomicLive);
      // A release index it may have written again only as its record names it, with that digest:
      // any other edit of a kept release's index is not that operation's.
      const atomic =
        name.startsWith(ATOMIC) &&
        atomicPending !== null &&
        (name !== ATOMIC_STATE || switchWroteState(current.value)) &&
        (!name.startsWith(RELEASE_INDEXES) ||
          (pendingIndexes[name] !== undefined && pendingIndexes[name] === digestOrNull(current.value)));
      const preview = name === ATOMIC_STATE && stoppedPreview(entries, read.length, current.value);
      // A deploy run again under the id of one recorded superseded replaces that record (records.ts
      // writeRecord), then writes the entry binding it: stopped between the two, its crash-recovery
      // record still names it (an atomic one's, where its switch is served), as the record says. A
      // canary's start or abort is never run again onto a row recorded superseded: each run's row id
      // is made from its own start (canaryRowId), so a later one writes a row of its own.
      const rerun =
        name.startsWith(DEPLOYMENTS) &&
        entries.find((e) => e.seq === seq)?.data.outcome === 'superseded' &&
        isRecord(current.value) &&
        current.value.outcome !== 'superseded' &&
        ((pendingId !== null &&
          name === recordName(pendingId) &&
          isRowOf(current.value, pending.value) &&
          // An in-place deploy writes its record after its pointer: that deploy is live.
          namesPendingLive((await readJsonQuietly(store, `${prefix}${LIVE}`)).value)) ||
          (atomicSwitched && name === atomicOwnRecord && isRowOf(current.value, atomicPendingValue)));
      // A crash-recovery record is bound by no entry: one can excuse a change only of what an
      // interrupted operation writes, naming releases the chain knows (or the record's own, as the
      // newest), never a release list or atomic state naming builds the chain never saw.
      const strangers =
        live || atomic
          ? [
              ...unknownIds(name, current.value, named, builds, [
                ...(pendingId ? [pendingId] : []),
                ...idsOfRecord(atomicPendingValue),
              ]),
              ...(name === ATOMIC_STATE ? strangeCanary(current.value, entries, atomicPendingValue) : []),
            ]
          : [];
      const excused = (live || atomic || preview || rerun) && strangers.length === 0;
      problems.push({
        kind: excused ? 'unfinished' : 'tampered',
        seq,
        object: name,
        reason: preview
          ? `entry ${seq} records a preview, and its change to ${name} did not land (the process stopped between the two). Ask for the preview again, or make any change, to finish it.`
          : strangers.length > 0
            ? `${name} was changed after entry ${seq} recorded it, and names what no entry records (${strangers.slice(0, 3).join(', ')}): no interrupted operation writes that.`
            : `${name} was changed after entry ${seq} recorded it.${live ? (atomicLive ? atomicUnfinished : unfinished('')) : atomic ? atomicUnfinished : rerun ? (pendingId !== null && name === recordName(pendingId) ? unfinished('') : atomicUnfinished) : ''}`,
      });
    } else {
      objectsOk++;
    }
  }
  // Records and a pointer that no entry vouches for were written around the chain.
  const legacy = legacyRecords(entries);
  const records = (await store.list(`${prefix}${DEPLOYMENTS}`)).map((o) => o.key.slice(prefix.length));
  /**
   * Whether the record under pending.json's deploy id is one an in-place change writes for that
   * deploy: of its build and request, saying superseded (deploy.ts recordSuperseded, by the deploy
   * that found it stopped before its pointer moved: the pointer never had it), or that it went live
   * with the live pointer keeping it as that build (apply.ts finishMoved writes it only after its
   * pointer moved). Any other, the pointer as it was, was written around the chain.
   */
  const pendingOwnRecord = async (name: string): Promise<boolean> => {
    const row = (await readJsonQuietly(store, `${prefix}${name}`)).value;
    if (!isRecord(row) || !isRowOf(row, pending.value)) return false;
    if (row.outcome === 'superseded') return true;
    const pointer = (await readJsonQuietly(store, `${prefix}${LIVE}`)).value;
    const kept = isRecord(pointer) && Array.isArray(pointer.releases) ? pointer.releases : [];
    return kept.some(
      (r) =>
        isRecord(r) &&
        r.deployId === pendingId &&
        ['app', 'commit', 'artifactDigest'].every((f) => r[f] === row[f]),
    );
  };
  for (const name of records) {
    if (bound.has(name) || legacy.has(name) || untrusted(name)) continue;
    const interrupted =
      pendingId !== null && name === recordName(pendingId) && (await pendingOwnRecord(name));
    // An atomic operation writes its record, then the entry binding it: stopped between the two, its
    // crash-recovery record still names it, and its re-run (or the next change) binds it: its own
    // deployment record, or a canary's start or abort its own history row.
    const recordsRow =
      atomicPending !== null &&
      (name === atomicOwnRecord || rowIdOfRecord(atomicPendingValue).some((id) => name === recordName(id)));
    const atomicInterrupted = atomicSwitched && recordsRow;
    // A change that finds an operation stopped before its switch records it superseded: its row, then
    // the entry binding it (then its own record replaces the stopped one). Stopped between the two,
    // the row is the stopped operation's, superseded, and the next change writes its own row over it
    // and binds that (deploy/apply.ts writeOwnRecord). Only on an atomic stack (an in-place one never
    // reads atomic/pending.json, so no change of it records such a row), and only a row of the stopped
    // operation's build and request: the one the next change replaces rather than refuses.
    const stoppedBeforeSwitch =
      options.releaseStore !== null && isRecord(atomicPendingValue) && atomicPendingValue.switched !== true;
    const row =
      recordsRow && stoppedBeforeSwitch ? (await readJsonQuietly(store, `${prefix}${name}`)).value : null;
    const superseded = isRecord(row) && row.outcome === 'superseded' && isRowOf(row, atomicPendingValue);
    problems.push({
      kind: interrupted || atomicInterrupted || superseded ? 'unfinished' : 'tampered',
      object: name,
      reason: `${name} is not in the audit chain (no entry records it).${interrupted ? unfinished('') : atomicInterrupted ? atomicUnfinished : superseded ? ' A change recording an operation stopped before its switch as superseded was interrupted after writing it: the next change records it.' : ' It was added around the chain.'}`,
    });
  }
  // The history index (records.ts) is what `frontendops history` and the console list: each entry
  // names a record, and each bound record has one (written before the record's entry binds it).
  const indexed = new Set<string>();
  for (const index of await store.list(`${prefix}${HISTORY}`)) {
    const deployId = index.key.slice(-'0123456-0123456789'.length);
    indexed.add(deployId);
    const name = recordName(deployId);
    if (!bound.has(name) && !legacy.has(name) && !records.includes(name) && !untrusted(name)) {
      problems.push({
        kind: 'tampered',
        object: index.key.slice(prefix.length),
        reason: `the history lists ${deployId}, which has no record and no audit entry`,
      });
    }
  }
  for (const [name, { digest, seq }] of bound) {
    if (!name.startsWith(DEPLOYMENTS) || digest === ABSENT || !records.includes(name) || untrusted(name))
      continue;
    const deployId = name.slice(DEPLOYMENTS.length, -'.json'.length);
    if (indexed.has(deployId)) continue;
    problems.push({
      kind: 'tampered',
      seq,
      object: name,
      reason: `${name}, bound by entry ${seq}, has no history index (${HISTORY}<n>-${deployId}): it was deleted, so \`frontendops history\` and the console no longer list that deploy`,
    });
  }
  if (!bound.has(PIN) && !untrusted(PIN) && (await store.head(`${prefix}${PIN}`))) {
    problems.push({
      kind: 'tampered',
      object: PIN,
      reason: `${PIN} is not in the audit chain (no entry records a pin): it was written around the chain`,
    });
  }
  if (!hasLegacyAtomic(entries)) {
    const indexes = (await store.list(`${prefix}${RELEASE_INDEXES}`)).map((o) => o.key.slice(prefix.length));
    for (const name of [...(atomicState ? [ATOMIC_STATE] : []), ...indexes]) {
      if (bound.has(name) || untrusted(name)) continue;
      // A release index the interrupted operation wrote is one its record names, with that digest.
      const ours =
        atomicPending !== null &&
        ((name === ATOMIC_STATE &&
          switchWroteState((await readJsonQuietly(store, `${prefix}${name}`)).value)) ||
          (pendingIndexes[name] !== undefined &&
            pendingIndexes[name] === digestOrNull((await readJsonQuietly(store, `${prefix}${name}`)).value)));
      problems.push({
        kind: ours ? 'unfinished' : 'tampered',
        object: name,
        reason: `${name} is not in the audit chain (no entry records it).${ours ? atomicUnfinished : ' It was written around the chain.'}`,
      });
    }
  }
  const pointer = await store.head(`${prefix}${LIVE}`);
  if (pointer && !bound.has(LIVE) && !untrusted(LIVE) && !hasLegacyDeploys(entries)) {
    const value = (await readJsonQuietly(store, `${prefix}${LIVE}`)).value;
    // The first change of a stack, stopped between its pointer and the entry vouching for it (an
    // atomic one's pointer naming only what its record makes live).
    const atomicStopped =
      switchNamesLive(value) &&
      unknownIds(LIVE, value, named, builds, idsOfRecord(atomicPendingValue)).length === 0;
    const stopped = namesPendingLive(value) || atomicStopped;
    problems.push({
      kind: stopped ? 'unfinished' : 'tampered',
      object: LIVE,
      reason: `${LIVE} is not in the audit chain (no entry records a release going live).${stopped ? (atomicStopped ? atomicUnfinished : unfinished('')) : ' It was written around the chain.'}`,
    });
  }
  if (options.hosting) {
    const marker = await checkEnvironmentMarker(options.hosting, entries);
    if (marker) problems.push(marker);
  }
  if (served) {
    const anchored = anchoredHeadProblem((await served()).auditHead, read);
    if (anchored) problems.push(anchored);
  }
  if (served && entries.length === read.length) {
    const servedProblem = await checkReleaseStore(served, store, prefix, entries);
    if (servedProblem) problems.push(servedProblem);
  }
  const { problems: forgedApprovals, ...approvals } = checkApprovalEntries(
    entries,
    options.approvers,
    options.accepts,
    await storedStatements(store, prefix, entries, stateDigest),
  );
  problems.push(...forgedApprovals);

  return {
    ok: problems.length === 0,
    entries: read.length,
    headHash: headRecord?.hash ?? null,
    anchors: options.anchors?.length ?? 0,
    untagged: untaggedAfter(anchors.length > 0, held, entries, read.length),
    objects: objectsOk,
    ...(problems[0] ? { problem: problems[0] } : {}),
    problems,
    approvals,
    seen: entries,
  };
}

/**
 * The deployments after the newest entry the anchors that hold (anchorsHeld) anchor whose deploy tag
 * is due: null without anchors (`tagged`) or with none such.
 */
function untaggedAfter(
  tagged: boolean,
  held: ReadonlySet<AuditAnchor>,
  entries: readonly AuditEntry[],
  length: number,
): UntaggedDeployments | null {
  if (!tagged) return null;
  const anchoredUpTo = Math.max(0, ...[...held].map((a) => a.seq));
  const deployments = entries.filter((e) => e.seq > anchoredUpTo && tagIsDue(e)).map((e) => e.seq);
  return deployments.length > 0 ? { anchoredUpTo, entries: length, deployments } : null;
}

/**
 * The entries that name a stack other than `stack` (`data.stack`), as one problem, or null. Each
 * still hashes and links as it was written: a chain (or its entries) copied whole from another
 * stack's state prefix, by whoever can write the state bucket, verifies by itself. `prefix`: the
 * stack's state prefix (a renamed stack's, ofAnotherStack). `chain`: which of its chains this is.
 */
function otherStacksEntries(
  entries: readonly AuditEntry[],
  stack: string,
  prefix: string,
  chain: 'chain' | 'publish log' = 'chain',
  also?: string,
): AuditProblem | null {
  const others = entries
    .filter((e) => ofAnotherStack(e, stack, prefix, also))
    .map((e) => ({ seq: e.seq, stack: String(e.data.stack) }));
  return anotherStacksProblem(others, stack, chain);
}

/** The problem of otherStacksEntries, given those entries (their numbers and the stacks they name). */
function anotherStacksProblem(
  others: readonly { seq: number; stack: string }[],
  stack: string,
  chain: 'chain' | 'publish log',
): AuditProblem | null {
  const first = others[0];
  if (!first) return null;
  const names = [...new Set(others.map((e) => e.stack.slice(0, 80)))].join(', ');
  const seqs = `${others
    .slice(0, 5)
    .map((e) => e.seq)
    .join(', ')}${others.length > 5 ? '…' : ''}`;
  return {
    kind: 'tampered',
    seq: first.seq,
    reason: `entries of another stack: ${others.length} entr${others.length === 1 ? 'y' : 'ies'} (${seqs}) of ${stack}'s ${chain} name ${names}; they were written to that stack's ${chain} and copied here by someone who can write the state bucket. Put back ${stack}'s own state prefix from the bucket's versions, or delete what was copied there if it had none`,
  };
}

/**
 * The anchors the chain holds: the chain, whole up to an anchor's entry, has it with its hash and,
 * where its tag names a deployment, that entry or one before it records it (a tag's head is its
 * deployment's entry or a later one, never an earlier one or another deployment's alone). One pass
 * over the chain: where each deployment a tag is due for is first recorded.
 */
function anchorsHeld(anchors: readonly AuditAnchor[], entries: readonly AuditEntry[]): Set<AuditAnchor> {
  // The entries a tag is due for, by the deployment id they record, each with its place in the chain.
  const recording = new Map<unknown, { data: AuditEntry['data']; index: number }[]>();
  if (anchors.some((anchor) => anchor.deployment)) {
    entries.forEach((entry, index) => {
      if (!tagIsDue(entry)) return;
      const same = recording.get(entry.data.deployId);
      if (same) same.push({ data: entry.data, index });
      else recording.set(entry.data.deployId, [{ data: entry.data, index }]);
    });
  }
  return new Set(
    anchors.filter((anchor) => {
      if (anchor.seq < 1 || entries[anchor.seq - 1]?.hash !== anchor.hash) return false;
      const { deployment } = anchor;
      return (
        !deployment ||
        (recording.get(deployment.deployId) ?? []).some(
          ({ data, index }) =>
            index < anchor.seq &&
            data.commit === deployment.commit &&
            data.artifactDigest === deployment.artifactDigest,
        )
      );
    }),
  );
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

/**
 * The crash-recovery records (pending.json, atomic/pending.json: name → content as read) that name a
 * rollback to a build no entry of this whole chain records going live here (a `release` entry, or a
 * deployment that succeeded). FrontendOps writes a rollback's record only for a release the stack had
 * (deploy/live.ts refuses to finish any other), and each of those an entry records; another was
 * written around the chain. Before, verify read neither record's content: a forged one verified.
 */
function forgedRollbackRecords(
  entries: readonly AuditEntry[],
  records: readonly (readonly [string, unknown])[],
): AuditProblem[] {
  const wentLive = entries.filter(
    (e) =>
      e.type === 'release' ||
      (['deploy', 'rollback', 'canary-promote'].includes(e.type) && e.data.outcome === 'succeeded'),
  );
  const problems: AuditProblem[] = [];
  for (const [name, value] of records) {
    const record = value as { op?: unknown; plan?: Record<string, unknown> } | null;
    const plan = record?.plan;
    if (typeof plan !== 'object' || plan === null) continue;
    if (!(name === ATOMIC_PENDING ? record?.op === 'rollback' : plan.kind === 'rollback')) continue;
    const { app, commit, artifactDigest } = plan;
    const had = wentLive.some(
      (e) =>
        e.data.commit === commit &&
        (e.data.app === undefined || e.data.app === app) &&
        (typeof artifactDigest !== 'string' ||
          typeof e.data.artifactDigest !== 'string' ||
          e.data.artifactDigest === artifactDigest),
    );
    if (had) continue;
    const short =
      typeof commit === 'string' && /^[0-9a-f]{7}/.test(commit) ? commit.slice(0, 7) : 'no commit';
    problems.push({
      kind: 'tampered',
      object: name,
      reason: `${name} names a rollback to ${short} that was never live on this stack (no entry records it going live): it was not written by FrontendOps, and FrontendOps refuses to finish it. After checking what else changed, delete ${name} under the stack's state prefix.`,
    });
  }
  return problems;
}

/** An object's state as a binding names it: its digest, ABSENT when missing, null when damaged or unhashable. */
const stateOf = (read: { missing: boolean; damaged: boolean; value: unknown }) =>
  read.missing ? ABSENT : read.damaged ? null : digestOrNull(read.value);

/**
 * Finishes a pin change (a pin, or an unpin or a promote lifting one) whose entry was written but
 * whose change to pin.json did not land, as `audit verify` calls it unfinished: pin.json is written
 * as its entry records it (the digest checked), or removed. The pin the chain records is then the
 * one in effect for the change that follows, which before ran past it (or held a pin lifted) and
 * turned the verdict into tampered for good. Also a pin.json deleted by hand right after its pin,
 * which reads the same: put back, so the freeze holds. The caller holds the deploy lock. Returns
 * the entry of the change it finished, or null.
 */
export async function finishInterruptedPin(store: ObjectStore, prefix: string): Promise<AuditEntry | null> {
  const [entries, current] = await settleAll([
    readAudit(store, prefix),
    readJsonQuietly(store, `${prefix}${PIN}`),
  ]);
  const latest = interruptedPinChange(entries, entries.length, current);
  const digest = latest?.objects?.[PIN];
  if (!latest || digest === undefined) return null;
  if (digest !== ABSENT && (latest.type !== 'pin' || digestOrNull(latest.data) !== digest)) return null;
  // Only over the pin read: a holder asleep here past its lease leaves the pin the next holder set,
  // or lifted, since (LOCKED once its lock was lost).
  const key = `${prefix}${PIN}`;
  const conditional = await store.supportsConditionalWrites();
  await (digest === ABSENT
    ? deleteAsRead(store, key, current.etag)
    : putJsonObject(store, key, latest.data, conditional ? overVersion(current.etag ?? null) : {})
  ).catch(async (error: unknown) => {
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
    await assertChangeLock(store, prefix);
    throw pinChangedUnderFinish(latest, digest === ABSENT, error);
  });
  return latest;
}

/**
 * CONFLICT: pin.json changed between finishing's read and its write while the lock was still held,
 * so by a hand or a writer outside FrontendOps; what it holds now was left as it is.
 */
const pinChangedUnderFinish = (entry: AuditEntry, lifting: boolean, cause: unknown) =>
  new FrontendOpsError(
    'CONFLICT',
    `pin.json was changed while this run finished the stopped ${lifting ? 'unpin' : 'pin'} recorded in audit entry ${entry.seq} (${lifting ? 'removing the pin it lifted' : 'writing the pin it records'}): something wrote it without the deploy lock, and what it holds now was kept. Nothing was changed by this run. Check \`frontendops status\` and \`frontendops audit verify\`, then run the command again.`,
    { cause, details: { entry: entry.seq } },
  );

/**
 * The pin or unpin that stopped between its entry and its write of pin.json (state/pin.ts writes the
 * entry first), or null: pin.json is still what the binding before that entry said, and no entry
 * since binds any state object (`total`: every entry was read). Every change of the site or its state
 * binds what it wrote (a deploy the pointer, a canary the atomic state, an approval's use its marker),
 * so any such entry ran past a pin that was not there, and the pin is then tampered with, not stopped.
 * An approval asked for or given binds its request or statement, written without the deploy lock: it
 * changes nothing the pin guards, and leaves the pin unfinished.
 * (Before, only an entry binding the pointer or the pin ended this: pin.json deleted by hand and a
 * canary started past the freeze read as "unfinished".) An entry that binds nothing, such as the
 * agent's record of the request that asked for the pin, which it writes even when the pin failed,
 * changes nothing and leaves it unfinished.
 */
function interruptedPinChange(
  entries: readonly AuditEntry[],
  total: number,
  current: { missing: boolean; damaged: boolean; value: unknown },
): AuditEntry | null {
  const bindings = entries.filter((e) => e.objects?.[PIN]);
  const latest = bindings.at(-1);
  if (!latest || stateOf(current) !== (bindings.at(-2)?.objects?.[PIN] ?? ABSENT)) return null;
  if (entries.length !== total) return null;
  const since = entries.slice(entries.indexOf(latest) + 1);
  // An approval asked for or given meanwhile (written without the deploy lock) changes nothing the
  // pin guards: only a change of the site or its state ran past the pin.
  const asideFromThePin = (name: string) =>
    name.startsWith(APPROVAL_REQUESTS) || name.startsWith(APPROVALS_SIGNED);
  return since.every((e) => Object.keys(e.objects ?? {}).every(asideFromThePin)) ? latest : null;
}

/**
 * The hosting bucket's environment marker against the entries that wrote it there (type
 * "environment": its digest and, since they carry it, the bucket). An entry from before entries named
 * their bucket counts for any bucket. A chain with entries but no marker entry at all is from before
 * markers were bound: there is nothing to hold the marker against.
 */
async function checkEnvironmentMarker(
  hosting: { bucket: string; store: ObjectStore },
  entries: readonly AuditEntry[],
): Promise<AuditProblem | null> {
  const stored = await readStoredMarker(hosting.store);
  if (stored && 'unreadable' in stored) {
    const where = `${hosting.bucket}/${ENVIRONMENT_MARKER}`;
    return { kind: 'damaged', object: where, reason: `${where} is damaged (${stored.unreadable})` };
  }
  const { problem, marks } = environmentMarkerProblem(hosting.bucket, stored?.digest ?? null, entries);
  return problem ?? markerLowered(hosting.bucket, marks);
}

/**
 * The hosting bucket's environment marker as stored (null: there is none): its JSON value and the
 * digest an entry binds it by (stateDigest: its canonical JSON, unknown fields kept), or why no digest
 * can be made of it. Read so by both that judge it, each on top: `audit verify` reports one with no
 * digest damaged (checkEnvironmentMarker); a change refuses it, and one the marker's schema does not
 * know (readEnvironmentMarkerStored, state/environment.ts).
 */
export async function readStoredMarker(
  hosting: ObjectStore,
): Promise<{ value: unknown; digest: string } | { unreadable: string } | null> {
  const object = await hosting.get(ENVIRONMENT_MARKER);
  if (!object) return null;
  let value: unknown;
  try {
    value = JSON.parse(object.body.toString('utf8'));
  } catch {
    return { unreadable: 'it is not valid JSON' };
  }
  const digest = digestOrNull(value);
  return digest === null
    ? { unreadable: `no digest can be made of it (it holds ${UNHASHABLE})` }
    : { value, digest };
}

/**
 * An entry in effect that records the bucket's marker written unprotected after an earlier one
 * recorded it protected. A change never lowers a marker's protection (markEnvironment), so the
 * deployer role, which appends entries and writes the hosting bucket, would otherwise take away a
 * protection only the marker gives with an entry and a marker that agree. Only the newest such
 * entry counts: protected again since, nothing is in effect to report.
 */
function markerLowered(bucket: string, marks: readonly AuditEntry[]): AuditProblem | null {
  const latest = marks.at(-1);
  if (latest?.data.protected !== false) return null;
  const raised = marks.findLast((e) => e.data.protected === true);
  if (!raised) return null;
  const where = `${bucket}/${ENVIRONMENT_MARKER}`;
  return {
    kind: 'tampered',
    seq: latest.seq,
    object: where,
    reason: `entry ${latest.seq} records writing ${where} unprotected after entry ${raised.seq} recorded it protected: no change lowers a marker's protection, so that entry and the marker were written around FrontendOps (the deployer role can append entries). Until a change of the stack run by a configuration that protects it writes the marker again, the environment is not protected by its marker`,
  };
}

/** The entries of `entries` that wrote the environment marker to `bucket` (one that names no bucket: any). */
function environmentMarkerEntries(entries: readonly AuditEntry[], bucket: string): AuditEntry[] {
  return entries.filter((e) => {
    const mark = markerWritten(e);
    return mark !== null && (mark.bucket === bucket || mark.bucket === ANY_BUCKET);
  });
}

/**
 * checkEnvironmentMarker, given the marker's digest as read (null: there is none): what `audit verify`
 * says of it, and what a change holds the marker its lock read to (state/environment.ts); with the
 * entries it held it against (`marks`: those that wrote the marker to `bucket`, oldest first), for
 * what each says on top.
 */
export function environmentMarkerProblem(
  bucket: string,
  digest: string | null,
  entries: readonly AuditEntry[],
): { problem: AuditProblem | null; marks: AuditEntry[] } {
  const marks = environmentMarkerEntries(entries, bucket);
  return { problem: markerProblem(bucket, digest, entries, marks), marks };
}

function markerProblem(
  bucket: string,
  digest: string | null,
  entries: readonly AuditEntry[],
  marks: readonly AuditEntry[],
): AuditProblem | null {
  const where = `${bucket}/${ENVIRONMENT_MARKER}`;
  const latest = marks.at(-1);
  if (!latest) {
    if (digest === null || (entries.length > 0 && !entries.some((e) => e.type === 'environment')))
      return null;
    return {
      kind: 'tampered',
      object: where,
      reason: `the hosting bucket ${bucket} sends its history to this state location, but no entry of this chain wrote that marker: it was written around the chain, or copied from another environment's bucket`,
    };
  }
  if (digest === latest.data.markerDigest) return null;
  // The entry comes before the marker write: a process that ended between the two left the marker as
  // the entry before found it (none, before the first), and no change has run since, as each one
  // writes a deployment record after marking and a deploy would have written the marker again. Two
  // or more may have stopped so in a row: the marker is then the one the last that landed wrote.
  let landed = marks.length - 2;
  while (landed >= 0 && marks[landed]?.data.markerDigest !== digest) landed--;
  const firstStopped = marks[landed + 1] ?? latest;
  const changedSince = entries.some(
    (e) =>
      e.seq > firstStopped.seq && Object.keys(e.objects ?? {}).some((name) => name.startsWith(DEPLOYMENTS)),
  );
  if ((landed >= 0 || digest === null) && !changedSince) {
    return {
      kind: 'unfinished',
      seq: latest.seq,
      object: where,
      reason: `entry ${latest.seq} records writing ${where}, and the write did not land (the marker is still the one before it). The next deploy of this stack writes it.`,
    };
  }
  return {
    kind: 'tampered',
    seq: latest.seq,
    object: where,
    reason:
      digest === null
        ? `${where}, written by entry ${latest.seq}, is missing (it was deleted)`
        : `${where} was changed after entry ${latest.seq} recorded it (it was written around the chain)`,
  };
}

/** How verify names the CDN's release store in a problem: its key, never its ARN (the agent must not see it). */
export const RELEASE_STORE_OBJECT = `KeyValueStore key ${RELEASE_KEY}`;

const pointerWords = (pointer: ReleasePointer): string =>
  pointer.canary
    ? `release ${pointer.live} with canary ${pointer.canary} for ${pointer.weight ?? 0}% of visitors`
    : `release ${pointer.live}, no canary`;

const isRecordedPointer = (value: unknown): value is ReleasePointer =>
  typeof value === 'object' && value !== null && typeof (value as { live?: unknown }).live === 'string';

/**
 * Whether the release store serves the switch a crash-recovery record's plan makes, and that switch
 * is the plan's own: a move away from the pointer before it, that makes the plan's release live,
 * starts it as the canary, or takes it away as the canary, the release being the plan's build's. A
 * record naming as its "after" whatever the store serves now, for a plan of another release, is no
 * switch of its own.
 */
async function servesSwitchOf(served: () => Promise<Served>, record: unknown): Promise<boolean> {
  const after = ownSwitch(record);
  if (!after) return false;
  const { pointer } = await served();
  return pointer !== null && sameReleases(pointer, after);
}

/**
 * The pointer a crash-recovery record's plan switches to, where that switch is the plan's own (see
 * servesSwitchOf); else null. A pointer written by hand to the store, with a record naming it as its
 * "after" for a plan of another release, is no interrupted operation's switch: it was changed outside.
 */
export function ownSwitch(record: unknown): ReleasePointer | null {
  const plan = isRecord(record) && isRecord(record.plan) ? record.plan : undefined;
  const [before, after] = [plan?.pointerBefore, plan?.pointerAfter];
  if (!plan || !isRecordedPointer(after) || typeof plan.releaseId !== 'string') return null;
  // The release it names is its build's (the record is anyone's to write: a release id of another
  // build would make the switch to that build's release read as this plan's).
  if (typeof plan.commit !== 'string' || typeof plan.artifactDigest !== 'string') return null;
  if (plan.releaseId !== releaseIdFor({ commit: plan.commit, artifactDigest: plan.artifactDigest }))
    return null;
  if (isRecordedPointer(before) && sameReleases(before, after)) return null;
  const own =
    after.live === plan.releaseId ||
    after.canary === plan.releaseId ||
    (isRecordedPointer(before) && before.canary === plan.releaseId && !after.canary);
  return own ? after : null;
}

/** What the release store serves: its pointer, or none (`invalid` when the key holds no valid one). */
interface Served {
  pointer: ReleasePointer | null;
  invalid: boolean;
  /** The audit head the store anchors (AUDIT_HEAD_KEY as stored; null: none; absent: not read). */
  auditHead?: string | null;
}

/** The release store's pointer, read once however many checks ask for it. */
function servedOnce(reader: { read(): Promise<ReleasePointerRead> }): () => Promise<Served> {
  let read: Promise<Served> | undefined;
  return () => {
    read ??= reader.read().then(
      ({ value, auditHead }) => ({ pointer: value, invalid: false, auditHead }),
      (error: unknown) => {
        if (!isInvalidReleasePointer(error)) throw error;
        return { pointer: null, invalid: true };
      },
    );
    return read;
  };
}

/**
 * What the CDN serves against the chain (atomic stacks): the key edges route by must name the
 * pointer the newest atomic operation's entry recorded (its `pointer`, written with the
 * atomic/state.json that entry binds). Written by hand with the deployer role, it makes the site
 * serve what no entry records: tampered. The pointer an interrupted operation switched to and has
 * not recorded yet: unfinished. A chain with no atomic operation expects no pointer (edges serve
 * the bucket root, in place); one whose atomic entries all predate `pointer` is not checked.
 */
async function checkReleaseStore(
  read: () => Promise<Served>,
  store: ObjectStore,
  prefix: string,
  entries: readonly AuditEntry[],
): Promise<AuditProblem | null> {
  const { pointer: served, invalid } = await read();
  const atomicEntries = entries.filter((e) => e.data?.mode === 'atomic');
  let latest: AuditEntry | undefined;
  for (const entry of atomicEntries) if (isRecordedPointer(entry.data.pointer)) latest = entry;
  const recorded = latest?.data.pointer as ReleasePointer | undefined;
  if (!latest && atomicEntries.length > 0) return null;
  if (!invalid && (served && recorded ? sameReleases(served, recorded) : served === null && !recorded))
    return null;

  const names = invalid
    ? 'holds no valid release pointer (edges serve the bucket root)'
    : served
      ? `names ${pointerWords(served)}`
      : 'has no release pointer (edges serve the bucket root)';
  const expected = latest
    ? `entry ${latest.seq} records ${recorded ? pointerWords(recorded) : ''}`
    : 'no entry of the chain records an atomic switch (edges should serve the bucket root)';
  const pending = served ? await readJsonQuietly(store, `${prefix}${ATOMIC_PENDING}`) : null;
  const after = (pending?.value as { plan?: { deployId?: unknown } } | null)?.plan;
  // Only the record's own switch (a pointer written by hand, named by a planted record, is not).
  const switched = ownSwitch(pending?.value);
  if (served && switched && sameReleases(served, switched)) {
    return {
      kind: 'unfinished',
      ...(latest ? { seq: latest.seq } : {}),
      object: RELEASE_STORE_OBJECT,
      reason: `the CDN's release store ${names}, which the interrupted operation ${String(after?.deployId)} switched to; ${expected}. The next deploy or rollback of this stack (or the same operation again) finishes and records it.`,
    };
  }
  return {
    kind: 'tampered',
    ...(latest ? { seq: latest.seq } : {}),
    object: RELEASE_STORE_OBJECT,
    reason: `the CDN's release store ${names}, but ${expected}: it was changed outside FrontendOps, and visitors get what it names. \`frontendops status\` shows what is served; the next deploy, rollback or canary change switches from the recorded state again.`,
  };
}

/**
 * The head the CDN's release store anchors (AUDIT_HEAD_KEY: written at each approval's use) against
 * the chain as read: the entry at its seq must be there with its hash (the links and hashes up to it
 * are checkChain's). One that is not: the chain was cut back or rewritten past it in the state bucket.
 */
function anchoredHeadProblem(
  anchored: string | null | undefined,
  read: readonly ReadEntry[],
): AuditProblem | null {
  if (!anchored) return null;
  const anchor = parseAuditHead(anchored);
  const object = `KeyValueStore key ${AUDIT_HEAD_KEY}`;
  if (!anchor)
    return {
      kind: 'tampered',
      object,
      reason: `the CDN's release store holds ${JSON.stringify(anchored.slice(0, 100))} as the audit head it anchors, which is no "<seq>:<hash>": it was written outside FrontendOps (only the deployer role writes that store)`,
    };
  if (read[anchor.seq - 1]?.entry?.hash === anchor.hash) return null;
  return {
    kind: 'tampered',
    seq: anchor.seq,
    object,
    reason: `the CDN's release store anchors entry ${formatAuditHead(anchor)} (written when an approval was last used), which the chain of ${read.length} entr${read.length === 1 ? 'y' : 'ies'} does not hold: the chain was cut back or rewritten in the state bucket, which is all whoever did it could write (an approval's recorded use may be among what it lost); put the audit log back from the bucket's object versions`,
  };
}

type ReadEntry =
  | { key: string; seq: number; entry: AuditEntry }
  | { key: string; seq: number; entry: null; reason: string };

/**
 * How many of a chain's entries are read at once. A chain grows by a few entries per change, so a
 * stack that has run for a year holds thousands, and whatever reads it whole (`audit verify`, a
 * promote or preview by deploy id, `rollback --to` past the pointer's releases) waits on one GET per
 * entry: one after another, that is the entry count times a request's round trip (a minute at 3,000
 * entries and 20 ms). Within the S3 client's sockets (adapters/s3.ts), and few enough that a slow
 * store is not flooded.
 */
const ENTRY_READS = 32;

/**
 * A chain's entries, in order, each read from its own key (ENTRY_NAME under `prefix`), and `strays`:
 * every other key under its audit/ but the head, which no reader takes for an entry. The keys come
 * from one listing; an entry appended after it is not read (as when read one at a time).
 */
async function readEntries(
  store: ObjectStore,
  prefix: string,
): Promise<{ read: ReadEntry[]; strays: string[] }> {
  const { keys, strays } = await listChain(store, prefix);
  return { read: await readEntryKeys(store, prefix, keys), strays };
}

/** A chain's entry keys in order, and every other key under its audit/ but the head. */
async function listChain(store: ObjectStore, prefix: string): Promise<{ keys: string[]; strays: string[] }> {
  const keys: string[] = [];
  const strays: string[] = [];
  for (const { key } of await store.list(`${prefix}${AUDIT}`)) {
    const name = key.slice(prefix.length);
    if (ENTRY_NAME.test(name)) keys.push(key);
    else if (name !== AUDIT_HEAD) strays.push(key);
  }
  return { keys: keys.sort(), strays: strays.sort() };
}

/**
 * The entries under `keys`, in their order, ENTRY_READS at a time; a key gone since the listing is
 * left out. `known`: one already read, taken at its key instead of read again.
 */
async function readEntryKeys(
  store: ObjectStore,
  prefix: string,
  keys: readonly string[],
  known: readonly (EntryRead | null | undefined)[] = [],
): Promise<ReadEntry[]> {
  const read = await pMap(
    keys,
    (key) => known.find((entry) => entry?.key === key) ?? readEntry(store, prefix, key),
    { concurrency: ENTRY_READS },
  );
  return read.filter((r) => r !== null);
}

/** One entry as stored; null when its key is gone since the listing. */
async function readEntry(store: ObjectStore, prefix: string, key: string): Promise<ReadEntry | null> {
  const seq = Number(ENTRY_NAME.exec(key.slice(prefix.length))?.[1]);
  const object = await store.get(key);
  if (!object) return null;
  let value: unknown;
  try {
    value = JSON.parse(object.body.toString('utf8'));
  } catch {
    return { key, seq, entry: null, reason: 'it is not valid JSON: it was cut short or overwritten' };
  }
  if (!isEntryShape(value))
    return { key, seq, entry: null, reason: 'it is not an audit entry (fields are missing)' };
  return { key, seq, entry: value };
}

function isEntryShape(value: unknown): value is AuditEntry {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.seq === 'number' &&
    typeof v.type === 'string' &&
    typeof v.hash === 'string' &&
    typeof v.prevHash === 'string' &&
    typeof v.data === 'object' &&
    v.data !== null
  );
}

/** What a head record must be: what `<seq>:<hash>` names (AUDIT_HEAD_TEXT), as a JSON object. */
const HEAD_SHAPE =
  'a {seq, hash} JSON object naming an entry: seq a whole number, hash "sha256:" and 64 lowercase hex digits';

/**
 * The head a chain's head record names. One not naming an entry as this tool writes it is refused
 * as damaged: a deployment's entry names the publish log's head as read (publishHead), and verify
 * could hold the log to no malformed one, so the log could be rewritten whole after it unseen.
 * Another stack's log (`stack`, a `buildsFrom`) is named by its stack: its state bucket may be one
 * this stack's operator cannot reach, so the refusal says whose verify to run and who restores it.
 */
function parseHead(key: string, body: Buffer, stack?: string): AuditHead {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    value = null;
  }
  const head = value as Partial<AuditHead> | null;
  const named =
    head && typeof head.seq === 'number' && typeof head.hash === 'string'
      ? parseAuditHead(formatAuditHead({ seq: head.seq, hash: head.hash }))
      : null;
  if (!named) {
    const fix = stack
      ? `Run \`frontendops audit verify --stack ${stack}\` to see what else changed there, and have an administrator of ${stack}'s state bucket restore it from that bucket's versions.`
      : "Run `frontendops audit verify` to see what else changed, and restore it from the bucket's versions.";
    throw new FrontendOpsError(
      'TAMPERED',
      `The audit head ${key}${stack ? ` of ${stack}'s publish log` : ''} is damaged (not ${HEAD_SHAPE}). Nothing was written. ${fix}`,
    );
  }
  return named;
}

export async function readJsonQuietly(
  store: ObjectStore,
  key: string,
): Promise<{ missing: boolean; damaged: boolean; value: unknown; etag?: string }> {
  const object = await store.get(key);
  if (!object) return { missing: true, damaged: false, value: null };
  try {
    return {
      missing: false,
      damaged: false,
      value: JSON.parse(object.body.toString('utf8')),
      etag: object.etag,
    };
  } catch {
    return { missing: false, damaged: true, value: null, etag: object.etag };
  }
}

/**
 * Chains begun before state objects were bound: their deploy entries name a deploy id but carry no
 * bindings. Those records are accounted for by their entry (edits to them go unnoticed, as before).
 */
function legacyRecords(entries: readonly AuditEntry[]): Set<string> {
  const names = new Set<string>();
  for (const entry of entries) {
    if ((entry.type === 'deploy' || entry.type === 'rollback') && !entry.objects) {
      const id = entry.data.deployId;
      if (typeof id === 'string') names.add(recordName(id));
    }
  }
  return names;
}

/** Chains begun before the atomic state and release indexes were bound: an atomic operation that wrote them ended unbound. */
const hasLegacyAtomic = (entries: readonly AuditEntry[]) =>
  entries.some(
    (e) =>
      e.data.mode === 'atomic' &&
      (e.type === 'preview' || e.data.outcome === 'succeeded' || e.data.outcome === 'failed') &&
      !e.objects?.[ATOMIC_STATE],
  );

const hasLegacyDeploys = (entries: readonly AuditEntry[]) =>
  !entries.some((e) => e.objects?.[LIVE]) &&
  entries.some((e) => (e.type === 'deploy' || e.type === 'rollback') && !e.objects);

function hashOf(unsigned: Omit<AuditEntry, 'hash'>): string {
  return stateDigest(unsigned);
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A preview writes its entry, then atomic/state.json. Stopped between the two, the chain's newest
 * entry binding the state is that preview's, whole, and the state is still the one the chain bound
 * before it: nothing else reads as such a stop. Entries after it (a pin, an approval asked for) bind
 * no state; the next change that writes the state writes over it.
 */
function stoppedPreview(entries: readonly AuditEntry[], read: number, current: unknown): boolean {
  const bindings = entries.filter((e) => e.objects?.[ATOMIC_STATE] !== undefined);
  const newest = bindings.at(-1);
  if (entries.length !== read || newest?.type !== 'preview') return false;
  return bindings.at(-2)?.objects?.[ATOMIC_STATE] === digestOrNull(current);
}

/** Every string the entries' data hold, deploy and release ids among them: what the chain has named. */
function namedByChain(entries: readonly AuditEntry[]): Set<string> {
  return namedIn(entries.map((entry) => entry.data));
}

/** Every string a value holds, at any depth. */
function namedIn(value: unknown): Set<string> {
  const named = new Set<string>();
  const walk = (item: unknown): void => {
    if (typeof item === 'string') named.add(item);
    else if (Array.isArray(item)) for (const inner of item) walk(inner);
    else if (isRecord(item)) for (const inner of Object.values(item)) walk(inner);
  };
  walk(value);
  return named;
}

/** The deploy and release ids a crash-recovery record's plan names (its own, the newest it may make live). */
function idsOfRecord(record: unknown): string[] {
  const plan = isRecord(record) && isRecord(record.plan) ? record.plan : null;
  return [plan?.deployId, plan?.releaseId].filter((id): id is string => typeof id === 'string');
}

/**
 * The id of the history row a canary's start or abort writes before the entry that binds it (none
 * for other operations): the record excuses that row under it, and nothing else (no release the
 * state names, no pointer).
 */
function rowIdOfRecord(record: unknown): string[] {
  const row = canaryRowId(record);
  return row === null ? [] : [row];
}

/** Whether a history row is of a crash-recovery record's operation: its build, asked for by its request. */
function isRowOf(row: Record<string, unknown>, record: unknown): boolean {
  const plan = isRecord(record) && isRecord(record.plan) ? record.plan : null;
  const asked = isRecord(record) && isRecord(record.request) ? record.request : null;
  const request = isRecord(row.request) ? row.request : null;
  return (
    plan !== null &&
    asked !== null &&
    request !== null &&
    ['app', 'commit', 'artifactDigest'].every((f) => typeof plan[f] === 'string' && row[f] === plan[f]) &&
    ['actor', 'text', 'at'].every((f) => typeof asked[f] === 'string' && request[f] === asked[f])
  );
}

/** Whether a crash-recovery record's plan changes the live release, so writes live.json (atomic-apply.ts). */
const changesLive = (record: unknown): boolean =>
  isRecord(record) && isRecord(record.plan) && record.plan.liveChanges === true;

/**
 * The name of the deployment record a crash-recovery record's operation writes, or null: one that
 * changes the live release writes one under its own deploy id (atomic-apply.ts), never under its
 * release id; a canary's start or abort writes only its history row (rowIdOfRecord), a migration
 * none. What verify excuses as that operation's record, stopped before its entry or run again.
 */
function ownRecordName(record: unknown): string | null {
  const deployId = isRecord(record) && isRecord(record.plan) ? record.plan.deployId : undefined;
  return changesLive(record) && typeof deployId === 'string' ? recordName(deployId) : null;
}

/**
 * Whether a live pointer is the one the interrupted change of a crash-recovery record (`record`, as
 * read) moves it to: that change's deploy live, as its plan's build, first of its releases. Only such
 * a pointer is the change's, stopped before its entry; any other (an older retained release put back
 * live, another build under the record's deploy id) was written around the chain. What `status`
 * calls unfinished too (read/status.ts).
 */
export function namesRecordLive(pointer: unknown, record: unknown): boolean {
  const plan = isRecord(record) && isRecord(record.plan) ? record.plan : null;
  if (!plan || !isRecord(pointer)) return false;
  const first = Array.isArray(pointer.releases) ? pointer.releases[0] : undefined;
  return (
    isRecord(first) &&
    ['deployId', 'app', 'commit', 'artifactDigest'].every(
      (field) =>
        typeof plan[field] === 'string' && pointer[field] === plan[field] && first[field] === plan[field],
    )
  );
}

/**
 * Each deploy id the chain records going live (a release; a deployment or promoted canary that
 * succeeded, or failed its check once live), with the builds it records for it ("app commit digest";
 * a digest left out where an older entry has none). A change recorded as superseded never went live.
 */
function buildsByChain(entries: readonly AuditEntry[]): Map<string, Set<string>> {
  const builds = new Map<string, Set<string>>();
  for (const { type, data } of entries) {
    const wentLive =
      type === 'release' ||
      (['deploy', 'rollback', 'canary-promote'].includes(type) &&
        (data.outcome === 'succeeded' || data.outcome === 'failed'));
    if (!wentLive) continue;
    if (typeof data.deployId !== 'string') continue;
    const seen = builds.get(data.deployId) ?? new Set<string>();
    seen.add(buildKey(data));
    builds.set(data.deployId, seen);
  }
  return builds;
}

const buildKey = (build: Record<string, unknown>) =>
  [build.app, build.commit, typeof build.artifactDigest === 'string' ? build.artifactDigest : '']
    .map(String)
    .join(' ');

/** Whether `builds` (buildsByChain) has deploy `id` going live as `release`'s build (an older entry without a digest: by app and commit). */
function recordedAs(builds: Map<string, Set<string>>, id: string, release: unknown): boolean {
  const recorded = builds.get(id);
  const build = isRecord(release) ? buildKey(release) : '';
  return recorded?.has(build) || recorded?.has(`${build.slice(0, build.lastIndexOf(' '))} `) || false;
}

/**
 * Whether the chain records deploy `release.deployId` going live as `release`'s build (a release
 * entry, or a deployment or promoted canary that went live): what a kept release of a live pointer no
 * entry binds is believed as (state/recorded-state.ts assertKeptAsRecorded).
 */
export function recordsGoingLive(
  entries: readonly AuditEntry[],
  release: { deployId: string; app: string; commit: string; artifactDigest: string },
): boolean {
  return recordedAs(buildsByChain(entries), release.deployId, release);
}

/**
 * The ids `value` names that the chain does not record as it names them, nor `own` (the interrupted
 * operation's, allowed as the newest: the live release, the canary). live.json: each release must be
 * a deploy the chain records going live as that build (app, commit, digest), else a release list can
 * carry another build under a known deploy id, for a rollback to make live. atomic/state.json: every
 * releaseId in it must be named by the chain.
 */
function unknownIds(
  name: string,
  value: unknown,
  named: Set<string>,
  builds: Map<string, Set<string>>,
  own: string[],
): string[] {
  const ids: string[] = [];
  if (name === LIVE && isRecord(value) && Array.isArray(value.releases)) {
    value.releases.forEach((release, i) => {
      const id = isRecord(release) ? release.deployId : undefined;
      if (typeof id !== 'string' || (i === 0 && own.includes(id))) return;
      if (!recordedAs(builds, id, release))
        ids.push(isRecord(release) ? `${id} as ${String(release.commit).slice(0, 7)}` : id);
    });
  } else if (name === ATOMIC_STATE) {
    const walk = (item: unknown): void => {
      if (Array.isArray(item)) for (const each of item) walk(each);
      else if (isRecord(item)) {
        for (const [key, each] of Object.entries(item)) {
          if (key === 'releaseId' && typeof each === 'string' && !named.has(each) && !own.includes(each))
            ids.push(each);
          else walk(each);
        }
      }
    };
    walk(value);
  }
  return ids;
}

/** The release id of the canary the entries leave running (the newest canary start not ended since), or null. */
export function canaryRunningByChain(entries: readonly AuditEntry[]): unknown {
  let running: unknown = null;
  for (const entry of entries) {
    if (entry.type === 'canary-start') running = entry.data.releaseId;
    else if (entry.type === 'canary-promote' || entry.type === 'canary-abort') running = null;
  }
  return running;
}

/**
 * The canary atomic/state.json names, when it is neither the one the chain's entries leave running
 * (the newest canary start not ended since) nor the one an interrupted canary start is starting.
 */
function strangeCanary(value: unknown, entries: readonly AuditEntry[], record: unknown): string[] {
  const canary = isRecord(value) && isRecord(value.canary) ? value.canary.releaseId : undefined;
  if (typeof canary !== 'string') return [];
  const running = canaryRunningByChain(entries);
  const starting = isRecord(record) && record.op === 'canary-start' ? idsOfRecord(record) : [];
  return canary === running || starting.includes(canary) ? [] : [`a canary of ${canary}`];
}

/** The digest of a recorded state as sorted (entries may list its names in any order), or null. */
const stateDigestOrNull = (value: unknown) =>
  isRecord(value) ? digestOrNull(sortedKeys(value as Record<string, string>)) : null;
