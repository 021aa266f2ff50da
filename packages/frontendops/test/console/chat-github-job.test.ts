/**
 * The console's agent is told whether it runs in a GitHub Actions job by the environment the console
 * was given (console/agent-sessions.ts passes it to its infra server): in a job whose GitHub
 * environment approves the stack's changes, the page's confirmation is an MCP client's answer, and no
 * approval (mcp/infra/approval-gate.ts); outside one, on a stack that trusts its clients' answers, it
 * is. Both ways, so that a console reading the process's environment instead fails one of them
 * wherever the suite runs, in a job or not.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startConsoleWithAgent } from '../../src/cli/commands/console.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { type Config, configSchema } from '../../src/config.ts';
import type { ConsoleServer } from '../../src/console/server.ts';
import type { ChatReply, SessionView } from '../../src/console/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';

const STACK = 'dashboard-staging';
let t: TestDeployEnv;
let repo: TestRepo;
let outputs: string;
let config: Config;
const servers: ConsoleServer[] = [];

beforeAll(async () => {
  t = await startDeployEnv({ stack: STACK });
  repo = await createTestRepo();
  await publishFixtureBuilds(t, 'sophia-dashboard', [repo.commits.dashboard1, repo.commits.dashboard2]);
  await deployArtifact(t.site, {
    app: 'sophia-dashboard',
    commit: repo.commits.dashboard1,
    request: { text: 'first', actor: 'alice', planner: 'cli', at: new Date().toISOString() },
  });
  outputs = await t.writeOutputs({ cdn: true });
  // The AWS SDK's standard chain reads the embedded server's key from the process environment.
  Object.assign(process.env, t.cliEnv(), { AWS_REGION: 'us-east-1' });
  // Protected; its clients' answers approve, except in a job, where the "staging" environment does.
  config = configSchema.parse({
    protected: [STACK],
    approval: {
      trustElicitation: true,
      github: { repository: 'sophia/dashboard', environment: 'staging', actions: ['deploy'] },
    },
  });
});
afterAll(async () => {
  for (const served of servers) await served.close();
  await repo?.cleanup();
  await t?.stop();
});

/** A console started with `env` added to its own (the process's stays as it is). */
async function startConsole(env: Record<string, string>): Promise<ConsoleServer> {
  const configFile = join(t.tmp, 'frontendops.config.json');
  await writeFile(configFile, JSON.stringify(config));
  const io: CliIo = {
    stdout: { write: () => true },
    stderr: { write: () => true },
    stdin: process.stdin,
    env: {
      ...process.env,
      ...t.cliEnv(),
      AWS_REGION: 'us-east-1',
      FRONTENDOPS_MODEL: undefined,
      FRONTENDOPS_CONFIG: configFile,
      ...env,
    },
    cwd: repo.dir,
    untilStopped: () => new Promise(() => {}),
  };
  const served = await startConsoleWithAgent(io, config, [outputs]);
  servers.push(served);
  return served;
}

async function api<T>(served: ConsoleServer, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${served.url}${path.slice(1)}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${served.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await res.json()) as T;
}

/** Asks the console's chat to deploy the latest dashboard, and confirms the plan it shows. */
async function deployConfirmed(served: ConsoleServer): Promise<ChatReply> {
  const stack = (await api<SessionView>(served, '/api/session', undefined)).stacks[0];
  const text = 'deploy the latest dashboard';
  const asked = await api<ChatReply>(served, '/api/chat', { text, stack });
  expect(asked.confirm).toMatchObject({ action: 'deploy' });
  return api<ChatReply>(served, '/api/chat', { text, stack, confirm: { deployId: asked.confirm?.deployId } });
}
const liveCommit = async () => (await t.site.records.readPointer())?.value.commit;

it("in a job by the console's environment, the page's confirmation deploys nothing; outside one it deploys", async () => {
  const inJob = await deployConfirmed(await startConsole({ GITHUB_ACTIONS: 'true' }));
  expect(inJob.ok).toBe(false);
  expect(inJob.answer).toMatch(
    /APPROVAL_REQUIRED[\s\S]*in a GitHub Actions job, an MCP client's answer is no approval of dashboard-staging's changes: the "staging" environment's reviewers approve them/,
  );
  expect(await liveCommit()).toBe(repo.commits.dashboard1);

  // Not in a job by the console's environment, even where this suite itself runs in one.
  const outside = await deployConfirmed(await startConsole({ GITHUB_ACTIONS: '' }));
  expect(outside.ok, outside.answer).toBe(true);
  expect(await liveCommit()).toBe(repo.commits.dashboard2);
});
