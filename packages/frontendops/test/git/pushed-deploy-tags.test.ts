/**
 * Deploy tags against someone who can push to the repository (a developer, a CI token with contents:
 * write): they can create, move and delete any tag, with any message. A deploy id is no secret (it is
 * a hash of the stack, app, commit, build and the deployment before it, and a dry run prints it), so
 * they can push a tag for a deployment before it happens. Real git in a temporary directory; a
 * `git tag` run here is such a push.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { createDeployTag, formatDeployMessage, listDeployTags } from '../../src/git/deploy-tag.ts';
import type { GitHost } from '../../src/ports.ts';
import { readAuditAnchors, readDeployTags } from '../../src/read/tags.ts';
import { createTestRepo, fastImport, type TestRepo } from '../support/git-repo.ts';

const NOW = new Date('2026-11-25T10:00:00Z');
const DAY = 'dashboard-deploy-20261125';
const STACK = 'prod';
const head = (seq: number, hex: string) => `${seq}:sha256:${hex.repeat(64)}`;

let repo: TestRepo;
let host: GitHost;

beforeEach(async () => {
  repo = await createTestRepo();
  host = createLocalGit({ repoDir: repo.dir });
});
afterEach(() => repo.cleanup());

/** The deployment FrontendOps tags: what the infra server vouched for. */
const deployment = (sha: string, suffix = '0123456789') => ({
  deployId: `${sha.slice(0, 7)}-${suffix}`,
  sha,
  artifactDigest: `sha256:${'ab'.repeat(32)}`,
  request: 'Deploy the latest dashboard',
  stack: STACK,
  auditHead: head(7, 'c'),
  now: NOW,
});

/** A push: an annotated tag with the message given. */
const push = async (name: string, sha: string, message: string, force = false) => {
  await repo.git(['tag', ...(force ? ['-f'] : []), '-a', '--cleanup=verbatim', '-m', message, name, sha]);
};

describe('a deploy tag pushed ahead of its deployment', () => {
  it('carrying its deploy id with another build and audit head is not taken as its tag: the true one is made', async () => {
    const real = deployment(repo.commits.dashboard2);
    const forged = formatDeployMessage({
      ...real,
      artifactDigest: `sha256:${'ee'.repeat(32)}`,
      auditHead: head(7, 'd'),
      request: 'Deploy the latest dashboard (approved by the CTO)',
    });
    await push(`${DAY}-1`, real.sha, forged);

    const tag = await createDeployTag(host, real);
    expect(tag).toMatchObject({ name: `${DAY}-2`, sha: real.sha, created: true });
    const message = await repo.git(['tag', '-l', '--format=%(contents)', tag.name]);
    expect(message.trimEnd()).toBe(formatDeployMessage(real));
    // Asked again, the deployment's own tag is the one returned.
    expect(await createDeployTag(host, real)).toMatchObject({ name: `${DAY}-2`, created: false });
    // Beside the deployment, the readers name no tag whose record another contradicts.
    expect((await readDeployTags(host)).get(real.deployId)).toBeUndefined();
  });

  it('carrying its deploy id on another commit does not stop its tag being made', async () => {
    const real = deployment(repo.commits.dashboard2);
    await push(`${DAY}-1`, repo.commits.init, formatDeployMessage({ ...real, sha: repo.commits.init }));
    expect(await createDeployTag(host, real)).toMatchObject({
      name: `${DAY}-2`,
      sha: real.sha,
      created: true,
    });
  });

  it('saying exactly what the deployment would is its tag: nothing more is made', async () => {
    const real = deployment(repo.commits.dashboard2);
    await push(`${DAY}-1`, real.sha, formatDeployMessage(real));
    expect(await createDeployTag(host, real)).toMatchObject({ name: `${DAY}-1`, created: false });
    // Two tags of one deployment saying the same: the first is named.
    await push(`${DAY}-2`, real.sha, formatDeployMessage({ ...real, request: 'again' }));
    expect((await readDeployTags(host)).get(real.deployId)?.name).toBe(`${DAY}-1`);
  });
});

describe('a deploy tag numbered past any day of deploys', () => {
  it('does not use up the names: every later deployment still gets its tag', async () => {
    await push(`${DAY}-${'9'.repeat(20)}`, repo.commits.init, 'pushed');
    const first = await createDeployTag(host, deployment(repo.commits.dashboard1, '0000000001'));
    const second = await createDeployTag(host, deployment(repo.commits.dashboard2, '0000000002'));
    expect(first.created && second.created).toBe(true);
    expect(first.name).not.toBe(second.name);
    expect(first.name.length).toBeLessThan(40);
  });

  it('at the highest number a day allows, the next tag takes a free number', async () => {
    await push(`${DAY}-99999`, repo.commits.init, 'pushed');
    const first = await createDeployTag(host, deployment(repo.commits.dashboard1, '0000000001'));
    const second = await createDeployTag(host, deployment(repo.commits.dashboard2, '0000000002'));
    expect([first.name, second.name]).toEqual([`${DAY}-1`, `${DAY}-2`]);
  });
});

describe('a tag dated past the year 9999', () => {
  it('is listed without its date: deploy tags are still made and read', async () => {
    // git writes the year as it is ("10000-…"), which a JavaScript Date cannot read.
    const message = 'pushed';
    await fastImport(
      repo.dir,
      `tag ${DAY}-1\nfrom ${repo.commits.init}\ntagger Eve Pusher <eve@example.test> 253402300800 +0000\n` +
        `data ${message.length}\n${message}\n`,
    );
    const made = await createDeployTag(host, deployment(repo.commits.dashboard1));
    expect(made).toMatchObject({ name: `${DAY}-2`, created: true });
    expect((await listDeployTags(host)).map((t) => [t.name, t.date ?? null])).toEqual([
      [`${DAY}-2`, expect.stringMatching(/^\d{4}-/)],
      [`${DAY}-1`, null],
    ]);
  });
});

describe('a tag named as a folder of the next deploy tag', () => {
  it('does not block the name: git cannot make a tag where a tag below it exists, so it is skipped', async () => {
    // refs/tags/<day>-1/x makes refs/tags/<day>-1 impossible to create ("cannot lock ref").
    await repo.git(['tag', `${DAY}-1/x`, repo.commits.init]);
    await push(`${DAY}-2/deeper/still`, repo.commits.init, 'pushed');
    const first = await createDeployTag(host, deployment(repo.commits.dashboard1, '0000000001'));
    const second = await createDeployTag(host, deployment(repo.commits.dashboard2, '0000000002'));
    expect([first.name, second.name]).toEqual([`${DAY}-3`, `${DAY}-4`]);
    expect(first.created && second.created).toBe(true);
    // Not a deploy tag to the readers: no deployment is named beside it.
    expect((await listDeployTags(host)).map((t) => t.name)).toEqual([`${DAY}-4`, `${DAY}-3`]);
  });
});

describe('a tag its next name cannot be made beside', () => {
  it('differing only in case (one ref file on a case-insensitive file system, as macOS has): the name is skipped', async () => {
    // There, git refuses the tag "<day>-1" where "DASHBOARD-DEPLOY-<day>-1" exists ("already
    // exists"), and "<day>-2" below a folder "Dashboard-Deploy-<day>-2/x": numbered past neither,
    // every attempt asked for the same name. (Here, on Linux, git would make them: the listing and
    // numbering are what is held.)
    await push(`DASHBOARD-DEPLOY-${DAY.slice('dashboard-deploy-'.length)}-1`, repo.commits.init, 'pushed');
    await push(`Dashboard-Deploy-${DAY.slice('dashboard-deploy-'.length)}-2/x`, repo.commits.init, 'pushed');
    const made = await createDeployTag(host, deployment(repo.commits.dashboard1));
    expect(made).toMatchObject({ name: `${DAY}-3`, created: true });
  });

  it('held by a lock git left behind (a git stopped mid-write): the next number is taken', async () => {
    // git refuses to make a ref whose .lock file exists ("cannot lock ref"), whoever left it there.
    await writeFile(join(repo.dir, '.git', 'refs', 'tags', `${DAY}-1.lock`), '');
    const made = await createDeployTag(host, deployment(repo.commits.dashboard1));
    expect(made).toMatchObject({ name: `${DAY}-2`, created: true });
  });
});

describe('a deploy tag moved, or pushed for a deployment on another commit', () => {
  it('is no deployment tag to the readers: not named beside the deployment, not an audit anchor', async () => {
    const real = deployment(repo.commits.dashboard2);
    const made = await createDeployTag(host, real);
    const message = formatDeployMessage(real);
    // Moved: the same name and message, on another commit.
    await push(made.name, repo.commits.init, message, true);
    // Pushed: a tag of another deployment's id on a commit that is not its own.
    const other = deployment(repo.commits.dashboard1, '0000000099');
    await push(`${DAY}-5`, repo.commits.docs, formatDeployMessage({ ...other, auditHead: head(9, 'f') }));

    expect(await readDeployTags(host)).toEqual(new Map());
    expect(await readAuditAnchors(host, STACK)).toEqual([]);
    const listed = await listDeployTags(host);
    expect(listed.map((t) => [t.name, t.deployId])).toEqual([
      [`${DAY}-5`, undefined],
      [made.name, undefined],
    ]);
    // The name is still taken: the next deployment's tag takes the next number.
    expect((await createDeployTag(host, deployment(repo.commits.docs, '0000000003'))).name).toBe(`${DAY}-6`);
  });
});

/**
 * Two commits whose shas begin with the same seven digits: the deployment's (the tree of
 * dashboard2) and another (the tree of init, its content the pusher's). A pusher grinds one for a
 * given commit in about 2^28 hashes (minutes); here both sides are ground, which takes some 2^15.
 * Written as loose objects, reachable from no branch: a tag is all a push needs to make them so.
 */
async function twoCommitsSharingSevenDigits(): Promise<{ deployed: string; pushed: string }> {
  const treeOf = async (sha: string) => (await repo.git(['rev-parse', `${sha}^{tree}`])).trim();
  const commitText = (tree: string, nonce: number) =>
    `tree ${tree}\nparent ${repo.commits.infra}\nauthor Ada Release <ada@example.test> 1764064800 +0000\ncommitter Ada Release <ada@example.test> 1764064800 +0000\n\nchange ${nonce}\n`;
  const shaOf = (text: string) =>
    createHash('sha1')
      .update(`commit ${Buffer.byteLength(text)}\0${text}`)
      .digest('hex');
  const [ours, theirs] = [await treeOf(repo.commits.dashboard2), await treeOf(repo.commits.init)];
  const byPrefix = new Map<string, string>();
  for (let n = 0; n < 1 << 16; n++) {
    const text = commitText(ours, n);
    byPrefix.set(shaOf(text).slice(0, 7), text);
  }
  for (let n = 0; ; n++) {
    const text = commitText(theirs, n);
    const match = byPrefix.get(shaOf(text).slice(0, 7));
    if (!match) continue;
    const write = (body: string) => {
      const dir = repo.dir;
      return new Promise<string>((resolve, reject) => {
        const child = execFile(
          'git',
          ['hash-object', '-t', 'commit', '-w', '--stdin'],
          { cwd: dir },
          (error, out) => (error ? reject(error) : resolve(out.trim())),
        );
        child.stdin?.end(body);
      });
    };
    return { deployed: await write(match), pushed: await write(text) };
  }
}

describe('a deploy tag naming its commit by seven digits', () => {
  it('on another commit that begins with them records nothing: not named, not an audit anchor', async () => {
    const { deployed, pushed } = await twoCommitsSharingSevenDigits();
    expect(pushed.slice(0, 7)).toBe(deployed.slice(0, 7));
    const real = deployment(deployed);
    const made = await createDeployTag(host, real);
    // The pusher deletes the true tag and pushes one that says the same, but for `Commit:`: the
    // seven digits its deploy id begins with, on their own commit.
    await repo.git(['tag', '-d', made.name]);
    await push(`${DAY}-2`, pushed, formatDeployMessage({ ...real, sha: deployed.slice(0, 7) }));

    expect(await readDeployTags(host)).toEqual(new Map());
    expect(await readAuditAnchors(host, STACK)).toEqual([]);
    expect((await listDeployTags(host)).map((t) => [t.name, t.deployId])).toEqual([[`${DAY}-2`, undefined]]);
  });
});
