/**
 * The pin: a state object beside the live pointer (`<statePrefix>pin.json`) saying that the live
 * release stays live for now. A rollback writes it (the build that was rolled back must not come back
 * by itself); `frontendops pin` writes it on purpose; a promote or `unpin` clears it. Written and
 * cleared by the deploy engine under the deploy lock; every change is an audit entry ('pin', 'unpin').
 * While it is there, a deploy of any other release is refused (PINNED), naming the pin and the two
 * ways forward.
 */
import { z } from 'zod';
import { shortSha } from '../engine/ids.ts';
import type { PinLifted } from '../engine/plan.ts';
import { escapeOnOneLine } from '../engine/text.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { type HeldLock, overVersion } from '../ports.ts';
import { pinnedRefusal } from '../read/pin-words.ts';
import type { Site } from '../site.ts';
import {
  ABSENT,
  type AuditEntry,
  appendAudit,
  assertChangeLock,
  newestBindings,
  stateDigest,
} from './audit.ts';
import { deleteAsRead, putJsonObject } from './json-object.ts';
import { PIN } from './names.ts';
import { describeReplacedPin, type PinAhead, rollbackPinAhead } from './pin-words.ts';
import { parseStateObject, type RequestInfo } from './records.ts';

/** Which release a pin holds, who set it, why and when: a pin's fields, and those of the one it replaced. */
const pinnedSchema = z.object({
  deployId: z.string(),
  app: z.string(),
  commit: z.string(),
  /** Who pinned (the actor of the request that pinned). */
  by: z.string(),
  /** Why, in the person's words (the rollback's or pin's --message), else what pinned it. */
  reason: z.string().nullable(),
  at: z.string(),
});

export const pinSchema = pinnedSchema.extend({
  stack: z.string(),
  /** A rollback pins by itself; `pin` pins on purpose. */
  cause: z.enum(['rollback', 'pin']),
  /**
   * A rollback's pin: the pin someone set on purpose (`frontendops pin`) that it replaced, so the
   * replacement is said (by the rollback, in `status`) and recorded, never silent.
   */
  replaces: pinnedSchema.optional(),
});

export type PinRecord = z.infer<typeof pinSchema>;
export type { PinAhead };

const pinKey = (site: Site) => `${site.target.statePrefix}${PIN}`;

/** The pin of this stack, or null. A damaged pin object is TAMPERED (it is state, not a hint). */
export async function readPin(site: Site): Promise<PinRecord | null> {
  return (await readPinStored(site)).pin;
}

/**
 * readPin, with the object as stored (null: none), which the audit chain binds by its digest, and
 * its version (ETag; null: none), which a pin written after it is written over (writePin `over`).
 */
export async function readPinStored(
  site: Site,
): Promise<{ pin: PinRecord | null; stored: unknown; etag: string | null }> {
  const object = await site.state.get(pinKey(site));
  if (!object) return { pin: null, stored: null, etag: null };
  const stored: unknown = parseStateObject(pinKey(site), object.body);
  return { pin: parsePin(site, stored), stored, etag: object.etag };
}

function parsePin(site: Site, stored: unknown): PinRecord {
  const parsed = pinSchema.safeParse(stored);
  if (!parsed.success || parsed.data.stack !== site.target.stack) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The pin of ${site.target.stack} (${pinKey(site)}) is not a pin this tool wrote. Run \`frontendops audit verify\`, then restore it from the bucket's versions or remove it with \`frontendops unpin\`.`,
    );
  }
  return parsed.data;
}

/**
 * Writes the pin's audit entry, then the pin. The caller holds the deploy lock; given it (`pin`
 * and `unpin`, whose one change this is), it asks it first and stops, LOCKED, once it was lost.
 * A rollback's or promote's own pin change does not: it completes a switch already made and
 * recorded, and stopping it would leave a rollback unpinned whose re-run rolls back further.
 *
 * The entry comes first, so the pin in effect is never one the chain does not record: a process that
 * stops between the two leaves the entry and the pin as it was, which `audit verify` calls unfinished
 * until a change of the site or its state follows it (which ran past the pin: tampered),
 * and pinning again writes both (it finds no pin to keep). In the other order it left a pin in effect
 * that no entry recorded, and pinning again kept that pin without an entry.
 *
 * `over`: the version of pin.json read before the entry (null: there was none). Where the store
 * honours conditional writes, the pin is written over that version only: a holder asleep between its
 * entry and its pin past its lease, while the next holder finished its pin and changed it (pinned
 * another release), is refused, LOCKED, and the newer pin stays. One whose pin.json was absent and is
 * absent again (the next holder finished its pin, then lifted it) creates it, and then finds its lock
 * lost and a newer pin change on the chain: it removes what it created (LOCKED).
 */
export async function writePin(
  site: Site,
  pin: PinRecord,
  { lock, over }: { lock?: HeldLock; over: string | null },
): Promise<AuditEntry> {
  await lock?.assertHeld();
  const entry = await appendAudit(
    site.state,
    site.target.statePrefix,
    site.locker,
    { type: 'pin', data: { ...pin }, objects: { [PIN]: stateDigest(pin) } },
    // The pin goes out beside the head's move (the entry is written): settled before the lock goes.
    { overlap: true },
  );
  const conditional = await site.state.supportsConditionalWrites();
  let written: string;
  try {
    ({ etag: written } = await putJsonObject(
      site.state,
      pinKey(site),
      pin,
      conditional ? overVersion(over) : {},
    ));
  } catch (error) {
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
    throw lateLostPin(
      site,
      entry,
      "pin.json was changed since it was read (the lock's next holder changed the pin)",
    );
  }
  if (conditional && over === null) await assertPinStillOurs(site, entry, written, lock);
  return entry;
}

/**
 * After a pin created where there was none: while the lock is held (`lock`, else the change's own:
 * assertChangeLock), nobody else changed the pin. Once it was lost, a pin change on the chain after
 * this one's entry (the next holder finished this pin, then lifted it) means the pin just created
 * brought back what that change lifted: it is removed, only as written (`written`, its ETag: a pin set
 * since by a later holder stays), and the run stops, LOCKED.
 */
async function assertPinStillOurs(
  site: Site,
  entry: AuditEntry,
  written: string,
  lock: HeldLock | undefined,
): Promise<void> {
  const { state, target } = site;
  try {
    await (lock ? lock.assertHeld() : assertChangeLock(state, target.statePrefix));
    return;
  } catch (error) {
    if (!isFrontendOpsError(error, 'LOCKED')) throw error;
  }
  const { bound } = await newestBindings(state, target.statePrefix, [PIN]);
  if (bound.get(PIN)?.hash === entry.hash) return;
  try {
    await deleteAsRead(state, pinKey(site), written);
  } catch (error) {
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
    throw lateLostPin(
      site,
      entry,
      "the lock's next holder lifted the pin, and a later change set another since, which was kept",
    );
  }
  throw lateLostPin(
    site,
    entry,
    "the lock's next holder lifted or replaced the pin since (its pin just written was removed)",
  );
}

/** LOCKED: a pin's entry landed, its pin.json did not stand, because the lock's next holder changed the pin. */
const lateLostPin = (site: Site, entry: AuditEntry, why: string) =>
  new FrontendOpsError(
    'LOCKED',
    `Pinning ${site.target.stack} lost its lock between its audit entry (${entry.seq}) and its pin: ${why}. The newer pin change was kept; this run's pin is not in effect. Check \`frontendops status\` (and \`frontendops audit verify\`), and pin again if the release should stay.`,
    { details: { lost: true } },
  );

/**
 * A rollback's pin of the release it made live, written by the rollback itself before its
 * crash-recovery record is removed: a rollback stopped before its pin keeps that record, and running
 * it again finishes it (the release it made live is not "the previous release" to roll back from).
 * A pin already naming this release is kept (the re-run of one stopped after its pin).
 */
export async function pinRolledBack(
  site: Site,
  release: { deployId: string; app: string; commit: string },
  request: Pick<RequestInfo, 'actor' | 'message'>,
): Promise<PinRecord> {
  const { pin: existing, etag } = await readPinLenient(site);
  if (existing?.deployId === release.deployId) return existing;
  const pin: PinRecord = {
    ...rollbackPinAhead(site.target.stack, release, request),
    at: new Date().toISOString(),
    // A deliberate pin replaced by an earlier rollback stays said by the next one.
    ...(existing?.cause === 'rollback' && existing.replaces ? { replaces: existing.replaces } : {}),
    ...(existing?.cause === 'pin' ? { replaces: pinnedSchema.parse(existing) } : {}),
  };
  await writePin(site, pin, { over: etag });
  return pin;
}

/**
 * Whether a stopped rollback's pin (of `deployId`, pinRolledBack) is recorded and a later pin change
 * (an unpin, a promote, another pin) lifted or replaced it: finishing that rollback then does not pin
 * again, which undid that change. Reads the chain back to its pin, or to its own record (no pin
 * after it); the whole chain only for one stopped before its record (no pin either).
 */
export async function rollbackPinLifted(site: Site, deployId: string): Promise<boolean> {
  const own = (e: AuditEntry) => e.data.deployId === deployId;
  const ownPin = (e: AuditEntry) => e.type === 'pin' && own(e) && e.data.cause === 'rollback';
  const mark = (e: AuditEntry) => ownPin(e) || (e.type === 'rollback' && own(e));
  const { entries } = await newestBindings(site.state, site.target.statePrefix, [], { also: mark });
  const at = entries.findLastIndex(mark);
  if (at < 0 || !ownPin(entries[at] as AuditEntry)) return false;
  return entries.slice(at + 1).some((e) => e.objects?.[PIN] !== undefined);
}

/**
 * Whether a stopped change pins its release when it is finished: a rollback someone asked for
 * (`pinOnSuccess`, pinRolledBack), unless a later pin change lifted or replaced the pin it set
 * (rollbackPinLifted: pinning again would undo that change). The one rule the runs that finish a
 * stopped change and their dry runs ask, in place and atomic; the chain is read only for such a rollback.
 */
export async function pinsWhenFinished(
  site: Site,
  stopped: { kind: string; deployId: string; pinOnSuccess?: boolean | undefined },
): Promise<boolean> {
  return (
    stopped.pinOnSuccess === true &&
    stopped.kind === 'rollback' &&
    !(await rollbackPinLifted(site, stopped.deployId))
  );
}

/**
 * Audits who lifted the pin and how ('unpin', or the promote that made another release live), then
 * removes it: entry first, as for writePin (unpinning again finishes a stop between the two). The
 * caller holds the deploy lock, and asks it through `lock` as for writePin; a promote's, which does
 * not, is asked by the entry once another's took its place (LOCKED: nothing appended or removed).
 * Returns the pin that was there (null: none).
 */
export async function clearPin(
  site: Site,
  input: {
    by: string;
    reason: string | null;
    via: 'unpin' | 'promote';
    deployId?: string;
    lock?: HeldLock;
    /** The pin the person saw (its release and when it was set): another one now is not cleared. */
    shown?: PinShown;
  },
): Promise<PinRecord | null> {
  const { pin, etag } = await readPinLenient(site);
  if (!pin || etag === null) return null;
  if (input.shown && !samePin(pin, input.shown)) {
    throw new FrontendOpsError(
      'CONFLICT',
      `${site.target.stack} is pinned to ${describePin(pin)}, not the pin that was shown (${input.shown.deployId}, set ${input.shown.at}): someone pinned again since. Nothing was unpinned. Look at the pin now, and unpin again if it should go.`,
      { details: { pin } },
    );
  }
  await input.lock?.assertHeld();
  await appendAudit(
    site.state,
    site.target.statePrefix,
    site.locker,
    {
      type: 'unpin',
      data: {
        stack: site.target.stack,
        was: pin,
        by: input.by,
        reason: input.reason,
        via: input.via,
        ...(input.deployId ? { deployId: input.deployId } : {}),
      },
      objects: { [PIN]: ABSENT },
    },
    // The change's own entry (a promote's past its switch too): its lock is asked once another's took
    // its place, so a holder woken past its lease neither appends after the next holder's entries nor
    // deletes the pin that holder set (LOCKED). The pin goes out beside the head's move.
    { overlap: true },
  );
  await removePin(site, etag, pin, input.via);
  return pin;
}

/**
 * Removes the pin read (its ETag) and no other (deleteAsRead: a plain delete where the store does not
 * honour conditional writes): a holder asleep past its lease after its unpin entry wakes after the
 * next holder may have pinned again (entry, then pin.json), and that pin stays (LOCKED, saying so;
 * `audit verify` then finds the new pin as its entry records it).
 */
async function removePin(site: Site, etag: string, pin: PinRecord, via: 'unpin' | 'promote'): Promise<void> {
  try {
    await deleteAsRead(site.state, pinKey(site), etag);
  } catch (error) {
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
    throw new FrontendOpsError(
      'LOCKED',
      `This ${via} recorded lifting the pin of ${pin.deployId} (its unpin entry is in the audit log), then found ${site.target.stack} pinned again: its lock had lapsed (a pause past its lease) and the lock's next holder set a pin, which was kept, not removed. Nothing more was changed by this run; look at the pin now (\`frontendops status\`), and unpin again if it should go.`,
      { cause: error, details: { lost: true, unpinRecorded: true } },
    );
  }
}

/**
 * The pin a promote lifts (of the live release or of another), as its approval binds it (DeployPlan clearsPin): the
 * one function every path (the dry run a person approves, the run under the lock) makes it with.
 */
export const pinLifted = (pin: PinRecord | null): PinLifted | null =>
  pin ? { deployId: pin.deployId, commit: pin.commit, by: pin.by, at: pin.at } : null;

/** A pin lifted (pinLifted), in words: "the pin of <deploy id>, set by <who> at <when>", or "no pin". */
export const pinLiftedWords = (pin: PinLifted | null | undefined): string =>
  pin ? `the pin of ${pin.deployId}, set by ${escapeOnOneLine(pin.by)} at ${pin.at}` : 'no pin';

/** Which pin a person saw, to unpin only that one: its release and when it was set. */
export type PinShown = Pick<PinRecord, 'deployId' | 'at'>;

/**
 * Whether two pins (null or undefined: none) are one: the same release, pinned at the same time, and
 * where both name them (a pin a promote lifts, PinLifted, does; a pin shown, PinShown, need not) the
 * same commit, set by the same person. The one rule for a pin a person was shown (to unpin, or for a
 * promote to lift) and for the pin a promote's approval was of (approval-gate.ts).
 */
export function samePin(
  a: (PinShown & Partial<PinLifted>) | null | undefined,
  b: (PinShown & Partial<PinLifted>) | null | undefined,
): boolean {
  if (!a || !b) return !a && !b;
  const named = (field: 'commit' | 'by') =>
    a[field] === undefined || b[field] === undefined || a[field] === b[field];
  return a.deployId === b.deployId && a.at === b.at && named('commit') && named('by');
}

/**
 * Refuses a deploy of another release while the stack is pinned. `finishing`: the stopped change the
 * run finishes first (DeploySummary finishes). A rollback someone asked for pins its release as its
 * last step, in place of any pin (pinRolledBack: the rollback's decision): a deploy of that release
 * is held to that pin, not to the one it replaces. One rule for the run, its dry run and the tools.
 */
export function assertDeployAllowed(
  pin: PinAhead | null,
  stack: string,
  commit: string,
  finishing?: { commit: string; pins?: true } | null,
): void {
  if (finishing?.pins && finishing.commit === commit) return;
  if (pin && pin.commit !== commit) throw pinnedError(stack, pin);
}

/** Where the two ways forward are taken outside the console: the CLI's commands, the agent's words. */
const PIN_WAYS = {
  promote: '`frontendops promote [<commit>]`, or ask the agent to "promote the latest"',
  unpin: '`frontendops unpin`, or "unpin"',
};

/** PINNED: what is pinned, by whom, when and why, and the two ways forward. */
export function pinnedError(stack: string, pin: PinAhead): FrontendOpsError {
  return new FrontendOpsError(
    'PINNED',
    pinnedRefusal(`${stack} is pinned to ${describePin(pin)}`, PIN_WAYS),
    {
      details: { pin },
    },
  );
}

/** "sophia-dashboard@3f2c1a9 (3f2c1a9-0123456789) since <at>, by alice (rollback): \"KPI totals wrong\"" */
export function describePin(pin: PinAhead): string {
  const why = pin.reason ? `: "${escapeOnOneLine(pin.reason)}"` : '';
  const how = pin.cause === 'rollback' ? ' when rolling back' : '';
  const replaced = pin.replaces ? ` (replacing ${describeReplacedPin(pin.replaces)})` : '';
  const since = pin.at ? ` since ${pin.at}` : '';
  return `${pin.app}@${shortSha(pin.commit)} (${pin.deployId})${since}, by ${escapeOnOneLine(pin.by)}${how}${why}${replaced}`;
}

/** A damaged pin must still be removable: unpin reads it leniently, with its version (ETag; null: none). */
async function readPinLenient(site: Site): Promise<{ pin: PinRecord | null; etag: string | null }> {
  const object = await site.state.get(pinKey(site));
  if (!object) return { pin: null, etag: null };
  try {
    return { pin: parsePin(site, parseStateObject(pinKey(site), object.body)), etag: object.etag };
  } catch {
    const pin: PinRecord = {
      stack: site.target.stack,
      deployId: 'unknown',
      app: 'unknown',
      commit: 'unknown',
      by: 'unknown',
      reason: 'a damaged pin object',
      at: new Date(0).toISOString(),
      cause: 'pin',
    };
    return { pin, etag: object.etag };
  }
}
