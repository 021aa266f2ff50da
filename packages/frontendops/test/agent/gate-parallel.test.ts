/**
 * A model may ask for several tools in one step, and the AI SDK runs them at once: a read (get_status)
 * can start and end while run_sync waits for the infra server's approval question. The question is
 * the change's, whatever read came and went meanwhile: the gate answers it from the person's yes to
 * that change, and asks them nothing twice.
 */
import { type Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliApprover } from '../../src/agent/approval.ts';
import { createToolGate, type ToolGate } from '../../src/agent/gate.ts';
import { approvableActions, parseRequest, toolsFor } from '../../src/agent/intents.ts';
import { createAgentMcpClient } from '../../src/agent/mcp-clients.ts';
import { createRedactor } from '../../src/agent/redact.ts';
import { approvalPolicyFor, defaultConfig } from '../../src/config.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { publishAsCi, STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const [COMMIT, COMMIT2] = ['a1a1a1a1'.repeat(5), 'b2b2b2b2'.repeat(5)];
let t: TestDeployEnv;
const clients: Client[] = [];

beforeAll(async () => {
  t = await startDeployEnv();
  for (const [version, commit] of [
    ['v1', COMMIT],
    ['v2', COMMIT2],
  ] as const)
    await publishAsCi(t.site, {
      dir: (await writeFixtureBuild(`${t.tmp}/${version}`, { version })).dir,
      app: APP,
      commit,
    });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await t?.stop();
});

/**
 * A gate on a protected stack whose server trusts its client's answer, and whose approval question
 * is held until `meanwhile` (what the model asked for in the same step) has been answered:
 * deterministic, as if that call had been quicker. The person says yes once, then no.
 */
async function gateHoldingTheQuestion() {
  const config = { ...defaultConfig(), approval: { approvers: {}, trustElicitation: true } };
  const site = { ...t.site, protected: true, approval: approvalPolicyFor(config, STACK) };
  const held: { meanwhile: (() => Promise<unknown>) | null } = { meanwhile: null };
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createInfraServer({ config, openSite: async () => site, defaultStack: STACK }).connect(serverSide);
  const send = serverSide.send.bind(serverSide);
  serverSide.send = async (message, options) => {
    if ((message as { method?: string }).method === 'elicitation/create' && held.meanwhile) {
      const other = held.meanwhile;
      held.meanwhile = null;
      await other();
    }
    return send(message, options);
  };
  const infra = createAgentMcpClient();
  clients.push(infra);
  await infra.connect(clientSide);
  const intent = parseRequest('deploy the latest dashboard');
  const shown: string[] = [];
  const gate: ToolGate = createToolGate({
    clients: { infra, git: infra },
    stack: STACK,
    allowed: toolsFor(intent),
    asked: approvableActions(intent),
    approve: createCliApprover({
      yes: false,
      interactive: true,
      actor: 'ada',
      ask: async (question) => {
        shown.push(question);
        return shown.length > 1 ? 'n' : 'y';
      },
    }),
    dryRun: false,
    maxCalls: 10,
    redactor: createRedactor([t.site.target.hostingBucket]),
  });
  return { gate, shown, held };
}

describe('tool calls the gate has in flight at once', () => {
  it("a read that comes and goes while run_sync waits: the server's question is answered from the person's yes", async () => {
    const { gate, shown, held } = await gateHoldingTheQuestion();
    const target = await gate.call('get_deploy_target', { app: APP, commit: COMMIT });
    expect(target.structured, target.text).toMatchObject({ approvalRequired: true });
    let status: Awaited<ReturnType<ToolGate['call']>> | undefined;
    held.meanwhile = async () => {
      status = await gate.call('get_status', {});
    };
    const synced = await gate.call('run_sync', { handle: String(target.structured?.handle) });

    expect(status?.ok, status?.text).toBe(true);
    // Asked once, about the plan; the server's question answered from that yes. Before, the read's
    // end cleared the call in flight, and the person was asked again in the server's words.
    expect(shown).toHaveLength(1);
    expect(synced.ok, synced.text).toBe(true);
    expect(await t.site.records.readPointer()).not.toBeNull();
  });

  it('a second change while run_sync waits is refused, and the first is answered from its yes', async () => {
    const { gate, shown, held } = await gateHoldingTheQuestion();
    const target = await gate.call('get_deploy_target', { app: APP, commit: COMMIT2 });
    const deployId = String(target.structured?.deployId);
    let second: Awaited<ReturnType<ToolGate['call']>> | undefined;
    held.meanwhile = async () => {
      second = await gate.call('invalidate_cdn', { deployId });
    };
    const synced = await gate.call('run_sync', { handle: String(target.structured?.handle) });

    // One change at a time: the server's questions are then about the one in flight. Before, the
    // second replaced it as the call in flight, and the person was asked again.
    expect(second?.record.status, second?.text).toBe('refused');
    expect(second?.text).toMatch(/one change at a time: run_sync is still running/);
    expect(shown).toHaveLength(1);
    expect(synced.ok, synced.text).toBe(true);
  });
});
