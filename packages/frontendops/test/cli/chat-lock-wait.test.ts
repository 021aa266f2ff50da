/**
 * `frontendops chat` keeps its servers for the whole conversation, and the infra server says each
 * tool call's wait for another's deploy lock (forOperation): the chat says each request's own wait
 * once, as the console and the MCP server do, though an earlier request was told the same. Before,
 * it said each note once per conversation: a later request waiting on the same holder was not told.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { takeDeployLock } from '../../src/deploy/deploy-lock.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { cli, writeStdioMcpConfig } from '../support/run-cli.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let outputs: string;
let mcpConfig: string;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'chat-lock-wait' });
  repo = await createTestRepo();
  await publishFixtureBuilds(t, 'sophia-dashboard', [repo.commits.dashboard1, repo.commits.dashboard2]);
  outputs = await t.writeOutputs();
  const infraEnv = { ...t.cliEnv(), AWS_REGION: 'us-east-1' };
  // Each request waits a second for bob's lock (the server's --wait), then is refused.
  mcpConfig = await writeStdioMcpConfig({
    outputs,
    repoDir: repo.dir,
    infraEnv,
    dir: t.tmp,
    infraArgs: ['--wait', '1'],
  });
}, 120_000);
afterAll(async () => {
  await repo?.cleanup();
  await t?.stop();
});

it('chat: two requests waiting for one holder of the deploy lock are each told, once', async () => {
  const held = await takeDeployLock(t.site, {
    request: { text: 'deploy', actor: 'bob', planner: 'cli', at: new Date().toISOString() },
  });
  let run: Awaited<ReturnType<typeof cli>>;
  try {
    run = await cli(['chat', '--yes', '--config', mcpConfig, '--stack', outputs], {
      cwd: repo.dir,
      env: { FRONTENDOPS_ACTOR: 'release-bot', FRONTENDOPS_MODEL: undefined },
      stdin: 'Deploy the latest dashboard\nDeploy the latest dashboard\nexit\n',
    });
  } finally {
    await held.release();
  }
  // Both requests ran, and each waited for bob's lock until the server gave up.
  expect(run.stdout.match(/^\S+ (FAILED|REFUSED)/gm), run.stdout).toHaveLength(2);
  const waits = run.stderr.match(/^note: .* is locked by bob .*; waiting up to 1s for it\.$/gm);
  expect(waits, run.stderr).toHaveLength(2);
  // Notes that are no request's own (the file lock this machine uses) are still said once.
  expect(run.stderr.match(/^note: The S3 endpoint ignores conditional writes/gm)).toHaveLength(1);
}, 90_000);
