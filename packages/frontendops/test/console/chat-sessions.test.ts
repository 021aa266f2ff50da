/**
 * The console's chat as `frontendops console` wires it (startConsoleWithAgent): the real agent, its
 * infra and git MCP servers in this process, connected once per stack and kept open across turns —
 * no server process per turn — on the embedded S3 server, the CloudFront double and a real git
 * repository. A read-only turn starts no server process; the chat's confirmation approves the plan it
 * showed; a model that cannot work turns the chat off with the reason.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApproverKey } from '../../src/approval/keys.ts';
import { startConsoleWithAgent } from '../../src/cli/commands/console.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { configSchema, defaultConfig } from '../../src/config.ts';
import type { ConsoleServer } from '../../src/console/server.ts';
import type { ChatReply, SessionView } from '../../src/console/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { cli } from '../support/run-cli.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let outputs: string;
let served: ConsoleServer;
let adaKey: string;
let configFile: string;

const io = (env: Record<string, string> = {}): CliIo => ({
  stdout: { write: () => true },
  stderr: { write: () => true },
  stdin: process.stdin,
  env: { ...process.env, ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_MODEL: undefined, ...env },
  cwd: repo.dir,
  untilStopped: () => new Promise(() => {}),
});

beforeAll(async () => {
  t = await startDeployEnv();
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
  // dashboard-hosting-prod is protected, with Ada as its one approver.
  adaKey = join(t.tmp, 'ada.pem');
  const config = configSchema.parse({
    protected: ['dashboard-hosting-prod'],
    approval: { approvers: { Ada: await createApproverKey(adaKey, undefined) } },
  });
  configFile = join(t.tmp, 'frontendops.config.json');
  await writeFile(configFile, JSON.stringify(config));
  served = await startConsoleWithAgent(io({ FRONTENDOPS_CONFIG: configFile }), config, [outputs]);
});
afterAll(async () => {
  await served?.close();
  await repo?.cleanup();
  await t?.stop();
});

async function api<T>(
  console: ConsoleServer,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${console.url}${path.slice(1)}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${console.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const spawnedServers = () =>
  execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => /frontendops\.js mcp (infra|git)/.test(line) && line.includes(repo.dir)).length;

describe('the console chat keeps its MCP sessions open', () => {
  it('answers every read-only turn without starting a server process', async () => {
    const { body: session } = await api<SessionView>(served, '/api/session');
    const stack = session.stacks[0];
    await api<ChatReply>(served, '/api/chat', { text: "what's live?", stack }); // connects once
    for (let i = 0; i < 5; i++) {
      const reply = await api<ChatReply>(served, '/api/chat', { text: "what's live?", stack });
      expect(reply.body.answer).toMatch(/^Live on dashboard-hosting-prod: [0-9a-f]{7}/);
      // The mechanism: no server process is started for a turn (spawning two took seconds a turn).
      expect(spawnedServers()).toBe(0);
    }
  });

  it('on a protected stack the chat shows the plan; a confirmation alone does not deploy; with the approver signature it deploys that plan, tagged', async () => {
    const stack = (await api<SessionView>(served, '/api/session')).body.stacks[0];
    const asked = await api<ChatReply>(served, '/api/chat', { text: 'deploy the latest dashboard', stack });
    expect(asked.body.confirm).toMatchObject({
      action: 'deploy',
      deployId: expect.stringMatching(/^[0-9a-f]{7}-[0-9a-f]{10}$/),
      summary: expect.stringMatching(/^deploy sophia-dashboard@[0-9a-f]{7} to dashboard-hosting-prod/),
    });
    const deployId = asked.body.confirm?.deployId as string;
    expect((await t.site.records.readPointer())?.value.commit).toBe(repo.commits.dashboard1);

    // The page's confirmation is the agent host's word: the infra server wants an approver's signature.
    const unsigned = await api<ChatReply>(served, '/api/chat', {
      text: 'deploy the latest dashboard',
      stack,
      confirm: { deployId },
    });
    expect(unsigned.body.ok).toBe(false);
    expect(unsigned.body.answer).toMatch(/^Waiting for an approver's signature\. .*APPROVAL_REQUIRED/s);
    expect(unsigned.body.confirm).toMatchObject({ deployId }); // still open, for after the signature
    expect(unsigned.body.answer).toContain(`frontendops approve ${deployId}`);
    expect((await t.site.records.readPointer())?.value.commit).toBe(repo.commits.dashboard1);

    // Ada signs exactly that plan in her terminal; the page's next confirmation deploys it.
    const approved = await cli(['approve', deployId, '--stack', outputs, '--key', adaKey, '--yes'], {
      env: { FRONTENDOPS_CONFIG: configFile, ...t.cliEnv() },
      cwd: repo.dir,
    });
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(deployId);
    const done = await api<ChatReply>(served, '/api/chat', {
      text: 'deploy the latest dashboard',
      stack,
      confirm: { deployId },
    });
    expect(done.body, done.body.answer).toMatchObject({ ok: true, confirm: null });
    expect(done.body.answer).toMatch(/^Deployed sophia-dashboard [0-9a-f]{7}/);
    expect((await t.site.records.readPointer())?.value.deployId).toBe(deployId);
    expect((await repo.git(['tag', '-l', 'dashboard-deploy-*'])).trim()).toMatch(
      /^dashboard-deploy-\d{8}-1$/,
    );
  });

  it('reads the configuration file again at each turn: an invalid edit is refused in words, a fix is used', async () => {
    const { body: session } = await api<SessionView>(served, '/api/session');
    const stack = session.stacks[0];
    const kept = await readFile(configFile, 'utf8');
    await writeFile(configFile, '{ "protected": [');
    try {
      const refused = await api<{ message: string }>(served, '/api/chat', { text: "what's live?", stack });
      expect(refused.status).toBe(400);
      expect(refused.body.message).toMatch(
        /^The configuration was edited and cannot be used: .*is not valid JSON/,
      );
    } finally {
      await writeFile(configFile, kept);
    }
    const reply = await api<ChatReply>(served, '/api/chat', { text: "what's live?", stack });
    expect(reply.body.answer).toMatch(/^Live on dashboard-hosting-prod: [0-9a-f]{7}/);
  });

  it('a model that cannot work turns the chat off, saying why, in the page', async () => {
    const off = await startConsoleWithAgent(
      io({ FRONTENDOPS_MODEL: 'openai:gpt-4.1', OPENAI_API_KEY: '' }),
      defaultConfig(),
      [outputs],
    );
    try {
      const { body } = await api<SessionView>(off, '/api/session');
      expect(body).toMatchObject({ chat: false });
      expect(body.chatReason).toMatch(
        /^The chat is off: FRONTENDOPS_MODEL=openai:gpt-4\.1 needs OPENAI_API_KEY, which is empty/,
      );
    } finally {
      await off.close();
    }
  });
});
