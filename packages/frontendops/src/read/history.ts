/** What happened on a site, newest first, a page at a time: behind `history`, get_history and the console. */

import type { ApprovalPolicy } from '../config.ts';
import { SWITCHED_BACK } from '../deploy/switch-back-words.ts';
import type { Site } from '../site.ts';
import { adoptedWords, POLICY_ADOPTED, recordedIn, recordsPolicy } from '../state/approval-policy.ts';
import {
  brokenFrom,
  chainBindsRecords,
  isAsBound,
  pointerNeverBound,
  type RecordedState,
  recordedStateRead,
  recordsStandingRead,
} from '../state/audit.ts';
import type { AuditEntry } from '../state/audit-entry.ts';
import { LIVE } from '../state/names.ts';
import { cursorStartedAt, type DeploymentRecord, type LivePointer } from '../state/records.ts';
import { LEFT_OUT_CHECK, leftOutSentence } from './history-words.ts';
import { type DeployTags, tagOf } from './tags.ts';
import { type HistoryPage, historyTime, type PolicyChangeItem, toHistoryItem } from './views.ts';

/**
 * One page of the history. A deployment record and its history row are the deployer role's to write
 * around the audit log: a row is listed only when the chain binds its record (or, on a chain begun
 * before entries bound records, its old entry records it: recordStanding), the rest counted in
 * `unrecorded`; a release is marked live only by a live pointer the chain binds (boundLiveDeployId).
 */
export async function readHistory(
  site: Site,
  options: { limit?: number; before?: string; tags?: DeployTags } = {},
): Promise<HistoryPage> {
  const { state, target } = site;
  const [page, pointer, chain] = await Promise.all([
    site.records.listRecords({
      limit: options.limit ?? 20,
      ...(options.before ? { before: options.before } : {}),
    }),
    site.records.readPointer(),
    recordedStateRead(state, target.statePrefix),
  ]);
  // The rows' bindings are looked for from the newest entry back, which is the one just read for the
  // pointer's: taken as read (entries are create-only, and a page changes nothing: one reading of the
  // chain answers it). An entry appended meanwhile is listed, and read, like any other. The same
  // reading finds the changes of who approves in the time the page spans.
  const span = {
    from: page.next ? cursorStartedAt(page.next) : Number.NEGATIVE_INFINITY,
    to: options.before ? cursorStartedAt(options.before) : Number.POSITIVE_INFINITY,
  };
  const { standing, entries } = await recordsStandingRead(
    state,
    target.statePrefix,
    page.records.map((record) => ({ deployId: record.deployId, record })),
    { known: [chain.newest], also: policyReadBack(span) },
  );
  const seen = new Set<string>();
  // Two rows of one deploy id (the same deploy stopped twice and recorded superseded once, or a row
  // planted beside a record's own) list its record once: the other is no record left out.
  const records = page.records.filter((record, at) => {
    if (standing[at] === 'unbound' || seen.has(record.deployId)) return false;
    seen.add(record.deployId);
    return true;
  });
  const unbound = standing.filter((s) => s === 'unbound').length;
  const policy = policyChangesIn(entries, span);
  const liveDeployId = boundLiveDeployId(pointer?.value ?? null, chain.recorded);
  return {
    stack: target.stack,
    deployments: records.map((record) =>
      toHistoryItem(record, {
        liveDeployId,
        tag: options.tags ? tagOf(options.tags, target.stack, record) : null,
      }),
    ),
    policyChanges: policy.changes,
    // A row whose record is gone, or is another deployment's, or no entry records as it reads; a
    // change of who approves in an entry the chain does not hold.
    unrecorded: page.rows - page.records.length + unbound + policy.leftOut,
    next: page.next,
  };
}

/** The time a page spans (ms): from its oldest row's start, to the start of the row the page before ended at. */
interface Span {
  from: number;
  to: number;
}

const inSpan = (entry: AuditEntry, span: Span) => {
  const at = Date.parse(entry.at);
  return at >= span.from && at < span.to;
};

/**
 * How far back the page's reading of the chain goes for its policy changes (newestBindings `also`),
 * given its entries newest first: past the span's start, and, where an entry in the span records a
 * policy, to the one recorded before it (what the oldest of them changed), else to the chain's start.
 */
function policyReadBack(span: Span): (entry: AuditEntry) => boolean {
  let recordedInSpan = false;
  return (entry) => {
    if (Date.parse(entry.at) >= span.from) {
      if (recordsPolicy(entry) && inSpan(entry, span)) recordedInSpan = true;
      return false;
    }
    return !recordedInSpan || recordsPolicy(entry);
  };
}

/**
 * The changes of who approves that entries in the span record, newest first: each entry recording a
 * policy, against the one recorded before it (adoptedWords), where the chain holds both (brokenFrom).
 * `leftOut`: how many the entries read say in the span that the chain does not hold (not listed).
 */
function policyChangesIn(
  entries: readonly AuditEntry[],
  span: Span,
): { changes: PolicyChangeItem[]; leftOut: number } {
  let held = 0;
  for (let at = brokenFrom(entries, 0); at !== -1; at = brokenFrom(entries, at + 1)) held = at + 1;
  const changes: PolicyChangeItem[] = [];
  let leftOut = 0;
  let before: ApprovalPolicy | null | undefined = null;
  entries.forEach((entry, at) => {
    // Before the oldest entry read that the chain holds, what was recorded is not known (undefined).
    if (at === held && held > 0) before = undefined;
    if (!recordsPolicy(entry)) return;
    const policy = recordedIn(entry);
    const now = 'problem' in policy ? undefined : policy;
    const description =
      'problem' in policy
        ? `The approval policy cannot be read: ${policy.problem}.`
        : before === undefined
          ? null
          : adoptedWords(entry, before, policy);
    if (description && inSpan(entry, span)) {
      if (at < held) leftOut += 1;
      else {
        const { by, deployId } = entry.data;
        changes.push({
          seq: entry.seq,
          at: entry.at,
          by: String(by),
          deployId: entry.type === POLICY_ADOPTED ? null : String(deployId),
          description,
        });
      }
    }
    before = now;
  });
  return { changes: changes.reverse(), leftOut };
}

/**
 * What a page left out, in words (CLI history, get_history's text); null when it left out nothing.
 * The words are history-words.ts's, which the console's timeline says too.
 */
export const leftOutWords = (page: Pick<HistoryPage, 'unrecorded'>): string | null =>
  page.unrecorded ? `${leftOutSentence(page.unrecorded)} Run \`${LEFT_OUT_CHECK}\` to see which.` : null;

/**
 * The deploy id of the live pointer `value`, where the chain's latest bindings (`bindings`) bind it;
 * null otherwise. A chain that never bound the pointer (begun before entries bound it) cannot say:
 * its deploy id, as before.
 */
export function boundLiveDeployId(value: LivePointer | null, bindings: RecordedState): string | null {
  return value && (pointerNeverBound(bindings) || isAsBound(bindings.state, LIVE, value))
    ? value.deployId
    : null;
}

/**
 * How far back a change looks for a rollback away from its release: the stack's last releases, as
 * many as the page `history` shows first (the rows of canaries started or aborted are none).
 */
export const ROLLED_BACK_LOOKBACK = 20;

/** A rollback that took a release down: a person's, or the automatic one after a failed verification. */
export interface RolledBackAway {
  rollback: DeploymentRecord;
  /**
   * true: nobody asked for it. The change that made the release live failed its verification (the
   * CDN did not serve it in time) and was switched back by itself, under the same request.
   */
  automatic: boolean;
}

/**
 * The newest rollback among the stack's recent deployments that took `release` down (it was live,
 * and it was rolled back away from), or null: a change that makes it live again says so.
 */
export async function rolledBackAway(
  site: Site,
  release: { app: string; commit: string; deployId?: string },
): Promise<RolledBackAway | null> {
  // A rollback away from the release came after the release's own newest record: only the records
  // newer than that one are read (none for a release new to the stack, the usual deploy).
  // The change's own record (after a real run) is not one the release had before.
  const newer =
    (await site.records.releasesSince(release.commit, ROLLED_BACK_LOOKBACK, release.deployId)) ?? [];
  const rollbacks = newer.filter(
    (r) =>
      r.kind === 'rollback' &&
      r.outcome === 'succeeded' &&
      r.app === release.app &&
      r.fromCommit === release.commit &&
      r.commit !== release.commit,
  );
  if (rollbacks.length === 0) return null;
  // Only records the chain binds are told as what happened: the deployer role can write a record
  // and its history row around the chain. The chain is read once (from its newest entry back), only
  // when such a rollback was found: for the rollbacks and the changes they went back from.
  const held = await chainBindsRecords(site.state, site.target.statePrefix, [
    ...rollbacks.map((r) => r.deployId),
    ...rollbacks.flatMap((r) => (r.fromDeployId ? [r.fromDeployId] : [])),
  ]);
  const rollback = rollbacks.find(held);
  if (!rollback) return null;
  // The automatic switch back runs under the failed change's own request: the change it went back
  // from is recorded as failed, asked for at the same moment by the same actor. One more read (of
  // that record, where the look-back did not hold it), held to the same read of the chain.
  const read = rollback.fromDeployId
    ? (newer.find((r) => r.deployId === rollback.fromDeployId) ??
      (await site.records.readRecord(rollback.fromDeployId)))
    : null;
  const from = read && held(read) ? read : null;
  const automatic =
    from?.outcome === 'failed' &&
    from.request.at === rollback.request.at &&
    from.request.actor === rollback.request.actor;
  return { rollback, automatic };
}

/**
 * "sophia-dashboard@3f2c1a9 was rolled back on 2026-12-04 09:12 UTC by ada ("C2 broke the totals")";
 * an automatic one: "… was switched back automatically on … after the CDN did not serve it in time
 * (deployed by ada)".
 */
export function describeRolledBackAway({ rollback, automatic }: RolledBackAway): string {
  const when = `${historyTime(rollback)} UTC`;
  const what = `${rollback.app}@${rollback.fromCommit?.slice(0, 7)}`;
  if (automatic) {
    return `${what} was ${SWITCHED_BACK} on ${when}, after the CDN did not serve it in time (deployed by ${rollback.request.actor}; nobody rolled it back)`;
  }
  const why = (rollback.request.message ?? rollback.request.text).replace(/\s+/g, ' ').trim();
  return `${what} was rolled back on ${when} by ${rollback.request.actor} ("${why}")`;
}
