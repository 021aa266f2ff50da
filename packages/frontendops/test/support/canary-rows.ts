/**
 * Rows of canaries started and aborted, written straight into a stack's history in the shape the
 * atomic apply writes them (ids of a deploy id's shape that start with no commit's hex): for tests of
 * the readers that must look past them to the releases.
 */
import type { Site } from '../../src/site.ts';
import type { DeploymentRecord } from '../../src/state/records.ts';

/** `count` rows copying `like`, alternately a start and an abort of its canary; row i at `at(i)`. */
export async function writeCanaryRows(
  site: Pick<Site, 'records'>,
  like: DeploymentRecord,
  count: number,
  at: (i: number) => string,
  fields: Partial<DeploymentRecord> = {},
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const when = at(i);
    await site.records.writeRecord({
      ...like,
      deployId: `c${i.toString(16).padStart(6, '0')}-0123456789`,
      op: i % 2 === 0 ? 'canary-start' : 'canary-abort',
      canary: { deployId: like.deployId },
      startedAt: when,
      finishedAt: when,
      ...fields,
    });
  }
}
