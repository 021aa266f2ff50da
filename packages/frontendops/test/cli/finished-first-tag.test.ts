/**
 * A deploy stopped after it made its release live (before its record and its deploy tag), then a
 * deploy of another build through the CLI in a git repository: the run finishes the stopped deploy
 * first, then deploys its own build, and tags both, each as its own run would (the stopped one's
 * build, request and the audit head after its finish). Before, only the run's own change was tagged:
 * the deployment it finished went live and was recorded with no deploy tag.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { parseTrailers } from '../../src/git/deploy-tag.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { cli } from '../support/run-cli.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
let t: TestDeployEnv;
let repo: TestRepo;
let outputs: string;
let env: Record<string, string>;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'finished-first-tag' });
  repo = await createTestRepo();
  await publishFixtureBuilds(t, APP, [repo.commits.dashboard1, repo.commits.dashboard2], { from: 0 });
  outputs = await t.writeOutputs({ cdn: true });
  env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
});
afterAll(async () => {
  await repo?.cleanup();
  await t?.stop();
});

const run = (argv: string[]) => cli(argv, { env, cwd: repo.dir });
const tags = async () => (await repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean);
const trailersOf = async (tag: string) =>
  parseTrailers(await repo.git(['tag', '-l', '--format=%(contents)', tag]));

it('a deploy that finishes a stopped deploy of another build first tags that one too', async () => {
  const first = await run(['deploy', '--stack', outputs, '--commit', repo.commits.dashboard1, '--json']);
  expect(first.code, first.stderr).toBe(0);
  expect(await tags()).toHaveLength(1);

  // Stopped at its deployment record: dashboard2 live, not recorded, not tagged.
  const stopping = stoppingSite(t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
  const request = {
    text: 'ship the totals fix',
    actor: 'rm-bob',
    planner: 'cli' as const,
    at: new Date().toISOString(),
  };
  await expect(
    deployArtifact(stopping, { app: APP, commit: repo.commits.dashboard2, request }),
  ).rejects.toThrow(/stopped/);
  const stopped = String((await t.site.records.readPointer())?.value.deployId);

  // dashboard1 again: the run finishes dashboard2's deploy first, then goes back to dashboard1.
  const again = await run(['deploy', '--stack', outputs, '--commit', repo.commits.dashboard1, '--json']);
  expect(again.code, again.stderr).toBe(0);
  const summary = JSON.parse(again.stdout);
  expect(summary.finishedFirst).toBe(stopped);
  expect(summary.tag).toMatch(/^dashboard-deploy-/);
  // Before, there was no finishedFirstTag, and only the run's own tag was made.
  expect(summary.finishedFirstTag).toMatch(/^dashboard-deploy-/);
  expect(summary.finishedFirstTag).not.toBe(summary.tag);
  expect(await tags()).toHaveLength(3);

  const record = await t.site.records.readRecord(stopped);
  expect(record?.outcome).toBe('succeeded');
  const finished = await trailersOf(summary.finishedFirstTag);
  expect(finished).toMatchObject({
    'Deploy-Id': stopped,
    'Artifact-Digest': record?.artifactDigest,
    Stack: 'finished-first-tag',
    Request: 'ship the totals fix',
  });
  expect((await repo.git(['rev-list', '-n', '1', summary.finishedFirstTag])).trim()).toBe(
    repo.commits.dashboard2,
  );
  const own = await trailersOf(summary.tag);
  expect(own['Deploy-Id']).toBe(summary.deployId);
  // Each tag's audit head is one the chain has: the finish's before the run's own.
  const [seqFirst, seqOwn] = [finished['Audit-Head'], own['Audit-Head']].map((h) =>
    Number(String(h).split(':')[0]),
  );
  expect(seqFirst).toBeLessThan(seqOwn as number);
  expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  const verified = await run(['audit', 'verify', '--stack', outputs, '--repo', repo.dir]);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
});
