/**
 * "What is in this release?", read once for every surface: the files that differ from the live
 * release (grouped, from the two artifacts' manifests), the CDN refresh in words (from the plan), and
 * the commits between the live release and this one (from the git host). The infra server returns
 * the first two with a plan (it holds the artifacts); the commits come from the git server / host.
 */
import { readManifest } from '../deploy/publish.ts';
import { describeInvalidation, diffManifests, GROUP_ORDER } from '../engine/release-diff.ts';
import { touching } from '../engine/text.ts';
import type { FileGroup } from '../engine/types.ts';
import type { CommitInfo, GitHost } from '../ports.ts';
import type { Site } from '../site.ts';
import type { PlanContents, ReleaseCommits } from './views.ts';

export type { PlanContents, ReleaseCommits };

/** How many paths of each list are named; the counts are always complete. */
export const PATHS_SHOWN = 25;

/** The files and the invalidation of a plan, from the artifacts' manifests. */
export async function readPlanContents(
  site: Site,
  plan: { app: string; commit: string; fromCommit: string | null; invalidationPaths: readonly string[] },
): Promise<PlanContents> {
  const [to, from] = await Promise.all([
    readManifest(site.artifacts, plan.app, plan.commit),
    plan.fromCommit ? readManifest(site.artifacts, plan.app, plan.fromCommit) : Promise.resolve(null),
  ]);
  const diff = to ? diffManifests(from, to) : null;
  const files = {} as PlanContents['files'];
  for (const group of GROUP_ORDER as FileGroup[]) {
    const g = diff?.[group] ?? { added: [], changed: [], removed: [] };
    files[group] = {
      added: g.added.length,
      changed: g.changed.length,
      removed: g.removed.length,
      paths: {
        added: g.added.slice(0, PATHS_SHOWN),
        changed: g.changed.slice(0, PATHS_SHOWN),
        removed: g.removed.slice(0, PATHS_SHOWN),
      },
    };
  }
  return { files, invalidation: describeInvalidation(plan.invalidationPaths) };
}

/**
 * The commits between what is live and the release, touching the app's path: the ones a deploy
 * adds, or the ones a rollback takes away. Never throws: a git host that cannot answer is a note.
 */
export async function readReleaseCommits(
  git: Pick<GitHost, 'commitsBetween' | 'getCommit'> | null | undefined,
  input: { from: string | null; to: string; path: string; kind?: 'deploy' | 'rollback'; limit?: number },
): Promise<ReleaseCommits> {
  const limit = input.limit ?? 20;
  if (!git) {
    return { direction: 'unknown', commits: [], truncated: false, note: 'no git repository to ask' };
  }
  try {
    if (!input.from) {
      const head = await git.getCommit(input.to);
      return { direction: 'first', commits: head ? [head] : [], truncated: false };
    }
    if (input.from === input.to) return { direction: 'same', commits: [], truncated: false };
    const forward = () => git.commitsBetween(input.from as string, input.to, input.path, limit);
    const back = () => git.commitsBetween(input.to, input.from as string, input.path, limit);
    const order: Array<['forward' | 'back', () => ReturnType<GitHost['commitsBetween']>]> =
      input.kind === 'rollback'
        ? [
            ['back', back],
            ['forward', forward],
          ]
        : [
            ['forward', forward],
            ['back', back],
          ];
    for (const [i, [direction, read]] of order.entries()) {
      const found = await read();
      if (found.commits.length === 0) continue;
      // Both ways only where history was rewritten (a force-push): a deploy that also takes away
      // commits of the live release, or a rollback that also brings commits never live, says so.
      const other = i === 0 ? await order[1]?.[1]() : undefined;
      return { direction, ...found, ...(other && other.commits.length > 0 ? { otherWay: other } : {}) };
    }
    return {
      direction: 'unknown',
      commits: [],
      truncated: false,
      note: `no commit${touching(input.path)} lies between the two releases`,
    };
  } catch (error) {
    return {
      direction: 'unknown',
      commits: [],
      truncated: false,
      note: `the git host could not list the commits (${(error as Error).message.split('\n')[0]?.slice(0, 200)})`,
    };
  }
}

export type { CommitInfo };
