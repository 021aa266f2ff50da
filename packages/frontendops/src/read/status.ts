/** What is live on a site: the read model behind `status`, get_status and the console's card. */

import { isInvalidReleasePointer, type ReleasePointer, sameReleases } from '../atomic/release-pointer.ts';
import { servedDespiteOwner, servedReader } from '../atomic/served.ts';
import type { AuditHead } from '../contract/audit-head.ts';
import { type AtomicReadBeside, checkAtomicPendingUnlocked } from '../deploy/atomic-apply.ts';
import {
  type AtomicContext,
  BUCKET_ROOT_SERVED,
  driftOf,
  STORE_CHANGED_OUTSIDE as OUTSIDE,
  pointerDeleted,
} from '../deploy/atomic-live.ts';
import { checkPendingUnlocked, type LiveRead } from '../deploy/live.ts';
import { releaseIdFor } from '../engine/atomic-plan.ts';
import { backendErrorName, type FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { ReleasePointerRead, ReleaseStore } from '../ports.ts';
import type { Site } from '../site.ts';
import {
  type AtomicPending,
  type AtomicStateRecord,
  createAtomicRecords,
  EMPTY_ATOMIC_STATE,
} from '../state/atomic.ts';
import {
  type AuditVerification,
  assertChainHoldsAnchor,
  boundMarker,
  isAsBound,
  namesRecordLive,
  newestOfAnotherStack,
  outsideProblems,
  ownSwitch,
  pointerNeverBound,
  type RecordedState,
  recordedStateRead,
  recordStanding,
  verifyAudit,
} from '../state/audit.ts';
import { markerRefusal, readEnvironmentMarkerStored } from '../state/environment.ts';
import { ATOMIC_STATE, LIVE, PIN, recordName, releaseIndexName } from '../state/names.ts';
import { readPinStored } from '../state/pin.ts';
import type { DeploymentRecord, LivePointer, PendingDeploy } from '../state/records.ts';
import { type DeployTags, tagOf } from './tags.ts';
import {
  type ServedReleaseView,
  type ServedView,
  type StatusView,
  toPinView,
  toReleaseView,
  toRequestView,
} from './views.ts';

/**
 * `tags`: the deploy tags (readDeployTags), when the reader knows the git host (the console, the CLI).
 *
 * On an atomic stack it also reads the CDN's release store (the key edges route by: one read of the
 * site's ReleaseStore, the reader a deploy's drift check uses) and holds it against the record the
 * way that check does (driftOf): `served` says what visitors get when it is not what was recorded.
 */
export async function readStatus(site: Site, tags: DeployTags = new Map()): Promise<StatusView> {
  const atomicRecords =
    site.mode === 'atomic' ? createAtomicRecords(site.state, site.target.statePrefix) : null;
  const [pointerRead, pendingRead, pinRead, atomicRead, atomicPendingRead, store, chain, markerRead] =
    await Promise.all([
      site.records.readPointer(),
      site.records.readPending(),
      readPinStored(site),
      atomicRecords ? atomicRecords.readStateVersion() : { state: EMPTY_ATOMIC_STATE, stored: null },
      atomicRecords ? atomicRecords.readPending() : null,
      site.mode === 'atomic' && site.releases ? readStore(site.releases) : null,
      // The newest entry's bindings (the head and that entry); null: the log could not be read.
      recordedStateRead(site.state, site.target.statePrefix).catch(() => null),
      // Held to the chain as the lock holds it (one that cannot be read was said when it was opened).
      readEnvironmentMarkerStored(site.hosting).catch(() => null),
    ]);
  const bindings = chain?.recorded ?? null;
  // What the lock will refuse of the marker, said (the stack shown protected, as the lock treats it).
  // Where the newest entry carries no `markers` (a chain from before), the next change reads the
  // chain and binds them: status, which a console asks for again and again, does not read it whole.
  const markerRefused =
    markerRead && bindings && boundMarker(bindings, site.target.hostingBucket) !== undefined
      ? await markerRefusal(site, markerRead, bindings)
      : null;
  // The head the release store anchors (an approval's use, a policy adoption), held as every change
  // holds it: a chain that does not hold it has each change refused. Held by the head read for the
  // bindings, not read again; only where that fails is the head read again, after the store: one
  // anchored between the two reads (status takes no lock) is no cut chain. The anchored entry it
  // reads is not read again by the walk for the live release's record (`anchoredEntry`).
  const holdsAnchor = (read?: { head: AuditHead | null }) =>
    store && 'read' in store
      ? assertChainHoldsAnchor(
          site.state,
          site.target.statePrefix,
          site.target.stack,
          store.read.auditHead,
          read,
        )
      : Promise.resolve(null);
  const { anchoredEntry, anchorRefused } = await holdsAnchor(chain ? { head: chain.head } : undefined)
    .catch((error: unknown) =>
      chain && isFrontendOpsError(error, 'TAMPERED') ? holdsAnchor() : Promise.reject(error),
    )
    .then(
      (entry) => ({ anchoredEntry: entry, anchorRefused: null }),
      (error: unknown) => ({
        anchoredEntry: null,
        anchorRefused: isFrontendOpsError(error, 'TAMPERED') ? error : null,
      }),
    );
  const now = Date.now();
  // Where something read differs from the chain, verify decides: one run for the whole status (it
  // reads the whole chain), on first need; null, it could not answer.
  let verifying: Promise<AuditVerification | null> | undefined;
  const verified = () =>
    (verifying ??= verifyAudit(site.state, site.target.statePrefix, {
      ...(site.releases ? { releaseStore: servedReader(site.releases) } : {}),
    }).catch(() => null));
  // Who pinned, who started the canary or asked for a preview: the pin and the atomic state are the
  // deployer role's to write around the chain too, so neither is told unless the chain binds it (or
  // verify calls the difference an interrupted change's).
  const outside = await stateOutside(verified, bindings, {
    [PIN]: pinRead.stored,
    ...(atomicRecords ? { [ATOMIC_STATE]: atomicRead.stored } : {}),
  });
  const pin = outside.includes(PIN) ? null : pinRead.pin;
  const atomic = atomicRead.state;
  const shown = outside.includes(ATOMIC_STATE) ? EMPTY_ATOMIC_STATE : atomic;
  // A crash-recovery record is the deployer role's to write: the next change holds it to what
  // FrontendOps writes (checkPending, checkAtomicPending) and refuses one planted, TAMPERED; said as
  // that refusal, never as an interrupted change (checked only where such a record exists; a
  // change's switch read half before, half after, is not taken for one: live.ts checkUnlocked, and
  // what follows is said from the reading it went on with).
  const reading = await pendingReading(
    site,
    { pointer: pointerRead, pending: pendingRead, atomicPending: atomicPendingRead },
    // The atomic record is held to the state and the store as read here, with it: not read again.
    store && 'read' in store
      ? {
          state: { missing: atomicRead.stored === null, damaged: false, value: atomicRead.stored },
          served: store.read,
        }
      : undefined,
  );
  const { pendingRefused, pending, atomicPending } = reading;
  // A pointer read before the chain's newest entry (a change finished meanwhile) is read again, after
  // it: one the chain binds as read then is the one to go on with (a change writes live.json, then
  // the entry binding it).
  let { pointer } = reading;
  if (bindings && !isAsBound(bindings.state, LIVE, pointer?.value ?? null)) {
    const again = await site.records.readPointer();
    if (isAsBound(bindings.state, LIVE, again?.value ?? null)) pointer = again;
  }
  const live = pointer?.value ?? null;
  const record = live ? await site.records.readRecord(live.deployId) : null;
  // The live release's record is mostly bound among the newest few entries (or, on a chain begun
  // before entries bound records, recorded by its old entry: recordStanding). The newest entry is the
  // one read for `bindings`, not read again: entries are create-only, so it is that entry still, and
  // status changes nothing: it answers from one reading of the chain. An entry appended meanwhile is
  // listed, and read, like any other.
  const standing =
    record && live
      ? await recordStanding(site.state, site.target.statePrefix, live.deployId, record, {
          first: 4,
          known: [chain?.newest, anchoredEntry],
        }).catch(() => null)
      : null;
  const recordHolds = standing === null ? null : standing !== 'unbound';
  const [believed, believedAtomic] = pendingRefused ? [null, null] : [pending, atomicPending];
  const stopped = await stoppedWriter(
    verified,
    { pointer: live, bindings, recordHolds },
    believedAtomic ?? believed,
  );
  // A record the chain does not bind says nothing of who asked for the release; nor does one bound
  // by another stack's chain copied here (its newest entry, as read for the bindings, names it).
  const copied =
    bindings && newestOfAnotherStack(bindings, site.target.stack, site.target.statePrefix, site.historyNamed);
  const { recorded, told } = copied
    ? {
        recorded: {
          state: 'changed-outside' as const,
          note: `The audit log of ${site.target.stack} is not its own (${copied.reason}), so what it records is not believed, and every change of this stack is refused until it is. Run \`frontendops audit verify\` to see what was copied.`,
        },
        told: null,
      }
    : recordedView({
        pointer: live,
        bindings: stopped === undefined ? null : bindings,
        record,
        recordHolds,
        stopped: stopped ?? null,
      });
  const served =
    store && atomicRecords && site.releases
      ? await readServed(site, {
          store,
          context: {
            store: site.releases,
            atomic: atomicRecords,
            kvs: 'read' in store ? store.read : { value: null, etag: '' },
            statePointer: pointer,
            // A state written around the chain names nothing served: checked against none.
            state: shown,
            now,
          },
          pending: believedAtomic,
          stateOutside: outside.includes(ATOMIC_STATE),
          // An index the store names is held to the same reading of the chain as the pointer, the
          // state and the store beside it: status changes nothing, and says what one moment showed.
          indexes: bindings?.indexes ?? null,
        })
      : null;
  return {
    stack: site.target.stack,
    protected: site.protected,
    siteUrl: site.target.siteUrl ?? null,
    live: live && {
      ...toReleaseView(live),
      kind: told?.kind ?? null,
      // Who asked and why: only a record an entry binds vouches for them (an old chain's entry records
      // its build and outcome, not its request: recordStanding).
      request: told && standing === 'bound' ? toRequestView(told.request) : null,
      tag: tagOf(tags, site.target.stack, live),
    },
    releases: (live?.releases ?? []).map(toReleaseView),
    pending: believedAtomic
      ? atomicPendingView(believedAtomic, store && 'read' in store ? store.read.value : null)
      : believed && inPlacePendingView(believed),
    pin: pin && toPinView(pin),
    mode: site.mode,
    canary: shown.canary && {
      deployId: shown.canary.deployId,
      app: shown.canary.app,
      commit: shown.canary.commit,
      percent: shown.canary.weight,
      startedAt: shown.canary.startedAt,
      by: shown.canary.request.actor,
    },
    previews: shown.previews
      .filter((preview) => Date.parse(preview.expiresAt) > now)
      .map((preview) => ({
        app: preview.app,
        commit: preview.commit,
        expiresAt: preview.expiresAt,
        by: preview.actor,
      })),
    recorded: withPendingRefused(
      withRefused(
        withRefused(withStateOutside(recorded, outside), markerRefused, MARKER_REFUSED),
        anchorRefused,
        "Every change of this stack is refused until its audit log holds the head the CDN's release store anchors:",
      ),
      pendingRefused,
    ),
    served,
  };
}

/**
 * Which of `read` (the pin, the atomic state, as stored; null: none) the chain does not bind and
 * `audit verify` calls tampered or damaged: written outside FrontendOps. One an interrupted change
 * left is not (verify excuses it until that change, or the next, finishes). `verify` (one run for the
 * status) reads the whole chain: asked only where one differs. A log that cannot be read checks nothing (`recorded` says so);
 * verify failing after it was read counts each that differs.
 */
async function stateOutside(
  verify: () => Promise<AuditVerification | null>,
  bindings: RecordedState | null,
  read: Readonly<Record<string, unknown>>,
): Promise<string[]> {
  if (!bindings) return [];
  const changed = Object.entries(read)
    .filter(([name, value]) => !isAsBound(bindings.state, name, value))
    .map(([name]) => name);
  if (changed.length === 0) return [];
  const verified = await verify();
  if (!verified) return changed;
  const outside = outsideProblems(verified.problems, changed).map((p) => p.object);
  return changed.filter((name) => outside.includes(name));
}

/** `recorded`, saying the pin or atomic state written outside FrontendOps (stateOutside) as well. */
function withStateOutside(
  recorded: StatusView['recorded'],
  outside: readonly string[],
): StatusView['recorded'] {
  if (outside.length === 0) return recorded;
  const what = outside
    .map((name) => (name === PIN ? `The pin (${PIN})` : `The atomic state (${ATOMIC_STATE})`))
    .join(' and ');
  const many = outside.length > 1;
  const note = `${what} ${many ? 'are' : 'is'} not what the audit log records: written or changed outside FrontendOps (the deployer role can write the state prefix), so who pinned, or started the canary or a preview, is not shown. Run \`frontendops audit verify\` to see what changed, and put back the versions it records.`;
  return {
    state: 'changed-outside',
    note: recorded.state === 'as-recorded' || !recorded.note ? note : `${recorded.note} ${note}`,
  };
}

/**
 * `recorded`, saying what every change of the stack is refused until the hosting bucket's marker is
 * the one the audit log records (markerRefusal: TAMPERED, written outside FrontendOps; CONFLICT, a
 * marker write the log records and that did not land), in the refusal's own words.
 */
const MARKER_REFUSED =
  'Every change of this stack is refused until its environment marker is the one the audit log records:';

/** `recorded` with what every change refuses (`lead`, then the refusal's words) said. */
function withRefused(
  recorded: StatusView['recorded'],
  refused: FrontendOpsError | null,
  lead: string,
): StatusView['recorded'] {
  if (!refused) return recorded;
  const note = `${lead} ${refused.message}`;
  return {
    state: refused.code === 'TAMPERED' ? 'changed-outside' : recorded.state,
    note: recorded.note ? `${recorded.note} ${note}` : note,
  };
}

/**
 * The crash-recovery record (atomic, else in place) held as the next change holds it, by a reader
 * with no lock (checkUnlocked): the TAMPERED refusal its check ends in (the first reading kept), or
 * null with the reading the check went on with (passed, or failed otherwise: a read, said elsewhere).
 */
async function pendingReading(
  site: Site,
  read: {
    pointer: LiveRead['pointer'];
    pending: PendingDeploy | null;
    atomicPending: AtomicPending | null;
  },
  beside?: AtomicReadBeside,
): Promise<typeof read & { pendingRefused: FrontendOpsError | null }> {
  const { pointer, pending, atomicPending } = read;
  // The atomic record when there is one, else the in-place one: each held as its own check holds it.
  const held = atomicPending
    ? checkAtomicPendingUnlocked(site, atomicPending, { pointer }, beside).then((h) => ({
        atomicPending: h.pending,
        pointer: h.known.pointer,
      }))
    : pending
      ? checkPendingUnlocked(site, pending, { pointer }).then((h) => ({
          pending: h.pending,
          pointer: h.known.pointer,
        }))
      : null;
  if (!held) return { ...read, pendingRefused: null };
  return held.then(
    (reading) => ({ ...read, ...reading, pendingRefused: null }),
    (error: unknown) => ({ ...read, pendingRefused: isFrontendOpsError(error, 'TAMPERED') ? error : null }),
  );
}

/** `recorded`, saying the refusal every deploy or rollback makes of a crash-recovery record planted. */
function withPendingRefused(
  recorded: StatusView['recorded'],
  refused: FrontendOpsError | null,
): StatusView['recorded'] {
  if (!refused) return recorded;
  const note = `Every deploy and rollback of this stack is refused until its crash-recovery record is dealt with: ${refused.message}`;
  return { state: 'changed-outside', note: recorded.note ? `${recorded.note} ${note}` : note };
}

/**
 * The crash-recovery record (`candidate`) whose stopped change wrote the live pointer, or the live
 * release's record, that the chain does not bind yet; null: none did. The record is the deployer
 * role's to write, planted beside a pointer or record of its own: one naming that pointer's build is
 * believed only as `audit verify` excuses what it wrote (a canary start's record excuses no live.json,
 * an atomic one only where the CDN's release store serves its switch, a kept release only as the
 * chain records it). `verify` (one run for the status) is asked on this path only. undefined: it
 * could not answer (the log, or the release store, could not be read).
 */
async function stoppedWriter(
  verify: () => Promise<AuditVerification | null>,
  live: { pointer: LivePointer | null; bindings: RecordedState | null; recordHolds: boolean | null },
  candidate: { plan: { deployId: string } } | null,
): Promise<{ plan: { deployId: string } } | null | undefined> {
  const { pointer, bindings, recordHolds } = live;
  if (!pointer || !bindings || !candidate || !namesRecordLive(pointer, candidate)) return null;
  const unbound = [
    ...(isAsBound(bindings.state, LIVE, pointer) ? [] : [LIVE]),
    ...(recordHolds === false ? [recordName(pointer.deployId)] : []),
  ];
  if (unbound.length === 0) return null;
  const verified = await verify();
  if (!verified) return undefined;
  return outsideProblems(verified.problems, unbound).length > 0 ? null : candidate;
}

/**
 * The live pointer, and the live release's record, against the audit log: the pointer as the newest
 * entry binds it (`bindings`: null, the log could not be read), the record as the newest entry binding
 * it (`recordHolds`: also a record an old chain's entry records, from before entries bound records;
 * null, not checked). Both are the deployer role's to write, so status believes neither around the
 * log: a pointer naming another release live, or a record rewritten (who asked, why), is said, and
 * the record's words are not told (`told`). A change stopped after writing them (`stopped`: a
 * crash-recovery record whose plan's build the pointer names live, as `audit verify` excuses one:
 * stoppedWriter) is unfinished: running it again, or the next change, records them. A chain that
 * never bound the pointer (begun before entries bound it) cannot say. `audit verify` tells which
 * objects differ and why.
 */
function recordedView(input: {
  pointer: LivePointer | null;
  bindings: RecordedState | null;
  record: DeploymentRecord | null;
  recordHolds: boolean | null;
  stopped: { plan: { deployId: string } } | null;
}): { recorded: StatusView['recorded']; told: DeploymentRecord | null } {
  const { pointer, bindings, record, stopped } = input;
  if (!bindings || (record && input.recordHolds === null)) {
    return {
      recorded: {
        state: 'unknown',
        note: 'The audit log could not be read, so whether the live pointer and its record are what it records was not checked. `frontendops audit verify` says why.',
      },
      told: null,
    };
  }
  const recordHolds = !record || input.recordHolds === true;
  if (pointerNeverBound(bindings) && pointer) {
    return {
      recorded: {
        state: 'unknown',
        note: `No audit entry binds the live pointer (${LIVE}) yet: the chain began before entries bound it, so it was not checked. The next deploy or rollback of this stack binds it.`,
      },
      told: recordHolds ? record : null,
    };
  }
  const pointerHolds = isAsBound(bindings.state, LIVE, pointer);
  if (pointerHolds && recordHolds) return { recorded: { state: 'as-recorded', note: null }, told: record };
  const what = [
    ...(pointerHolds ? [] : [`the live pointer (${LIVE})`]),
    ...(recordHolds || !pointer ? [] : [`the record of deployment ${pointer.deployId}`]),
  ].join(' and ');
  if (pointer && stopped) {
    return {
      recorded: {
        state: 'unfinished',
        note: `The audit log does not record ${what} yet: the interrupted change ${stopped.plan.deployId} wrote it. Run it again, or any deploy or rollback of this stack, to finish and record it.`,
      },
      // A crash-recovery record is the deployer role's to plant beside a record it rewrote: the
      // words of one no entry binds are not told, whoever stopped.
      told: recordHolds ? record : null,
    };
  }
  const many = what.includes(' and ');
  return {
    recorded: {
      state: 'changed-outside',
      note: `${what.charAt(0).toUpperCase()}${what.slice(1)} ${many ? 'are' : 'is'} not what the audit log records: written or changed outside FrontendOps (the deployer role can write the state prefix), so what ${many ? 'they say' : 'it says'} is not believed. Run \`frontendops audit verify\` to see what changed, and put back the versions it records.`,
    },
    told: null,
  };
}

/** `refused`: the store's refusal as another environment's, whose pointer was read all the same. */
type StoreRead = { read: ReleasePointerRead; refused?: string } | { error: unknown };

/** One read of the release store; a failure is kept, to be said, not thrown: status still answers. */
const readStore = (releases: ReleaseStore): Promise<StoreRead> =>
  releases.read().then(
    (read) => ({ read }),
    (error: unknown) => {
      const read = servedDespiteOwner(error);
      return read ? { read, refused: (error as Error).message } : { error };
    },
  );

function inPlacePendingView(pending: PendingDeploy): NonNullable<StatusView['pending']> {
  return {
    deployId: pending.plan.deployId,
    op: pending.plan.kind,
    app: pending.plan.app,
    commit: pending.plan.commit,
    startedAt: pending.startedAt,
    pointerMoved: pending.pointerMoved,
  };
}

/**
 * An interrupted atomic operation, in the in-place record's shape. It went live once the store names
 * what it planned (a re-run then finishes it: deploy/atomic-apply.ts settleAtomic decides the same).
 */
function atomicPendingView(
  pending: AtomicPending,
  storeValue: ReleasePointer | null,
): NonNullable<StatusView['pending']> {
  const { plan } = pending;
  const landed =
    storeValue !== null &&
    sameReleases(storeValue, plan.pointerAfter) &&
    !(plan.pointerBefore && sameReleases(plan.pointerBefore, plan.pointerAfter));
  return {
    deployId: plan.deployId,
    op: pending.op,
    app: plan.app,
    commit: plan.commit,
    ...(pending.op === 'canary-start' && plan.canaryAfter ? { percent: plan.canaryAfter.weight } : {}),
    startedAt: pending.startedAt,
    pointerMoved: pending.switched || landed,
  };
}

async function readServed(site: Site, input: Parameters<typeof servedView>[1]): Promise<ServedView> {
  const view = await servedView(site, input);
  const { store } = input;
  if (!('refused' in store) || store.refused === undefined) return view;
  // The store's key naming its environment was written outside FrontendOps (or the outputs name
  // another environment's store): every change refuses it, so status says so, whatever it serves.
  return {
    ...view,
    state: 'changed-outside',
    note: `${view.note ? `${view.note} ` : ''}Every change of this stack refuses the store as it is: ${store.refused}`,
  };
}

async function servedView(
  site: Site,
  input: {
    store: StoreRead;
    context: AtomicContext;
    pending: AtomicPending | null;
    stateOutside: boolean;
    /** The release indexes as the newest entry binds them (status' one read of it); null: unread. */
    indexes: Readonly<Record<string, string>> | null;
  },
): Promise<ServedView> {
  const { store, context, pending } = input;
  const lookUp = { indexes: input.indexes };
  const recorded = recordedWords(context.statePointer?.value ?? null, context.state);
  if ('error' in store) {
    if (isInvalidReleasePointer(store.error)) {
      return {
        state: 'changed-outside',
        live: null,
        canary: null,
        note:
          `The CDN serves the bucket root (its release store holds no valid release pointer), but FrontendOps recorded ${recorded}: ${OUTSIDE} ` +
          `No deploy can read the store until the key holds a valid pointer again: write the recorded one back (${recordedJson(context)}), then run \`frontendops audit verify\`.`,
      };
    }
    return {
      state: 'unknown',
      live: null,
      canary: null,
      note: `The CDN's release store could not be read${codeOf(store.error)}, so what visitors get was not checked against this record. Check that this role can reach the store and read it, then ask again.`,
    };
  }
  const value = store.read.value;
  if (input.stateOutside) {
    // What the atomic state says of a canary or a preview is not believed (status' `recorded` says
    // why): each release served is named only by the pointer or a release index the chain binds.
    const { served: releases, unmatched } = await servedReleases(context, pending, value, lookUp);
    return {
      state: 'unknown',
      ...releases,
      note: `The atomic state (${ATOMIC_STATE}) is not what the audit log records, so what the CDN serves was not checked against it. Run \`frontendops audit verify\` to see what changed, and put back the version it records.${unmatched.map(({ releaseId }) => ` The release index of ${releaseId} does not match the audit log, so what it says of the release was not believed.`).join('')}`,
    };
  }
  const drift = driftOf(context, site.spa);
  const live = context.statePointer?.value ?? null;
  // No pointer: edges serve the bucket root, as they should before a stack's migration (and during
  // one, until its switch); once the live release was uploaded as an atomic release (its release
  // index), that is a pointer deleted.
  const deleted = !drift && (await pointerDeleted(site, context, pending));
  if (!drift && !deleted) {
    return {
      state: 'as-recorded',
      ...(await servedReleases(context, pending, value, null)).served,
      note: null,
    };
  }
  const { served: releases, unmatched } = await servedReleases(context, pending, value, lookUp);
  const what = servedWords(releases);
  // An index read for this (below) that the chain does not bind as it is: not believed, and said.
  const unbound = unmatched.map(({ releaseId, unread }) =>
    unread
      ? ` The release index of ${releaseId} could not be checked against the audit log (reading the log failed), so what it says of the release was not believed.`
      : ` The release index of ${releaseId} does not match the audit log (it was written or changed around it), so what it says of the release was not believed.`,
  );
  // Only the interrupted operation's own switch (a pointer written by hand, which a planted record
  // names as its "after" for a plan of another release, was changed outside).
  const switched = ownSwitch(pending);
  if (value && pending && switched && sameReleases(value, switched)) {
    return {
      state: 'switching',
      ...releases,
      note:
        `The CDN already serves ${what}, which the interrupted ${pending.op} ${pending.plan.deployId} switched to (unless it is still running); ` +
        `FrontendOps still records ${recorded}. Run it again, or any deploy, rollback or canary change of this stack, to finish it.${unbound.join('')}`,
    };
  }
  const back =
    live && !context.state.canary
      ? `To put the recorded release back now: \`frontendops deploy --commit ${live.commit.slice(0, 7)}\`; any`
      : 'The';
  return {
    state: 'changed-outside',
    ...releases,
    note:
      `The CDN serves ${what}, but FrontendOps recorded ${recorded}: ${OUTSIDE} ` +
      `${back} next deploy, rollback or canary change switches from the record again (and records what it found). ` +
      `\`frontendops audit verify\` checks the store against the audit chain.${unbound.join('')}`,
  };
}

/**
 * The releases the store names, with what FrontendOps knows of each. `lookUp`: read unknown ones'
 * release indexes, each held to the bindings the audit chain's newest entry carries (`indexes`: as
 * status read that entry, beside the store and the state it checks; null, the log could not be read).
 * One not as bound, or not checked because the log could not be read (`unread`), is not believed,
 * and named in `unmatched`.
 */
async function servedReleases(
  context: AtomicContext,
  pending: AtomicPending | null,
  value: ReleasePointer | null,
  lookUp: { indexes: Readonly<Record<string, string>> | null } | null,
): Promise<{
  served: Pick<ServedView, 'live' | 'canary'>;
  unmatched: { releaseId: string; unread: boolean }[];
}> {
  const known = new Map<string, Omit<ServedReleaseView, 'releaseId'>>();
  const add = (releaseId: string, app: string, commit: string, deployId: string | null) => {
    if (app && commit && !known.has(releaseId)) known.set(releaseId, { app, commit, deployId });
  };
  for (const r of context.statePointer?.value.releases ?? [])
    add(releaseIdFor(r), r.app, r.commit, r.deployId);
  const { canary, previews, retiring } = context.state;
  if (canary) add(canary.releaseId, canary.app, canary.commit, null);
  if (pending) add(pending.plan.releaseId, pending.plan.app, pending.plan.commit, pending.plan.deployId);
  for (const p of previews) add(p.releaseId, p.app, p.commit, null);
  for (const r of retiring) for (const ref of r.releases) add(ref.releaseId, ref.app, ref.commit, null);
  const unmatched: { releaseId: string; unread: boolean }[] = [];
  const describe = async (releaseId: string): Promise<ServedReleaseView> => {
    let found = known.get(releaseId);
    if (!found && lookUp) {
      const index = await context.atomic.readReleaseIndex(releaseId).catch(() => null);
      const { indexes } = lookUp;
      if (index && (!indexes || !isAsBound(indexes, releaseIndexName(releaseId), index)))
        unmatched.push({ releaseId, unread: indexes === null });
      else if (index) found = { app: index.app, commit: index.commit, deployId: null };
    }
    return { releaseId, ...(found ?? { app: null, commit: null, deployId: null }) };
  };
  if (!value) return { served: { live: null, canary: null }, unmatched };
  const [live, canaryRelease] = await Promise.all([
    describe(value.live),
    value.canary ? describe(value.canary) : Promise.resolve(null),
  ]);
  return {
    served: { live, canary: canaryRelease && { ...canaryRelease, percent: value.weight ?? 0 } },
    unmatched,
  };
}

const releaseWords = (release: ServedReleaseView): string =>
  release.app && release.commit
    ? `${release.app}@${release.commit.slice(0, 7)} (release ${release.releaseId})`
    : `release ${release.releaseId} (no release FrontendOps knows)`;

function servedWords(served: Pick<ServedView, 'live' | 'canary'>): string {
  if (!served.live) return BUCKET_ROOT_SERVED;
  return served.canary
    ? `${releaseWords(served.live)}, with ${served.canary.percent}% of visitors on ${releaseWords(served.canary)}`
    : `${releaseWords(served.live)} to every visitor`;
}

function recordedWords(live: LivePointer | null, state: AtomicStateRecord): string {
  if (!live) return 'nothing deployed';
  const what = `${live.app}@${live.commit.slice(0, 7)} (release ${releaseIdFor(live)})`;
  return state.canary
    ? `${what}, with ${state.canary.weight}% of visitors on ${state.canary.app}@${state.canary.commit.slice(0, 7)} (release ${state.canary.releaseId})`
    : `${what}, no canary`;
}

function recordedJson(context: AtomicContext): string {
  const live = context.statePointer?.value;
  if (!live) return 'none recorded';
  const canary = context.state.canary;
  return JSON.stringify({
    live: releaseIdFor(live),
    ...(canary ? { canary: canary.releaseId, weight: canary.weight } : {}),
  });
}

/** " (AccessDeniedException)": the backend's error name, which names no resource; never its message. */
function codeOf(error: unknown): string {
  const code = isFrontendOpsError(error) ? error.details?.keyValueStoreCode : undefined;
  if (backendErrorName(code)) return ` (${code})`;
  if (isFrontendOpsError(error)) return ` (${error.code})`;
  // A network failure's code (ECONNREFUSED, ENOTFOUND…), never its message: that names the endpoint.
  const system = (error as { code?: unknown } | null)?.code;
  return typeof system === 'string' && /^E[A-Z]{2,30}$/.test(system) ? ` (${system})` : '';
}
