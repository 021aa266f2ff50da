/**
 * Attack: whoever drives the chat (the model, on a turn the person confirmed) asks for another change
 * under the deploy id the person confirmed. A deploy of a commit and a rollback or promote to that
 * commit, planned from the same live release, get one deploy id (engine/ids.ts), so the id alone
 * does not say what was judged: the confirmation approves only the action, on the stack, the page
 * showed. A unit test of runChat with an agent that asks as the gate does.
 */
import { describe, expect, it } from 'vitest';
import type { AgentResult } from '../../src/agent/types.ts';
import { type ConsoleAgent, runChat } from '../../src/console/chat.ts';
import type { ApprovalAction, ApprovalDecision } from '../../src/ports.ts';

const DEPLOY_ID = 'a31ccdd-0123456789';

/** An agent whose one change is `action` on `stack` under the confirmed deploy id. */
function agentAsking(action: ApprovalAction, stack: string, decisions: ApprovalDecision[]): ConsoleAgent {
  return async (text, options) => {
    const decision = await options.approve(
      { action, stack, summary: `${action} sophia-dashboard@a31ccdd on ${stack}`, deployId: DEPLOY_ID },
      { asked: [action] },
    );
    decisions.push(decision);
    return {
      outcome: decision.approved ? 'succeeded' : 'declined',
      message: decision.approved ? 'done' : 'Not approved.',
      request: text,
      calls: [],
    } as unknown as AgentResult;
  };
}

const turn = (agent: ConsoleAgent) =>
  runChat(agent, {
    text: 'deploy a31ccdd',
    confirm: {
      deployId: DEPLOY_ID,
      action: 'deploy',
      stack: 'prod',
      summary: 'deploy sophia-dashboard@a31ccdd on prod',
    },
    actor: 'ada (console)',
    stack: 'prod',
    runId: 'run-00000001',
    onEvent: () => undefined,
  });

describe('attack: the chat’s confirmation used for a change the person did not judge', () => {
  it('a rollback or a promote under the confirmed deploy’s id is not approved, and is shown to confirm instead', async () => {
    for (const action of ['rollback', 'promote'] as const) {
      const decisions: ApprovalDecision[] = [];
      const reply = await turn(agentAsking(action, 'prod', decisions));
      expect(decisions.map((d) => d.approved)).toEqual([false]);
      expect(reply.confirm).toMatchObject({ action, stack: 'prod', deployId: DEPLOY_ID });
      expect(reply.answer).toMatch(/^The plan changed since you confirmed/);
    }
  });

  it('the confirmed deploy’s id on another stack is not approved', async () => {
    const decisions: ApprovalDecision[] = [];
    await turn(agentAsking('deploy', 'staging', decisions));
    expect(decisions.map((d) => d.approved)).toEqual([false]);
  });

  it('a canary of another share, or departing otherwise from the words, under the confirmed canary’s id is not approved', async () => {
    // A canary's deploy id is its plan's (engine/ids.ts): the share is not in it. Confirmed: a 10%
    // canary; asked: 90% of visitors, then the same share departing from the words as it did not.
    const shown = "send 10% of prod's visitors to sophia-dashboard@a31ccdd (canary)";
    const canary = (summary: string, departs?: string): ConsoleAgent => {
      return async (text, options) => {
        const decision = await options.approve(
          { action: 'canary', stack: 'prod', summary, deployId: DEPLOY_ID },
          { asked: ['canary'], ...(departs ? { departs } : {}) },
        );
        return {
          outcome: decision.approved ? 'succeeded' : 'declined',
          message: decision.approved ? 'done' : 'Not approved.',
          request: text,
          calls: [],
        } as unknown as AgentResult;
      };
    };
    const confirmCanary = (agent: ConsoleAgent) =>
      runChat(agent, {
        text: 'deploy a31ccdd to 10% first',
        confirm: { deployId: DEPLOY_ID, action: 'canary', stack: 'prod', summary: shown },
        actor: 'ada (console)',
        stack: 'prod',
        runId: 'run-00000002',
        onEvent: () => undefined,
      });
    const ninety = await confirmCanary(canary(shown.replace('10%', '90%')));
    expect(ninety.approvals.map((a) => a.approved)).toEqual([false]);
    expect(ninety.confirm?.summary).toBe(shown.replace('10%', '90%'));
    const departing = await confirmCanary(
      canary(shown, 'the request names a31ccdd, and this change is of b1b1b1b'),
    );
    expect(departing.approvals.map((a) => a.approved)).toEqual([false]);
    const same = await confirmCanary(canary(shown));
    expect(same).toMatchObject({ ok: true, confirm: null, answer: 'done' });
  });

  it('the confirmed deploy itself is approved', async () => {
    const decisions: ApprovalDecision[] = [];
    const reply = await turn(agentAsking('deploy', 'prod', decisions));
    expect(decisions).toEqual([
      { approved: true, by: 'ada (console)', via: `the console (confirmed plan ${DEPLOY_ID})` },
    ]);
    expect(reply).toMatchObject({ ok: true, confirm: null, answer: 'done' });
  });
});
