/**
 * The agent's gate asks the person when run_sync is called, showing the plan get_deploy_target
 * described, with what its approval would adopt then; the infra server judges the approval a moment
 * later and asks its own question, which the gate answers from the person's decision. Meanwhile
 * another operator may record another approval policy (`approvers adopt` after Bob's key was lost):
 * the server's question then says the approval also adopts the configuration's policy (Bob back),
 * which the person was never shown. The gate answers from the first yes only a question whose
 * adoption the person saw; here it asks again, in the server's words, and a no changes nothing.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliApprover } from '../../src/agent/approval.ts';
import { createToolGate } from '../../src/agent/gate.ts';
import { approvableActions, parseRequest, toolsFor } from '../../src/agent/intents.ts';
import { createRedactor } from '../../src/agent/redact.ts';
import { approvalPolicyFor, defaultConfig } from '../../src/config.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { adoptApprovalPolicy, approvalInForce } from '../../src/state/approval-in-force.ts';
import { linkAgentClient } from '../support/agent-link.ts';
import { approverKeysFor } from '../support/approver.ts';
import { publishAsCi, STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const COMMIT = 'a1a1a1a1'.repeat(5);
const keys = approverKeysFor(['bob']);
let t: TestDeployEnv;
let infra: Client;

beforeAll(async () => {
  t = await startDeployEnv();
  await publishAsCi(t.site, {
    dir: (await writeFixtureBuild(`${t.tmp}/v1`, { version: 'v1' })).dir,
    app: APP,
    commit: COMMIT,
  });
});
afterAll(async () => {
  await infra?.close();
  await t?.stop();
});

describe("the gate's answer to the server's question", () => {
  it('asks again where the question adopts a policy recorded since the person was shown the plan', async () => {
    // Recorded and configured alike: the console's answer counts, and Bob approves.
    const withBob = {
      ...defaultConfig(),
      approval: { approvers: { Bob: keys().bob.publicKey }, trustElicitation: true },
    };
    const withoutBob = { ...defaultConfig(), approval: { approvers: {}, trustElicitation: true } };
    const site = { ...t.site, protected: true, approval: approvalPolicyFor(withBob, STACK) };
    await adoptApprovalPolicy(site, 'the tests', Date.now());
    infra = await linkAgentClient(
      createInfraServer({ config: withBob, openSite: async () => site, defaultStack: STACK }),
    );
    const intent = parseRequest('deploy the latest dashboard');
    const shown: string[] = [];
    const gate = createToolGate({
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
          if (shown.length > 1) return 'n';
          // While the person reads the card, another operator drops Bob (his key was lost).
          await adoptApprovalPolicy(
            { ...t.site, approval: approvalPolicyFor(withoutBob, STACK) },
            'another operator',
            Date.now(),
          );
          return 'y';
        },
      }),
      dryRun: false,
      maxCalls: 10,
      redactor: createRedactor([t.site.target.hostingBucket]),
    });
    const target = await gate.call('get_deploy_target', { app: APP, commit: COMMIT });
    expect(target.structured, target.text).toMatchObject({ approvalRequired: true, adopts: null });
    const synced = await gate.call('run_sync', { handle: String(target.structured?.handle) });

    expect(shown).toHaveLength(2);
    expect(shown[0]).not.toMatch(/also adopts/);
    expect(shown[1]).toMatch(/This approval also adopts .*: adds approver Bob/);
    expect(synced.ok, synced.text).toBe(false);
    expect(await t.site.records.readPointer()).toBeNull();
    // Bob stays out: nothing recorded him again.
    expect((await approvalInForce(site)).recorded?.approvers).toEqual({});
  });
});
