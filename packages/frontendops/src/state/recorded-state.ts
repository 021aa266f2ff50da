/**
 * Before a change writes anything, the state objects it reads and acts on (the live pointer, the
 * pin, the atomic state: audit.ts TRACKED) must be what the audit chain binds. Someone who can write
 * the state prefix could otherwise edit one (a release list naming a build never live, a canary, a
 * pin deleted), let the next deploy, rollback or pin act on it, and have that change bind the result:
 * `audit verify` would then pass over the edit, recorded as if FrontendOps had made it.
 *
 * The newest entry carries each tracked object's latest binding (`state`), so the check costs the
 * three objects and that entry, read together. Where one differs, `audit verify` decides: an object
 * it calls tampered (or damaged) stops the change, TAMPERED, with nothing written; one an interrupted
 * change left (unfinished) is what that change's re-run, or the next change, finishes; a pin change
 * left unfinished is finished here, under the deploy lock, before the change reads the pin.
 */
import { servedReader } from '../atomic/served.ts';
import { FrontendOpsError } from '../errors.ts';
import type { ObjectStore } from '../ports.ts';
import { settleAll } from '../settle-all.ts';
import type { Site } from '../site.ts';
import {
  ABSENT,
  type AuditEntry,
  type AuditProblem,
  digestOrNull,
  finishInterruptedPin,
  isAsBound,
  isRecord,
  newestOfAnotherStack,
  outsideProblems,
  type RecordedState,
  readAudit,
  readAuditHead,
  readJsonQuietly,
  recordedState,
  recordedStateAfterStopped,
  recordedStateKnown,
  recordsGoingLive,
  TRACKED,
  verifyAudit,
  verifyAuditAbout,
} from './audit.ts';
import { ATOMIC_PENDING, ATOMIC_STATE, LIVE, PIN } from './names.ts';
import { type PinRecord, readPinStored } from './pin.ts';
import type { LivePointer, ReleaseRef } from './records.ts';

/**
 * `finish`: under the deploy lock, a pin change whose entry landed and whose pin.json did not is
 * finished first (audit.ts finishInterruptedPin), so the change acts on the pin the chain records.
 * Returns the entry of the pin change it finished, or null (what the caller read of the pin before
 * is stale when one was finished).
 */
export async function assertStateAsRecorded(
  site: Site,
  /**
   * `finish`: finish a pin change stopped between its entry and pin.json. `check`: what must hold,
   * given the chain's latest bindings, before that write and before a tracked object is judged (a
   * refusal it throws is thrown with nothing written; the deploy lock holds the environment marker).
   */
  options: {
    finish?: boolean;
    check?: (recorded: RecordedState) => Promise<unknown>;
    /**
     * What must hold before a stopped pin change is finished, judged only then (a refusal it throws
     * is thrown with nothing written); otherwise a tracked object the chain does not bind is refused
     * first, and the caller judges it after.
     */
    beforeFinish?: () => Promise<unknown>;
  } = {},
): Promise<AuditEntry | null> {
  const { state: store, target } = site;
  const prefix = target.statePrefix;
  const [head, current] = await settleAll([
    readAuditHead(store, prefix),
    settleAll(TRACKED.map(async (name) => [name, await digestOf(store, `${prefix}${name}`)] as const)),
  ]);
  if (!head) {
    await options.check?.(await recordedState(store, prefix, null));
    return null;
  }
  // An append stopped before its head moved counts (under the lock, a pin recorded there holds), and
  // so does every entry past a head moved back onto an older one (older copies put back match it).
  const recorded = await recordedStateAfterStopped(store, prefix, head);
  refuseAnotherStacks(site, recorded);
  const { state } = recorded;
  // An object the chain never bound is held to "absent": one there anyway (a stale or hand-written
  // atomic/state.json on an in-place stack, a pin.json nothing pinned) would otherwise be acted on
  // and bound by the change, as if FrontendOps had written it. Verify decides, as for any other.
  let changed = current
    .filter(([name, digest]) => (state[name] ?? ABSENT) !== digest)
    .map(([name]) => name as string);
  await options.check?.(recorded);
  const finishing = options.finish === true && changed.includes(PIN);
  if (finishing) await options.beforeFinish?.();
  const finished = finishing ? await finishInterruptedPin(store, prefix) : null;
  if (finished) changed = changed.filter((name) => name !== PIN);
  await refuseIfTampered(site, changed, NOTHING_CHANGED, state);
  return finished;
}

/**
 * Refuses (TAMPERED) a chain whose newest entry, as read for its bindings, names another stack
 * (newestOfAnotherStack, in `audit verify`'s words): that stack's chain copied here with its state
 * objects, which it binds as they are, so every check against it passes. No request of its own.
 */
function refuseAnotherStacks(site: Site, recorded: RecordedState): void {
  const { stack, statePrefix } = site.target;
  const problem = newestOfAnotherStack(recorded, stack, statePrefix, site.historyNamed);
  if (!problem) return;
  throw new FrontendOpsError(
    'TAMPERED',
    `The audit log of ${stack} is not its own (${problem.reason}): a change made from it would act on that stack's state and be recorded as if FrontendOps had made it here. Nothing was changed. Run \`frontendops audit verify\` to see what was copied. Where ${stack} is that stack renamed in its outputs, keeping its statePrefix, open it under the name its entries record.`,
    { details: { seq: problem.seq, stack: recorded.stack } },
  );
}

/**
 * What a change read again under its lock, after the lock's check, of the objects it writes back
 * changed (the live pointer's release list, the atomic state): held to the audit chain as the check
 * held them. Someone who can write the state bucket could otherwise edit one while the change copies
 * its files (the lock object in the same bucket says when one runs) and have the change carry the
 * edit into what it writes and binds. Where what was read is not what the chain binds, verify
 * decides, as at the check: one it calls tampered stops the change before it writes the object.
 * `read`: each object as read (null: none). No request where it is as the chain binds it (the head
 * is the one this process knows under its lock). `done`: what the change has done by then, said in
 * the refusal ("Nothing was changed" before any write).
 */
export async function assertReadAsRecorded(
  site: Site,
  read: Readonly<Partial<Record<(typeof TRACKED)[number], unknown>>>,
  done: string,
): Promise<void> {
  const { state: store, target } = site;
  const { state } = await recordedStateKnown(store, target.statePrefix);
  const changed = Object.entries(read)
    .filter(([name, value]) => !isAsBound(state, name, value))
    .map(([name]) => name);
  await refuseIfTampered(site, changed, said(done), state);
}

/**
 * A release the live pointer keeps, named by its deploy id where a release is asked for (a promote, a
 * redeploy: deploy/pin.ts resolveRelease) and no deployment record is stored under that id: believed
 * only as the chain binds it. A pointer as the chain binds it vouches for each release it keeps (the
 * head and the newest entry, which carries its binding, are all that is read). Any other goes to
 * verify: one it calls tampered is refused TAMPERED, as a change refuses it. One it calls unfinished
 * is a stopped change's, named live by its crash-recovery record (pending.json, atomic/pending.json),
 * which no entry binds and anyone who can write the state bucket can write together with such a
 * pointer: a kept release is then believed only where an entry records that deploy id going live as
 * that build. The stopped change's own release, which none records yet, is refused CONFLICT, in
 * verify's words and saying how to finish it, never as forged (nothing its writer cannot make tells a
 * genuine stop from a planted one here); once finished, the chain binds it. Reads the chain (twice)
 * on this path only.
 */
export async function assertKeptAsRecorded(
  site: Site,
  pointer: LivePointer,
  kept: ReleaseRef,
): Promise<void> {
  const unbound = await liveNotAsBound(site, pointer, kept.deployId, 'Nothing was changed');
  if (!unbound) return;
  if (recordsGoingLive(await readAudit(site.state, site.target.statePrefix), kept)) return;
  const { stopped } = unbound;
  const where = `Deployment ${kept.deployId} is named by the live pointer (${LIVE} under this stack's state prefix), but no audit entry records it going live`;
  throw new FrontendOpsError(
    'CONFLICT',
    stopped
      ? `${where} yet: \`frontendops audit verify\` calls ${LIVE} a stopped change's (${stopped.reason}) Nothing was changed. Ask again once that change is finished.`
      : `${where}, so the pointer is no proof of what that deployment was. Nothing was changed. Run \`frontendops audit verify\` to see why; to make a build live, name its commit.`,
    { details: { object: LIVE, deployId: kept.deployId } },
  );
}

/**
 * The live pointer a pin is about to keep (deploy/pin.ts pinRelease): a pin holds the release the
 * chain records live, and its entry records it as held. A pointer as the chain binds it is that
 * release (no request: the lock's check read the newest entry). The lock's check refused one verify
 * calls tampered; one it calls a stopped change's (a deploy stopped between its pointer and the
 * entry recording it, or that pair planted with a crash-recovery record, which nothing its writer
 * cannot make tells apart) names a release no entry records going live yet: refused CONFLICT, in
 * verify's words, which say how to finish it. Any other verify passes (an old chain's pointer, which
 * no entry binds). Reads the chain on this path only.
 */
export async function assertLiveAsRecorded(site: Site, pointer: LivePointer, done: string): Promise<void> {
  const stopped = (await liveNotAsBound(site, pointer, pointer.deployId, done))?.stopped;
  if (!stopped) return;
  throw new FrontendOpsError(
    'CONFLICT',
    `Deployment ${pointer.deployId} is named by the live pointer (${LIVE} under this stack's state prefix), but no audit entry records it going live yet: \`frontendops audit verify\` calls ${LIVE} a stopped change's (${stopped.reason}) ${done}. Finish that change first, then ask again.`,
    { details: { object: LIVE, deployId: pointer.deployId } },
  );
}

/**
 * The live pointer a change is about to rely on (`pointer`, as read), held to the chain: null where
 * the chain binds it as read (the newest entry: no request under the lock). Otherwise verify
 * decides, told the pointer names deployment `naming`: one it calls tampered is refused TAMPERED
 * (`done`); else `stopped`, what it says where it calls the pointer a stopped change's (unfinished),
 * or null. Said once for assertKeptAsRecorded and assertLiveAsRecorded.
 */
async function liveNotAsBound(
  site: Site,
  pointer: LivePointer,
  naming: string,
  done: string,
): Promise<{ stopped: AuditProblem | null } | null> {
  const { state: store, target } = site;
  const { state } = await recordedStateKnown(store, target.statePrefix);
  if (isAsBound(state, LIVE, pointer)) return null;
  const { problems } = await verifyAuditAbout(
    store,
    target.statePrefix,
    site.releases,
    `the live pointer (${LIVE} under this stack's state prefix), which names deployment ${naming} and no audit entry binds,`,
  );
  await refuseTampered(site, problems, [LIVE], said(done), state);
  return { stopped: problems.find((p) => p.object === LIVE && p.kind === 'unfinished') ?? null };
}

/**
 * The pin as a reader before any lock tells it (a plan's note, a dry run, `get_deploy_target`, the
 * console's confirm dialog, what an approver is shown): who pinned and why are the deployer role's
 * to write, so a pin the chain does not bind is not told as theirs. As bound: no request beyond the
 * pin and the newest entry. Otherwise verify decides, as the change's own check under the lock will:
 * tampered is refused TAMPERED (what the change would answer); a stopped pin change's is told.
 */
export async function readPinAsRecorded(site: Site, done = 'Nothing was changed'): Promise<PinRecord | null> {
  const [{ pin, stored }, { state }] = await Promise.all([
    readPinStored(site),
    recordedStateKnown(site.state, site.target.statePrefix),
  ]);
  if (isAsBound(state, PIN, stored)) return pin;
  await refuseIfTampered(site, [PIN], said(done), state);
  return pin;
}

/**
 * A kept release's index a change is about to use (a switch to a release in place trusts its list
 * of files and its index.html's digest), held to the chain's latest binding of it as the lock's
 * check holds the tracked objects: an index edited by whoever can write the state bucket (a page
 * dropped from its list after the page was deleted from the hosting bucket) would otherwise pass the
 * release off as whole. No request where it is as the chain binds it (the newest entry carries the
 * bindings, read at the lock's check); otherwise verify decides, as for the tracked objects.
 */
export async function assertIndexAsRecorded(
  site: Site,
  name: string,
  value: unknown,
  refused: Refused = NOTHING_CHANGED,
): Promise<void> {
  const { indexes } = await recordedStateKnown(site.state, site.target.statePrefix);
  if (isAsBound(indexes, name, value)) return;
  await refuseIfTampered(site, [name], refused, indexes);
}

/**
 * What a refusal says stands (`outcome`, a sentence) and what to do once the object is put back
 * (`next`): by default nothing was changed, and the command is run again. The automatic switch back
 * after a failed verification says the failed change stays live (deploy/apply.ts switchBackRefused).
 */
export interface Refused {
  outcome: string;
  next: string;
}

const NOTHING_CHANGED: Refused = { outcome: 'Nothing was changed.', next: 'run this again' };
/** `done`, what the change has done by then (no full stop), as a refusal says it. */
const said = (done: string): Refused => ({ outcome: `${done}.`, next: 'run this again' });

/**
 * Where tracked objects are not what the chain binds, `audit verify` decides: one it calls tampered
 * (or damaged) refuses the change, TAMPERED; one an interrupted change left (unfinished) goes on.
 * Verify is given the CDN's release store (null in place): a crash-recovery record excuses what its
 * operation writes after its switch only where that switch is served (audit.ts).
 */
async function refuseIfTampered(
  site: Site,
  changed: readonly string[],
  refused: Refused,
  bound: Readonly<Record<string, string>>,
): Promise<void> {
  if (changed.length === 0) return;
  // A store refused as another environment's is the change's own refusal to make, once this one
  // is decided: verify holds what it serves (servedReader).
  const { problems } = await verifyAudit(site.state, site.target.statePrefix, {
    releaseStore: site.releases && servedReader(site.releases),
  });
  await refuseTampered(site, problems, changed, refused, bound);
}

/** The TAMPERED refusal of refuseIfTampered, given what verify found (`problems`). */
async function refuseTampered(
  site: Site,
  problems: readonly AuditProblem[],
  changed: readonly string[],
  refused: Refused,
  bound: Readonly<Record<string, string>>,
): Promise<void> {
  const tampered = outsideProblems(problems, changed);
  const [first] = tampered;
  if (!first) return;
  const objects = [...new Set(tampered.map((p) => p.object as string))];
  // Which version to put back: the state bucket keeps them, and the chain binds each object's
  // content by its digest (sha256 of its canonical JSON, as `audit verify` computes it).
  // An operation stopped after its switch wrote the atomic state its record names: that version.
  const stopped = objects.includes(ATOMIC_STATE)
    ? (await readJsonQuietly(site.state, `${site.target.statePrefix}${ATOMIC_PENDING}`)).value
    : null;
  const switchWrote =
    isRecord(stopped) && stopped.switched === true && typeof stopped.stateDigest === 'string'
      ? stopped.stateDigest
      : undefined;
  const remedies = objects.map((name) => {
    const key = `${site.target.statePrefix}${name}`;
    const wrote = name === ATOMIC_STATE ? switchWrote : undefined;
    const digest = wrote ?? bound[name] ?? ABSENT;
    const which = wrote ? 'the stopped switch wrote' : 'the audit log records';
    return digest === ABSENT
      ? `delete ${key} (the audit log records none)`
      : `put back the version of ${key} ${which} (the state bucket keeps its versions; its digest, sha256 over its canonical JSON, is ${digest})`;
  });
  throw new FrontendOpsError(
    'TAMPERED',
    `${objects.join(' and ')} of ${site.target.stack} changed outside FrontendOps since the audit log recorded it (${first.reason}): ` +
      `a change made from it would be recorded as if FrontendOps had made it. ${refused.outcome} Run ` +
      `\`frontendops audit verify\` to see what changed, ${remedies.join(', and ')}, or ask whoever changed it; then ${refused.next}.`,
    { details: { objects, keys: objects.map((name) => `${site.target.statePrefix}${name}`) } },
  );
}

/** The object's digest as `audit verify` makes it; ABSENT when missing, null when not JSON. */
async function digestOf(store: ObjectStore, key: string): Promise<string | null> {
  const object = await store.get(key);
  if (!object) return ABSENT;
  try {
    return digestOrNull(JSON.parse(object.body.toString('utf8')));
  } catch {
    return null;
  }
}
