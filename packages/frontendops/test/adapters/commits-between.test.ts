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
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
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
