/**
 * "What is in this release" as lines of text, for the CLI's plans and prompts and the agent's
 * answers: the commits (subject and author), the files by kind, and the CDN refresh in words.
 */
import { describeFiles } from '../engine/release-diff.ts';
import type { PlanContents, ReleaseCommits } from './views.ts';

export function releaseContentsLines(input: {
  commits?: ReleaseCommits | null;
  contents?: PlanContents | null;
}): string[] {
  const lines: string[] = [];
  const { commits, contents } = input;
  if (commits) lines.push(...commitLines(commits));
  if (contents) {
    lines.push(`Files: ${describeFiles(contents.files).join(' · ')}`);
    lines.push(contents.invalidation);
  }
  return lines;
}

function commitLines(commits: ReleaseCommits): string[] {
  const heading: Record<ReleaseCommits['direction'], string> = {
    forward: 'Commits this release adds',
    back: 'Commits that leave with this rollback',
    first: 'First release',
    same: 'This commit is already live',
    unknown: 'Commits',
  };
  if (commits.commits.length === 0) {
    if (commits.direction === 'same') return [`${heading.same}.`];
    return commits.note ? [`Commits: not shown (${commits.note}).`] : [];
  }
  const listed = (title: string, list: Pick<ReleaseCommits, 'commits' | 'truncated'>) => [
    `${title} (${list.commits.length}${list.truncated ? ', and more' : ''}):`,
    ...list.commits.map(
      (c) =>
        `  ${c.shortSha} ${c.message.split('\n')[0] ?? ''} — ${c.author}${c.date ? `, ${c.date.slice(0, 10)}` : ''}`,
    ),
  ];
  const other = commits.otherWay;
  return [
    ...listed(heading[commits.direction], commits),
    ...(other ? listed(OTHER_WAY[commits.direction === 'back' ? 'back' : 'forward'], other) : []),
  ];
}

/** The commits the other way (ReleaseCommits otherWay), by the direction of the first list. */
export const OTHER_WAY = {
  forward: 'Commits of the live release this one does not have',
  back: 'Commits this rollback brings that the live release does not have',
} as const;
