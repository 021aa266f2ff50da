import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { DEPLOY_ID } from '../../src/engine/ids.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import {
  createDeployTag,
  formatDeployMessage,
  listDeployTags,
  parseTrailers,
  taggedChange,
} from '../../src/git/deploy-tag.ts';
import type { GitHost } from '../../src/ports.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const NOW = new Date('2026-11-25T10:00:00Z');

let repo: TestRepo;
let host: GitHost;

beforeEach(async () => {
  repo = await createTestRepo();
  host = createLocalGit({ repoDir: repo.dir });
});
afterEach(() => repo.cleanup());

/** A deploy id begins with its commit, as the engine makes them: `id`'s first seven digits give way to the commit's. */
const idOf = (id: string, sha: string) => (DEPLOY_ID.test(id) ? `${sha.slice(0, 7)}${id.slice(7)}` : id);
const input = (deployId: string, sha: string) => ({
  deployId: idOf(deployId, sha),
  sha,
  artifactDigest: DIGEST,
  request: 'Deploy the latest dashboard\n(asked by ada in #releases)',
  now: NOW,
});

describe('createDeployTag (real git)', () => {
  it('names the first tag of the day -1 and writes a parseable trailer block', async () => {
    const tag = await createDeployTag(host, input('de00001-0000000001', repo.commits.dashboard2));
    expect(tag).toMatchObject({
      name: 'dashboard-deploy-20261125-1',
      sha: repo.commits.dashboard2,
      created: true,
    });
    const message = await repo.git(['tag', '-l', '--format=%(contents)', tag.name]);
    expect(parseTrailers(message)).toEqual({
      'Deploy-Id': idOf('de00001-0000000001', repo.commits.dashboard2),
      'Artifact-Digest': DIGEST,
      Commit: repo.commits.dashboard2,
      App: 'sophia-dashboard',
      Request: 'Deploy the latest dashboard (asked by ada in #releases)',
    });
    expect(message).toContain('Deploy the latest dashboard\n(asked by ada in #releases)');
  });

  it('numbers after the highest N already used that day, and restarts on a new day', async () => {
    await repo.git(['tag', '-a', '-m', 'manual', 'dashboard-deploy-20261125-7', repo.commits.init]);
    await repo.git(['tag', '-a', '-m', 'other day', 'dashboard-deploy-20261124-9', repo.commits.init]);
    expect((await createDeployTag(host, input('de00002-0000000002', repo.commits.docs))).name).toBe(
      'dashboard-deploy-20261125-8',
    );
    const nextDay = await createDeployTag(host, {
      ...input('de00003-0000000003', repo.commits.docs),
      now: new Date('2026-11-26T00:00:01Z'),
    });
    expect(nextDay.name).toBe('dashboard-deploy-20261126-1');
  });

  it('is idempotent per deploy id: the second call returns the first tag and creates nothing', async () => {
    const first = await createDeployTag(host, input('de00004-0000000004', repo.commits.dashboard2));
    const second = await createDeployTag(host, input('de00004-0000000004', repo.commits.dashboard2));
    expect(second).toMatchObject({ name: first.name, sha: first.sha, created: false });
    expect((await repo.git(['tag', '-l', 'dashboard-deploy-*'])).trim().split('\n')).toEqual([first.name]);
  });

  it('refuses to tag a deploy id on a commit it is not of, before reading the repository', async () => {
    // A client of the git server could otherwise tag a real deployment on another commit, taking
    // the name its true tag is looked up by.
    const forged = { ...input('de00005-0000000005', repo.commits.dashboard2), sha: repo.commits.docs };
    await expect(createDeployTag(host, forged)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(
        /is of commit .*, not .*a deploy tag goes on the commit its deployment made live/,
      ),
    });
    expect((await repo.git(['tag', '-l'])).trim()).toBe('');
  });

  it('takes the next number when another deploy wins the race for a name', async () => {
    // A host whose first createTag finds the name just taken by someone else (a real tag, created
    // between our list and our create).
    let raced = false;
    const racing: GitHost = {
      ...host,
      async createTag(tag) {
        if (!raced) {
          raced = true;
          await host.createTag({ ...tag, message: formatDeployMessage(input('other', repo.commits.init)) });
        }
        return host.createTag(tag);
      },
    };
    const tag = await createDeployTag(racing, input('de00006-0000000006', repo.commits.docs));
    expect(tag).toMatchObject({ name: 'dashboard-deploy-20261125-2', created: true, sha: repo.commits.docs });
  });

  it('two concurrent calls for one deploy id leave exactly one tag', async () => {
    const results = await Promise.all([
      createDeployTag(host, input('de00007-0000000007', repo.commits.docs)),
      createDeployTag(host, input('de00007-0000000007', repo.commits.docs)),
      createDeployTag(host, input('de00008-0000000008', repo.commits.docs)),
    ]);
    const dep7 = results.slice(0, 2);
    expect(dep7.map((r) => r.created).sort()).toEqual([false, true]);
    expect(dep7[0]?.name).toBe(dep7[1]?.name);
    expect((await repo.git(['tag', '-l', 'dashboard-deploy-*'])).trim().split('\n')).toHaveLength(2);
    expect((await listDeployTags(host)).map((t) => t.deployId).sort()).toEqual(
      [idOf('de00007-0000000007', repo.commits.docs), idOf('de00008-0000000008', repo.commits.docs)].sort(),
    );
  });

  it('refuses bad input before touching the repository', async () => {
    const bad = [
      { ...input('--delete', repo.commits.docs) },
      { ...input('dep', 'not-a-sha') },
      { ...input('dep', repo.commits.docs), artifactDigest: 'md5:abc' },
      { ...input('dep', repo.commits.docs), request: '   ' },
      // A commit named by some of its digits: its tag would name no one commit (listDeployTags).
      { ...input('de00009-0000000009', repo.commits.docs.slice(0, 12)) },
    ];
    for (const b of bad) {
      await expect(createDeployTag(host, b)).rejects.toSatisfy((e) => isFrontendOpsError(e, 'BAD_INPUT'));
    }
    expect((await repo.git(['tag', '-l'])).trim()).toBe('');
  });
});

describe('listDeployTags (real git)', () => {
  it('lists only deploy tags, newest first, with deploy id and digest parsed from the message', async () => {
    await createDeployTag(host, input('de00009-0000000009', repo.commits.dashboard1));
    await createDeployTag(host, input('de0000a-0000000010', repo.commits.dashboard2));
    await repo.git(['tag', 'v1.0.0', repo.commits.init]);
    const tags = await listDeployTags(host);
    expect(tags.map((t) => [t.name, t.deployId, t.artifactDigest, t.sha])).toEqual([
      [
        'dashboard-deploy-20261125-2',
        idOf('de0000a-0000000010', repo.commits.dashboard2),
        DIGEST,
        repo.commits.dashboard2,
      ],
      [
        'dashboard-deploy-20261125-1',
        idOf('de00009-0000000009', repo.commits.dashboard1),
        DIGEST,
        repo.commits.dashboard1,
      ],
    ]);
  });
});

describe('taggedChange', () => {
  it("a no-op run's tag of the interrupted change it finished names that change's build, not the run's", () => {
    const head = { seq: 4, hash: `sha256:${'cd'.repeat(32)}` };
    const summary = {
      kind: 'deploy',
      deployId: 'abcdef0-0000000002',
      commit: 'abcdef0'.padEnd(40, '0'),
      artifactDigest: DIGEST,
      noop: true,
      plan: { fromCommit: null },
      finishedInterrupted: {
        deployId: 'abcdef0-0000000001',
        kind: 'deploy',
        artifactDigest: `sha256:${'ef'.repeat(32)}`,
        fromCommit: null,
        auditHead: head,
      },
    };
    expect(taggedChange(summary)).toEqual({
      deployId: 'abcdef0-0000000001',
      artifactDigest: `sha256:${'ef'.repeat(32)}`,
      auditHead: `4:${head.hash}`,
    });
    // Its own change: its own build.
    expect(taggedChange({ ...summary, noop: false, auditHead: head })).toMatchObject({
      deployId: summary.deployId,
      artifactDigest: DIGEST,
    });
  });
});
