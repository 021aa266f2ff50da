/**
 * The local git backend: the GitHost contract (test/support/contracts/git-host.ts) against a real
 * repository in a temp dir, and what only this backend does: opening a directory checks that it is
 * a repository.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLocalGit, openLocalGit } from '../../src/adapters/git-local.ts';
import { gitHostContract } from '../support/contracts/git-host.ts';
import { createTestRepo } from '../support/git-repo.ts';

gitHostContract(
  'local git (real git in a temp dir)',
  async () => {
    const repo = await createTestRepo();
    return { host: createLocalGit({ repoDir: repo.dir }), repo, cleanup: () => repo.cleanup() };
  },
  { lightweightTagDates: true },
);

describe('openLocalGit', () => {
  it('refuses a directory that is not a git repository, saying which flag to pass', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'frontendops-not-git-'));
    try {
      await expect(openLocalGit({ repoDir: dir })).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: expect.stringMatching(/is not a git repository.*--repo <dir>.*--github/),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens a repository', async () => {
    const repo = await createTestRepo();
    try {
      expect((await (await openLocalGit({ repoDir: repo.dir })).getCommit('main'))?.sha).toBe(
        repo.commits.docs,
      );
    } finally {
      await repo.cleanup();
    }
  });
});
