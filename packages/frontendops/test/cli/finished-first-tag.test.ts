/**
 * A deploy stopped after it made its release live (before its record and its deploy tag), then a
 * deploy of another build through the CLI in a git repository: the run finishes the stopped deploy
 * first, then deploys its own build, and tags both, each as its own run would (the stopped one's
 * build, request and the audit head after its finish). Before, only the run's own change was tagged:
 * the deployment it finished went live and was recorded with no deploy tag.
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { parseTrailers, WORDS_CUT } from '../../src/git/deploy-tag.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { type CliTagEnv, startCliTagEnv } from '../support/cli-tag-env.ts';
import { publishFixtureBuilds, requestBy } from '../support/deploy-env.ts';
import { type RepoSnapshot, snapshotRepo } from '../support/git-repo.ts';
import { agentListsDeployTags } from '../support/mcp-infra.ts';
import { stoppingSite } from '../support/stopping-site.ts';

let s: CliTagEnv;
// Each case starts from the stack with nothing deployed and the repository with no tags.
let clean: [BucketSnapshot, RepoSnapshot];
beforeAll(async () => {
  s = await startCliTagEnv('finished-first-tag');
  clean = await Promise.all([snapshotStack(s.t.site), snapshotRepo(s.repo)]);
});
beforeEach(async () => {
  await Promise.all(clean.map((snapshot) => snapshot.restore()));
});
afterAll(() => s?.stop());

const trailersOf = async (tag: string) =>
  parseTrailers(await s.repo.git(['tag', '-l', '--format=%(contents)', tag]));

it('a deploy that finishes a stopped deploy of another build first tags that one too', async () => {
  // dashboard1 deployed and tagged; dashboard2's deploy stopped: live, not recorded, not tagged.
  const stopped = await s.stoppedAfterFirstDeploy({ text: 'ship the totals fix', actor: 'rm-bob' });

  // dashboard1 again: the run finishes dashboard2's deploy first, then goes back to dashboard1.
  const again = await s.run([
    'deploy',
    '--stack',
    s.outputs,
    '--commit',
    s.repo.commits.dashboard1,
    '--json',
  ]);
  expect(again.code, again.stderr).toBe(0);
  const summary = JSON.parse(again.stdout);
  expect(summary.finishedFirst).toBe(stopped);
  expect(summary.tag).toMatch(/^dashboard-deploy-/);
  // Before, there was no finishedFirstTag, and only the run's own tag was made.
  expect(summary.finishedFirstTag).toMatch(/^dashboard-deploy-/);
  expect(summary.finishedFirstTag).not.toBe(summary.tag);
  expect(await s.tags()).toHaveLength(3);

  const record = await s.t.site.records.readRecord(stopped);
  expect(record?.outcome).toBe('succeeded');
  const finished = await trailersOf(summary.finishedFirstTag);
  expect(finished).toMatchObject({
    'Deploy-Id': stopped,
    'Artifact-Digest': record?.artifactDigest,
    Stack: 'finished-first-tag',
    Request: 'ship the totals fix',
  });
  expect((await s.repo.git(['rev-list', '-n', '1', summary.finishedFirstTag])).trim()).toBe(
    s.repo.commits.dashboard2,
  );
  const own = await trailersOf(summary.tag);
  expect(own['Deploy-Id']).toBe(summary.deployId);
  // Each tag's audit head is one the chain has: the finish's before the run's own.
  const [seqFirst, seqOwn] = [finished['Audit-Head'], own['Audit-Head']].map((h) =>
    Number(String(h).split(':')[0]),
  );
  expect(seqFirst).toBeLessThan(seqOwn as number);
  expect(await verifyAudit(s.t.site.state, s.t.target.statePrefix)).toMatchObject({ ok: true });
  const verified = await s.run(['audit', 'verify', '--stack', s.outputs, '--repo', s.repo.dir]);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
});

/** dashboard2's deploy asked in `words`, stopped after it went live; then dashboard1 through the CLI. */
async function finishFirst(words: { text: string; message?: string }) {
  const stopped = await s.stoppedDeploy({ ...words, actor: 'rm-bob' });
  const tagsBefore = await s.tags();
  const run = await s.run(['deploy', '--stack', s.outputs, '--commit', s.repo.commits.dashboard1, '--json']);
  const made = (await s.tags()).filter((t) => !tagsBefore.includes(t));
  return { stopped, run, made };
}

it('words too long for a tag together (request and message) are cut for the finished deploy’s tag', async () => {
  const { stopped, run, made } = await finishFirst({
    text: `ship ${'the totals fix '.repeat(130)}`,
    message: 'why '.repeat(400),
  });
  // Before: the finished deploy's tag was refused (over 2000 characters), the run failed, no tag made.
  expect(run.code, run.stderr).toBe(0);
  const summary = JSON.parse(run.stdout);
  expect(made.sort()).toEqual([summary.finishedFirstTag, summary.tag].sort());
  const words = await s.repo.git(['tag', '-l', '--format=%(contents)', summary.finishedFirstTag]);
  expect(words).toContain(`Deploy-Id: ${stopped}`);
  expect(words).toContain(WORDS_CUT);
});

it('a finished deploy’s tag that cannot be made does not keep the run’s own from being made', async () => {
  const { stopped, run, made } = await finishFirst({ text: 'ship \u202e the totals fix' });
  // Before: the refused tag failed the run (exit 2) after its change, and its own tag was not made.
  expect(run.code, run.stderr).toBe(0);
  const summary = JSON.parse(run.stdout);
  expect(made).toEqual([summary.tag]);
  expect(summary.finishedFirstTag).toBeUndefined();
  expect(run.stderr).toMatch(
    new RegExp(`no deploy tag for ${stopped}, finished first: .*control characters`),
  );
  // Why, in the summary too (before, only stderr said it).
  expect(summary.finishedFirstUntagged).toMatch(/control characters/);
  expect(run.stderr).toContain(summary.finishedFirstUntagged);
});

it('the re-run of a deploy stopped after it finished another first tags both', async () => {
  const { dashboard1 } = s.repo.commits;
  const request = { text: 'ship the totals fix', actor: 'rm-bob' };
  const stopped = await s.stoppedDeploy(request);
  // dashboard1's deploy finishes dashboard2's first, then stops after it went live: neither tagged.
  await expect(
    deployArtifact(
      stoppingSite(s.t.site, (key) =>
        new RegExp(`/deployments/${dashboard1.slice(0, 7)}[^/]*\\.json$`).test(key),
      ),
      {
        app: 'sophia-dashboard',
        commit: dashboard1,
        request: { ...request, text: 'back', planner: 'cli', at: new Date().toISOString() },
      },
    ),
  ).rejects.toThrow(/stopped/);
  expect((await s.t.site.records.readRecord(stopped))?.outcome).toBe('succeeded');
  const tagsBefore = await s.tags();

  const again = await s.run(['deploy', '--stack', s.outputs, '--commit', dashboard1, '--json']);
  expect(again.code, again.stderr).toBe(0);
  const summary = JSON.parse(again.stdout);
  expect(summary.tag).toMatch(/^dashboard-deploy-/);
  // Before: only the re-run's own tag; the deploy its first run finished went untagged.
  expect(summary.finishedFirstTag).toMatch(/^dashboard-deploy-/);
  expect((await s.tags()).filter((t) => !tagsBefore.includes(t)).sort()).toEqual(
    [summary.finishedFirstTag, summary.tag].sort(),
  );
  expect(await trailersOf(summary.finishedFirstTag)).toMatchObject({
    'Deploy-Id': stopped,
    Request: 'ship the totals fix',
  });
  const verified = await s.run(['audit', 'verify', '--stack', s.outputs, '--repo', s.repo.dir]);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
});

it('a finished deploy’s stored words naming a bucket: its tag hides the name, as the agent’s tag of it does', async () => {
  const bucket = s.t.target.hostingBucket;
  const { stopped, run } = await finishFirst({ text: `ship the totals fix to ${bucket}` });
  expect(run.code, run.stderr).toBe(0);
  const summary = JSON.parse(run.stdout);
  // Before: the tag named the bucket, which list_deploy_tags then showed the agent.
  expect(await trailersOf(summary.finishedFirstTag)).toMatchObject({
    'Deploy-Id': stopped,
    Request: 'ship the totals fix to [hidden]',
  });
});

it('the run’s own tag hides the bucket in the operator’s words too: list_deploy_tags never names it', async () => {
  const bucket = s.t.target.hostingBucket;
  await s.stoppedDeploy({ text: `ship the totals fix to ${bucket}`, actor: 'rm-bob' });
  const run = await s.run([
    'deploy',
    '--stack',
    s.outputs,
    '--commit',
    s.repo.commits.dashboard1,
    '--message',
    `back on ${bucket}`,
    '--json',
  ]);
  expect(run.code, run.stderr).toBe(0);
  const summary = JSON.parse(run.stdout);
  const listed = await agentListsDeployTags(s.repo.dir);
  expect(listed).toContain(summary.finishedFirstTag);
  expect(listed).toContain(summary.tag);
  // Before: the run's own tag carried the operator's message naming the bucket.
  expect(listed).toContain('back on [hidden]');
  expect(listed).not.toContain(bucket);
});

it('a run whose own tag fails still names in --json the tag it made of the change it finished first', async () => {
  // A build of a commit this repository has not, live before dashboard2's deploy, which stopped.
  const elsewhere = 'e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1';
  await publishFixtureBuilds(s.t, 'sophia-dashboard', [elsewhere], { from: 3 });
  await deployArtifact(s.t.site, {
    app: 'sophia-dashboard',
    commit: elsewhere,
    request: requestBy('before'),
  });
  const stopped = await s.stoppedDeploy({ text: 'ship the totals fix', actor: 'rm-bob' });
  const tagsBefore = await s.tags();
  // The rollback finishes dashboard2's deploy first (tagged), then goes back to a commit the
  // repository has not: its own tag cannot be made, a failure (1) after the change.
  const run = await s.run(['rollback', '--stack', s.outputs, '--json']);
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr).toMatch(/is live and recorded, but its deploy tag was not made/);
  const summary = JSON.parse(run.stdout);
  expect(summary).toMatchObject({ finishedFirst: stopped, tag: null });
  const made = (await s.tags()).filter((t) => !tagsBefore.includes(t));
  expect(made).toHaveLength(1);
  // Before: finishedFirstTag was left out of --json, though the tag was made.
  expect(summary.finishedFirstTag).toBe(made[0]);
  expect(await trailersOf(String(made[0]))).toMatchObject({ 'Deploy-Id': stopped });
});
