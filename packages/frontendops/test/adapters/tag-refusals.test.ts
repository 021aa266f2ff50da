/**
 * GitHost.createTag refuses a taken tag name (CONFLICT: createDeployTag takes the next one) and a
 * commit the repository does not have (NOT_FOUND) through local git and through GitHub (real
 * Octokit against the GitHub REST double), in one wording that names the repository and says what
 * to do: the same refusal, whichever backend a run picked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { createGitHubHost } from '../../src/adapters/github.ts';
import type { GitHost } from '../../src/ports.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { type GitHubDouble, startGitHubDouble } from '../support/github-double.ts';
import { refusal } from '../support/refusal.ts';

let repo: TestRepo;
let github: GitHubDouble;
/** Each backend, and how its refusals name its repository. */
const hosts: Record<string, { host: GitHost; where: string }> = {};
/** A commit sha no repository here has. */
const ABSENT = 'abcdef1234567890abcdef1234567890abcdef12';

beforeAll(async () => {
  repo = await createTestRepo();
  github = await startGitHubDouble({ owner: 'acme', repo: 'dashboard', repoDir: repo.dir, token: 'ghs_t' });
  hosts.local = { host: createLocalGit({ repoDir: repo.dir }), where: 'this repository' };
  hosts.github = {
    host: createGitHubHost({ owner: 'acme', repo: 'dashboard', token: 'ghs_t', baseUrl: github.url }),
    where: 'GitHub acme/dashboard',
  };
});
afterAll(async () => {
  await github?.close();
  await repo?.cleanup();
});

/** A refusal's code and words, its backend's repository named as <repository>. */
const said = async (backend: string, tagging: (host: GitHost) => Promise<unknown>) => {
  const { host, where } = hosts[backend] as { host: GitHost; where: string };
  const error = await refusal(tagging(host));
  return { code: error.code, message: error.message.replaceAll(where, '<repository>') };
};

describe('createTag refuses alike through either backend', () => {
  it('a tag name already taken: CONFLICT, naming the repository and saying to choose another', async () => {
    const taken = async (backend: string) => {
      const name = `taken-${backend}`;
      const tagging = (host: GitHost) => host.createTag({ name, sha: repo.commits.docs, message: 'x' });
      await tagging((hosts[backend] as { host: GitHost }).host);
      return said(backend, tagging);
    };
    const [local, viaGitHub] = [await taken('local'), await taken('github')];
    expect(local).toEqual({
      code: 'CONFLICT',
      message: 'Tag taken-local already exists in <repository>; choose another name.',
    });
    expect(viaGitHub).toEqual({ ...local, message: local.message.replace('taken-local', 'taken-github') });
  });

  it('a commit the repository does not have, full or short: NOT_FOUND, saying what to pass', async () => {
    for (const sha of [ABSENT, ABSENT.slice(0, 7)]) {
      const tagging = (host: GitHost) => host.createTag({ name: 'absent', sha, message: 'x' });
      const local = await said('local', tagging);
      expect(local).toEqual({
        code: 'NOT_FOUND',
        message: `Commit ${sha} is not in <repository>, so it cannot be tagged. Pass a commit that is there (push it first).`,
      });
      expect(await said('github', tagging)).toEqual(local);
    }
  });
});
