/**
 * What a release adds, against someone who can force-push: they rewrite the branch so the next
 * build leaves out a commit of the live release (a fix), and add a harmless-looking one on top. The
 * list a person approves from (a plan, `approve`, the console's dialog) must not show only the
 * harmless commit. Real git in a temporary directory; `git fast-import` is the force-push.
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { ReleaseContents } from '../../src/console/ui/components/ReleaseContents.tsx';
import type { GitHost } from '../../src/ports.ts';
import { readReleaseCommits } from '../../src/read/contents.ts';
import { releaseContentsLines } from '../../src/read/contents-text.ts';
import { createTestRepo, fastImport, type TestRepo } from '../support/git-repo.ts';

const APP = 'apps/sophia-dashboard';
let repo: TestRepo;
let git: GitHost;
/** The rewritten branch's new commit: on dashboard1, so dashboard2 (live) is not in it. */
let rewritten: string;

beforeAll(async () => {
  repo = await createTestRepo();
  git = createLocalGit({ repoDir: repo.dir });
  const subject = 'dashboard: tidy the header';
  const text = 'tidy';
  await fastImport(
    repo.dir,
    `commit refs/heads/rewritten\ncommitter Eve Pusher <eve@example.test> 1764100000 +0000\ndata ${subject.length}\n${subject}\n` +
      `from ${repo.commits.dashboard1}\nM 100644 inline ${APP}/header.txt\ndata ${text.length}\n${text}\n\n`,
  );
  rewritten = (await repo.git(['rev-parse', 'rewritten'])).trim();
  await repo.git(['update-ref', 'refs/heads/main', rewritten]);
});
afterAll(() => repo?.cleanup());

describe('a deploy of a build whose history leaves out commits of the live release', () => {
  it('says which commits of the live release it does not have, beside the ones it adds', async () => {
    const commits = await readReleaseCommits(git, {
      from: repo.commits.dashboard2,
      to: rewritten,
      path: APP,
      kind: 'deploy',
    });
    expect(commits.direction).toBe('forward');
    expect(commits.commits.map((c) => c.sha)).toEqual([rewritten]);
    expect(commits.otherWay?.commits.map((c) => c.sha)).toEqual([repo.commits.dashboard2]);
    const lines = releaseContentsLines({ commits });
    expect(lines.join('\n')).toMatch(
      /Commits of the live release this one does not have \(1\):\n {2}[0-9a-f]{7} dashboard: add App/,
    );
    // The console's dialog, where a person confirms it.
    const page = renderToStaticMarkup(createElement(ReleaseContents, { commits }));
    expect(page).toContain('Commits of the live release this one does not have: 1 commit</h3>');
    expect(page).toContain('dashboard: add App');
  });

  it('says nothing more when the live release is in its history', async () => {
    const commits = await readReleaseCommits(git, {
      from: repo.commits.dashboard1,
      to: repo.commits.dashboard2,
      path: APP,
      kind: 'deploy',
    });
    expect(commits).toEqual({ direction: 'forward', commits: [expect.any(Object)], truncated: false });
  });
});
