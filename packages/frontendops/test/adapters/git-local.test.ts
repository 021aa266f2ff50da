/**
 * The local git backend: the GitHost contract (test/support/contracts/git-host.ts) against a real
 * repository in a temp dir, and what only this backend does: opening a directory checks that it is
 * a repository.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLocalGit, openLocalGit } from '../../src/adapters/git-local.ts';
import { createDeployTag, listDeployTags } from '../../src/git/deploy-tag.ts';
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

describe('a SHA-256 repository (git init --object-format=sha256)', () => {
  it('its 64-hex commit, which every other tool takes, gets its deploy tag; upper case is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'frontendops-sha256-'));
    const git = (...args: string[]) =>
      promisify(execFile)('git', args, { cwd: dir }).then((r) => r.stdout.trim());
    try {
      await git('init', '-q', '--object-format=sha256');
      await writeFile(join(dir, 'index.html'), '<h1>hi</h1>\n');
      await git('add', 'index.html');
      await git('-c', 'user.name=Ada', '-c', 'user.email=ada@example.com', 'commit', '-qm', 'site');
      const sha = await git('rev-parse', 'HEAD');
      expect(sha).toMatch(/^[0-9a-f]{64}$/);
      const host = createLocalGit({ repoDir: dir });
      const deployId = `${sha.slice(0, 7)}-0123456789`;
      const tag = await createDeployTag(host, {
        deployId,
        sha,
        artifactDigest: `sha256:${'a'.repeat(64)}`,
        request: 'Deploy the latest site',
      });
      expect(tag).toMatchObject({ created: true, sha });
      expect((await listDeployTags(host)).map((t) => t.deployId)).toEqual([deployId]);
      await expect(
        host.createTag({ name: 'upper', sha: sha.toUpperCase(), message: 'x' }),
      ).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: expect.stringMatching(/expected a commit sha of 7 to 64 lower-case hex digits/),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('replace refs (refs/replace/*, which anyone who can push can push, and a fetch can bring)', () => {
  it('never stand in for a commit: its own subject, author and touched paths are what is answered', async () => {
    const repo = await createTestRepo();
    try {
      // dashboard2 "replaced" by the docs commit: git would show the docs commit's words for it.
      await repo.git(['replace', repo.commits.dashboard2, repo.commits.docs]);
      const host = createLocalGit({ repoDir: repo.dir });
      const commit = await host.getCommit(repo.commits.dashboard2);
      expect(commit).toMatchObject({
        sha: repo.commits.dashboard2,
        message: expect.stringMatching(/^dashboard: add App/),
      });
      expect((await host.latestCommit('apps/sophia-dashboard'))?.sha).toBe(repo.commits.dashboard2);
      const between = await host.commitsBetween(
        repo.commits.dashboard1,
        repo.commits.docs,
        'apps/sophia-dashboard',
      );
      expect(between.commits.map((c) => c.sha)).toEqual([repo.commits.dashboard2]);
    } finally {
      await repo.cleanup();
    }
  });
});
