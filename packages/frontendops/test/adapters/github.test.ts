/**
 * The GitHub backend through real Octokit against the GitHub double (test/support/github-double.ts):
 * the GitHost contract (test/support/contracts/git-host.ts), and what only this backend does — the
 * REST requests it sends, the token, the configured default branch.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGitHubHost, TAG_READS_AT_ONCE } from '../../src/adapters/github.ts';
import { releaseNamed } from '../../src/cli/commands/deploy.ts';
import { type FrontendOpsError, isFrontendOpsError } from '../../src/errors.ts';
import { createDeployTag, formatDeployMessage, listDeployTags } from '../../src/git/deploy-tag.ts';
import type { GitHost } from '../../src/ports.ts';
import { readAuditAnchors, readDeployTags } from '../../src/read/tags.ts';
import { gitHostContract } from '../support/contracts/git-host.ts';
import { createTestRepo, fastImport, type TestRepo } from '../support/git-repo.ts';
import { type GitHubDouble, startGitHubDouble } from '../support/github-double.ts';

const TOKEN = 'ghs_test0123456789';
const DIGEST = `sha256:${'12'.repeat(32)}`;

gitHostContract(
  'GitHub (Octokit against the GitHub double)',
  async () => {
    const repo = await createTestRepo();
    const double = await startGitHubDouble({
      owner: 'acme',
      repo: 'dashboard',
      repoDir: repo.dir,
      token: TOKEN,
    });
    return {
      host: createGitHubHost({ owner: 'acme', repo: 'dashboard', token: TOKEN, baseUrl: double.url }),
      repo,
      async cleanup() {
        await double.close();
        await repo.cleanup();
      },
    };
  },
  { lightweightTagDates: false },
);

let repo: TestRepo;
let github: GitHubDouble;
let host: GitHost;

beforeAll(async () => {
  repo = await createTestRepo();
  github = await startGitHubDouble({ owner: 'acme', repo: 'dashboard', repoDir: repo.dir, token: TOKEN });
  host = createGitHubHost({ owner: 'acme', repo: 'dashboard', token: TOKEN, baseUrl: github.url });
});
afterAll(async () => {
  await github?.close();
  await repo?.cleanup();
});
beforeEach(async () => {
  github.requests.length = 0;
  // Each case starts from the repository's commits with no tag: the tags a case makes are its own.
  const tags = (await repo.git(['tag', '-l'])).split('\n').filter(Boolean);
  if (tags.length > 0) await repo.git(['tag', '-d', ...tags]);
});

describe('createGitHubHost through real Octokit against the GitHub double', () => {
  it('latestCommit lists commits with a path filter and per_page=1, sending the token', async () => {
    expect((await host.latestCommit('apps/sophia-dashboard'))?.sha).toBe(repo.commits.dashboard2);
    expect(github.requests).toEqual([
      {
        method: 'GET',
        path: '/repos/acme/dashboard/commits',
        query: { path: 'apps/sophia-dashboard', per_page: '1' },
        body: undefined,
        authorization: `token ${TOKEN}`,
      },
    ]);
  });

  it("latestCommit passes the ref as sha; GitHub's 404 for an unknown ref is NOT_FOUND", async () => {
    expect((await host.latestCommit('apps/sophia-dashboard', repo.commits.infra))?.sha).toBe(
      repo.commits.dashboard1,
    );
    expect(github.requests[0]?.query).toEqual({
      path: 'apps/sophia-dashboard',
      sha: repo.commits.infra,
      per_page: '1',
    });
    github.requests.length = 0;
    await expect(host.latestCommit('apps', 'no-such-branch')).rejects.toSatisfy((e) =>
      isFrontendOpsError(e, 'NOT_FOUND'),
    );
    // A name's refs are looked up first (one a pushed tag shares is refused), then the commits.
    const asked = github.requests.map((r) => `${decodeURIComponent(r.path)} ${r.query.sha ?? ''}`.trim());
    expect(asked.sort()).toEqual([
      '/repos/acme/dashboard/commits no-such-branch',
      '/repos/acme/dashboard/git/ref/heads/no-such-branch',
      '/repos/acme/dashboard/git/ref/no-such-branch',
      '/repos/acme/dashboard/git/ref/remotes/no-such-branch',
      '/repos/acme/dashboard/git/ref/tags/no-such-branch',
    ]);
  });

  it('uses the configured default branch when no ref is given', async () => {
    const onBranch = createGitHubHost({
      owner: 'acme',
      repo: 'dashboard',
      token: TOKEN,
      baseUrl: github.url,
      defaultBranch: 'main',
    });
    await onBranch.latestCommit('infra');
    expect(github.requests.find((r) => r.path.endsWith('/commits'))?.query.sha).toBe('main');
  });

  it("getCommit reads GET /commits/{ref}; GitHub's 422 for an unknown sha is null", async () => {
    expect((await host.getCommit(repo.commits.infra.slice(0, 7)))?.sha).toBe(repo.commits.infra);
    expect(github.requests[0]).toMatchObject({
      method: 'GET',
      path: `/repos/acme/dashboard/commits/${repo.commits.infra.slice(0, 7)}`,
    });
    github.requests.length = 0;
    expect(await host.getCommit('deadbeefdeadbeef')).toBeNull();
    expect(github.requests).toHaveLength(1);
  });

  it('createTag posts the annotated tag object, then refs/tags/<name> pointing at it', async () => {
    const tag = await host.createTag({
      name: 'gh-tag-1',
      sha: repo.commits.docs,
      message: 'hello\n\nKey: v',
    });
    expect(tag).toMatchObject({ name: 'gh-tag-1', sha: repo.commits.docs, message: 'hello\n\nKey: v' });
    const [tagPost, refPost] = github.requests;
    expect(tagPost).toMatchObject({
      method: 'POST',
      path: '/repos/acme/dashboard/git/tags',
      body: { tag: 'gh-tag-1', message: 'hello\n\nKey: v', object: repo.commits.docs, type: 'commit' },
      authorization: `token ${TOKEN}`,
    });
    const tagObjectSha = (await repo.git(['rev-parse', 'refs/tags/gh-tag-1'])).trim();
    expect(refPost).toMatchObject({
      method: 'POST',
      path: '/repos/acme/dashboard/git/refs',
      body: { ref: 'refs/tags/gh-tag-1', sha: tagObjectSha },
    });
    expect((await repo.git(['cat-file', '-t', 'gh-tag-1'])).trim()).toBe('tag');
  });

  it('maps 422 "Reference already exists" on the ref to CONFLICT', async () => {
    await host.createTag({ name: 'gh-tag-2', sha: repo.commits.docs, message: 'one' });
    github.requests.length = 0;
    await expect(
      host.createTag({ name: 'gh-tag-2', sha: repo.commits.init, message: 'two' }),
    ).rejects.toSatisfy((e) => isFrontendOpsError(e, 'CONFLICT'));
    expect(github.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /repos/acme/dashboard/git/tags',
      'POST /repos/acme/dashboard/git/refs',
    ]);
  });

  it('listTags reads matching-refs, then the annotated tag objects by oid through GraphQL', async () => {
    await repo.git(['tag', 'ghl-light', repo.commits.init]);
    const annotated = await host.createTag({
      name: 'ghl-annotated',
      sha: repo.commits.infra,
      message: 'annotated message',
    });
    const tagObject = (await repo.git(['rev-parse', 'refs/tags/ghl-annotated'])).trim();
    const fresh = createGitHubHost({ owner: 'acme', repo: 'dashboard', token: TOKEN, baseUrl: github.url });
    github.requests.length = 0;
    expect(await fresh.listTags('ghl-')).toEqual([
      annotated,
      { name: 'ghl-light', sha: repo.commits.init, message: '' },
    ]);
    // Octokit sends the ref URL-encoded (tags%2Fghl-); GitHub decodes it.
    expect(github.requests.map((r) => `${r.method} ${decodeURIComponent(r.path)}`)).toEqual([
      'GET /repos/acme/dashboard/git/matching-refs/tags/ghl-',
      'POST /graphql',
    ]);
    expect(github.requests[1]).toMatchObject({
      authorization: `token ${TOKEN}`,
      body: { variables: { owner: 'acme', name: 'dashboard', t0: tagObject } },
    });
  });

  it('listTags reads a hundred tag objects a GraphQL request, one at a time; its rate limit says when to try again', async () => {
    const names = Array.from({ length: 301 }, (_, i) => `ghq-${String(i).padStart(3, '0')}`);
    const tag = (name: string, i: number) =>
      `tag ${name}\nfrom ${repo.commits.init}\ntagger T <t@example.test> ${1764000000 + i} +0100\ndata 7\nmessage\n`;
    await fastImport(repo.dir, names.map(tag).join(''));
    const now = new Date('2026-12-06T10:00:00Z');
    const fresh = () =>
      createGitHubHost({
        owner: 'acme',
        repo: 'dashboard',
        token: TOKEN,
        baseUrl: github.url,
        now: () => now,
      });
    github.requests.length = 0;
    const tags = await fresh().listTags('ghq-');
    expect(tags).toHaveLength(301);
    // The tagger's own offset (+0100) read as the moment it is.
    expect(tags[0]).toEqual({
      name: 'ghq-000',
      sha: repo.commits.init,
      message: 'message',
      date: new Date(1764000000 * 1000).toISOString(),
    });
    expect(github.requests.map((r) => r.path.split('/')[1])).toEqual([
      'repos',
      'graphql',
      'graphql',
      'graphql',
      'graphql',
    ]);

    // GraphQL has a rate limit of its own; past it, GitHub answers 200 with an error of type RATE_LIMITED.
    github.limitRate({ kind: 'primary', reset: new Date('2026-12-06T10:45:00Z'), path: /^\/graphql$/ });
    const limited = fresh();
    github.requests.length = 0;
    try {
      const error = await limited.listTags('ghq-').catch((e: unknown) => e);
      expect(isFrontendOpsError(error, 'UPSTREAM')).toBe(true);
      expect((error as Error).message).toBe(
        "GitHub read tag objects failed (API rate limit exceeded for installation ID 4242.): the token's rate limit is used up. Try again after 2026-12-06T10:45:00Z (in 45 minutes).",
      );
      // One request at a time: its answer stops the rest, and the last three hundred are not asked for.
      expect(github.requests.filter((r) => r.path === '/graphql')).toHaveLength(1);
    } finally {
      github.limitRate(null);
    }
    // What failed is forgotten: the same host reads the tags once the limit lifts.
    expect(await limited.listTags('ghq-')).toEqual(tags);
  });

  it('listTags without a token (GraphQL answers none) reads tag objects a few at a time, in order, each once per host', async () => {
    // A project with a deploy a day has hundreds of deploy tags; `audit verify --github` and every
    // history view read them all. One by one, 300 tags are 300 round trips in a row.
    const names = Array.from({ length: 12 }, (_, i) => `ghc-${String(i + 1).padStart(2, '0')}`);
    for (const name of names) {
      await host.createTag({ name, sha: repo.commits.init, message: `tag ${name}` });
    }
    const fresh = createGitHubHost({ owner: 'acme', repo: 'dashboard', baseUrl: github.url });
    const tagReads = github.holdRequests(/\/git\/tags\/[0-9a-f]{40}$/);
    github.requests.length = 0;
    const listing = fresh.listTags('ghc-');
    // Eight reads wait at once, no more: GitHub allows 100 concurrent requests per token.
    try {
      await expect.poll(() => tagReads.waiting()).toBe(TAG_READS_AT_ONCE);
    } finally {
      tagReads.release();
    }
    const tags = await listing;
    expect(tagReads.peak()).toBe(TAG_READS_AT_ONCE);
    expect(tags.map((t) => [t.name, t.message])).toEqual(names.map((name) => [name, `tag ${name}`]));

    // Tag objects never change (their sha is their content): listing again reads only the refs, and
    // a new tag costs one read.
    await host.createTag({ name: 'ghc-13', sha: repo.commits.init, message: 'tag ghc-13' });
    github.requests.length = 0;
    expect((await fresh.listTags('ghc-')).map((t) => t.name)).toEqual([...names, 'ghc-13']);
    expect(github.requests.map((r) => `${r.method} ${decodeURIComponent(r.path)}`)).toEqual([
      'GET /repos/acme/dashboard/git/matching-refs/tags/ghc-',
      expect.stringMatching(/^GET \/repos\/acme\/dashboard\/git\/tags\/[0-9a-f]{40}$/),
    ]);
  });

  it('a long-running host keeps the tag objects it read up to a bound, the least recently used let go first', async () => {
    // The console and the MCP git server live for weeks, and anyone who can push can push tags:
    // what a host keeps of them is bounded (TAG_OBJECTS_KEPT; three here).
    const tag = (name: string, i: number) =>
      `tag ${name}\nfrom ${repo.commits.init}\ntagger T <t@example.test> ${1764000000 + i} +0000\ndata 7\nmessage\n`;
    await fastImport(
      repo.dir,
      ['ghk-a1', 'ghk-a2', 'ghk-b1', 'ghk-b2', 'ghk-c1', 'ghk-c2', 'ghk-c3', 'ghk-c4'].map(tag).join(''),
    );
    const kept = createGitHubHost({
      owner: 'acme',
      repo: 'dashboard',
      token: TOKEN,
      baseUrl: github.url,
      tagObjectsKept: 3,
    });
    /** The listing's names, and the tag objects it read: by GraphQL (their count), by REST (requests). */
    const list = async (prefix: string) => {
      github.requests.length = 0;
      const names = (await kept.listTags(prefix)).map((t) => [t.name, t.message]);
      const read = github.requests
        .filter((r) => r.path === '/graphql')
        .flatMap((r) => Object.keys((r.body as { variables: Record<string, unknown> }).variables))
        .filter((name) => /^t\d+$/.test(name)).length;
      const rest = github.requests.filter((r) => r.path.includes('/git/tags/')).length;
      return { names, read, rest };
    };
    expect(await list('ghk-a')).toEqual({
      names: [
        ['ghk-a1', 'message'],
        ['ghk-a2', 'message'],
      ],
      read: 2,
      rest: 0,
    });
    expect((await list('ghk-a')).read).toBe(0);
    // b1, b2 read: a1 (used least recently) is let go; a2 stays.
    expect((await list('ghk-b')).read).toBe(2);
    expect((await list('ghk-a')).read).toBe(1);
    // A listing of more tags than the bound is still read in one pass, none read twice.
    expect(await list('ghk-c')).toMatchObject({ read: 4, rest: 0 });
    expect((await list('ghk-c')).read).toBe(1);
  });

  it('rollback --to <tag> reads the tag of that exact name, not every tag whose name starts with it', async () => {
    // matching-refs answers every ref starting with the name: rollback --to ghx-v1 would read the
    // tag objects of ghx-v1.1, ghx-v10… (anyone who can push can push thousands) to take one.
    await host.createTag({ name: 'ghx-v1', sha: repo.commits.dashboard1, message: 'v1' });
    await host.createTag({ name: 'ghx-v1.1', sha: repo.commits.dashboard2, message: 'v1.1' });
    await host.createTag({ name: 'ghx-v10', sha: repo.commits.dashboard2, message: 'v10' });
    await repo.git(['tag', 'ghx-v1-light', repo.commits.dashboard2]);
    for (const token of [TOKEN, undefined]) {
      const fresh = createGitHubHost({
        owner: 'acme',
        repo: 'dashboard',
        baseUrl: github.url,
        ...(token ? { token } : {}),
      });
      const where = { command: 'rollback', stack: 'prod' } as const;
      github.requests.length = 0;
      expect(await releaseNamed('ghx-v1', fresh, where)).toBe(repo.commits.dashboard1);
      const tagObject = (await repo.git(['rev-parse', 'refs/tags/ghx-v1'])).trim();
      // The ref by its exact name, then its one tag object (GraphQL with a token, REST without).
      expect(github.requests.map((r) => `${r.method} ${decodeURIComponent(r.path)}`)).toEqual([
        'GET /repos/acme/dashboard/git/ref/tags/ghx-v1',
        token ? 'POST /graphql' : `GET /repos/acme/dashboard/git/tags/${tagObject}`,
      ]);
      // That one object, no other.
      const asked = (github.requests[1]?.body as { variables?: unknown } | undefined)?.variables;
      if (token) expect(asked).toEqual({ owner: 'acme', name: 'dashboard', t0: tagObject });
      // Only longer names exist: no such tag, nothing more read than the ref asked for.
      github.requests.length = 0;
      await expect(releaseNamed('ghx-v', fresh, where)).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: expect.stringContaining('"ghx-v" is not a release rollback --to can take'),
      });
      expect(github.requests.map((r) => `${r.method} ${decodeURIComponent(r.path)}`)).toEqual([
        'GET /repos/acme/dashboard/git/ref/tags/ghx-v',
      ]);
      // A lightweight tag is its commit, with no tag object to read.
      expect(await releaseNamed('ghx-v1-light', fresh, where)).toBe(repo.commits.dashboard2);
    }
  });

  it('deploy tags work end to end on the GitHub backend, idempotent per deploy id', async () => {
    const input = {
      deployId: `${repo.commits.dashboard2.slice(0, 7)}-0000000001`,
      sha: repo.commits.dashboard2,
      artifactDigest: DIGEST,
      request: 'Deploy it',
      now: new Date('2026-11-25T12:00:00Z'),
    };
    const first = await createDeployTag(host, input);
    const again = await createDeployTag(host, input);
    expect(first).toMatchObject({ name: 'dashboard-deploy-20261125-1', created: true });
    expect(again).toMatchObject({ name: first.name, created: false });
    expect((await listDeployTags(host)).map((t) => t.deployId)).toEqual([input.deployId]);
    // One tag object + one ref written (the listings read through GraphQL, a POST too).
    expect(github.requests.filter((r) => r.method === 'POST' && r.path !== '/graphql')).toHaveLength(2);
  });

  it('a deploy tag name a tag below it holds is skipped; one of another case is not (GitHub keeps them apart)', async () => {
    // refs/tags/<day>-1/x keeps any git, GitHub's too, from making refs/tags/<day>-1.
    await repo.git(['tag', 'dashboard-deploy-20261125-1/x', repo.commits.init]);
    await repo.git(['tag', 'DASHBOARD-DEPLOY-20261125-2', repo.commits.init]);
    const made = await createDeployTag(host, {
      deployId: `${repo.commits.dashboard2.slice(0, 7)}-0000000002`,
      sha: repo.commits.dashboard2,
      artifactDigest: DIGEST,
      request: 'Deploy it',
      now: new Date('2026-11-25T12:00:00Z'),
    });
    expect(made).toMatchObject({ name: 'dashboard-deploy-20261125-2', created: true });
    // Asked once: no name was refused on the way.
    expect(github.requests.filter((r) => r.path.endsWith('/git/refs'))).toHaveLength(1);
  });

  it("a deploy tag pushed ahead with the deploy id, or moved, is not taken as the deployment's", async () => {
    // Pushed by someone with contents: write (here, into the repository behind the double).
    const input = {
      deployId: `${repo.commits.dashboard1.slice(0, 7)}-0000000077`,
      sha: repo.commits.dashboard1,
      artifactDigest: DIGEST,
      request: 'Deploy it',
      stack: 'prod',
      auditHead: `3:sha256:${'a'.repeat(64)}`,
      now: new Date('2026-11-27T12:00:00Z'),
    };
    const forged = formatDeployMessage({ ...input, auditHead: `3:sha256:${'b'.repeat(64)}` });
    await repo.git([
      'tag',
      '-a',
      '--cleanup=verbatim',
      '-m',
      forged,
      'dashboard-deploy-20261127-1',
      input.sha,
    ]);
    const made = await createDeployTag(host, input);
    expect(made).toMatchObject({ name: 'dashboard-deploy-20261127-2', created: true });
    expect(await readAuditAnchors(host, 'prod')).toContainEqual({
      seq: 3,
      hash: `sha256:${'a'.repeat(64)}`,
      source: 'deploy tag dashboard-deploy-20261127-2',
      deployment: { deployId: input.deployId, commit: input.sha, artifactDigest: input.artifactDigest },
    });
    expect((await readDeployTags(host)).get(input.deployId)).toBeUndefined();
    // Moved to another commit, the true tag records nothing.
    const message = formatDeployMessage(input);
    await repo.git(['tag', '-f', '-a', '--cleanup=verbatim', '-m', message, made.name, repo.commits.init]);
    expect(await readAuditAnchors(host, 'prod')).not.toContainEqual(
      expect.objectContaining({ source: `deploy tag ${made.name}` }),
    );
  });

  it('a wrong token is an UPSTREAM error that says what to check and never repeats the token', async () => {
    const wrong = createGitHubHost({
      owner: 'acme',
      repo: 'dashboard',
      token: 'ghs_wrong_token',
      baseUrl: github.url,
    });
    const error = await wrong.latestCommit('apps').catch((e: unknown) => e);
    expect(isFrontendOpsError(error, 'UPSTREAM')).toBe(true);
    expect((error as Error).message).toMatch(/401: Bad credentials.*GITHUB_TOKEN/);
    expect((error as Error).message).not.toContain('ghs_wrong_token');
  });

  it('a used-up rate limit is an UPSTREAM error saying when to try again, sending nothing more', async () => {
    // GitHub's primary limit (5,000 requests an hour for a token, 1,000 for a workflow's
    // GITHUB_TOKEN) answers 403 or 429 with x-ratelimit-remaining 0 until x-ratelimit-reset.
    const now = new Date('2026-12-06T10:00:00Z');
    const clocked = createGitHubHost({
      owner: 'acme',
      repo: 'dashboard',
      token: TOKEN,
      baseUrl: github.url,
      now: () => now,
    });
    try {
      github.limitRate({ kind: 'primary', reset: new Date('2026-12-06T10:17:00Z') });
      const error = await clocked.listTags('ghr-').catch((e: unknown) => e);
      expect(isFrontendOpsError(error, 'UPSTREAM')).toBe(true);
      expect((error as Error).message).toBe(
        "GitHub list tags failed (HTTP 403: API rate limit exceeded for installation ID 4242.): the token's rate limit is used up. Try again after 2026-12-06T10:17:00Z (in 17 minutes).",
      );
      // Octokit's own retries would only spend more of the limit: one request, one answer.
      expect(github.requests).toHaveLength(1);

      // The secondary limit (too many requests at once or too fast) says how long in retry-after.
      github.requests.length = 0;
      github.limitRate({ kind: 'secondary', retryAfterSeconds: 60, status: 429 });
      const secondary = await clocked.getCommit('main').catch((e: unknown) => e);
      expect(isFrontendOpsError(secondary, 'UPSTREAM')).toBe(true);
      expect((secondary as Error).message).toMatch(
        /^GitHub get commit failed \(HTTP 429: You have exceeded a secondary rate limit\..*\): GitHub's secondary rate limit \(too many requests at once or too fast\) stopped it\. Try again after 2026-12-06T10:01:00Z \(in 1 minute\)\.$/,
      );
      expect((secondary as Error).message).not.toContain(TOKEN);
      expect(github.requests).toHaveLength(1);
      // A clock between seconds (the real one): the time said is the next whole second, not past it
      // by a fraction, as GitHub's own times are.
      const between = createGitHubHost({
        owner: 'acme',
        repo: 'dashboard',
        token: TOKEN,
        baseUrl: github.url,
        now: () => new Date('2026-12-06T10:00:00.250Z'),
      });
      const rounded = await between.getCommit('main').catch((e: unknown) => e);
      expect((rounded as Error).message).toContain('Try again after 2026-12-06T10:01:01Z (in 1 minute).');
      expect((rounded as FrontendOpsError).details).toEqual({ retryAt: '2026-12-06T10:01:01.000Z' });

      // GraphQL answers a secondary limit with 200 and an error whose message says so (or 403): the
      // tag objects' read says when to try again, as the REST answer does.
      github.limitRate(null);
      await host.createTag({ name: 'ghr-1', sha: repo.commits.init, message: 'one' });
      github.requests.length = 0;
      github.limitRate({ kind: 'secondary', retryAfterSeconds: 120, status: 200, path: /^\/graphql$/ });
      const graphql = await clocked.listTags('ghr-').catch((e: unknown) => e);
      expect(isFrontendOpsError(graphql, 'UPSTREAM')).toBe(true);
      expect((graphql as Error).message).toMatch(
        /^GitHub read tag objects failed \(You have exceeded a secondary rate limit\..*\): GitHub's secondary rate limit \(too many requests at once or too fast\) stopped it\. Try again after 2026-12-06T10:02:00Z \(in 2 minutes\)\.$/,
      );
      expect(github.requests.map((r) => r.path)).toEqual([
        '/repos/acme/dashboard/git/matching-refs/tags%2Fghr-',
        '/graphql',
      ]);
    } finally {
      github.limitRate(null);
    }
  });

  it('refuses bad input before sending anything', async () => {
    await expect(host.getCommit('--upload-pack=x')).rejects.toSatisfy((e) =>
      isFrontendOpsError(e, 'BAD_INPUT'),
    );
    await expect(host.latestCommit('../x')).rejects.toSatisfy((e) => isFrontendOpsError(e, 'BAD_INPUT'));
    const tag = { name: 'gh-bad', sha: repo.commits.init, message: 'm' };
    for (const bad of [{ name: '-d' }, { sha: 'main' }, { message: 'a\0b' }]) {
      await expect(host.createTag({ ...tag, ...bad })).rejects.toSatisfy((e) =>
        isFrontendOpsError(e, 'BAD_INPUT'),
      );
    }
    await expect(host.listTags('--x')).rejects.toSatisfy((e) => isFrontendOpsError(e, 'BAD_INPUT'));
    expect(() => createGitHubHost({ owner: 'a/b', repo: 'c' })).toThrow(/owner\/name/);
    expect(github.requests).toEqual([]);
  });
});
