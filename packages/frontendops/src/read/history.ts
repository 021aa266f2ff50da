/** What happened on a site, newest first, a page at a time: behind `history`, get_history and the console. */
import type { Site } from '../site.ts';
import type { DeploymentRecord } from '../state/records.ts';
import { type HistoryPage, toHistoryItem } from './views.ts';

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
  release: { app: string; commit: string },
): Promise<DeploymentRecord | null> {
  const { records } = await site.records.listRecords({ limit: ROLLED_BACK_LOOKBACK });
  return (
    records.find(
      (r) =>
        r.kind === 'rollback' &&
        r.outcome === 'succeeded' &&
        r.app === release.app &&
        r.fromCommit === release.commit &&
        r.commit !== release.commit,
    ) ?? null
  );
}

/** "sophia-dashboard@3f2c1a9 was rolled back on 2026-12-04 09:12 UTC by ada ("C2 broke the totals")" */
export function describeRolledBackAway(rollback: DeploymentRecord): string {
  const when = `${rollback.finishedAt.replace('T', ' ').slice(0, 16)} UTC`;
  const why = (rollback.request.message ?? rollback.request.text).replace(/\s+/g, ' ').trim();
  return `${rollback.app}@${rollback.fromCommit?.slice(0, 7)} was rolled back on ${when} by ${rollback.request.actor} ("${why}")`;
}
