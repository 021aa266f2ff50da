/**
 * The set-up of the CLI's deploy-tag tests: a stack of its own with the test repository's dashboard1
 * and dashboard2 published, its outputs file (with the CDN), and the CLI run in that repository
 * against the embedded S3 server, as a release manager (rm-alice).
 */
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from './deploy-env.ts';
import { createTestRepo, type TestRepo } from './git-repo.ts';
import { type CliRun, cli } from './run-cli.ts';

export interface CliTagEnv {
  t: TestDeployEnv;
  repo: TestRepo;
  /** The stack's outputs file, for --stack. */
  outputs: string;
  run(argv: string[]): Promise<CliRun>;
  /** The deploy tags in the repository. */
  tags(): Promise<string[]>;
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
  return {
    t,
    repo,
    outputs,
    run: (argv) => cli(argv, { env, cwd: repo.dir }),
    tags: async () => (await repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean),
    async stop() {
      await repo.cleanup();
      await t.stop();
    },
  };
}
