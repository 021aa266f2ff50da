/**
 * GitHost.commitsBetween — what a release adds — answers the same through local git and through
 * GitHub (real Octokit against the GitHub REST double: the compare API for the range, the commits
 * API for the path), on one real repository.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { createGitHubHost } from '../../src/adapters/github.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { GitHost } from '../../src/ports.ts';
import { createTestRepo, fastImport, type TestRepo } from '../support/git-repo.ts';
import { type GitHubDouble, startGitHubDouble } from '../support/github-double.ts';

const APP = 'apps/sophia-dashboard';
let repo: TestRepo;
let github: GitHubDouble;
const hosts: Record<string, GitHost> = {};

beforeAll(async () => {
  repo = await createTestRepo();
  github = await startGitHubDouble({ owner: 'acme', repo: 'dashboard', repoDir: repo.dir, token: 'ghs_t' });
  hosts.local = createLocalGit({ repoDir: repo.dir });
  hosts.github = createGitHubHost({ owner: 'acme', repo: 'dashboard', token: 'ghs_t', baseUrl: github.url });
});
afterAll(async () => {
  await github?.close();
  await repo?.cleanup();
});

const piles = new Map<number, Promise<{ benign: string; hidden: string }>>();
/** On a branch of its own after docs: a commit touching the app, `pads` touching nothing, and one more touching the app. */
const pile = (pads: number) => {
  let piled = piles.get(pads);
  if (!piled) {
    piled = (async () => {
      const branch = `refs/heads/pile-${pads}`;
      const who = 'committer Eve Pusher <eve@example.test> 1764000000 +0000';
      const file = (name: string, text: string) =>
        `M 100644 inline ${APP}/${name}\ndata ${text.length}\n${text}\n`;
      const commit = (subject: string, change = '', from = '') =>
        `commit ${branch}\n${who}\ndata ${subject.length}\n${subject}\n${from && `from ${from}\n`}${change}\n`;
      let stream = commit('dashboard: fix a typo', file('typo.txt', 'typo'), repo.commits.docs);
      for (let n = 1; n <= pads; n++) stream += commit(`chore: ${n}`);
      stream += commit('dashboard: send the totals elsewhere', file('totals.js', 'elsewhere'));
      await fastImport(repo.dir, stream);
      const hidden = (await repo.git(['rev-parse', branch])).trim();
      const [benign = ''] = (
        await repo.git(['rev-list', '--reverse', `${repo.commits.docs}..${branch}`])
      ).split('\n');
      return { benign, hidden };
    })();
    piles.set(pads, piled);
  }
  return piled;
};

describe.each(['local', 'github'])('commitsBetween through %s', (name) => {
  const host = () => hosts[name] as GitHost;

  it('lists the commits touching the path that head has and base does not, newest first, with subject and author', async () => {
    const { commits, truncated } = await host().commitsBetween(repo.commits.init, repo.commits.docs, APP);
    expect(commits.map((c) => c.sha)).toEqual([repo.commits.dashboard2, repo.commits.dashboard1]);
    expect(commits[0]).toMatchObject({
      shortSha: repo.commits.dashboard2.slice(0, 7),
      message: 'dashboard: add App\n\nLonger body line.',
      author: 'Ada Release',
      date: '2026-11-23T09:00:00.000Z',
    });
    expect(truncated).toBe(false);
  });

  it('leaves out commits that do not touch the path, caps at the limit, and is empty backwards', async () => {
    const between = await host().commitsBetween(repo.commits.dashboard1, repo.commits.docs, APP);
    expect(between.commits.map((c) => c.sha)).toEqual([repo.commits.dashboard2]);
    const capped = await host().commitsBetween(repo.commits.init, repo.commits.docs, APP, 1);
    expect(capped).toMatchObject({ truncated: true, commits: [{ sha: repo.commits.dashboard2 }] });
    expect((await host().commitsBetween(repo.commits.docs, repo.commits.init, APP)).commits).toEqual([]);
  });

  it('lists the newest commit of a release past 250 commits: a pushed pile of them hides none', async () => {
    // Anyone who can push can land one commit touching the app, then hundreds that touch nothing,
    // then the one they would rather nobody read: the compare API answers the oldest 250 of a range.
    const { benign, hidden } = await pile(260);
    const { commits, truncated } = await host().commitsBetween(repo.commits.docs, hidden, APP);
    expect(commits.map((c) => c.sha)).toEqual([hidden, benign]);
    expect(truncated).toBe(false);
    // Past what is read (GitHub: the first and the last two pages), the newest still, said cut short.
    const long = await pile(800);
    const far = await host().commitsBetween(repo.commits.docs, long.hidden, APP);
    expect(far.commits[0]?.sha).toBe(long.hidden);
    expect(far.truncated).toBe(name === 'github');
  });

  it('lists a commit whose message holds a record separator as one commit, hiding none', async () => {
    // Anyone who can push chooses a message; one that held the separator of the listing would end
    // the record early, and its rest would be read as a commit of its own (or fail the listing).
    const subject = `dashboard: tidy\x1e${'0'.repeat(40)}\x1e`;
    await fastImport(
      repo.dir,
      `commit refs/heads/separator\ncommitter Eve Pusher <eve@example.test> 1764000000 +0000\ndata ${subject.length}\n${subject}\n` +
        `from ${repo.commits.docs}\nM 100644 inline ${APP}/tidy.txt\ndata 4\ntidy\n\n`,
    );
    const tip = (await repo.git(['rev-parse', 'separator'])).trim();
    const { commits } = await host().commitsBetween(repo.commits.dashboard1, tip, APP);
    expect(commits.map((c) => [c.sha, c.message])).toEqual([
      [tip, subject.trim()],
      [repo.commits.dashboard2, 'dashboard: add App\n\nLonger body line.'],
    ]);
  });

  it('lists a commit dated past the year 9999, without its date, and finds it the latest', async () => {
    // git keeps any timestamp and writes the year as it is ("10000-01-01T00:00:00+00:00"), as the
    // GitHub double does (GitHub documents no form for it), which a JavaScript Date cannot read:
    // one such pushed commit would otherwise fail every listing.
    const subject = 'dashboard: from the far future';
    await fastImport(
      repo.dir,
      `commit refs/heads/far-future\nauthor Eve Pusher <eve@example.test> 253402300800 +0000\n` +
        `committer Eve Pusher <eve@example.test> 1764000000 +0000\ndata ${subject.length}\n${subject}\n` +
        `from ${repo.commits.docs}\nM 100644 inline ${APP}/far.txt\ndata 3\nfar\n\n`,
    );
    const tip = (await repo.git(['rev-parse', 'far-future'])).trim();
    const { commits } = await host().commitsBetween(repo.commits.dashboard2, tip, APP);
    expect(commits).toEqual([expect.objectContaining({ sha: tip, message: subject, date: '' })]);
    expect(await host().latestCommit(APP, tip)).toMatchObject({ sha: tip, date: '' });
    expect(await host().getCommit(tip)).toMatchObject({ sha: tip, date: '' });
  });

  it('accepts short shas, and says NOT_FOUND for an unknown end', async () => {
    const short = await host().commitsBetween(
      repo.commits.dashboard1.slice(0, 7),
      repo.commits.dashboard2.slice(0, 7),
      APP,
    );
    expect(short.commits.map((c) => c.sha)).toEqual([repo.commits.dashboard2]);
    await expect(host().commitsBetween('0000000', repo.commits.docs, APP)).rejects.toSatisfy((e) =>
      isFrontendOpsError(e, 'NOT_FOUND'),
    );
  });
});

it('GitHub: asks the compare API for the range and the commits API for the path, with the token', async () => {
  github.requests.length = 0;
  await (hosts.github as GitHost).commitsBetween(repo.commits.dashboard1, repo.commits.docs, APP);
  expect(github.requests.map((r) => [r.method, r.path, r.query])).toEqual([
    [
      'GET',
      `/repos/acme/dashboard/compare/${repo.commits.dashboard1}...${repo.commits.docs}`,
      { per_page: '250' },
    ],
    ['GET', '/repos/acme/dashboard/commits', { sha: repo.commits.docs, path: APP, per_page: '100' }],
  ]);
  expect(github.requests.every((r) => r.authorization === 'token ghs_t')).toBe(true);
});
