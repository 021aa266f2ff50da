/**
 * A deploy tag pushed by someone who can push to the repository, on the deployment's own commit with
 * its deploy id, but recording another build, or another stack, and no audit head, after they deleted
 * the deployment's true tag. It is on the right commit, so listDeployTags keeps its trailers; before,
 * `status`, `history` and the console named it as that deployment's tag (and `audit verify` has no
 * audit head in it to check). The readers now hold a tag to the deployment it is named beside.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { loadConfig } from '../../src/config.ts';
import { tagChange } from '../../src/console/releases.ts';
import { createConsoleService } from '../../src/console/service.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { DeploySummary } from '../../src/deploy/types.ts';
import { formatDeployMessage } from '../../src/git/deploy-tag.ts';
import type { GitHost } from '../../src/ports.ts';
import { readHistory } from '../../src/read/history.ts';
import { readStatus } from '../../src/read/status.ts';
import { readDeployTags } from '../../src/read/tags.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';

const APP = 'sophia-dashboard';
const FORGED = 'dashboard-deploy-20991231-1';
const request = (text: string): RequestInfo => ({
  text,
  actor: 'ada',
  planner: 'cli',
  at: new Date().toISOString(),
});

let t: TestDeployEnv;
let repo: TestRepo;
let git: GitHost;
let first: DeploySummary;
let second: DeploySummary;
let tags: { first: string; second: string };
let stack: string;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'forged-tag-record' });
  stack = t.site.target.stack;
  repo = await createTestRepo();
  git = createLocalGit({ repoDir: repo.dir });
  await publishFixtureBuilds(t, APP, [repo.commits.dashboard1, repo.commits.dashboard2]);
  const tagged = async (commit: string) => {
    const asked = request(`ship ${commit.slice(0, 7)}`);
    const summary = await deployArtifact(t.site, { app: APP, commit, request: asked });
    return { summary, tag: String(await tagChange(git, summary, asked, t.site.target)) };
  };
  const one = await tagged(repo.commits.dashboard1);
  const two = await tagged(repo.commits.dashboard2);
  [first, second] = [one.summary, two.summary];
  tags = { first: one.tag, second: two.tag };
}, 120_000);
afterAll(async () => {
  await repo?.cleanup();
  await t?.stop();
});

/** What the readers name beside `second`: status (live), history, the console's deployment page. */
async function named(): Promise<{ status: unknown; history: unknown; console: unknown; first: unknown }> {
  const service = createConsoleService({
    config: await loadConfig(t.tmp, {}),
    stacks: [stack],
    openSite: async () => t.site,
    git,
  });
  const [status, history, details] = await Promise.all([
    readStatus(t.site, await readDeployTags(git)),
    readHistory(t.site, { tags: await readDeployTags(git) }),
    service.deployment(stack, second.deployId),
  ]);
  const row = (id: string) => history.deployments.find((d) => d.deployId === id)?.tag;
  return {
    status: status.live?.tag,
    history: row(second.deployId),
    console: details.tag,
    first: row(first.deployId),
  };
}

/** The pusher: the true tag of `second` deleted, one of their own pushed on its commit. */
async function forge(trailers: { artifactDigest: string; stack?: string }) {
  await repo.git(['tag', '-d', tags.second]).catch(() => '');
  const message = formatDeployMessage({
    deployId: second.deployId,
    sha: second.commit,
    request: 'ship it (approved by the CTO)',
    artifactDigest: trailers.artifactDigest,
    ...(trailers.stack ? { stack: trailers.stack } : {}),
  });
  await repo.git(['tag', '-f', '-a', '--cleanup=verbatim', '-m', message, FORGED, second.commit]);
}

beforeEach(async () => {
  // Each case starts from the true tags.
  await repo.git(['tag', '-d', FORGED]).catch(() => '');
  const have = (await repo.git(['tag', '-l', tags.second])).trim();
  if (!have) {
    const asked = request(`ship ${second.commit.slice(0, 7)}`);
    tags.second = String(await tagChange(git, second, asked, t.site.target));
  }
});

describe('a deploy tag on the right commit with its deploy id', () => {
  it('recording what the deployment did is named beside it', async () => {
    expect(await named()).toEqual({
      status: tags.second,
      history: tags.second,
      console: tags.second,
      first: tags.first,
    });
  });

  it('recording another build is named beside it by no reader', async () => {
    expect(first.artifactDigest).not.toBe(second.artifactDigest);
    await forge({ artifactDigest: first.artifactDigest, stack });
    expect(await named()).toEqual({ status: null, history: null, console: null, first: tags.first });
  });

  it('recording another stack is named beside it by no reader', async () => {
    await forge({ artifactDigest: second.artifactDigest, stack: 'staging' });
    expect(await named()).toMatchObject({ status: null, history: null, console: null });
  });

  it('recording no stack (as the first versions made tags) is held to its commit and build', async () => {
    await forge({ artifactDigest: first.artifactDigest });
    expect(await named()).toMatchObject({ status: null, history: null, console: null });
    await forge({ artifactDigest: second.artifactDigest });
    expect(await named()).toMatchObject({ status: FORGED, history: FORGED, console: FORGED });
  });
});
