/**
 * The console's chat on a protected atomic stack, with a model (the OpenAI-compatible double) that
 * asks for a canary start: the chat shows the plan to confirm (its deploy id, and the share in its
 * words), and the person's confirmation starts exactly that canary. The agent runs as the console
 * runs it (runChat around runAgentRequest), on real infra and git MCP servers in this process.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { runAgentRequest } from '../../src/agent/index.ts';
import type { AgentClients } from '../../src/agent/types.ts';
import { defaultConfig } from '../../src/config.ts';
import { type ConsoleAgent, runChat } from '../../src/console/chat.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { linkAgentClient } from '../support/agent-link.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { type OpenAIDouble, startOpenAIDouble } from '../support/openai-double.ts';

let t: AtomicEnv;
let repo: TestRepo;
let clients: AgentClients;
let model: OpenAIDouble;
let config: ReturnType<typeof defaultConfig>;

beforeAll(async () => {
  t = await startAtomicEnv();
  repo = await createTestRepo();
  await t.publish(repo.commits.dashboard1, 'v1');
  await t.publish(repo.commits.dashboard2, 'v2');
  await deployArtifact(t.site, { app: APP, commit: repo.commits.dashboard1, request: request('first') });
  // The stack protected, the person's answer trusted (no approver's signature): the chat's confirmation is it.
  config = {
    ...defaultConfig(),
    appPath: 'apps/sophia-dashboard',
    protected: [t.site.target.stack],
    approval: { approvers: {}, trustElicitation: true },
  };
  const site = await t.open({ protected: true, approval: config.approval });
  const link = (server: McpServer) => linkAgentClient(server, () => undefined);
  const infra = await link(
    createInfraServer({
      config,
      defaultStack: t.site.target.stack,
      openSite: async () => site,
    }),
  );
  const git = await link(
    createGitServer({ host: createLocalGit({ repoDir: repo.dir }), defaultPath: 'apps/sophia-dashboard' }),
  );
  clients = { infra, git, close: async () => void (await Promise.allSettled([infra.close(), git.close()])) };
  // The model asks for a 10% canary of dashboard2, then answers in words once a tool has answered.
  model = await startOpenAIDouble({
    apiKey: 'k',
    script: (chat) =>
      chat.messages.at(-1)?.role === 'tool'
        ? { text: 'Done.' }
        : {
            toolCalls: [
              { name: 'start_canary', arguments: { commit: repo.commits.dashboard2, percent: 10, app: APP } },
            ],
          },
  });
});
afterAll(async () => {
  await model?.close();
  await clients?.close?.();
  await repo?.cleanup();
  await t?.stop();
});

const agent: ConsoleAgent = (text, options) =>
  runAgentRequest(text, {
    actor: options.actor,
    approve: options.approve,
    onEvent: options.onEvent,
    clients,
    config,
    cwd: repo.dir,
    stack: options.stack,
    env: {
      FRONTENDOPS_MODEL: 'openai-compatible:m',
      FRONTENDOPS_MODEL_BASE_URL: model.baseURL,
      FRONTENDOPS_MODEL_API_KEY: 'k',
    },
  });

describe('the console chat, a model and a canary on a protected stack', () => {
  it('shows the canary start to confirm, and the confirmation starts exactly that canary', async () => {
    const text = `deploy ${repo.commits.dashboard2.slice(0, 7)} to 10% first`;
    const chat = (confirm: Parameters<typeof runChat>[1]['confirm']) =>
      runChat(agent, {
        text,
        confirm,
        actor: 'ada (console)',
        stack: t.site.target.stack,
        runId: 'run-canary',
        onEvent: () => undefined,
      });
    const asked = await chat(null);
    // Before, the gate's question named no plan: the chat showed nothing to confirm.
    expect(asked.confirm, asked.answer).toMatchObject({
      action: 'canary',
      deployId: expect.stringMatching(/^[0-9a-f]{7}-[0-9a-f]{10}$/),
      summary: expect.stringMatching(/^send 10% of .* to sophia-dashboard@[0-9a-f]{7,} \(canary\)/),
    });
    expect((await t.store().read()).value).not.toHaveProperty('canary');

    const done = await chat(asked.confirm);
    expect(done, done.answer).toMatchObject({ ok: true, confirm: null, replaced: null });
    expect((await t.store().read()).value).toMatchObject({
      weight: 10,
      canary: expect.stringMatching(new RegExp(`^${repo.commits.dashboard2.slice(0, 7)}-`)),
    });
  });
});
