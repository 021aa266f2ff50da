import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { connectInfra, type InfraClient } from '../support/mcp-infra.ts';
import { receiptFor } from '../support/receipts.ts';

const DIGEST = `sha256:${'cd'.repeat(32)}`;

let repo: TestRepo;
let c: InfraClient;

beforeAll(async () => {
  repo = await createTestRepo();
  // Served as `frontendops mcp git` serves it, to a real MCP client (the suite's, for any MCP server).
  c = await connectInfra(
    createGitServer({
      host: createLocalGit({ repoDir: repo.dir }),
      defaultPath: 'apps/sophia-dashboard',
    }),
    { name: 'test' },
  );
});
afterAll(async () => {
  await c?.close();
  await repo?.cleanup();
});

const call = (name: string, args: Record<string, unknown> = {}) => c.call(name, args);
/** The repository's tags: a case that must make none compares them with what it started from. */
const tagList = async () => (await repo.git(['tag', '-l'])).trim();

describe('git MCP server through a real MCP client (in-memory transport)', () => {
  it('lists the tools with schemas and annotations true to what they do', async () => {
    const { tools } = await c.client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual([
      'commits_between',
      'create_deploy_tag',
      'get_commit',
      'latest_commit',
      'list_deploy_tags',
    ]);
    for (const name of ['latest_commit', 'get_commit', 'list_deploy_tags', 'commits_between']) {
      expect(byName[name]?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    }
    expect(byName.create_deploy_tag?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: true,
    });
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(60);
      expect(tool.outputSchema?.type).toBe('object');
    }
    expect(byName.create_deploy_tag?.inputSchema.required).toEqual(
      expect.arrayContaining(['deployId', 'commit', 'artifactDigest', 'request']),
    );
  });

  it('latest_commit defaults to the dashboard directory', async () => {
    const result = await call('latest_commit');
    expect(result.isError).toBeFalsy();
    expect(result.structured).toMatchObject({
      path: 'apps/sophia-dashboard',
      commit: { sha: repo.commits.dashboard2, message: 'dashboard: add App\n\nLonger body line.' },
    });
    expect(result.text).toContain(repo.commits.dashboard2.slice(0, 7));
  });

  it('latest_commit takes a path and a ref, and answers commit: null when nothing touched the path', async () => {
    const infra = await call('latest_commit', { path: 'infra', ref: repo.commits.dashboard2 });
    expect(infra.structured).toMatchObject({ commit: { sha: repo.commits.infra } });
    const none = await call('latest_commit', { path: 'nowhere' });
    expect(none.isError).toBeFalsy();
    expect(none.structured).toMatchObject({ commit: null });
  });

  it('an app at the repository top ("."): its commits are the repository\'s, said without "touching ."', async () => {
    const latest = await call('latest_commit', { path: '.', ref: repo.commits.docs });
    expect(latest.structured).toMatchObject({ path: '.', commit: { sha: repo.commits.docs } });
    expect(latest.text).toMatch(
      new RegExp(`^Latest commit on ${repo.commits.docs}: ${repo.commits.docs.slice(0, 7)}`),
    );
    const between = await call('commits_between', {
      base: repo.commits.init,
      head: repo.commits.docs,
      path: './',
    });
    expect(between.text).toMatch(
      new RegExp(`^\\d+ commit\\(s\\) in ${repo.commits.docs} but not in ${repo.commits.init};`),
    );
    const none = await call('commits_between', {
      base: repo.commits.docs,
      head: repo.commits.docs,
      path: '.',
    });
    expect(none.text).toMatch(
      new RegExp(`^No commit is in ${repo.commits.docs} but not in ${repo.commits.docs}\\.`),
    );
    for (const result of [latest, between, none]) expect(result.text).not.toMatch(/touch/);
  });

  it('get_commit returns details, and an isError result naming the problem for an unknown commit', async () => {
    const found = await call('get_commit', { ref: repo.commits.infra.slice(0, 7) });
    expect(found.structured).toMatchObject({
      commit: { sha: repo.commits.infra, author: 'Ada Release' },
    });
    const missing = await call('get_commit', { ref: 'feedfacefeedface' });
    expect(missing.isError).toBe(true);
    expect(missing.text).toMatch(/NOT_FOUND: .*feedfacefeedface.*latest_commit/);
  });

  it('bad arguments come back as isError results that say what was expected, and nothing runs', async () => {
    const tagsBefore = await tagList();
    const optionLike = await call('get_commit', { ref: '--output=/tmp/pwned' });
    expect(optionLike.isError).toBe(true);
    expect(optionLike.text).toMatch(/ref.*must not start with "-"/);
    const badTag = await call('create_deploy_tag', {
      deployId: 'dep-x',
      commit: 'zzz',
      artifactDigest: DIGEST,
      request: 'Deploy',
    });
    expect(badTag.isError).toBe(true);
    expect(badTag.text).toMatch(
      /the argument "commit": expected a commit sha: 7 to 64 lower-case hex digits/,
    );
    expect(badTag.text).not.toMatch(/\n\s+at /); // no stack trace
    expect(await tagList()).toBe(tagsBefore);
  });

  it('create_deploy_tag tags only what a receipt of the infra server vouches for', async () => {
    const tagsBefore = await tagList();
    // A client of the git server alone: it invents a deployment, or takes a true one and changes its
    // commit or audit head (a head past the chain's end makes audit verify report it rewritten).
    const deployId = `${repo.commits.docs.slice(0, 7)}-0000000009`;
    const truth = { stack: 'prod', deployId, commit: repo.commits.docs, artifactDigest: DIGEST };
    const head = `7:sha256:${'ab'.repeat(32)}`;
    const args = { deployId, commit: repo.commits.docs, artifactDigest: DIGEST, request: 'Deploy' };
    const refusals = [
      [{ ...args }, /the argument "receipt": Invalid input/],
      [{ ...args, receipt: 'fr1.e30.AAAA' }, /receipt is not one the infra server issued/],
      [
        { ...args, receipt: `${(await receiptFor({ ...truth, auditHead: head })).slice(0, -2)}AA` },
        /not one the infra server issued/,
      ],
      [
        {
          ...args,
          auditHead: `999:sha256:${'aa'.repeat(32)}`,
          receipt: await receiptFor({ ...truth, auditHead: head }),
        },
        /disagrees on its audit head/,
      ],
      [
        {
          ...args,
          deployId: `${repo.commits.docs.slice(0, 7)}-0000000008`,
          receipt: await receiptFor(truth),
        },
        /disagrees on its deploy id/,
      ],
    ] as const;
    for (const [given, message] of refusals) {
      const refused = await call('create_deploy_tag', given);
      expect(refused.isError, JSON.stringify(given)).toBe(true);
      expect(refused.text).toMatch(message);
      // What was left as it was is said once ("Nothing was created. Nothing was changed;" before).
      expect(refused.text.match(/Nothing was (?:changed|created)/g)?.length ?? 0).toBeLessThanOrEqual(1);
    }
    expect(await tagList()).toBe(tagsBefore);
    // The receipt's own values are what the tag says, the audit head and the stack included.
    const made = await call('create_deploy_tag', {
      ...args,
      receipt: await receiptFor({ ...truth, auditHead: head }),
    });
    expect(made.structured).toMatchObject({ created: true, deployId, auditHead: head, stack: 'prod' });
    await repo.git(['tag', '-d', (made.structured as { name: string }).name]);
    // The head as invalidate_cdn returns it ({seq, hash}) is taken as it is, and held to the receipt.
    const asReturned = { seq: 7, hash: `sha256:${'ab'.repeat(32)}` };
    const again = await call('create_deploy_tag', {
      ...args,
      auditHead: asReturned,
      receipt: await receiptFor({ ...truth, auditHead: head }),
    });
    expect(again.isError, again.text).toBe(false);
    expect(again.structured).toMatchObject({ created: true, auditHead: head });
    await repo.git(['tag', '-d', (again.structured as { name: string }).name]);
    const other = await call('create_deploy_tag', {
      ...args,
      auditHead: { ...asReturned, seq: 8 },
      receipt: await receiptFor({ ...truth, auditHead: head }),
    });
    expect(other.text).toMatch(/disagrees on its audit head/);
    const malformed = await call('create_deploy_tag', { ...args, auditHead: { seq: 7 }, receipt: 'x' });
    expect(malformed.text).toMatch(
      /the argument "auditHead": expected the auditHead the infra server returned: as it returned it/,
    );
    expect(await tagList()).toBe(tagsBefore);
  });

  it('create_deploy_tag creates the tag once; the same deploy id returns the first tag', async () => {
    const deployId = `${repo.commits.dashboard2.slice(0, 7)}-0000000001`;
    const args = {
      deployId,
      commit: repo.commits.dashboard2,
      artifactDigest: DIGEST,
      request: 'Deploy the latest dashboard',
      receipt: await receiptFor({
        stack: 'prod',
        deployId,
        commit: repo.commits.dashboard2,
        artifactDigest: DIGEST,
      }),
    };
    const first = await call('create_deploy_tag', args);
    expect(first.isError).toBeFalsy();
    expect(first.structured).toMatchObject({
      name: expect.stringMatching(/^dashboard-deploy-\d{8}-1$/),
      sha: repo.commits.dashboard2,
      created: true,
      deployId: args.deployId,
      artifactDigest: DIGEST,
    });
    const second = await call('create_deploy_tag', args);
    expect(second.structured).toMatchObject({
      name: (first.structured as { name: string }).name,
      created: false,
    });
    expect((await repo.git(['tag', '-l', 'dashboard-deploy-*'])).trim().split('\n')).toHaveLength(1);

    const listed = await call('list_deploy_tags');
    expect(listed.structured).toMatchObject({
      tags: [{ deployId: args.deployId, artifactDigest: DIGEST, sha: repo.commits.dashboard2 }],
    });
  });

  it('commits_between: what a release adds, touching the app directory, newest first, with subject and author', async () => {
    const result = await call('commits_between', { base: repo.commits.init, head: repo.commits.docs });
    expect(result.isError).toBeFalsy();
    expect(result.structured).toMatchObject({
      path: 'apps/sophia-dashboard',
      truncated: false,
      commits: [
        {
          sha: repo.commits.dashboard2,
          message: 'dashboard: add App\n\nLonger body line.',
          author: 'Ada Release',
        },
        { sha: repo.commits.dashboard1, message: 'dashboard: first page' },
      ],
    });
    expect(result.text).toMatch(/^2 commit\(s\) touching apps\/sophia-dashboard/);
    const unknown = await call('commits_between', { base: 'no-such-ref', head: repo.commits.docs });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/^NOT_FOUND: Unknown ref "no-such-ref"/);
    const option = await call('commits_between', { base: '--output=/tmp/x', head: 'main' });
    expect(option.isError).toBe(true);
  });
});
