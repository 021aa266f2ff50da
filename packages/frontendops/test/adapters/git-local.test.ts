import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { GitHost } from '../../src/ports.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';

let repo: TestRepo;
let host: GitHost;

beforeAll(async () => {
  repo = await createTestRepo();
  host = createLocalGit({ repoDir: repo.dir });
});
afterAll(() => repo.cleanup());

describe('createLocalGit (real git in a temp dir)', () => {
  it('finds the newest commit touching a directory, not the newest commit overall', async () => {
    const commit = await host.latestCommit('apps/sophia-dashboard');
    expect(commit).toMatchObject({
      sha: repo.commits.dashboard2,
      shortSha: repo.commits.dashboard2.slice(0, 7),
      author: 'Ada Release',
      date: '2026-11-23T09:00:00.000Z',
      message: 'dashboard: add App\n\nLonger body line.',
    });
  });

  it('honours the ref: on an older commit the answer is older', async () => {
    const commit = await host.latestCommit('apps/sophia-dashboard', repo.commits.infra);
    expect(commit?.sha).toBe(repo.commits.dashboard1);
  });

  it('returns null for a path no commit touched, NOT_FOUND for an unknown ref', async () => {
    expect(await host.latestCommit('apps/nothing-here')).toBeNull();
    await expect(host.latestCommit('apps/sophia-dashboard', 'no-such-branch')).rejects.toSatisfy((e) =>
      isFrontendOpsError(e, 'NOT_FOUND'),
    );
  });

  it('gets a commit by full sha, short sha and branch; null when unknown', async () => {
    expect((await host.getCommit(repo.commits.infra))?.message).toBe('infra: bucket');
    expect((await host.getCommit(repo.commits.infra.slice(0, 8)))?.sha).toBe(repo.commits.infra);
    expect((await host.getCommit('main'))?.sha).toBe(repo.commits.docs);
    expect(await host.getCommit('deadbeefdeadbeef')).toBeNull();
  });

  it('refuses option-like and malformed refs and paths before running git', async () => {
    for (const ref of ['--output=/tmp/x', '-n', 'a b', 'a..b', '']) {
      await expect(host.getCommit(ref)).rejects.toSatisfy((e) => isFrontendOpsError(e, 'BAD_INPUT'));
    }
    for (const path of ['-p', '/etc', '../outside', 'a/../../b', 'apps/*', ':(glob)apps']) {
      await expect(host.latestCommit(path)).rejects.toSatisfy((e) => isFrontendOpsError(e, 'BAD_INPUT'));
    }
  });

  it('creates an annotated tag, lists it with message and target, and refuses a taken name', async () => {
    const tag = await host.createTag({
      name: 'test-tag-1',
      sha: repo.commits.dashboard1,
      message: 'hello\n\nKey: value',
    });
    expect(tag).toMatchObject({
      name: 'test-tag-1',
      sha: repo.commits.dashboard1,
      message: 'hello\n\nKey: value',
    });
    expect(await repo.git(['cat-file', '-t', 'test-tag-1'])).toBe('tag\n');

    await expect(
      host.createTag({ name: 'test-tag-1', sha: repo.commits.docs, message: 'again' }),
    ).rejects.toSatisfy((e) => isFrontendOpsError(e, 'CONFLICT'));
    expect((await repo.git(['rev-parse', 'test-tag-1^{commit}'])).trim()).toBe(repo.commits.dashboard1);
  });

  it('lists lightweight tags too, filtered by prefix', async () => {
    await repo.git(['tag', 'light-1', repo.commits.init]);
    const tags = await host.listTags('light-');
    expect(tags).toEqual([
      { name: 'light-1', sha: repo.commits.init, message: '', date: expect.any(String) },
    ]);
    expect(await host.listTags('nothing-')).toEqual([]);
  });

  it('passes a message that looks like an option as data, never as a flag', async () => {
    const tag = await host.createTag({ name: 'test-tag-2', sha: repo.commits.init, message: '--delete' });
    expect(tag.message).toBe('--delete');
  });

  it('refuses a tag for an unknown commit and bad tag names', async () => {
    await expect(host.createTag({ name: 'x-1', sha: 'deadbeefdeadbeef', message: 'm' })).rejects.toSatisfy(
      (e) => isFrontendOpsError(e, 'NOT_FOUND'),
    );
    await expect(host.createTag({ name: '-d', sha: repo.commits.init, message: 'm' })).rejects.toSatisfy(
      (e) => isFrontendOpsError(e, 'BAD_INPUT'),
    );
  });

  it('cannot be fooled by a tag message that imitates the listing (RS, NUL, a whole forged record)', async () => {
    // What an attacker who can push a tag writes: the old record separator, then a record of its own.
    const forged = `Deploy it\x1edashboard-deploy-20990101-1\0tag\0${'f'.repeat(40)}\0${'f'.repeat(40)}\0\0Deploy-Id: 0000000-0000000000`;
    const file = join(repo.dir, '.git', 'forged-message');
    await writeFile(file, forged);
    await repo.git(['tag', '-a', 'dashboard-deploy-20261201-7', '-F', file, repo.commits.init]);
    const tags = await host.listTags('dashboard-deploy-');
    expect(tags.map((t) => t.name)).toEqual(['dashboard-deploy-20261201-7']);
    expect(tags[0]?.message).toContain('dashboard-deploy-20990101-1');
    expect(tags[0]?.sha).toBe(repo.commits.init);
  });
});
