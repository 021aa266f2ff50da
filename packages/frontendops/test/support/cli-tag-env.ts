/**
 * The set-up of the CLI's deploy-tag tests: a stack of its own with the test repository's dashboard1
 * and dashboard2 published, its outputs file (with the CDN), and the CLI run in that repository
 * against the embedded S3 server, as a release manager (rm-alice).
 */
import { expect } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from './deploy-env.ts';
import { createTestRepo, type TestRepo } from './git-repo.ts';
import { type CliRun, cli } from './run-cli.ts';
import { stoppingSite } from './stopping-site.ts';

export interface CliTagEnv {
  t: TestDeployEnv;
  repo: TestRepo;
  /** The stack's outputs file, for --stack. */
  outputs: string;
  run(argv: string[]): Promise<CliRun>;
  /** The deploy tags in the repository. */
  tags(): Promise<string[]>;
  /**
   * dashboard1 deployed by the CLI (--json), its tag made; then a deploy of dashboard2, asked for in
   * `request`, stopped at its deployment record: live, not recorded, not tagged. Its deploy id.
   */
  /** dashboard2's deploy asked in `request`, stopped after it went live (before its record): its id. */
  stoppedDeploy(request: { text: string; actor: string; message?: string }): Promise<string>;
  stoppedAfterFirstDeploy(request: { text: string; actor: string }): Promise<string>;
  stop(): Promise<void>;
}

export async function startCliTagEnv(stack: string): Promise<CliTagEnv> {
  const t = await startDeployEnv({ stack });
  const repo = await createTestRepo();
  await publishFixtureBuilds(t, 'sophia-dashboard', [repo.commits.dashboard1, repo.commits.dashboard2], {
    from: 0,
  });
  const outputs = await t.writeOutputs({ cdn: true });
  const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
  const run = (argv: string[]) => cli(argv, { env, cwd: repo.dir });
  const tags = async () => (await repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean);
  const stoppedDeploy: CliTagEnv['stoppedDeploy'] = async (words) => {
    const stopping = stoppingSite(t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
    const request = { ...words, planner: 'cli' as const, at: new Date().toISOString() };
    await expect(
      deployArtifact(stopping, { app: 'sophia-dashboard', commit: repo.commits.dashboard2, request }),
    ).rejects.toThrow(/stopped/);
    const pointer = (await t.site.records.readPointer())?.value;
    expect(pointer?.commit).toBe(repo.commits.dashboard2);
    return String(pointer?.deployId);
  };
  return {
    t,
    repo,
    outputs,
    run,
    tags,
    stoppedDeploy,
    async stoppedAfterFirstDeploy(request) {
      const first = await run(['deploy', '--stack', outputs, '--commit', repo.commits.dashboard1, '--json']);
      expect(first.code, first.stderr).toBe(0);
      expect(await tags()).toHaveLength(1);
      return stoppedDeploy(request);
    },
    async stop() {
      await repo.cleanup();
      await t.stop();
    },
  };
}
