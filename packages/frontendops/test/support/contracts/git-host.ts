/**
 * The GitHost contract: what every git backend (the local repository, GitHub) must do, as ports.ts
 * promises it and as its callers rely on it — `latestCommit` is "the latest" of read/latest.ts, tags
 * are the deploy record of git/deploy-tag.ts (which depends on CONFLICT to take the next name, and on
 * the listing to find a deploy id again). One suite, run by each adapter's test file against the
 * repository of test/support/git-repo.ts, so the backends cannot drift apart. Where a backend
 * genuinely cannot do the same, a capability says so here, in the open.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorCode, isFrontendOpsError } from '../../../src/errors.ts';
import type { GitHost, TagInfo } from '../../../src/ports.ts';
import { fastImport, type TestRepo } from '../git-repo.ts';

export interface GitHostFixture {
  host: GitHost;
  /** The repository behind the host, with its known history; writing to it is a push from elsewhere. */
  repo: TestRepo;
  cleanup(): Promise<void>;
}

export interface GitHostCapabilities {
  /**
   * A lightweight tag is listed with a date. The local listing has the commit's; GitHub's refs carry
   * none, and reading each tagged commit for one would cost a request per tag.
   */
  lightweightTagDates: boolean;
}

const AUTHOR = 'Ada Release';

export function gitHostContract(
  name: string,
  setup: () => Promise<GitHostFixture>,
  capabilities: GitHostCapabilities,
): void {
  describe(`GitHost contract: ${name}`, () => {
    let fixture: GitHostFixture;
    let host: GitHost;
    let repo: TestRepo;
    beforeAll(async () => {
      fixture = await setup();
      ({ host, repo } = fixture);
    });
    afterAll(() => fixture?.cleanup());

    // Every test tags under a prefix of its own, so the tests of one repository stay independent.
    let tests = 0;
    const prefix = () => `contract${++tests}-`;
    const listed = async (tagPrefix: string) =>
      (await host.listTags(tagPrefix)).sort((a, b) => a.name.localeCompare(b.name));

    describe('latestCommit', () => {
      it('is the newest commit touching the path, not the newest commit overall', async () => {
        expect(await host.latestCommit('apps/sophia-dashboard')).toEqual({
          sha: repo.commits.dashboard2,
          shortSha: repo.commits.dashboard2.slice(0, 7),
          message: 'dashboard: add App\n\nLonger body line.',
          author: AUTHOR,
          date: '2026-11-23T09:00:00.000Z',
        });
        expect((await host.latestCommit('infra/index.ts'))?.sha).toBe(repo.commits.infra);
        expect((await host.latestCommit('docs'))?.sha).toBe(repo.commits.docs);
      });

      it('honours the ref, a sha or a branch: on an older commit the answer is older', async () => {
        expect((await host.latestCommit('apps/sophia-dashboard', repo.commits.infra))?.sha).toBe(
          repo.commits.dashboard1,
        );
        await repo.git(['branch', 'contract-older', repo.commits.infra]);
        expect((await host.latestCommit('apps/sophia-dashboard', 'contract-older'))?.sha).toBe(
          repo.commits.dashboard1,
        );
        expect((await host.latestCommit('apps/sophia-dashboard', 'main'))?.sha).toBe(repo.commits.dashboard2);
      });

      it('is null for a path no commit on the ref touched', async () => {
        expect(await host.latestCommit('apps/nothing-here')).toBeNull();
        expect(await host.latestCommit('apps/no such dir/v1.2')).toBeNull();
        expect(await host.latestCommit('docs', repo.commits.infra)).toBeNull();
      });

      it('is NOT_FOUND for a ref that names nothing', async () => {
        await expectCode(host.latestCommit('apps/sophia-dashboard', 'no-such-branch'), 'NOT_FOUND');
        await expectCode(host.latestCommit('apps/sophia-dashboard', 'deadbeefdeadbeef'), 'NOT_FOUND');
      });
    });

    describe('getCommit', () => {
      it('finds a commit by full sha, short sha, branch and tag', async () => {
        const infra = {
          sha: repo.commits.infra,
          shortSha: repo.commits.infra.slice(0, 7),
          message: 'infra: bucket',
          author: AUTHOR,
          date: '2026-11-22T09:00:00.000Z',
        };
        expect(await host.getCommit(repo.commits.infra)).toEqual(infra);
        expect(await host.getCommit(repo.commits.infra.slice(0, 7))).toEqual(infra);
        expect(await host.getCommit(repo.commits.infra.slice(0, 8))).toEqual(infra);
        expect((await host.getCommit('main'))?.sha).toBe(repo.commits.docs);
        await repo.git(['tag', '-a', '-m', 'annotated', 'contract-get-annotated', repo.commits.dashboard1]);
        await repo.git(['tag', 'contract-get-light', repo.commits.init]);
        expect((await host.getCommit('contract-get-annotated'))?.sha).toBe(repo.commits.dashboard1);
        expect((await host.getCommit('contract-get-light'))?.sha).toBe(repo.commits.init);
      });

      it('is null when nothing has that name', async () => {
        expect(await host.getCommit('deadbeefdeadbeef')).toBeNull();
        expect(await host.getCommit('0'.repeat(40))).toBeNull();
        expect(await host.getCommit('no-such-branch')).toBeNull();
      });
    });

    describe('createTag', () => {
      it('makes an annotated tag that listTags returns as created, its message intact', async () => {
        const p = prefix();
        // What a request may hold: unicode, blank lines, indentation, a line that git would read as a comment.
        const message =
          'Deploy ✓ für 日本 — “quoted”\n\n  indented line\n# not a comment\n\n\n\nKey: value\nOther-Key: x';
        const before = Date.now();
        const tag = await host.createTag({ name: `${p}1`, sha: repo.commits.dashboard1, message });
        expect(tag).toEqual({
          name: `${p}1`,
          sha: repo.commits.dashboard1,
          message,
          date: expect.any(String),
        });
        expectRecentDate(tag.date, before);
        expect(await listed(p)).toEqual([tag]);
        expect(await repo.git(['cat-file', '-t', `${p}1`])).toBe('tag\n');
      });

      it('tags the full sha when given a short one', async () => {
        const p = prefix();
        const tag = await host.createTag({
          name: `${p}1`,
          sha: repo.commits.infra.slice(0, 10),
          message: 'm',
        });
        expect(tag.sha).toBe(repo.commits.infra);
        expect((await listed(p)).map((t) => t.sha)).toEqual([repo.commits.infra]);
      });

      it('keeps no trailing newline: what createTag returns is what listTags lists', async () => {
        const p = prefix();
        const tag = await host.createTag({ name: `${p}1`, sha: repo.commits.init, message: 'one line\n' });
        expect(tag.message).toBe('one line');
        expect(await listed(p)).toEqual([tag]);
      });

      it('passes a message that looks like an option as data, never as a flag', async () => {
        const p = prefix();
        await host.createTag({ name: `${p}keep`, sha: repo.commits.init, message: 'keep me' });
        for (const [i, message] of ['--delete', '-d', `--message=x`, `-F/etc/passwd`].entries()) {
          expect((await host.createTag({ name: `${p}${i}`, sha: repo.commits.init, message })).message).toBe(
            message,
          );
        }
        expect((await listed(p)).map((t) => [t.name, t.message])).toEqual([
          [`${p}0`, '--delete'],
          [`${p}1`, '-d'],
          [`${p}2`, '--message=x'],
          [`${p}3`, '-F/etc/passwd'],
          [`${p}keep`, 'keep me'],
        ]);
      });

      it('is CONFLICT when the name is taken, by an annotated or a lightweight tag; the old tag stays', async () => {
        const p = prefix();
        const first = await host.createTag({ name: `${p}1`, sha: repo.commits.docs, message: 'first' });
        await expectCode(
          host.createTag({ name: `${p}1`, sha: repo.commits.init, message: 'again' }),
          'CONFLICT',
        );
        await repo.git(['tag', `${p}2`, repo.commits.infra]);
        await expectCode(
          host.createTag({ name: `${p}2`, sha: repo.commits.init, message: 'again' }),
          'CONFLICT',
        );
        const tags = await listed(p);
        expect(tags[0]).toEqual(first);
        expect(tags.map((t) => [t.name, t.sha])).toEqual([
          [`${p}1`, repo.commits.docs],
          [`${p}2`, repo.commits.infra],
        ]);
      });

      it('lets exactly one of several concurrent creates of a name win; the others are CONFLICT', async () => {
        const p = prefix();
        const shas = [repo.commits.init, repo.commits.dashboard1, repo.commits.infra, repo.commits.docs];
        const results = await Promise.allSettled(
          shas.map((sha, i) => host.createTag({ name: `${p}race`, sha, message: `attempt ${i}` })),
        );
        const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        expect(won).toHaveLength(1);
        expect(lost.every((e) => isFrontendOpsError(e, 'CONFLICT'))).toBe(true);
        expect(await listed(p)).toEqual(won);
      });

      it('is NOT_FOUND for a commit the repository does not have; nothing is created', async () => {
        const p = prefix();
        const tree = (await repo.git(['rev-parse', `${repo.commits.docs}^{tree}`])).trim();
        for (const sha of ['deadbeefdeadbeef', 'de'.repeat(20), tree]) {
          await expectCode(host.createTag({ name: `${p}1`, sha, message: 'm' }), 'NOT_FOUND');
        }
        expect(await host.listTags(p)).toEqual([]);
      });

      it('is BAD_INPUT for a name or sha git would misread, and for a message with NUL; nothing is created', async () => {
        const p = prefix();
        const ok = { name: `${p}1`, sha: repo.commits.init, message: 'm' };
        const names = ['-d', '--delete', '', 'a b', 'a..b', 'x.lock', '.hidden', 'refs/tags/x', 'a/b'];
        for (const name of [...names, 'x~1', 'x^', 'x:y', 'x?', 'x*', 'x[1]', 'ü', `${p}\n2`]) {
          await expectCode(host.createTag({ ...ok, name }), 'BAD_INPUT');
        }
        for (const sha of ['main', 'HEAD', '12345', 'xyz1234', '', `--${'a'.repeat(38)}`]) {
          await expectCode(host.createTag({ ...ok, sha }), 'BAD_INPUT');
        }
        await expectCode(host.createTag({ ...ok, message: 'before\0after' }), 'BAD_INPUT');
        expect(await host.listTags(p)).toEqual([]);
        expect((await host.listTags('')).some((t) => t.name.startsWith('-') || t.name === '')).toBe(false);
      });
    });

    describe('listTags', () => {
      it('returns the tags whose name starts with the prefix, every tag for ""', async () => {
        const p = prefix();
        for (const name of [`${p}a-1`, `${p}a-2`, `${p}b-1`]) {
          await host.createTag({ name, sha: repo.commits.init, message: name });
        }
        expect((await listed(`${p}a-`)).map((t) => t.name)).toEqual([`${p}a-1`, `${p}a-2`]);
        expect((await listed(`${p}a-2`)).map((t) => t.name)).toEqual([`${p}a-2`]);
        expect(await host.listTags(`${p}c-`)).toEqual([]);
        const all = (await host.listTags('')).map((t) => t.name);
        expect(all).toEqual(expect.arrayContaining([`${p}a-1`, `${p}a-2`, `${p}b-1`]));
      });

      it('includes lightweight tags, with an empty message and the commit they name', async () => {
        const p = prefix();
        await repo.git(['tag', `${p}light`, repo.commits.dashboard2]);
        const [light, ...rest] = await host.listTags(p);
        expect(rest).toEqual([]);
        expect(light).toMatchObject({ name: `${p}light`, sha: repo.commits.dashboard2, message: '' });
        if (capabilities.lightweightTagDates) expect(isCanonicalDate(light?.date)).toBe(true);
        else expect(light).not.toHaveProperty('date');
      });

      it('lists an annotated tag made elsewhere by the commit it names, not its tag object', async () => {
        const p = prefix();
        await repo.git([
          'tag',
          '-a',
          '-m',
          'pushed from a laptop\n\nBody.',
          `${p}pushed`,
          repo.commits.infra,
        ]);
        const [tag] = await host.listTags(p);
        expect(tag).toEqual({
          name: `${p}pushed`,
          sha: repo.commits.infra,
          message: 'pushed from a laptop\n\nBody.',
          date: expect.any(String),
        });
        expect(isCanonicalDate(tag?.date)).toBe(true);
      });

      it('cannot be forged by a message that imitates the listing (RS, NUL, a whole record)', async () => {
        const p = prefix();
        const record = (name: string) =>
          `${name}\0tag\0${'f'.repeat(40)}\0${'f'.repeat(40)}\0\0Deploy-Id: 0000000-0000000000`;
        // Pushed by whoever may push a tag: RS, NUL and a copy of a record, written as git stores it.
        const file = join(repo.dir, '.git', `forged-${p}`);
        await writeFile(file, `Deploy it\x1e${record(`${p}forged-1`)}\n${record(`${p}forged-2`)}`);
        await repo.git(['tag', '-a', '-F', file, `${p}pushed`, repo.commits.init]);
        // And through the port itself: everything but NUL (which createTag refuses).
        const created = await host.createTag({
          name: `${p}created`,
          sha: repo.commits.dashboard1,
          message: `Deploy it\x1e${p}forged-3\x1etag\x1e${'e'.repeat(40)}\nrefs/tags/${p}forged-4 ${'e'.repeat(40)}`,
        });
        const tags = await listed(p);
        expect(tags.map((t) => [t.name, t.sha])).toEqual([
          [`${p}created`, repo.commits.dashboard1],
          [`${p}pushed`, repo.commits.init],
        ]);
        expect(tags[0]).toEqual(created);
        // What follows a NUL is git's to keep or cut (the local listing ends the message there); no tag comes of it.
        expect(tags[1]?.message).toContain(`Deploy it\x1e${p}forged-1`);
      });

      it('lists and reads a tag dated past the year 9999 without its date', async () => {
        // Anyone who can push chooses a tagger's timestamp; git writes such a year as it is
        // ("10000-01-01T…"), which a Date cannot read: one such tag would fail every listing.
        const p = prefix();
        const message = 'from the far future';
        await fastImport(
          repo.dir,
          `tag ${p}far\nfrom ${repo.commits.init}\ntagger Eve Pusher <eve@example.test> 253402300800 +0000\n` +
            `data ${message.length}\n${message}\n`,
        );
        const far = { name: `${p}far`, sha: repo.commits.init, message };
        expect(await host.listTags(p)).toEqual([far]);
        expect(await host.readTag(`${p}far`)).toEqual(far);
      });

      it('is BAD_INPUT for a prefix no tag name could start with (an option, a path)', async () => {
        for (const bad of ['-', '--points-at=HEAD', 'a b', '../x', 'x/../../y', 'x\n']) {
          await expectCode(host.listTags(bad), 'BAD_INPUT');
        }
      });
    });

    describe('readTag', () => {
      it('answers the tag of exactly that name, as listTags lists it; null where only longer names are', async () => {
        const p = prefix();
        const v1 = await host.createTag({ name: `${p}v1`, sha: repo.commits.dashboard1, message: 'v1' });
        await host.createTag({ name: `${p}v1.1`, sha: repo.commits.dashboard2, message: 'v1.1' });
        await repo.git(['tag', `${p}v10`, repo.commits.dashboard2]);
        expect(await host.readTag(`${p}v1`)).toEqual(v1);
        const [light] = await host.listTags(`${p}v10`);
        expect(await host.readTag(`${p}v10`)).toEqual(light);
        expect(await host.readTag(`${p}v`)).toBeNull();
        for (const bad of ['', '-', '--points-at=HEAD', '../x', 'x\n']) {
          await expectCode(host.readTag(bad), 'BAD_INPUT');
        }
      });
    });

    describe('a branch or tag named like a commit sha (anyone who can push can make one)', () => {
      it('is never taken for that commit: a short sha it shadows is refused, saying what to pass', async () => {
        // git (and the double, as git does) reads "3f2c1a9" as a branch or tag of that name first:
        // "deploy 3f2c1a9" would be answered with whatever commit the pushed tag points at.
        const short = repo.commits.dashboard1.slice(0, 7);
        await repo.git(['tag', short, repo.commits.docs]);
        try {
          for (const shadowed of [
            () => host.getCommit(short),
            () => host.latestCommit('apps/sophia-dashboard', short),
            () => host.commitsBetween(short, repo.commits.docs, 'apps/sophia-dashboard'),
            () => host.commitsBetween(repo.commits.init, short, 'apps/sophia-dashboard'),
          ]) {
            const error = await shadowed().then(
              (value) => value,
              (e: unknown) => e,
            );
            expect(isFrontendOpsError(error, 'BAD_INPUT'), JSON.stringify(error)).toBe(true);
            expect((error as Error).message).toContain(`tags/${short}`);
            expect((error as Error).message).toContain('full sha');
          }
          // The commit by its full sha, and the tag by its kind, are each what they name.
          expect((await host.getCommit(repo.commits.dashboard1))?.sha).toBe(repo.commits.dashboard1);
          expect((await host.getCommit(`tags/${short}`))?.sha).toBe(repo.commits.docs);
        } finally {
          await repo.git(['tag', '-d', short]);
        }
      });

      it('the refusal offers only names that are what they say: no heads/<sha> a tag can take', async () => {
        // Whoever pushed the tag "3f2c1a9" can push one named "heads/3f2c1a9": with no such branch,
        // git (and GitHub) read heads/3f2c1a9 as that tag.
        const short = repo.commits.dashboard1.slice(0, 7);
        await repo.git(['tag', short, repo.commits.docs]);
        await repo.git(['tag', `heads/${short}`, repo.commits.init]);
        try {
          const error = await host.getCommit(short).then(
            (value) => value,
            (e: unknown) => e,
          );
          expect(isFrontendOpsError(error, 'BAD_INPUT'), JSON.stringify(error)).toBe(true);
          const message = (error as Error).message;
          expect(message).toContain('full sha');
          const offered = message.match(/(?:refs\/)?(?:heads|tags)\/[0-9a-f]{7,}/g) ?? [];
          expect(offered).toContain(`refs/tags/${short}`);
          for (const name of offered) {
            // Each names the ref of its kind, or nothing where there is none.
            const kind = /(heads|tags)\//.exec(name)?.[1];
            const held = await repo
              .git(['rev-parse', '--verify', '--quiet', `refs/${kind}/${short}^{commit}`])
              .then(
                (out) => out.trim(),
                () => null,
              );
            expect([name, (await host.getCommit(name).catch(() => null))?.sha ?? null]).toEqual([name, held]);
          }
        } finally {
          await repo.git(['tag', '-d', short, `heads/${short}`]);
        }
      });
    });

    describe('a tag pushed with the name of a branch (branches may be protected where tags are not)', () => {
      /** Runs `check` with tags of these names on dashboard1, deleting them after. */
      const withTags = async (names: string[], check: () => Promise<void>) => {
        for (const name of names)
          await repo.git(['update-ref', `refs/tags/${name}`, repo.commits.dashboard1]);
        try {
          await check();
        } finally {
          for (const name of names) await repo.git(['update-ref', '-d', `refs/tags/${name}`]);
        }
      };

      it('is not taken for the branch, nor the branch for it: the name is refused, saying what to pass', async () => {
        // git takes refs/tags/main before refs/heads/main, and says so only in a warning.
        await withTags(['main', 'HEAD'], async () => {
          for (const ask of [
            () => host.getCommit('main'),
            () => host.getCommit('main~1'),
            () => host.latestCommit('apps/sophia-dashboard', 'main'),
            () => host.commitsBetween(repo.commits.init, 'main', 'apps/sophia-dashboard'),
          ]) {
            const error = await ask().then(
              (value) => value,
              (e: unknown) => e,
            );
            expect(isFrontendOpsError(error, 'BAD_INPUT'), JSON.stringify(error)).toBe(true);
            expect((error as Error).message).toMatch(
              /"main" names more than one ref here \(refs\/tags\/main, refs\/heads\/main\)/,
            );
          }
          expect((await host.getCommit('heads/main'))?.sha).toBe(repo.commits.docs);
          expect((await host.getCommit('tags/main'))?.sha).toBe(repo.commits.dashboard1);
          // HEAD is the checkout (the default branch) whatever a tag of that name says.
          expect((await host.latestCommit('apps/sophia-dashboard'))?.sha).toBe(repo.commits.dashboard2);
        });
      });

      it('the name the refusal says to pass for the branch is one no tag can take', async () => {
        // Whoever pushed a tag "main" can push ones named "heads/main" and "refs/heads/main" too.
        await withTags(['main', 'heads/main', 'refs/heads/main'], async () => {
          for (const [asked, branch, tag] of [
            ['main', 'refs/heads/main', 'refs/tags/main'],
            ['heads/main', 'refs/heads/main', 'refs/tags/heads/main'],
          ] as const) {
            const error = await host.getCommit(asked).then(
              (value) => value,
              (e: unknown) => e,
            );
            expect(isFrontendOpsError(error, 'BAD_INPUT'), JSON.stringify(error)).toBe(true);
            const named = /more than one ref here \(([^)]+)\)/
              .exec((error as Error).message)?.[1]
              ?.split(', ');
            expect(named).toEqual(expect.arrayContaining([branch, tag]));
            expect((await host.getCommit(branch))?.sha).toBe(repo.commits.docs);
            expect((await host.getCommit(tag))?.sha).toBe(repo.commits.dashboard1);
          }
        });
      });
    });

    describe('text that looks like an option is never one', () => {
      it('refuses refs and paths git would read as options, ranges or globs, as BAD_INPUT', async () => {
        for (const ref of ['--output=/tmp/x', '-n', 'a b', 'a..b', '', 'x\ny']) {
          await expectCode(host.getCommit(ref), 'BAD_INPUT');
          await expectCode(host.latestCommit('apps', ref), 'BAD_INPUT');
        }
        for (const path of [
          '-p',
          '--output=x',
          '/etc',
          '../outside',
          'a/../../b',
          'apps/*',
          ':(glob)apps',
          '',
        ]) {
          await expectCode(host.latestCommit(path), 'BAD_INPUT');
        }
      });
    });
  });
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    (value) => ({ resolved: value }),
    (e: unknown) => e,
  );
  expect(isFrontendOpsError(error) ? error.code : error).toBe(code);
}

/** ISO 8601 as toISOString writes it, so dates from every backend compare as text. */
const isCanonicalDate = (date: string | undefined) =>
  date !== undefined && !Number.isNaN(Date.parse(date)) && new Date(date).toISOString() === date;

/** A tag's date: canonical and now (git and GitHub keep whole seconds). */
function expectRecentDate(date: TagInfo['date'], before: number): void {
  expect(isCanonicalDate(date)).toBe(true);
  const at = Date.parse(date ?? '');
  expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  expect(at).toBeLessThanOrEqual(Date.now() + 1000);
}
