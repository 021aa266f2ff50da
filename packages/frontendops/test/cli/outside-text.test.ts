/**
 * Text from outside is data. Request words, commit subjects and recorded messages reach a terminal
 * through `status`, `history` and `agent`; with escape sequences in them they could write the
 * clipboard (OSC 52), erase lines or retitle the window. Attacks: such text already in the state (a
 * bucket writer, an older client), in a commit subject, and in new requests.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { connectInfra } from '../support/mcp-infra.ts';
import { type AgentServersInProcess, cli, serveAgentServersInProcess } from '../support/run-cli.ts';

const CLIPBOARD = '\x1b]52;c;cm0gLXJmIH4=\x07';
const ERASE = '\x1b[2K\r';
const ESC = '\x1b';
const APP = 'sophia-dashboard';

let t: TestDeployEnv;
let repo: TestRepo;
let outputs: string;
let mcpConfig: string;
let hostile: string;
let servers: AgentServersInProcess | undefined;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-text' });
  repo = await createTestRepo();
  // The newest commit of the dashboard carries escape sequences in its subject.
  await writeFile(join(repo.dir, 'apps', 'sophia-dashboard', 'x.txt'), 'x\n');
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-q', '-m', `dashboard: totals ${CLIPBOARD}${ERASE}fixed`]);
  hostile = (await repo.git(['rev-parse', 'HEAD'])).trim();
  await publishFixtureBuilds(t, APP, [repo.commits.dashboard1, hostile], { from: 0 });
  outputs = await t.writeOutputs({ cdn: true });
  // The agent's two servers, served over HTTP in this process for the file (the agent's stdio
  // spawning is cli/agent.test.ts's): what is shown here is what the agent does with their answers.
  servers = await serveAgentServersInProcess({
    outputs,
    repoDir: repo.dir,
    infraEnv: { ...t.cliEnv(), AWS_REGION: 'us-east-1' },
    dir: t.tmp,
  });
  mcpConfig = servers.config;
  // Words with escapes already in the state, as a bucket writer or an older client left them.
  await deployArtifact(t.site, {
    app: APP,
    commit: repo.commits.dashboard1,
    request: {
      text: `deploy ${CLIPBOARD}`,
      actor: `mallory${ERASE}`,
      planner: 'cli',
      at: new Date().toISOString(),
      message: `why ${CLIPBOARD}`,
    },
  });
});
afterAll(async () => {
  await servers?.stop();
  await repo?.cleanup();
  await t?.stop();
});

const run = (argv: string[]) =>
  cli(argv, {
    env: { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'ada', FRONTENDOPS_MODEL: undefined },
    cwd: repo.dir,
  });

describe('text from outside reaches a terminal as data', () => {
  it('status and history escape recorded words: no escape character reaches the terminal', async () => {
    for (const command of ['status', 'history']) {
      const shown = await run([command, '--stack', outputs]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout, command).not.toContain(ESC);
      expect(shown.stdout, command).toContain('\\u001b]52;c;');
    }
  });

  it('the agent shows a commit subject with escape sequences escaped', async () => {
    const answer = await run(['agent', 'what would change', '--config', mcpConfig, '--stack', outputs]);
    expect(answer.code, answer.stdout + answer.stderr).toBe(0);
    expect(answer.stdout + answer.stderr).toContain(hostile.slice(0, 7));
    expect(answer.stderr).toContain('totals \\u001b]52;c;');
    expect(answer.stdout).not.toContain(ESC);
    expect(answer.stderr).not.toContain(ESC);
  });
});

describe('requests with control characters are refused, and change nothing', () => {
  it('from the agent command, from --message, and from an MCP client', async () => {
    const before = (await t.site.records.readPointer())?.value.deployId;
    const agent = await run([
      'agent',
      `Deploy the latest dashboard ${ERASE}`,
      '--config',
      mcpConfig,
      '--stack',
      outputs,
      '--yes',
    ]);
    expect(agent.code).toBe(2);
    expect(agent.stdout + agent.stderr).toMatch(/contains control characters/);

    const message = await run([
      'deploy',
      '--stack',
      outputs,
      '--commit',
      hostile,
      '--message',
      `ok${CLIPBOARD}`,
    ]);
    expect(message.code).toBe(2);
    expect(message.stderr).toMatch(/Invalid --message: .*no control characters/);

    const c = await connectInfra(
      createInfraServer({
        config: { ...defaultConfig(), protected: [] },
        openSite: async () => t.site,
        defaultStack: t.target.stack,
      }),
    );
    try {
      const target = await c.call('get_deploy_target', { commit: hostile });
      const sync = await c.call('run_sync', {
        handle: target.structured.handle,
        request: `deploy${CLIPBOARD}`,
      });
      expect(sync.isError).toBe(true);
      expect(sync.text).toMatch(/no other control characters/);
      // Half of a surrogate pair: JSON carries it ("\ud800"), the audit's canonical JSON cannot.
      const half = await c.call('run_sync', {
        handle: target.structured.handle,
        request: 'deploy \ud800 now',
      });
      expect(half.isError).toBe(true);
      expect(half.text).toMatch(/no other control characters/);
    } finally {
      await c.close();
    }
    expect((await t.site.records.readPointer())?.value.deployId).toBe(before);
  });
});
