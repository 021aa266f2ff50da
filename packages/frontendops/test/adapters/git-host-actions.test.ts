/**
 * "The latest" in a GitHub Actions run. The environment's required reviewers approve a run, which
 * GitHub shows them with its commit (GITHUB_SHA); the job then asks for the latest build. Through
 * the GitHub backend (picked in a job by GITHUB_TOKEN and GITHUB_REPOSITORY) that was the default
 * branch's head when the job got there: anyone who can push could land a commit after the approval
 * and have it deployed under it. The local backend already answered from the run's checkout.
 * Real Octokit against the GitHub double.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectGitHost } from '../../src/adapters/git-host.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { type GitHubDouble, startGitHubDouble } from '../support/github-double.ts';

const TOKEN = 'ghs_test0123456789';
let repo: TestRepo;
let github: GitHubDouble;

beforeAll(async () => {
  repo = await createTestRepo();
  github = await startGitHubDouble({ owner: 'acme', repo: 'dashboard', repoDir: repo.dir, token: TOKEN });
});
afterAll(async () => {
  await github?.close();
  await repo?.cleanup();
});

const env = (extra: Record<string, string>) => ({
  GITHUB_TOKEN: TOKEN,
  GITHUB_REPOSITORY: 'acme/dashboard',
  GITHUB_API_URL: github.url,
  ...extra,
});
const latest = async (vars: Record<string, string>, flags = {}) =>
  (await (await selectGitHost(flags, env(vars), repo.dir)).latestCommit('apps/sophia-dashboard'))?.sha;

describe('the latest in a GitHub Actions run (GitHub backend)', () => {
  it("is the app's newest commit in the run's commit, not one pushed to the branch since", async () => {
    // The run was started (and approved) at `infra`; `dashboard2` was pushed after it.
    const run = { GITHUB_ACTIONS: 'true', GITHUB_SHA: repo.commits.infra };
    expect(await latest(run)).toBe(repo.commits.dashboard1);
  });

  it("is the default branch's outside a run, and for another repository than the run's", async () => {
    expect(await latest({})).toBe(repo.commits.dashboard2);
    const run = { GITHUB_ACTIONS: 'true', GITHUB_SHA: repo.commits.infra, GITHUB_REPOSITORY: 'acme/other' };
    expect(await latest(run, { github: 'acme/dashboard' })).toBe(repo.commits.dashboard2);
  });
});
