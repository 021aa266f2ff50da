/**
 * A deploy stopped after it made its release live (before its record and its deploy tag), then run
 * again as the README says: the re-run finishes and records it, and tags it, through the CLI in a git
 * repository. Before, the re-run's own plan was a no-op ("already live, nothing to do"), so the
 * deployment that went live never got its deploy tag, the anchor `audit verify --repo` checks.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
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
  t = await startDeployEnv({ stack: 'rerun-tag' });
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

it('the re-run of a deploy stopped after it went live records and tags it', async () => {
  const first = await run(['deploy', '--stack', outputs, '--commit', repo.commits.dashboard1, '--json']);
  expect(first.code, first.stderr).toBe(0);
  expect(await tags()).toHaveLength(1);

  // Stopped at its deployment record: live, not recorded, not tagged.
  const stopping = stoppingSite(t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
  const request = {
    text: 'deploy',
    actor: 'rm-alice',
    planner: 'cli' as const,
    at: new Date().toISOString(),
  };
  await expect(
    deployArtifact(stopping, { app: APP, commit: repo.commits.dashboard2, request }),
  ).rejects.toThrow(/stopped/);
  expect((await t.site.records.readPointer())?.value.commit).toBe(repo.commits.dashboard2);

  const again = await run(['deploy', '--stack', outputs, '--commit', repo.commits.dashboard2, '--json']);
  expect(again.code, again.stderr).toBe(0);
  const summary = JSON.parse(again.stdout);
  const record = (await t.site.records.listRecords()).records.find(
    (r) => r.commit === repo.commits.dashboard2 && r.outcome === 'succeeded',
  );
  expect(summary.finishedInterrupted).toBe(record?.deployId);
  expect(summary.tag).toMatch(/^dashboard-deploy-/);
  expect(await tags()).toContain(summary.tag);
  const message = await repo.git(['tag', '-l', '--format=%(contents)', summary.tag]);
  expect(message).toContain(`Deploy-Id: ${record?.deployId}`);

  // In words too.
  const words = await run(['deploy', '--stack', outputs, '--commit', repo.commits.dashboard2]);
  expect(words.stdout).toMatch(new RegExp(`already live \\(as ${record?.deployId}\\), nothing to do`));
});
