/**
 * readLiveState: gathers what planDeploy needs — the hosting bucket's keys and the retained releases.
 *
 * Also the checks of the crash-recovery records (pending.json, atomic/pending.json) before anything
 * of one is finished. Those records are not bound by the audit chain: whoever can write the state
 * bucket (the deployer role) can write one. So what finishing one would do is held against what the
 * stack had, read from the live pointer (bound by the chain) and the manifests the run reads anyway:
 * a rollback goes only to a release the stack had live (one the pointer retains, or a deployment of
 * this stack that went live); a deploy said to be live is the one the pointer names, a build
 * published with that digest whose index.html is in the hosting bucket; its prune deletes nothing a
 * kept release serves, nor FrontendOps' own objects; a canary start's switch sends its share to its
 * release (what an atomic record wrote is held likewise: atomic-apply.ts heldToItsWrites). Anything
 * else was not written by FrontendOps: refused (TAMPERED) before anything is written.
 */

import { formatAuditHead } from '../contract/audit-head.ts';
import { releaseIdFor } from '../engine/atomic-plan.ts';
import { DEPLOY_ID } from '../engine/ids.ts';
import {
  artifactDigest,
  artifactKeyProblem,
  keyOf,
  RELEASES_KEY_PREFIX,
  shortened,
  sitePathProblem,
} from '../engine/manifest.ts';
import type { DeployPlan, LiveState, Release } from '../engine/plan.ts';
import type { Manifest } from '../engine/types.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { settleAll } from '../settle-all.ts';
import { publishLogsOf, type Site, unreadPublishLog } from '../site.ts';
import type { AtomicPending } from '../state/atomic.ts';
import {
  type AuditHead,
  boundRecords,
  isRecord,
  logOwner,
  publishesRecorded,
  readAudit,
} from '../state/audit.ts';
import { ATOMIC_PENDING, HOSTING_OWN, PENDING } from '../state/names.ts';
import type { LivePointer, PendingDeploy } from '../state/records.ts';
import { readManifest, validateArtifactId } from './publish.ts';

/** What a run read of the live state, handed on so it is read once. */
export interface LiveRead {
  /** The live pointer as read (null: nothing deployed). */
  pointer: { value: LivePointer; etag: string } | null;
  /** The releases it retains, with their manifests, once read. */
  releases?: Release[];
}

export async function readLiveState(
  site: Site,
  pending: PendingDeploy | null,
  known?: LiveRead,
): Promise<LiveState & { etag: string | null }> {
  // The retained releases' manifests are read while the hosting bucket is still being listed.
  const [listing, { pointer, releases }] = await settleAll([site.hosting.list(), readRetained(site, known)]);
  const uncertain = pending && !pending.pointerMoved ? pending.plan.copies.map((c) => c.key) : [];
  return {
    hosting: new Map(listing.map((o) => [o.key, o.size])),
    releases,
    uncertainKeys: new Set(uncertain),
    etag: pointer?.etag ?? null,
  };
}

/** The live pointer and the releases it retains, each with its manifest (what `known` holds is not read again). */
async function readRetained(site: Site, known?: LiveRead): Promise<Required<LiveRead>> {
  if (known?.releases) return { pointer: known.pointer, releases: known.releases };
  const pointer = known ? known.pointer : await site.records.readPointer();
  const releases = await settleAll(
    (pointer?.value.releases ?? []).map(async (ref): Promise<Release | null> => {
      const manifest = await readManifest(site.artifacts, ref.app, ref.commit);
      return manifest && { ...ref, manifest };
    }),
  );
  // A release whose artifact is gone (lifecycle rule) no longer protects any file.
  return { pointer, releases: releases.filter((release) => release !== null) };
}

/** Key prefixes of the hosting bucket no prune ever deletes: the environment marker, and the state when it shares the bucket. */
export const ownPrefixes = (site: Site): string[] =>
  site.target.stateBucket === site.target.hostingBucket
    ? [site.target.statePrefix, HOSTING_OWN]
    : [HOSTING_OWN];

/**
 * What an in-place prune never deletes: those, and atomic releases' files. An in-place deploy whose
 * locks did not meet a migration's (another machine, an older version) would otherwise delete the
 * releases the site then serves.
 */
export const inPlaceKeptPrefixes = (site: Site): string[] => [...ownPrefixes(site), RELEASES_KEY_PREFIX];

// ── the crash-recovery records ─────────────────────────────────────────────────────────────────

/** A build as a pending record names it (read from the bucket: any field may be missing or of another type). */
interface NamedBuild {
  deployId?: unknown;
  app?: unknown;
  commit?: unknown;
  artifactDigest?: unknown;
}

/** An operation's name as a record holds it, or a word for what is none (never more of the record). */
const opWord = (op: unknown) =>
  typeof op === 'string' && /^[a-z-]{1,20}$/.test(op) ? op : 'operation of no known kind';

/** The 7 hex a person reads, or a word for what is not a commit (never more of what the record holds). */
const shortSha = (commit: unknown) =>
  typeof commit === 'string' && /^[0-9a-f]{7}/.test(commit) ? commit.slice(0, 7) : 'no commit';
const idOf = (deployId: unknown) =>
  typeof deployId === 'string' && DEPLOY_ID.test(deployId) ? deployId : '(no deploy id)';

const sameBuild = (release: { app: string; commit: string; artifactDigest: string }, build: NamedBuild) =>
  release.app === build.app &&
  release.commit === build.commit &&
  (typeof build.artifactDigest !== 'string' || release.artifactDigest === build.artifactDigest);

/**
 * Whether the stack had `build` live: a release the live pointer retains, or past them a deployment
 * of this stack that went live (the newest 200 records, what `rollback --to` offers). The records are
 * read only when the pointer does not have it.
 */
async function hadLive(site: Site, build: NamedBuild, pointer: LivePointer | null): Promise<boolean> {
  if (typeof build.app !== 'string' || typeof build.commit !== 'string') return false;
  if (pointer && (sameBuild(pointer, build) || (pointer.releases ?? []).some((r) => sameBuild(r, build))))
    return true;
  const { releases } = await site.records.listReleases(200);
  const live = releases.filter((r) => r.outcome === 'succeeded' && sameBuild(r, build));
  // Only records the chain binds: one written around it says whatever its writer wants.
  return (await boundRecords(site.state, site.target.statePrefix, live)).length > 0;
}

/**
 * Whether deployment `build.deployId` went live as that build: the live pointer (which the lock's
 * check holds to the chain) retains it. Not its deployment record: a record is bound by the chain
 * only once its entry is written, and one written around the chain is not checked before a change
 * starts, so a record alone is no proof (a forged one was finished into the chain as recorded).
 */
function hadDeploy(build: NamedBuild, pointer: LivePointer | null): boolean {
  const known = (r: { deployId: string; app: string; commit: string; artifactDigest: string }) =>
    r.deployId === build.deployId && sameBuild(r, build);
  return pointer !== null && (known(pointer) || (pointer.releases ?? []).some(known));
}

/**
 * A live pointer naming the record's deploy, which the run finishing it then vouches for in the chain
 * (deploy.ts settlePending: the process may have stopped between the pointer and its entry), must be
 * one FrontendOps wrote for that deploy: its build is the one published (the same digest), its
 * release list begins with it, and the hosting bucket's index.html is that build's (a deploy copies
 * its files, HTML last, before its pointer moves). A record and a pointer written around FrontendOps
 * for a build that was never copied would otherwise be recorded as a deployment that went live.
 * Two reads, together; only where a stopped deploy is finished.
 */
async function assertMovedBuildInPlace(
  site: Site,
  plan: NamedBuild & { copies?: unknown; fromDeployId?: unknown; fromCommit?: unknown },
  pointer: LivePointer,
  what: string,
): Promise<void> {
  const [manifest, index] = await settleAll([
    typeof plan.app === 'string' && typeof plan.commit === 'string'
      ? readManifest(site.artifacts, plan.app, plan.commit).catch(() => null)
      : Promise.resolve(null),
    site.hosting.head('index.html'),
  ]);
  if (!manifest || artifactDigest(manifest) !== plan.artifactDigest) {
    throw forgedPending(PENDING, `names ${what} as live, but that is not a build published for it`);
  }
  const first = pointer.releases?.[0];
  if (!first || first.deployId !== pointer.deployId || !sameBuild(first, pointer)) {
    throw forgedPending(
      PENDING,
      `names ${what} as live, but the live pointer's releases do not begin with it`,
    );
  }
  const sha = manifest.files['/index.html']?.sha256;
  if (sha !== undefined && index?.metadata.sha256 !== sha) {
    throw forgedPending(
      PENDING,
      `names ${what} as live, but the hosting bucket's index.html is not that build's (its files were never copied)`,
    );
  }
  // What its finish verifies the CDN against, and switches back to when the CDN does not serve it: an
  // index.html the build does not have would fail verification on purpose, and a release before it
  // that was not would make that release live with no one asking (or approving).
  const copied = Array.isArray(plan.copies)
    ? (plan.copies as unknown[]).find((c) => isRecord(c) && c.key === 'index.html')
    : undefined;
  if (copied !== undefined && (!isRecord(copied) || copied.sha256 !== sha)) {
    throw forgedPending(PENDING, `names ${what}, with an index.html to verify that is not that build's`);
  }
  // A deploy of the build that was live (made again over files that drifted) takes that build's place
  // in the list, so the release before it there is older: a switch back goes to the same build.
  const again =
    plan.fromCommit === plan.commit && String(plan.fromDeployId).startsWith(shortSha(plan.commit));
  const before = pointer.releases?.[1];
  if (before && !again && (plan.fromDeployId !== before.deployId || plan.fromCommit !== before.commit)) {
    throw forgedPending(
      PENDING,
      `names ${shortSha(plan.fromCommit)} as the release live before ${what}, but the live pointer keeps ${shortSha(before.commit)} before it`,
    );
  }
}

/** The refusal of a crash-recovery record FrontendOps did not write: what it asks, and what to do. */
export function forgedPending(object: string, asks: string): FrontendOpsError {
  return new FrontendOpsError(
    'TAMPERED',
    `The crash-recovery record ${object} (under this stack's state prefix) ${asks}, so it was not written by FrontendOps. Nothing was changed: the record was not finished. ` +
      `Run \`frontendops audit verify\` to see what else was changed in the state bucket; after checking, delete ${object} under this stack's state prefix (no FrontendOps command removes it: it is not bound by the audit chain), then run the command again.`,
    { details: { object } },
  );
}

const rollbackWords = (site: Site, build: NamedBuild) =>
  `names a rollback to ${shortSha(build.commit)} that was never live on ${site.target.stack}: it is neither a release the live pointer retains nor a deployment of this stack that went live`;

/** Refuses (TAMPERED) a record whose rollback goes to a build the stack never had live. */
async function assertRollbackWasLive(
  site: Site,
  object: string,
  build: NamedBuild,
  pointer: LivePointer | null,
): Promise<void> {
  if (!(await hadLive(site, build, pointer))) throw forgedPending(object, rollbackWords(site, build));
}

const isPlan = (plan: unknown): plan is NamedBuild =>
  typeof plan === 'object' &&
  plan !== null &&
  typeof (plan as NamedBuild).deployId === 'string' &&
  typeof (plan as NamedBuild).app === 'string' &&
  typeof (plan as NamedBuild).commit === 'string';

/**
 * Checks the in-place crash-recovery record (pending.json) before anything of it is finished or
 * recorded (see the module comment); throws TAMPERED when FrontendOps did not write it. Reads the
 * live pointer (unless `known`), the retained releases' manifests only when its prune is to be
 * finished, the records only for a rollback to a release the pointer no longer retains. Returns what
 * it read, for the run to reuse, and the prune the finish may apply: none when the live release's
 * manifest is gone, so the prune cannot be checked (a later deploy prunes what no release uses).
 */
export async function checkPending(
  site: Site,
  pending: PendingDeploy,
  known?: LiveRead,
): Promise<LiveRead & { prune: string[] }> {
  const { plan } = pending;
  if (!isPlan(plan) || !Array.isArray(plan.prune) || !Array.isArray(plan.copies))
    throw forgedPending(PENDING, 'holds no deploy plan');
  const read: LiveRead = known ?? { pointer: await site.records.readPointer() };
  const pointer = read.pointer?.value ?? null;
  if (plan.kind === 'rollback') await assertRollbackWasLive(site, PENDING, plan, pointer);
  const live = pointer?.deployId === plan.deployId;
  if (!pending.pointerMoved && !live) return { ...read, prune: plan.prune };
  const what = `deploy ${idOf(plan.deployId)} of ${shortSha(plan.commit)}`;
  if (pointer && live && !sameBuild(pointer, plan)) {
    throw forgedPending(
      PENDING,
      `names ${what} as live, but the live pointer has that deploy id live with ${shortSha(pointer.commit)}`,
    );
  }
  if (!live && !hadDeploy(plan, pointer)) {
    throw forgedPending(PENDING, `says ${what} went live, which ${site.target.stack} never had live`);
  }
  if (pointer && live) await assertMovedBuildInPlace(site, plan, pointer, what);
  // Not live any more: its prune is skipped when it is finished (html-guard's pruneSkipped).
  if (!live || plan.prune.length === 0) return { ...read, prune: plan.prune };
  const retained = await readRetained(site, read);
  if (!retained.releases.some((r) => r.deployId === plan.deployId)) return { ...retained, prune: [] };
  const served = new Map<string, string>();
  for (const release of retained.releases) {
    for (const path of Object.keys(release.manifest.files)) {
      if (!served.has(keyOf(path))) served.set(keyOf(path), release.commit);
    }
  }
  const own = inPlaceKeptPrefixes(site);
  const refused = plan.prune.filter(
    (key) => typeof key !== 'string' || served.has(key) || own.some((prefix) => key.startsWith(prefix)),
  );
  if (refused.length > 0) {
    const named = refused.slice(0, 3).map((key) => {
      const name = shortened(JSON.stringify(key) ?? String(key));
      const by = typeof key === 'string' ? served.get(key) : undefined;
      return by
        ? `${name} (${by === plan.commit ? 'a file of that release itself' : `served by ${shortSha(by)}, a release the stack keeps`})`
        : `${name} (FrontendOps' own, or no file name)`;
    });
    const more = refused.length > 3 ? ` and ${refused.length - 3} more` : '';
    throw forgedPending(
      PENDING,
      `asks to finish ${what} by deleting ${named.join(', ')}${more}: FrontendOps never prunes what a kept release serves, nor its own objects`,
    );
  }
  return { ...retained, prune: plan.prune };
}

/**
 * A crash-recovery record's check (`check`: checkPending, atomic-apply.ts checkAtomicPending) for a
 * reader that holds no lock (status, a dry run). A change moves the live pointer, then marks its
 * record moved (switched): read together, the pointer may be the one from before its switch and the
 * record the one after, which is what a planted record says. So a refusal stands only if a second
 * reading is refused too, the record (`reread`) read before the pointer (the order opposite to their
 * writes): its refusal is thrown; none (passed, or the record gone: finished meanwhile) returns the
 * reading to go on with (the record, null where gone, and the pointer). The second reading is made
 * on a refusal only.
 */
export async function checkUnlocked<P>(
  site: Site,
  check: (pending: P, known: LiveRead) => Promise<unknown>,
  read: { pending: P; known: LiveRead; reread: () => Promise<P | null> },
): Promise<{ pending: P | null; known: LiveRead }> {
  try {
    await check(read.pending, read.known);
    return { pending: read.pending, known: read.known };
  } catch (error) {
    if (!isFrontendOpsError(error, 'TAMPERED')) throw error;
    // The second reading is the one to go on with: its words, too, come from it (the record, and
    // the pointer read after it), not from the pointer the first reading had before the switch.
    const again = await read.reread();
    const known = { pointer: await site.records.readPointer() };
    if (again) await check(again, known);
    return { pending: again, known };
  }
}

/** checkPending for a reader that holds no lock (checkUnlocked). */
export const checkPendingUnlocked = (
  site: Site,
  pending: PendingDeploy,
  known: LiveRead,
): Promise<{ pending: PendingDeploy | null; known: LiveRead }> =>
  checkUnlocked(site, (record: PendingDeploy, read) => checkPending(site, record, read), {
    pending,
    known,
    reread: () => site.records.readPending(),
  });

/**
 * Whether an atomic operation's record is of a migration that switches: a migration switches only
 * from no pointer (the stack's first atomic switch, to the release its in-place pointer has live),
 * the one switch of a plan that changes no live release. assertAtomicPendingSound lets only it
 * switch so; heldToItsWrites (deploy/atomic-apply.ts) holds it to being the stack's first.
 */
export const migrationSwitch = (pending: { op: unknown; plan: { pointerBefore?: unknown } }): boolean =>
  pending.op === 'migrate' && pending.plan.pointerBefore == null;

/**
 * Checks the atomic crash-recovery record (atomic/pending.json) before anything of it is finished,
 * switched or recorded (see the module comment); throws TAMPERED when FrontendOps did not write it:
 * a rollback to a build the stack never had live; a switch that would make live another release than
 * its plan's build; one said to be switched whose build the live pointer does not have live. Reads
 * the live pointer (unless `known`: one GET) and, only for a rollback to a release the pointer no
 * longer retains, the records. Returns what it read.
 *
 * Called by deploy.ts before a rollback with no destination finishes a stopped one; the atomic engine
 * calls it where it settles or finishes a pending operation (deploy/atomic-apply.ts: settleAtomic,
 * finishSyncedAtomic), before it writes anything of it.
 */
export async function assertAtomicPendingSound(
  site: Site,
  pending: AtomicPending,
  known?: LiveRead,
): Promise<LiveRead> {
  const { plan } = pending;
  if (!isPlan(plan)) throw forgedPending(ATOMIC_PENDING, 'holds no release plan');
  // FrontendOps writes the operation and its plan from one op. The checks below go by the record's
  // `op`, its finish records partly by the plan's: one naming two would pass the checks of one and
  // be recorded (superseded or finished) as the other.
  const planOp = (plan as { op?: unknown }).op;
  if (planOp !== pending.op) {
    throw forgedPending(ATOMIC_PENDING, `names a ${opWord(pending.op)} whose plan is a ${opWord(planOp)}'s`);
  }
  const read: LiveRead = known ?? { pointer: await site.records.readPointer() };
  const pointer = read.pointer?.value ?? null;
  if (pending.op === 'rollback') await assertRollbackWasLive(site, ATOMIC_PENDING, plan, pointer);
  const what = `${pending.op} ${idOf(plan.deployId)} of ${shortSha(plan.commit)}`;
  // Only a plan that changes what is live switches the live release, but a migration's switch
  // (migrationSwitch): any other record claiming such a switch would be finished as an operation
  // nobody ran, with its made-up request, where the release store already served that release.
  const from = (plan.pointerBefore as { live?: unknown } | null | undefined)?.live;
  if (!plan.liveChanges && plan.pointerAfter?.live !== from && !migrationSwitch(pending)) {
    throw forgedPending(
      ATOMIC_PENDING,
      `names ${what}, whose switch makes a release live, which its plan does not`,
    );
  }
  if (plan.liveChanges) {
    if (
      typeof plan.artifactDigest !== 'string' ||
      plan.pointerAfter?.live !== releaseIdFor({ commit: plan.commit, artifactDigest: plan.artifactDigest })
    ) {
      throw forgedPending(ATOMIC_PENDING, `names ${what}, but its switch makes another release live`);
    }
    // The live pointer already has its release live under another deploy: the switch the release
    // store serves was that deploy's, not this record's (its own run moves the pointer after it).
    const other =
      pointer !== null &&
      from !== plan.pointerAfter.live &&
      releaseIdFor(pointer) === plan.pointerAfter.live &&
      pointer.deployId !== plan.deployId;
    if (other) {
      throw forgedPending(
        ATOMIC_PENDING,
        `names ${what}, but the live pointer has its release live under deploy ${idOf(pointer.deployId)}: the switch the CDN serves was not this record's`,
      );
    }
    if (pending.switched && !hadDeploy(plan, pointer)) {
      throw forgedPending(
        ATOMIC_PENDING,
        `says ${what} switched, but the live pointer does not have it live`,
      );
    }
  }
  // A canary start's switch sends its share of visitors to its release: nothing else starts one.
  const after = plan.pointerAfter as { canary?: unknown; weight?: unknown } | undefined;
  if (
    pending.op === 'canary-start' &&
    (after?.canary !== plan.releaseId || after?.weight !== plan.canaryAfter?.weight)
  ) {
    throw forgedPending(
      ATOMIC_PENDING,
      `names canary ${idOf(plan.deployId)} of ${shortSha(plan.commit)}, but its switch does not send that share of visitors to it`,
    );
  }
  return read;
}

/**
 * Before a deploy finished from its pending record (finishSyncedDeploy) is switched back because the
 * CDN does not serve it: the release it names as the one before must be the one the audit chain
 * records live right before it (the release entry before its own, or its first own where it was
 * vouched for again). Any other release the stack once
 * had would go live with nobody asking for it. Reads the chain, on this failure only.
 */
export async function assertPreviousWasLive(
  site: Site,
  plan: { deployId: string; fromDeployId: string | null; fromCommit: string | null },
): Promise<void> {
  if (!plan.fromCommit) return;
  const releases = (await readAudit(site.state, site.target.statePrefix)).filter((e) => e.type === 'release');
  let own = releases.findLastIndex((entry) => entry.data.deployId === plan.deployId);
  // Its pointer vouched for again when it was finished (stopped before its record said the pointer
  // moved: settlePending) is no release before it: the one before its first entry there is.
  while (own > 0 && releases[own - 1]?.data.deployId === plan.deployId) own--;
  const before = own > 0 ? releases[own - 1]?.data : undefined;
  if (before && before.deployId === plan.fromDeployId && before.commit === plan.fromCommit) return;
  throw new FrontendOpsError(
    'TAMPERED',
    `The crash-recovery record ${PENDING} (under this stack's state prefix) names ${shortSha(plan.fromCommit)} as the release live before deploy ${idOf(plan.deployId)}, to switch back to now that the CDN does not serve it, but the audit chain records ${before ? shortSha(before.commit) : 'no release'} live before it: the record was not written by FrontendOps, so nothing was switched back (the deploy is recorded as failed). ` +
      `Run \`frontendops audit verify\` to see what else was changed in the state bucket, then roll back with \`frontendops rollback --to <deployId|commit>\` to a release from \`frontendops history\`.`,
    { details: { object: PENDING } },
  );
}

/** The artifact's manifest; NOT_FOUND (with what to do) when the commit was never published. */
export async function requireManifest(site: Site, app: string, commit: string): Promise<Manifest> {
  validateArtifactId(app, commit);
  const manifest = await readManifest(site.artifacts, app, commit);
  if (!manifest) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      `No build of ${app} is published for commit ${commit}. Publish it first (frontendops publish <dir> --app ${app} --commit ${commit}), or pick a published commit.`,
    );
  }
  if (manifest.app !== app || manifest.commit !== commit) {
    throw badInput(
      `The manifest for ${app}@${commit} names ${manifest.app}@${manifest.commit}; the artifact is corrupt. Publish it again under a new commit.`,
    );
  }
  // Publish refuses such paths; a manifest from an older version, or an edited one, may still hold one.
  for (const path of Object.keys(manifest.files)) {
    const problem = sitePathProblem(path) ?? artifactKeyProblem(app, commit, path);
    if (problem) {
      throw badInput(
        `The manifest of ${app}@${commit.slice(0, 7)} names the file ${shortened(path)}, which cannot be deployed: ${problem}. ` +
          'Nothing was copied. The artifact was published by another version of FrontendOps or changed since: publish the build again under a new commit, with that path renamed.',
      );
    }
  }
  return manifest;
}

/** A build a publish log the stack trusts recorded (publishedBuild), and where: as a plan names it. */
export type PublishedBuild = { manifest: Manifest; publishHead: AuditHead | null } & Pick<
  DeployPlan,
  'publishedIn' | 'publishedInHead'
>;

/**
 * requireManifest, for a build about to go live that this stack never had live: the build must be one
 * a publish log the stack deploys builds from records (its own, and its `buildsFrom`: publishLogsOf),
 * with the digest it has. Whoever can write the artifacts bucket (and not the state) could otherwise
 * put a build there for a commit before CI publishes it (the newest, which "the latest" names), and
 * have it deployed. The logs are read beside the manifest, each from its head back (one entry when
 * the build is the newest it recorded), round by round together, and no further once one records
 * the build with the digest it has (publishesRecorded). Refused before anything is written: NOT_FOUND when no log
 * records the build, TAMPERED when they record it under another digest.
 *
 * With the manifest, the stack's own publish log's head as it read it (`publishHead`): what the
 * deployment's entry names (recordDeployment), rather than reading it again; and, where its own log
 * does not record the build, the stack whose log does (`publishedIn`: said to an approver) with that
 * log's head as read here (`publishedInHead`), which the entry names too (publishedInFacts).
 */
export async function publishedBuild(site: Site, app: string, commit: string): Promise<PublishedBuild> {
  const logs = publishLogsOf(site);
  const required = requireManifest(site, app, commit);
  // Read no further once a log records the build as it is: one recording it under another digest
  // does not answer (another may record it as it is; if none does, it is refused as replaced).
  const [manifest, reads] = await settleAll([
    required,
    logs.then((all) =>
      publishesRecorded(
        // Another stack's is named by its stack where its head is refused (readAuditHead).
        all.map((l, i) => {
          if (!l.state) return null;
          // Entries naming another stack are not this log's records (ofAnotherStack).
          const owner = logOwner(l);
          // Its own log's entries may name the name its marker gives its state location.
          if (owner && i === 0 && site.historyNamed) owner.also = site.historyNamed;
          return {
            store: l.state,
            log: l.log,
            ...(i > 0 ? { stack: l.stack } : {}),
            ...(owner ? { owner } : {}),
          };
        }),
        app,
        commit,
        async (r) => r.artifactDigest === artifactDigest(await required),
      ),
    ),
  ]);
  const digest = artifactDigest(manifest);
  const recorded = reads.map((r) => r.recorded);
  const by = recorded.findIndex((r) => r?.artifactDigest === digest);
  const read = await logs;
  if (by >= 0) {
    const publishHead = reads[0]?.head ?? null;
    const publishedIn = by > 0 ? read[by]?.stack : undefined;
    const publishedInHead = by > 0 ? reads[by]?.head : undefined;
    return {
      manifest,
      publishHead,
      ...(publishedIn ? { publishedIn } : {}),
      ...(publishedIn && publishedInHead ? { publishedInHead: formatAuditHead(publishedInHead) } : {}),
    };
  }
  const build = `${app}@${commit.slice(0, 7)}`;
  const named = read.map((l) => `${l.stack}'s (${l.log})`);
  const which = `the publish log${read.length > 1 ? 's' : ''} ${site.target.stack} deploys builds from: ${named.join(', ')}`;
  const fix =
    `Publish it through CI (\`frontendops publish <dir> --app ${app} --commit ${commit} --stack ${site.target.stack}\`; a build already in the bucket with the same content is then recorded), ` +
    `name the stack whose publish log recorded it in "buildsFrom" of ${site.target.stack} in frontendops.config.json, or, if nobody published it, have an administrator of the artifacts bucket remove it.`;
  const details = { app, commit, publishLogs: read.map((l) => ({ stack: l.stack, log: l.log })) };
  const other = recorded.flatMap((r, i) =>
    r ? [`${r.artifactDigest} (${read[i]?.stack}'s entry ${r.seq})`] : [],
  );
  if (other.length > 0) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The build ${build} in the artifacts bucket is ${digest}, but ${which} record it published as ${other.join(', ')}: its manifest and files were replaced since. Nothing was changed. ${fix}`,
      { details },
    );
  }
  // A log that could not be opened may record it: refused for the reason, not as unpublished.
  const unread = read.find((l) => l.unread !== undefined);
  if (unread) throw unreadPublishLog(site, unread);
  throw new FrontendOpsError(
    'NOT_FOUND',
    `The build ${build} in the artifacts bucket is not recorded in ${which}: it was not published there, and whoever can write the artifacts bucket may have put it there. Nothing was changed. ${fix}`,
    { details },
  );
}

/** The refusal of publishedBuild: a build no publish log the stack trusts records as it is. */
export const isUnrecordedBuild = (error: unknown): boolean =>
  isFrontendOpsError(error) && Array.isArray(error.details?.publishLogs);
