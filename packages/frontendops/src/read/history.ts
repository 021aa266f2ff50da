/** What happened on a site, newest first, a page at a time: behind `history`, get_history and the console. */
import type { Site } from '../site.ts';
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
