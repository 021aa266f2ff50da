/**
 * The console's chat shows the plan to confirm; where the agent's gate found that the model's change
 * is not the one the words name (another commit, another share), the plan the page shows says so,
 * so the person confirms knowing it. A unit test of runChat with an agent that asks as the gate does.
 */
import { describe, expect, it } from 'vitest';
import type { AgentResult } from '../../src/agent/types.ts';
import { type ConsoleAgent, runChat } from '../../src/console/chat.ts';

const DEPARTS =
  'the request asks for the latest commit, which is 159b89f (latest_commit), and this change is of a31ccdd';

const agentAsking: ConsoleAgent = async (text, options) => {
  await options.approve(
    {
      action: 'deploy',
      stack: 'prod',
      summary: 'deploy sophia-dashboard@a31ccdd to prod',
      deployId: 'a31ccdd-0123456789',
    },
    { asked: ['deploy'], departs: DEPARTS },
  );
  return {
    outcome: 'declined',
    message: 'Not approved.',
    request: text,
    calls: [],
  } as unknown as AgentResult;
};

describe('the chat shows how a plan departs from the words', () => {
  it('the plan to confirm carries the gate’s note', async () => {
    const reply = await runChat(agentAsking, {
      text: 'Deploy the latest dashboard',
      confirm: null,
      actor: 'ada',
      stack: 'prod',
      runId: 'run-00000001',
      onEvent: () => undefined,
    });
    expect(reply.confirm?.deployId).toBe('a31ccdd-0123456789');
    expect(reply.confirm?.summary).toBe(
      `deploy sophia-dashboard@a31ccdd to prod. Note: this is not the change the words name: ${DEPARTS}.`,
    );
  });
});
