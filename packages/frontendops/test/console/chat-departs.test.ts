/**
 * The console's chat shows the plan to confirm; where the agent's gate found that the model's change
 * is not the one the words name (another commit, another share), the plan the page shows says so,
 * so the person confirms knowing it. A unit test of runChat with an agent that asks as the gate does.
 */
import { describe, expect, it } from 'vitest';
import { runChat } from '../../src/console/chat.ts';
import { ASKED_DEPLOY_ID, agentAsking } from '../support/chat-agent.ts';

const DEPARTS =
  'the request asks for the latest commit, which is 159b89f (latest_commit), and this change is of a31ccdd';

const agent = agentAsking({
  action: 'deploy',
  stack: 'prod',
  summary: 'deploy sophia-dashboard@a31ccdd to prod',
  departs: DEPARTS,
});

describe('the chat shows how a plan departs from the words', () => {
  it('the plan to confirm carries the gate’s note', async () => {
    const reply = await runChat(agent, {
      text: 'Deploy the latest dashboard',
      confirm: null,
      actor: 'ada',
      stack: 'prod',
      runId: 'run-00000001',
      onEvent: () => undefined,
    });
    expect(reply.confirm?.deployId).toBe(ASKED_DEPLOY_ID);
    expect(reply.confirm?.summary).toBe(
      `deploy sophia-dashboard@a31ccdd to prod. Note: this is not the change the words name: ${DEPARTS}.`,
    );
  });
});
