/**
 * Keeps the site whole when two deploys race — when no lock kept them apart (a deploy from another
 * machine, an S3 lock that expired under its holder). Hashed assets are copied first and harm
 * nothing live; what a race can leave half switched are the files visitors fetch by name (HTML and
 * the other non-hashed files) and the live pointer. So:
 * - before each group of visible files is copied (other files, then HTML), the live release must
 *   still be the one the plan started from and no other deploy may have started since (pending.json
 *   is still ours); else the deploy stops;
 * - a deploy that stops after it replaced visible files (the check before its HTML failed, a copy
 *   failed, or its lock was lost: it woke past its lease) puts the live release's version of them
 *   back first, unless another deploy not yet live is copying now (its pending record is there):
 *   that one, having written over this one's pending record, checks its visible files once it is
 *   live and copies back any of them this one replaced;
 * - a lost switch — the compare-and-swap refused, or, where conditional writes are ignored, the
 *   pointer read back names another deploy — puts the live release's version of every visible file
 *   this deploy overwrote back before failing;
 * - where conditional writes are ignored, a switch that won while another deploy ran (pending.json
 *   is not ours any more) copies back whatever of its release the other overwrote or pruned;
 * - pruning is skipped once this deploy is no longer live: its list was made for its own release.
 * A race can still open a window of milliseconds (a prune decided just before another deploy
 * switched); only the lock closes it, hence the refusal where none can be had (stacks/serialisation.ts).
 */
import pLimit from 'p-limit';
import { groupOf } from '../engine/cache-policy.ts';
import { keyOf } from '../engine/manifest.ts';
import type { DeployPlan } from '../engine/plan.ts';
import type { FileGroup } from '../engine/types.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { settleAll } from '../settle-all.ts';
import type { Site } from '../site.ts';
import type { ReleaseRef } from '../state/records.ts';
import { assertAsDeployed, copyArtifactFile } from './artifact-copy.ts';
import type { LiveRead } from './live.ts';
import { readManifest } from './publish.ts';
import type { DeployEvent } from './types.ts';

type OnEvent = ((event: DeployEvent) => void) | undefined;

/** Before a group of visible files is copied: is the plan still the one deploy going on, from what is live? */
export async function assertPlannedFromLive(site: Site, plan: DeployPlan): Promise<LiveRead['pointer']> {
  const [pointer, pending] = await settleAll([site.records.readPointer(), site.records.readPending()]);
  const live = pointer?.value.deployId ?? null;
  if (live !== plan.fromDeployId && live !== plan.deployId) {
    throw new FrontendOpsError(
      'PRECONDITION_FAILED',
      `The live release of ${plan.stack} changed while deploying (now ${live}, planned from ${plan.fromDeployId ?? 'nothing live'}). ` +
        `This deploy stopped before any HTML or other visible file was replaced, so the site still serves ${live} whole. ` +
        'Run the deploy again: it plans from what is live now.',
      { details: { reason: LIVE_CHANGED, live } },
    );
  }
  if (pending?.plan.deployId !== plan.deployId) {
    throw new FrontendOpsError(
      'PRECONDITION_FAILED',
      `Another deploy (${pending?.plan.deployId ?? 'one that has finished since'}) of ${plan.stack} started while this one was copying. ` +
        'This deploy stopped before any HTML or other visible file was replaced. One deploy per environment runs at a ' +
        'time: let the other finish, then run this deploy again.',
      { details: { reason: ANOTHER_DEPLOY } },
    );
  }
  return pointer;
}

const LIVE_CHANGED = 'live-changed';
const ANOTHER_DEPLOY = 'another-deploy';

/**
 * A deploy stopped by `error` after it had replaced `replaced` visible files (site paths; `started`:
 * every visible path of the groups it began, some of which may have landed): the live release's
 * version of those goes back, so the site serves one release whole, and the error says so. Not when
 * it stopped for another deploy (its lock was lost, or another's pending record was there) that is
 * still copying, not yet live: that one replaces them when it goes live, and the error says what is
 * left. Returns the error to
 * throw: `error` itself when nothing visible was replaced, or when it is not FrontendOps's.
 */
export async function putBackVisible(
  site: Site,
  plan: DeployPlan,
  error: unknown,
  replaced: number,
  started: string[],
): Promise<unknown> {
  if (replaced === 0 || !(error instanceof FrontendOpsError)) return error;
  const options = { cause: error, ...(error.details ? { details: error.details } : {}) };
  const files = `${replaced} visible file(s) (HTML or other files fetched by name)`;
  const [pointer, pending] = await settleAll([site.records.readPointer(), site.records.readPending()]);
  const live = pointer?.value ?? null;
  // Another deploy that has not switched yet replaces them when it goes live. One that went live
  // (its record cleared, or naming the live release) does not: a holder that woke past its lock's
  // lease, its copies landing after that deploy's, must put the live release's back itself.
  const running =
    pending && pending.plan.deployId !== plan.deployId && pending.plan.deployId !== live?.deployId;
  if (running && (error.code === 'LOCKED' || error.details?.reason === ANOTHER_DEPLOY)) {
    return new FrontendOpsError(
      error.code,
      `${withoutNothingReplaced(error.message)} ` +
        `This deploy had replaced ${files} before it stopped; they were left for the deploy running now, which replaces ` +
        'them when it goes live. If none finishes, run this deploy again (it finishes what it started) or roll back.',
      options,
    );
  }
  if (!live || live.deployId === plan.deployId) {
    return new FrontendOpsError(
      error.code,
      `${error.message} This deploy had replaced ${files} before it stopped, and no other release is live to put back: run it again to finish it.`,
      options,
    );
  }
  const who = `${live.deployId}, ${live.app}@${live.commit.slice(0, 7)}`;
  try {
    await serveRelease(site, live, started);
  } catch (failure) {
    return new FrontendOpsError(
      error.code,
      `${error.message} This deploy had replaced ${files} before it stopped, and putting the live release's back failed ` +
        `(${(failure as Error).message}): the site may serve a mix of ${who} and this deploy until you run the deploy ` +
        'again (it finishes what it started) or roll back.',
      options,
    );
  }
  const whole = `The ${files} this deploy had replaced were put back to the live release's (${who}), so the site serves it whole.`;
  if (error.details?.reason === LIVE_CHANGED) {
    return new FrontendOpsError(
      error.code,
      `The live release of ${plan.stack} changed while deploying (now ${live.deployId}, planned from ${plan.fromDeployId ?? 'nothing live'}). ${whole} Run the deploy again: it plans from what is live now.`,
      options,
    );
  }
  const again = error.code === 'LOCKED' ? '' : ' Run the deploy again to finish it.';
  return new FrontendOpsError(
    error.code,
    `${withoutNothingReplaced(error.message)} ${whole}${again}`,
    options,
  );
}

/** A check's message without its word that nothing visible was replaced: files before it were. */
const withoutNothingReplaced = (message: string) =>
  message.replace(/ This deploy stopped before any HTML or other visible file was replaced\./, '');

/**
 * Moves the pointer (`move`), then makes sure the switch holds: a lost one restores the live
 * release's visible files and throws; a won one repairs its own files if another deploy ran
 * meanwhile (without conditional writes), or if this one wrote over another's pending record
 * (`supersedes`): that one may still be sending copies, its lock expired under it, and it leaves
 * what it replaced for the deploy running now (putBackVisible).
 */
export async function switchPointer(
  site: Site,
  plan: DeployPlan,
  move: () => Promise<void>,
  onEvent: OnEvent,
  supersedes = false,
): Promise<void> {
  try {
    await move();
  } catch (error) {
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
    throw await lostSwitch(site, plan, error);
  }
  // With conditional writes the compare-and-swap decided, and the loser puts the winner's files back.
  if (await site.state.supportsConditionalWrites()) {
    if (supersedes) await repairServed(site, plan, onEvent);
    return;
  }
  const [pointer, pending] = await settleAll([site.records.readPointer(), site.records.readPending()]);
  if (pointer?.value.deployId !== plan.deployId) throw await lostSwitch(site, plan, null);
  if (pending?.plan.deployId === plan.deployId && !supersedes) return;
  await repairServed(site, plan, onEvent);
}

/** Copies back whatever of this live release's visible files another deploy overwrote, and says so. */
async function repairServed(site: Site, plan: DeployPlan, onEvent: OnEvent): Promise<void> {
  const repaired = await serveRelease(site, plan, null);
  if (repaired > 0) {
    onEvent?.({
      type: 'step',
      step: 'pointer',
      detail: `another deploy ran meanwhile: ${repaired} file(s) of this release copied back`,
    });
  }
}

/** true (and says so) when this deploy is no longer live, so its prune list must not be applied. */
export async function pruneSkipped(site: Site, plan: DeployPlan, onEvent: OnEvent): Promise<boolean> {
  const live = (await site.records.readPointer())?.value.deployId ?? null;
  if (live === plan.deployId) return false;
  onEvent?.({
    type: 'step',
    step: 'prune',
    detail: `skipped: ${live} went live meanwhile; a later deploy prunes what no retained release uses`,
  });
  return true;
}

/**
 * A switch that landed after its lock was lost (`lost`, the LOCKED error): the pointer is written back
 * to what it was (`before`), over the version this switch wrote (`etag`) only, so nothing written
 * since is undone, and the visible files this deploy copied are put back to that release's. Where
 * that cannot be done (no pointer before it, writes not conditional, the pointer written since), the
 * switch stays for the next change to finish and the error says so. Always throws.
 */
export async function takeBackSwitch(
  site: Site,
  plan: DeployPlan,
  before: LiveRead['pointer'],
  etag: string,
  lost: unknown,
): Promise<never> {
  if (!(lost instanceof FrontendOpsError)) throw lost;
  const said = lostWords(lost);
  const left = (why: string) =>
    new FrontendOpsError(
      lost.code,
      `${said} Its switch had landed (${plan.deployId} is live, not yet recorded) and ${why}: the next deploy or rollback finishes or replaces it; check \`frontendops status\`.`,
      { cause: lost, ...(lost.details ? { details: lost.details } : {}) },
    );
  if (!before || !(await site.state.supportsConditionalWrites())) throw left('could not be taken back');
  try {
    await site.records.writePointer(before.value, etag);
  } catch (error) {
    if (isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw left('the pointer was written again since');
    throw left(`taking it back failed (${(error as Error).message})`);
  }
  const touched = plan.copies.filter((c) => c.group !== 'asset').map((c) => c.path);
  const { value } = before;
  const who = `${value.deployId}, ${value.app}@${value.commit.slice(0, 7)}`;
  try {
    await serveRelease(site, value, touched);
  } catch (error) {
    throw new FrontendOpsError(
      lost.code,
      `${said} Its switch had landed and was taken back (${who} is live again), but putting that release's files back failed (${(error as Error).message}): run a deploy or rollback of ${value.commit.slice(0, 7)} to make them agree.`,
      { cause: lost },
    );
  }
  throw new FrontendOpsError(
    lost.code,
    `${said} Its switch had landed: it was taken back (${who} is live again) and the visible files it copied put back, so nothing of this run is live. Run the command again.`,
    { cause: lost, ...(lost.details ? { details: lost.details } : {}) },
  );
}

/**
 * A LOCKED error's words up to what it tells to do ("Nothing more was changed by this run", "One
 * deploy per environment runs at a time"): a switch that landed changed something.
 */
const lostWords = (lost: FrontendOpsError) =>
  lost.message.replace(
    / (Nothing more was changed by this run;|One deploy per environment runs at a time:).*$/,
    '',
  );

/**
 * A switch that landed (`landed`: what it made so, as "v went live"), its first entry after it (or,
 * `recorded` that, a later one) refused LOCKED: the error to throw, saying so. Its lock lost
 * (state/audit.ts: the lock's next holder appended meanwhile, finishing or replacing this change),
 * or, where appends take a lock of their own (a store without conditional writes), that lock held
 * by another writer past the wait: nobody took the change over then.
 */
export function recordLost(landed: string, lost: unknown, recorded = 'nothing'): unknown {
  if (!isFrontendOpsError(lost, 'LOCKED')) return lost;
  const why =
    lost.details?.lost === true
      ? "the lock's next holder wrote to the audit log meanwhile, finishing or replacing it"
      : "its entry waited for the audit log's lock, held by another writer, and gave up";
  return new FrontendOpsError(
    lost.code,
    `${lostWords(lost)} Its switch had landed (${landed}) and ${why}: this run recorded ${recorded}. Check \`frontendops status\` before running it again.`,
    { cause: lost, ...(lost.details ? { details: lost.details } : {}) },
  );
}

/** Puts the live release's version of each visible file this deploy overwrote back; the error to throw. */
async function lostSwitch(site: Site, plan: DeployPlan, cause: unknown): Promise<FrontendOpsError> {
  const live = (await site.records.readPointer())?.value ?? null;
  const touched = plan.copies.filter((c) => c.group !== 'asset').map((c) => c.path);
  const who = live ? `${live.deployId}, ${live.app}@${live.commit.slice(0, 7)}` : 'nothing';
  const options = cause === null ? {} : { cause };
  if (live && live.deployId !== plan.deployId) {
    try {
      await serveRelease(site, live, touched);
    } catch (error) {
      return new FrontendOpsError(
        'PRECONDITION_FAILED',
        `Another deploy (${who}) went live on ${plan.stack} while this one (${plan.deployId}) was switching, and putting ` +
          `its files back failed (${(error as Error).message}): the site may serve this deploy's HTML while ${live.deployId} ` +
          'is live. Run this deploy again, or roll back to the live release, to make them agree.',
        { cause: error },
      );
    }
  }
  return new FrontendOpsError(
    'PRECONDITION_FAILED',
    `Another deploy (${who}) went live on ${plan.stack} while this one (${plan.deployId}) was switching. The HTML and ` +
      `other visible files this deploy had copied were put back to the live release's, so the site serves it whole; ` +
      'nothing of this deploy is live. Run it again if it should still go out: it plans from what is live now.',
    options,
  );
}

/**
 * Makes the hosting bucket serve `release`: its missing hashed assets first, then the given visible
 * paths (null: every visible file of the release whose content is not the release's), other files
 * before HTML. A given path the release does not have is deleted (kept when the stack never prunes).
 * Returns how many objects it wrote or deleted.
 */
async function serveRelease(
  site: Site,
  release: Pick<ReleaseRef, 'app' | 'commit' | 'artifactDigest'>,
  paths: string[] | null,
): Promise<number> {
  const manifest = await readManifest(site.artifacts, release.app, release.commit);
  if (!manifest) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      `the artifact of ${release.app}@${release.commit.slice(0, 7)} is no longer in the artifacts bucket`,
    );
  }
  // What is put back is the release as it went out: a manifest replaced since (with its files) is
  // refused, TAMPERED, rather than served as that release.
  assertAsDeployed(
    site,
    manifest,
    [release],
    'Its files were not put back: what the stopped change copied stays until a deploy or rollback of another release.',
  );
  const files = Object.entries(manifest.files);
  const present = new Set((await site.hosting.list()).map((o) => o.key));
  const assets = files.filter(([path]) => groupOf(path) === 'asset' && !present.has(keyOf(path)));
  let visible = paths;
  if (visible === null) {
    const named = files.filter(([path]) => groupOf(path) !== 'asset');
    const heads = await settleAll(named.map(([path]) => site.hosting.head(keyOf(path))));
    visible = named
      .filter(([, entry], i) => heads[i]?.metadata.sha256 !== entry.sha256)
      .map(([path]) => path);
  }
  const limit = pLimit(16);
  const copy = (path: string) => {
    const entry = manifest.files[path];
    if (entry) return copyArtifactFile(site, release, path, keyOf(path), entry);
    return site.target.prune ? site.hosting.delete([keyOf(path)]) : Promise.resolve();
  };
  await settleAll(assets.map(([path]) => limit(() => copy(path))));
  for (const group of ['other', 'html'] as FileGroup[]) {
    await settleAll(visible.filter((path) => groupOf(path) === group).map((path) => limit(() => copy(path))));
  }
  return assets.length + visible.length;
}
