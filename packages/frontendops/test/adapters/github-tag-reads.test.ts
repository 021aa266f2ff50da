/**
 * What listing deploy tags costs on the GitHub backend as they pile up (a deploy a day for years, or
 * someone who pushes tags by the thousand), in requests to GitHub: a token has 5,000 an hour, a
 * workflow's GITHUB_TOKEN 1,000 per repository. Every reader of deploy tags reads all of them (a tag
 * pushed under any name can contradict a deployment's true one), and each annotated tag's message
 * lives in its tag object: the refs answer names the objects, one request for all of them, and the
 * objects are read a hundred to a GraphQL request. The tags are pushed into the repository behind the
 * GitHub double (test/support/github-double.ts) as someone with `contents: write` would.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGitHubHost } from '../../src/adapters/github.ts';
import { createDeployTag, formatDeployMessage, listDeployTags } from '../../src/git/deploy-tag.ts';
import { readAuditAnchors, readDeployTags } from '../../src/read/tags.ts';
import { createTestRepo, fastImport, type TestRepo } from '../support/git-repo.ts';
import { type GitHubDouble, startGitHubDouble } from '../support/github-double.ts';

const TOKEN = 'ghs_tagreads0123456789';
const DIGEST = `sha256:${'34'.repeat(32)}`;
const DAY = 86_400_000;
const FIRST_DAY = Date.parse('2021-01-01T12:00:00Z');

/** `count` deploy tags of stack prod, three a day from FIRST_DAY on, pushed in one fast-import. */
async function pushDeployTags(repo: TestRepo, count: number): Promise<void> {
  const sha = repo.commits.dashboard2;
  let stream = '';
  for (let i = 0; i < count; i++) {
    const when = new Date(FIRST_DAY + Math.floor(i / 3) * DAY);
    const name = `dashboard-deploy-${when.toISOString().slice(0, 10).replaceAll('-', '')}-${(i % 3) + 1}`;
    const message = `${formatDeployMessage({
      deployId: `${sha.slice(0, 7)}-${i.toString(16).padStart(10, '0')}`,
      sha,
      artifactDigest: DIGEST,
      request: `Deploy number ${i}`,
      stack: 'prod',
      auditHead: `${i + 1}:sha256:${(i % 16).toString(16).repeat(64)}`,
      now: when,
    })}\n`;
    const tagger = `tagger frontendops-bot <bot@example.test> ${when.getTime() / 1000} +0000`;
    stream += `tag ${name}\nfrom ${sha}\n${tagger}\ndata ${Buffer.byteLength(message)}\n${message}\n`;
  }
  await fastImport(repo.dir, stream);
}

/** Each request as "POST graphql", "GET git/matching-refs", "GET git/tags"… */
const kinds = (github: GitHubDouble) =>
  github.requests.map((r) =>
    r.path === '/graphql' ? 'graphql' : `${r.method} ${r.path.split('/').slice(4, 6).join('/')}`,
  );

describe.each([20, 500, 2000])('%i deploy tags on the GitHub backend', (count) => {
  let repo: TestRepo;
  let github: GitHubDouble;
  const host = ({ anonymous = false } = {}) =>
    createGitHubHost({
      owner: 'acme',
      repo: 'dashboard',
      baseUrl: github.url,
      ...(anonymous ? {} : { token: TOKEN }),
    });
  // The refs answer (one request), then a GraphQL request per hundred tag objects.
  const listing = ['GET git/matching-refs', ...Array<string>(Math.ceil(count / 100)).fill('graphql')];

  beforeAll(async () => {
    repo = await createTestRepo();
    github = await startGitHubDouble({ owner: 'acme', repo: 'dashboard', repoDir: repo.dir, token: TOKEN });
    await pushDeployTags(repo, count);
  });
  afterAll(async () => {
    await github?.close();
    await repo?.cleanup();
  });
  beforeEach(() => {
    github.requests.length = 0;
  });

  it("the console's status, history and deployment pages: one listing, then the refs alone", async () => {
    const page = host();
    const names = await readDeployTags(page);
    expect(names.size).toBe(count);
    expect(kinds(github)).toEqual(listing);
    // The next page of the same console (a long-lived host): tag objects never change.
    github.requests.length = 0;
    expect((await readDeployTags(page)).size).toBe(count);
    expect(kinds(github)).toEqual(['GET git/matching-refs']);
  });

  it('two pages of one console at once read each tag object once', async () => {
    const page = host();
    const [status, history] = await Promise.all([readDeployTags(page), readDeployTags(page)]);
    expect(history).toEqual(status);
    expect(kinds(github).sort()).toEqual(['GET git/matching-refs', ...listing].sort());
  });

  it('`audit verify --github` reads every anchor at the same cost', async () => {
    const anchors = await readAuditAnchors(host(), 'prod');
    expect(anchors).toHaveLength(count);
    expect(anchors).toContainEqual({
      seq: count,
      hash: `sha256:${((count - 1) % 16).toString(16).repeat(64)}`,
      source: expect.stringMatching(/^deploy tag dashboard-deploy-\d{8}-\d$/),
      deployment: { deployId: expect.any(String), commit: expect.any(String), artifactDigest: DIGEST },
    });
    expect(kinds(github)).toEqual(listing);
  });

  it('a deploy lists the tags once, then writes its tag object and ref', async () => {
    const tag = await createDeployTag(host(), {
      deployId: `${repo.commits.docs.slice(0, 7)}-${'f'.repeat(10)}`,
      sha: repo.commits.docs,
      artifactDigest: DIGEST,
      request: 'Deploy the latest dashboard',
      stack: 'prod',
      now: new Date(FIRST_DAY),
    });
    // Three tags a day from FIRST_DAY on: the next number of that day.
    expect(tag).toMatchObject({ name: 'dashboard-deploy-20210101-4', created: true });
    expect(kinds(github)).toEqual([...listing, 'POST git/tags', 'POST git/refs']);
    // The other cases count the tags pushed, whichever ran before.
    await repo.git(['tag', '-d', tag.name]);
  });

  it.runIf(count === 20)(
    'without a token (GraphQL answers none) it reads a tag object per request',
    async () => {
      // The refs, then each tag object.
      const anonymous = await listDeployTags(host({ anonymous: true }));
      expect(anonymous).toHaveLength(count);
      expect(kinds(github)).toEqual(['GET git/matching-refs', ...Array<string>(count).fill('GET git/tags')]);
      // The same listing either way.
      github.requests.length = 0;
      expect(await listDeployTags(host())).toEqual(anonymous);
    },
  );
});
