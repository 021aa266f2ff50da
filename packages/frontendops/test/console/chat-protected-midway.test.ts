/**
 * A stack made protected in the configuration file in the middle of a chat conversation: the chat
 * reads the file again at the next turn, and the deploy asked for then needs an approver's
 * signature; the page's confirmation alone changes nothing. The conversation's MCP sessions were
 * opened under the file as it was before (the stack unprotected): they must not be what judges it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApproverKey } from '../../src/approval/keys.ts';
import { startConsoleWithAgent } from '../../src/cli/commands/console.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { configSchema } from '../../src/config.ts';
import type { ConsoleServer } from '../../src/console/server.ts';
import type { ChatReply, SessionView } from '../../src/console/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';

const STACK = 'dashboard-staging';
let t: TestDeployEnv;
let repo: TestRepo;
let served: ConsoleServer;
let configFile: string;
let ada: string;

beforeAll(async () => {
  // Not a production name: nothing but the configuration protects it.
  t = await startDeployEnv({ stack: STACK });
  repo = await createTestRepo();
  await publishFixtureBuilds(t, 'sophia-dashboard', [repo.commits.dashboard1, repo.commits.dashboard2]);
  await deployArtifact(t.site, {
    app: 'sophia-dashboard',
    commit: repo.commits.dashboard1,
    request: { text: 'first', actor: 'alice', planner: 'cli', at: new Date().toISOString() },
  });
  const outputs = await t.writeOutputs({ cdn: true });
  // The AWS SDK's standard chain reads the embedded server's key from the process environment.
  Object.assign(process.env, t.cliEnv(), { AWS_REGION: 'us-east-1' });
  ada = await createApproverKey(join(t.tmp, 'ada.pem'), undefined);
  // At first the stack is not protected (only the default production name is).
  const config = configSchema.parse({ approval: { approvers: { Ada: ada } } });
  configFile = join(t.tmp, 'frontendops.config.json');
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
    },
    cwd: repo.dir,
    untilStopped: () => new Promise(() => {}),
  };
  served = await startConsoleWithAgent(io, config, [outputs]);
});
afterAll(async () => {
  await served?.close();
  await repo?.cleanup();
  await t?.stop();
});

async function api<T>(path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${served.url}${path.slice(1)}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${served.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}
const liveCommit = async () => (await t.site.records.readPointer())?.value.commit;

describe('the console chat, and a stack made protected mid-conversation', () => {
  it('a deploy asked for after the stack became protected needs an approver; the confirmation alone deploys nothing', async () => {
    const stack = (await api<SessionView>('/api/session')).body.stacks[0];
    // The conversation starts while the stack is not protected: its MCP sessions open under that.
    const before = await api<ChatReply>('/api/chat', { text: "what's live?", stack });
    expect(before.body.answer).toMatch(
      new RegExp(`^Live on ${STACK}: ${repo.commits.dashboard1.slice(0, 7)}`),
    );

    await writeFile(
      configFile,
      JSON.stringify(configSchema.parse({ protected: [STACK], approval: { approvers: { Ada: ada } } })),
    );

    const asked = await api<ChatReply>('/api/chat', { text: 'deploy the latest dashboard', stack });
    expect(asked.status).toBe(200);
    expect(asked.body.confirm).toMatchObject({
      action: 'deploy',
      deployId: expect.stringMatching(/^[0-9a-f]{7}-[0-9a-f]{10}$/),
    });
    const deployId = asked.body.confirm?.deployId as string;
    expect(await liveCommit()).toBe(repo.commits.dashboard1);

    // The page's confirmation is the agent host's word: on a protected stack the infra server wants
    // an approver's signature, and changes nothing until then.
    const confirmed = await api<ChatReply>('/api/chat', {
      text: 'deploy the latest dashboard',
      stack,
      confirm: { deployId },
    });
    expect(confirmed.body.ok).toBe(false);
    expect(confirmed.body.answer).toMatch(/^Waiting for an approver's signature\. .*APPROVAL_REQUIRED/s);
    expect(confirmed.body.answer).toContain(`frontendops approve ${deployId}`);
    expect(await liveCommit()).toBe(repo.commits.dashboard1);
    expect((await t.site.records.listRecentIds(10)).length).toBe(1);
  });
});
