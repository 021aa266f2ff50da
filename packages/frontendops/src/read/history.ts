/** What happened on a site, newest first, a page at a time: behind `history`, get_history and the console. */
import type { Site } from '../site.ts';
import type { DeploymentRecord } from '../state/records.ts';
import { type HistoryPage, historyTime, toHistoryItem } from './views.ts';

/**
 * The most deployments one page of history holds, by who reads it. A person or a script (the CLI's
 * `history --limit`, the console's `?limit=`) may ask for a long page. A page that goes into a
 * model's context (the infra server's get_history, which the agent calls as well) is kept shorter:
 * every entry costs the model's context, and the next page is one call away.
 */
export const HISTORY_PAGE_MAX = { reader: 500, model: 100 } as const;

export async function readHistory(
  site: Site,
  options: { limit?: number; before?: string; tags?: ReadonlyMap<string, string> } = {},
): Promise<HistoryPage> {
  const [page, pointer] = await Promise.all([
    site.records.listRecords({
      limit: options.limit ?? 20,
      ...(options.before ? { before: options.before } : {}),
    }),
    site.records.readPointer(),
  ]);
  const liveDeployId = pointer?.value.deployId ?? null;
  return {
    stack: site.target.stack,
    deployments: page.records.map((record) =>
      toHistoryItem(record, { liveDeployId, tag: options.tags?.get(record.deployId) ?? null }),
    ),
    next: page.next,
  };
}

/** How far back a change looks for a rollback away from its release: the page `history` shows first. */
export const ROLLED_BACK_LOOKBACK = 20;

/**
 * The newest rollback among the stack's recent deployments that took `release` down (it was live,
 * and someone rolled back away from it), or null: a change that makes it live again says so.
 */
export async function rolledBackAway(
  site: Site,
  release: { app: string; commit: string; deployId?: string },
): Promise<DeploymentRecord | null> {
  // A rollback away from the release came after the release's own newest record, and a deploy id
  // starts with its commit's 7 hex: one LIST of ids, then only the records newer than that one are
  // read (none for a release new to the stack, the usual deploy).
  // The change's own record (after a real run) is not one the release had before.
  const ids = (await site.records.listRecentIds(ROLLED_BACK_LOOKBACK + 1))
    .filter((id) => id !== release.deployId)
    .slice(0, ROLLED_BACK_LOOKBACK);
  const own = ids.findIndex((id) => id.startsWith(release.commit.slice(0, 7)));
  if (own <= 0) return null;
  const newer = await Promise.all(ids.slice(0, own).map((id) => site.records.readRecord(id)));
  return (
    newer.find(
      (r) =>
        r?.kind === 'rollback' &&
        r.outcome === 'succeeded' &&
        r.app === release.app &&
        r.fromCommit === release.commit &&
        r.commit !== release.commit,
    ) ?? null
  );
}

/** "sophia-dashboard@3f2c1a9 was rolled back on 2026-12-04 09:12 UTC by ada ("C2 broke the totals")" */
export function describeRolledBackAway(rollback: DeploymentRecord): string {
  const when = `${historyTime(rollback)} UTC`;
  const why = (rollback.request.message ?? rollback.request.text).replace(/\s+/g, ' ').trim();
  return `${rollback.app}@${rollback.fromCommit?.slice(0, 7)} was rolled back on ${when} by ${rollback.request.actor} ("${why}")`;
}
