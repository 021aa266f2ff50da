/**
 * Protection follows the target, not the name. A hosting bucket knows which environment it is: the
 * first change writes `.frontendops/environment.json` into it — the environment's name, where its
 * state (history, audit chain) lives, and whether it is protected. Whoever opens that bucket later,
 * under any stack name or through an outputs file that names no stack, gets that name, that one
 * history and at least that protection. Protection is never lowered by a deploy, and every marker
 * written is bound by an audit entry that `audit verify` holds the bucket's marker against (an
 * edited, deleted or copied marker is reported), as every change does before it acts
 * (assertMarkerAsRecorded, under the deploy lock): whoever can write the bucket lowers nothing there,
 * but through an alias whose outputs name a state location of its own, which has only the marker to
 * find the environment's history by.
 *
 * The object is never pruned, and the edge (the release router function, the local edge) never
 * serves anything under `/.frontendops/`.
 */
import { z } from 'zod';
import { STACK_NAME } from '../engine/ids.ts';
import type { DeployTarget } from '../engine/types.ts';
import { FrontendOpsError, isFrontendOpsError, refusalOf } from '../errors.ts';
import type { ObjectStore } from '../ports.ts';
import { settleAll } from '../settle-all.ts';
import type { Site } from '../site.ts';
import {
  appendAudit,
  boundMarker,
  environmentMarkerProblem,
  type RecordedState,
  readAudit,
  readStoredMarker,
  recordedStateKnown,
  stateDigest,
} from './audit.ts';
import type { AuditEntry, AuditProblem } from './audit-entry.ts';
import { AUDIT_HEAD, ENVIRONMENT_MARKER } from './names.ts';

const markerSchema = z.object({
  v: z.literal(1),
  stack: z.string().regex(STACK_NAME),
  stateBucket: z.string().min(3).max(63),
  statePrefix: z.string().max(1024),
  protected: z.boolean(),
});
export type EnvironmentMarker = z.infer<typeof markerSchema>;

/**
 * The bucket's marker; null when it has none. One this version cannot read (not JSON, no digest
 * can be made of it, or not a version 1 marker: damaged, edited, or written by a newer FrontendOps) is refused (unreadableMarker,
 * TAMPERED): it may say protected, or name another environment, so it is never taken as no marker,
 * which would open the bucket unprotected and have the next change write over it.
 */
export async function readEnvironmentMarker(hosting: ObjectStore): Promise<EnvironmentMarker | null> {
  return (await readEnvironmentMarkerStored(hosting)).marker;
}

/** The marker as read, and the digest `audit verify` makes of it (null: there is none). */
export interface MarkerRead {
  marker: EnvironmentMarker | null;
  digest: string | null;
}

/** readEnvironmentMarker, with the digest of the object as stored (its JSON, unknown fields kept). */
export async function readEnvironmentMarkerStored(hosting: ObjectStore): Promise<MarkerRead> {
  const stored = await readStoredMarker(hosting);
  if (!stored) return { marker: null, digest: null };
  if ('unreadable' in stored) throw unreadableMarker(stored.unreadable);
  const parsed = markerSchema.safeParse(stored.value);
  if (parsed.success) return { marker: parsed.data, digest: stored.digest };
  const version = (stored.value as { v?: unknown } | null)?.v;
  throw unreadableMarker(
    version !== 1 && (typeof version === 'number' || typeof version === 'string')
      ? `it says version ${String(version).slice(0, 20)}, and this FrontendOps reads version 1`
      : 'it is not a marker FrontendOps writes (version 1: the environment, its state location, its protection)',
  );
}

/** Why a stack whose marker cannot be read is protected, in a refusal's words. */
export const UNREADABLE_PROTECTED =
  "its hosting bucket's environment marker cannot be read: until it can, the stack is treated as protected";

/**
 * The refusal of a marker that cannot be read (`why`): what it is, that nothing is done while it
 * cannot be read (it may say protected, or name another environment), and what to do.
 */
export const unreadableMarker = (why: string) =>
  refusalOf(
    'TAMPERED',
    {
      wrong: `The hosting bucket's environment marker (${ENVIRONMENT_MARKER}) cannot be read: ${why}`,
      so: 'It says which environment the bucket is, where its history lives and whether it is protected, so no change is made while it cannot be read: the stack is treated as protected, and nothing writes over the marker. Nothing was changed.',
      check:
        'If a newer FrontendOps wrote it, use that version. Otherwise someone who can write the hosting bucket changed it: run `frontendops audit verify` on the stack by its own name (it reports the marker), and put back the marker the log records (with it missing, a change refuses the bucket while the log records one, and shows the marker to put back); only where no log records a marker for this bucket, delete it: the next change writes it again.',
    },
    { object: ENVIRONMENT_MARKER },
  );

/** Why a stack whose marker is not the one the audit log records is protected, in a refusal's words. */
export const NOT_AS_RECORDED_PROTECTED =
  "its hosting bucket's environment marker is not the one the audit log records: until it is, the stack is treated as protected";

/** Markers a change's lock read that no entry wrote, on a chain from before entries bound them. */
const unbound = new WeakSet<EnvironmentMarker>();

/**
 * The marker a change's lock read (`read`), held to what the audit chain last wrote to this hosting
 * bucket (`recorded`: the chain's latest bindings, whose newest entry carries each bucket's marker
 * digest, so no request where they agree). Whoever can write the hosting bucket could otherwise take
 * away a protection that only the marker gives (a configuration that does not list the environment,
 * an alias, another stack name with the same state location): delete it, rewrite it `protected:
 * false`, put back an older genuine one, or have it name a stack without history; the next change
 * would be made with no approval. Where they differ, or the newest entry does not carry the markers
 * (a chain from before), the chain is read and decides as `audit verify` does (environmentMarkerProblem):
 * - tampered: refused TAMPERED, before anything is written or any approval used, the stack treated
 *   as protected from now on, saying which marker the log records and what to do;
 * - unfinished (the marker's write did not land after its entry): the change goes on and writes it,
 *   at the protection that entry recorded: a site opened as unprotected is refused CONFLICT first and
 *   is protected from then on, so the change asked again goes through an approval;
 * - none (a chain from before entries bound markers): the change goes on, and binds the marker.
 *
 * It cannot hold the marker of a bucket opened through an alias whose outputs name a state location
 * of its own (no history there), which only the marker leads to the environment's chain: deleted,
 * the alias opens as a new stack; replaced by the marker another environment's own chain last wrote
 * to this bucket, it opens that environment.
 */
export async function assertMarkerAsRecorded(
  site: Site,
  read: MarkerRead,
  recorded: Pick<RecordedState, 'markers'>,
): Promise<void> {
  const bucket = site.target.hostingBucket;
  const bound = boundMarker(recorded, bucket);
  if (bound !== undefined && bound === read.digest) {
    // No marker here and none recorded: read the chain only where it marked other buckets.
    const elsewhere = Object.keys(recorded.markers ?? {}).some((other) => other !== bucket);
    if (bound === null && !site.protected && elsewhere)
      assertNotProtectedElsewhere(site, await readAudit(site.state, site.target.statePrefix));
    return;
  }
  const entries = await readAudit(site.state, site.target.statePrefix);
  const { problem, marks } = environmentMarkerProblem(bucket, read.digest, entries);
  const latest = marks.at(-1);
  if (!problem) {
    if (read.marker && !latest) unbound.add(read.marker);
    if (!read.marker && !latest && !site.protected) assertNotProtectedElsewhere(site, entries);
    return;
  }
  const marker = latest && recordedMarker(site, latest);
  // An entry recording a marker no FrontendOps writes for this stack (none has its digest) was
  // appended around it (the deployer role appends entries): no marker put back matches it, so a
  // refusal would stand for ever. A change that needs an approval goes on, and writes the marker
  // again, protected; any other is refused, the stack treated as protected from then on.
  if (latest && !marker) {
    if (site.protected) {
      if (read.marker) unbound.add(read.marker);
      return;
    }
    markProtected(site);
    throw new FrontendOpsError(
      'TAMPERED',
      `The hosting bucket's environment marker (${ENVIRONMENT_MARKER}) is not the one the audit log last recorded writing there: ${problem.reason}, and entry ${latest.seq} records a marker no FrontendOps writes for ${site.target.stack} (its digest is ${String(latest.data.markerDigest)}): that entry was appended around FrontendOps, and no marker put back can match it. The stack is treated as protected. Nothing was changed. Run \`frontendops audit verify\` to see what changed; then ask for the change again with an approval (where this stack stays open, the console or an MCP server, it now asks for one; a new run needs ${site.target.stack} listed under \`protected\` in the configuration): it writes the marker again, protected.`,
      { details: { object: ENVIRONMENT_MARKER } },
    );
  }
  // From here, the newest entry's marker is one FrontendOps writes for this stack (or there is none).
  const written = latest && marker ? { seq: latest.seq, marker } : null;
  if (problem.kind === 'unfinished') {
    if (written?.marker.protected !== true || site.protected) return;
    markProtected(site);
    // A new process (the CLI, the Action, a server started again) opens the stack from the marker
    // as it is, unprotected: "ask again" there meets this refusal again. The marker put back does not.
    throw new FrontendOpsError(
      'CONFLICT',
      `${site.target.stack} is protected: its audit log records its hosting bucket's environment marker as protected (entry ${written.seq}), and the marker there is not that one (its write did not land, or it was changed since), so this process opened the stack as unprotected. Nothing was changed. The change needs an approval, as every change of a protected environment does: where this stack stays open (the console, an MCP server), ask for it again, and it asks for one and writes the marker; a new run opens the stack from the marker as it is, so first ${putBackMarker(site, written)}, or list ${site.target.stack} under \`protected\` in the configuration; then run the change again.`,
      { details: { object: ENVIRONMENT_MARKER } },
    );
  }
  if (!site.protected) {
    site.protected = true;
    site.protectedBy = NOT_AS_RECORDED_PROTECTED;
  }
  // The marker names another stack, at another state location: one that holds a history in the
  // state bucket this one uses, or one in another state bucket (not read: this stack's credentials
  // may not reach it). Either way this stack's marker is not the one to put back.
  const other = read.marker;
  const unread = other !== null && other.stateBucket !== site.target.stateBucket;
  const othersHistory =
    written !== null &&
    other !== null &&
    other.stack !== site.target.stack &&
    (unread ||
      (other.statePrefix !== site.target.statePrefix &&
        Boolean(await site.state.head(`${other.statePrefix}${AUDIT_HEAD}`))));
  throw othersHistory && other && written
    ? markedByAnother(site, written, other, unread)
    : markerNotAsRecorded(site, problem, written, read.marker);
}

/** A marker the audit chain's newest entry for the bucket wrote: that entry's number, and the marker. */
interface WrittenMarker {
  seq: number;
  marker: EnvironmentMarker;
}

/**
 * What to do for the hosting bucket to hold the marker the log records again, in the words of each
 * refusal of a marker that is not that one (assertMarkerAsRecorded): which marker, and where.
 */
const putBackMarker = (site: Site, { seq, marker }: WrittenMarker) =>
  `put back the marker the log records (its entry ${seq} wrote it), ${JSON.stringify(marker)}, at s3://${site.target.hostingBucket}/${ENVIRONMENT_MARKER} (for example with \`aws s3 cp\`)`;

/**
 * A hosting bucket that holds no marker, and that this state location's chain never marked, opened
 * unprotected where the chain's newest marker of another hosting bucket says protected: the
 * configuration (its stacks, an outputs file) names another bucket for this history than the one it
 * was protected on, and would have the change made there with no approval, and the environment's
 * history say it went live. Refused CONFLICT, before anything is written, the stack protected from
 * then on (a console or an MCP server asked again asks for an approval). No request where the chain
 * marked no other bucket: the newest entry's `markers` say so.
 */
function assertNotProtectedElsewhere(site: Site, entries: readonly AuditEntry[]): void {
  const newest = new Map<string, AuditEntry>();
  for (const entry of entries) {
    const other = entry.type === 'environment' ? entry.data.hostingBucket : undefined;
    if (typeof other === 'string' && other !== site.target.hostingBucket) newest.set(other, entry);
  }
  const marked = [...newest.values()].filter((entry) => entry.data.protected === true).at(-1);
  if (!marked) return;
  markProtected(site);
  const { stack } = site.target;
  throw new FrontendOpsError(
    'CONFLICT',
    `${stack} is protected: its audit log records it protected, on another hosting bucket than the one it is opened with now (entry ${marked.seq}), and that protection stays whatever a configuration says. The configuration in use (its stacks, or the outputs file naming the hosting bucket) points ${stack}'s history at a hosting bucket its log never marked. Nothing was changed. Check where ${stack}'s configuration and outputs send it (\`git log -p frontendops.config.json\`, and the outputs file): if that is not the environment's hosting bucket, put it back; if the environment moved there, list ${stack} under \`protected\` in the configuration and ask for the change again: it needs an approval, as every change of a protected environment does, and writes the marker there, protected.`,
    { details: { object: ENVIRONMENT_MARKER } },
  );
}

/**
 * The marker `entry` wrote, as markEnvironment writes it for this site's state location, where its
 * digest is the one the entry recorded; else null (an entry appended around FrontendOps).
 */
function recordedMarker(site: Site, entry: AuditEntry): EnvironmentMarker | null {
  const { stack, protected: isProtected, markerDigest } = entry.data;
  if (typeof stack !== 'string' || typeof isProtected !== 'boolean') return null;
  const marker = markerFor(site.target, stack, isProtected);
  return stateDigest(marker) === markerDigest ? marker : null;
}

/**
 * The marker FrontendOps writes to a hosting bucket whose history lives at `target`'s state location:
 * what markEnvironment writes, and what a refusal names to put back (recordedMarker).
 */
function markerFor(
  target: Pick<DeployTarget, 'stateBucket' | 'statePrefix'>,
  stack: string,
  isProtected: boolean,
): EnvironmentMarker {
  return {
    v: 1,
    stack,
    stateBucket: target.stateBucket,
    statePrefix: target.statePrefix,
    protected: isProtected,
  };
}

/**
 * assertMarkerAsRecorded for a reader before any lock (a dry run: `deploy --dry-run`,
 * `get_deploy_target`; status): the marker read now, held to the chain's newest entry as the lock's
 * check will hold it, so it says what the change will (refused, the stack treated as protected)
 * rather than planning one that the lock refuses. The marker is one GET, the head and the newest
 * entry the ones the reader reads anyway (kept once read): the chain is read only where they differ.
 */
export async function assertMarkerAsRecordedAhead(site: Site): Promise<void> {
  const [read, recorded] = await settleAll([
    readEnvironmentMarkerStored(site.hosting),
    recordedStateKnown(site.state, site.target.statePrefix),
  ] as const);
  await assertMarkerAsRecorded(site, read, recorded);
}

/**
 * What the lock will refuse of the marker `read` (assertMarkerAsRecorded, given the chain's newest
 * bindings a reader already read: no request more where they agree), in its words; null where it
 * will not, or where the chain could not be read to say. The site is treated as protected as the
 * check treats it. For status, which says and refuses nothing.
 */
export async function markerRefusal(
  site: Site,
  read: MarkerRead,
  recorded: Pick<RecordedState, 'markers'>,
): Promise<FrontendOpsError | null> {
  try {
    await assertMarkerAsRecorded(site, read, recorded);
    return null;
  } catch (error) {
    const ours = isFrontendOpsError(error, 'TAMPERED') || isFrontendOpsError(error, 'CONFLICT');
    return ours && error.details?.object === ENVIRONMENT_MARKER ? error : null;
  }
}

/**
 * The refusal where the log records this stack marking the bucket and the marker there names another
 * stack's history (markerNotAsRecorded's case otherwise): two stacks' first changes to one bucket,
 * the other's marker landing first (this one's refused, CONFLICT), or a marker written by hand.
 * Putting this stack's back would take the bucket from the other: it says what to check instead.
 * `unread`: the other's history is in another state bucket, which the check does not read (this
 * stack's credentials may not reach it): said so, not that a history was found. It names no bucket.
 */
function markedByAnother(site: Site, written: WrittenMarker, marker: EnvironmentMarker, unread: boolean) {
  const { stack } = site.target;
  const other = unread
    ? `another stack (${marker.stack}), whose history is not in ${stack}'s state bucket (the marker names a state bucket of its own, which this check does not read),`
    : `another stack's history (${marker.stack}),`;
  return new FrontendOpsError(
    'TAMPERED',
    `The hosting bucket is marked by ${other} though ${stack}'s audit log records marking it (entry ${written.seq}): the other's marker landed first, as when two stacks' first changes go to one bucket, or someone wrote it there. No change is made while the marker is not ${stack}'s: nothing writes over it and no approval is used. Nothing was changed. Do not put ${stack}'s marker back: that would take the bucket from ${marker.stack}. Check where ${stack}'s configuration and outputs file send it (\`git log -p frontendops.config.json\`, and the outputs file), and run \`frontendops audit verify\` on ${marker.stack} by its own name: if its log records the marker, the bucket is ${marker.stack}'s, so give ${stack} a hosting bucket of its own and run the change again; if no log but ${stack}'s records it, it was written by hand: run \`frontendops audit verify\` on ${stack}, which shows the marker its log records, and put that back.`,
    { details: { object: ENVIRONMENT_MARKER } },
  );
}

/** The TAMPERED refusal of a marker that is not the one the audit log last wrote to the bucket. */
function markerNotAsRecorded(
  site: Site,
  problem: AuditProblem,
  written: WrittenMarker | null,
  marker: EnvironmentMarker | null,
) {
  const { stack } = site.target;
  // A genuine marker met by a stack sent to another history (its configuration or outputs changed):
  // the marker is not the one to put back or delete.
  const location = (of: Pick<DeployTarget, 'stateBucket' | 'statePrefix'>) =>
    `s3://${of.stateBucket}/${of.statePrefix}`;
  const moved =
    !written && marker && location(marker) !== location(site.target)
      ? `The marker names the state location ${location(marker)}, not ${stack}'s ${location(site.target)}: if its configuration or outputs file was changed to send the stack there, put them back (\`git log -p\`), and leave the marker as it is. Otherwise: `
      : '';
  const expected = !written
    ? `${moved}The audit log at ${stack}'s state location records no marker written to this bucket, though this one sends the bucket's history there. Open the environment by its own name (its own outputs) and run \`frontendops audit verify\` there: it reports the marker; put back the one its log records, or delete this one if no environment's log records a marker for this bucket`
    : `Run \`frontendops audit verify\` to see what changed, then ${putBackMarker(site, written)}`;
  return new FrontendOpsError(
    'TAMPERED',
    `The hosting bucket's environment marker (${ENVIRONMENT_MARKER}) is not the one the audit log last recorded writing there: ${problem.reason}. It says which environment the bucket is, where its history lives and whether it is protected, so no change is made while it differs: the stack is treated as protected, nothing writes over the marker and no approval is used. Nothing was changed. ` +
      `${expected}; then run the change again.`,
    { details: { object: ENVIRONMENT_MARKER } },
  );
}

/** The target as the environment knows itself: its own name and state location. */
export function adoptEnvironment(target: DeployTarget, marker: EnvironmentMarker): DeployTarget {
  return { ...target, stack: marker.stack, stateBucket: marker.stateBucket, statePrefix: marker.statePrefix };
}

export const sameEnvironment = (target: DeployTarget, marker: EnvironmentMarker) =>
  target.stack === marker.stack &&
  target.stateBucket === marker.stateBucket &&
  target.statePrefix === marker.statePrefix;

/** Why a stack its marker protects is protected, in a refusal's words. */
export const MARKED_PROTECTED =
  'its hosting bucket is marked protected: once protected, a stack stays protected, whatever a configuration says';

/** A site its environment marker protects, though it was opened as unprotected: from now on, said why. */
export function markProtected(site: Site): void {
  site.protected = true;
  site.protectedBy = MARKED_PROTECTED;
}

/**
 * Writes the marker before a change, under the deploy lock, when it is missing, names another
 * state location, or is less protected than this site is. The audit entry comes first, binding the
 * marker's digest and the bucket it goes to (`audit verify` holds the bucket's marker against it):
 * a process that ends between the two leaves the marker as it was, which the next change finds
 * still not what it wants, and writes again with a new entry. The other order would leave a marker
 * no entry binds, which the next change finds as wanted and never binds. `current` is the marker as
 * the deploy lock read it when it was taken (deploy-lock.ts: one that cannot be read is refused
 * there).
 *
 * Protection is learnt when a stack is opened, and a console or an MCP server keeps its stacks open
 * while it runs. A marker that says protected, read here under the lock, while this site was opened
 * as unprotected (another operator's configuration protects the environment since), stops the
 * change before its first write: it went through no approval. The site is protected from then on,
 * so the same change asked again goes through the approval every protected change needs.
 */
export async function markEnvironment(site: Site, current: EnvironmentMarker | null): Promise<void> {
  if (current?.protected && !site.protected) {
    markProtected(site);
    throw new FrontendOpsError(
      'CONFLICT',
      `${site.target.stack} is protected now: its hosting bucket was marked protected after this process opened the stack (another operator's configuration protects it). Nothing was changed. Ask for the change again: it needs an approval, as every change of a protected environment does.`,
    );
  }
  const wanted = markerFor(site.target, site.target.stack, site.protected || (current?.protected ?? false));
  // One the lock found on a chain from before entries bound markers is written again, bound.
  if (
    current &&
    sameEnvironment(site.target, current) &&
    current.protected === wanted.protected &&
    !unbound.has(current)
  )
    return;
  await appendAudit(
    site.state,
    site.target.statePrefix,
    site.locker,
    {
      type: 'environment',
      // The marker lives in the hosting bucket, not the state: its digest records what is written there.
      data: {
        stack: wanted.stack,
        protected: wanted.protected,
        previous: current?.stack ?? null,
        hostingBucket: site.target.hostingBucket,
        markerDigest: stateDigest(wanted),
      },
    },
    // The change's own entry: once another's took its place (the lock's next holder appended while
    // this one slept past its lease), its lock is asked, and it stops (LOCKED) with nothing written.
    { overlap: true },
  );
  // A bucket the lock found unmarked is marked only while it still is: two stacks' first changes to
  // one bucket take two locks, and the one whose marker comes second stops here, before its first
  // copy. Its entry stays, recording a marker that never landed: its stack's next change is refused
  // (assertMarkerAsRecorded) while the bucket names the other's history.
  const create = !current && (await site.hosting.supportsConditionalWrites());
  await site.hosting
    .put(
      ENVIRONMENT_MARKER,
      JSON.stringify(wanted, null, 2),
      { contentType: 'application/json', cacheControl: 'no-store' },
      create ? { ifNoneMatch: '*' } : {},
    )
    .catch((error: unknown) => {
      if (!create || !isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
      throw new FrontendOpsError(
        'CONFLICT',
        `The hosting bucket of ${site.target.stack} was unmarked when this change took its lock, and another change marked it as its environment meanwhile: another stack deploys to the same hosting bucket. Nothing was copied to the site; this stack's audit log records the marker it meant to write, so its changes are refused while the bucket names the other history. One site is one stack: check which stacks name this hosting bucket (the configuration, the outputs files), and deploy it under that one.`,
        { cause: error, details: { object: ENVIRONMENT_MARKER } },
      );
    });
}
