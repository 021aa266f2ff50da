/**
 * Attack: whoever drives the chat (the model, on a turn the person confirmed) asks for another change
 * under the deploy id the person confirmed. A deploy of a commit and a rollback or promote to that
 * commit, planned from the same live release, get one deploy id (engine/ids.ts), so the id alone
 * does not say what was judged: the confirmation approves only the action, on the stack, the page
 * showed. A unit test of runChat with an agent that asks as the gate does.
 */
import { describe, expect, it } from 'vitest';
import { type ConsoleAgent, runChat } from '../../src/console/chat.ts';
import type { ApprovalDecision } from '../../src/ports.ts';
import { agentAsking, ASKED_DEPLOY_ID as DEPLOY_ID } from '../support/chat-agent.ts';

/** A turn confirming `confirm` (what the page showed), on prod. */
const confirming = (
  agent: ConsoleAgent,
  confirm: { action: 'deploy' | 'canary'; summary: string },
  text = 'deploy a31ccdd',
) =>
  runChat(agent, {
    text,
    confirm: { deployId: DEPLOY_ID, stack: 'prod', ...confirm },
    actor: 'ada (console)',
    stack: 'prod',
    runId: 'run-00000001',
    onEvent: () => undefined,
  });
const turn = (agent: ConsoleAgent) =>
  confirming(agent, { action: 'deploy', summary: 'deploy sophia-dashboard@a31ccdd on prod' });

describe('attack: the chat’s confirmation used for a change the person did not judge', () => {
  it('a rollback or a promote under the confirmed deploy’s id is not approved, and is shown to confirm instead', async () => {
    for (const action of ['rollback', 'promote'] as const) {
      const decisions: ApprovalDecision[] = [];
      const reply = await turn(agentAsking({ action, stack: 'prod' }, decisions));
      expect(decisions.map((d) => d.approved)).toEqual([false]);
      expect(reply.confirm).toMatchObject({ action, stack: 'prod', deployId: DEPLOY_ID });
      expect(reply.answer).toMatch(/^The plan changed since you confirmed/);
    }
  });

  it('the confirmed deploy’s id on another stack is not approved', async () => {
    const decisions: ApprovalDecision[] = [];
    await turn(agentAsking({ action: 'deploy', stack: 'staging' }, decisions));
    expect(decisions.map((d) => d.approved)).toEqual([false]);
  });

  it('a canary of another share, or departing otherwise from the words, under the confirmed canary’s id is not approved', async () => {
    // A canary's deploy id is its plan's (engine/ids.ts): the share is not in it. Confirmed: a 10%
    // canary; asked: 90% of visitors, then the same share departing from the words as it did not.
    const shown = "send 10% of prod's visitors to sophia-dashboard@a31ccdd (canary)";
    const canary = (summary: string, departs?: string) =>
      agentAsking({ action: 'canary', stack: 'prod', summary, ...(departs ? { departs } : {}) });
    const confirmCanary = (agent: ConsoleAgent) =>
      confirming(agent, { action: 'canary', summary: shown }, 'deploy a31ccdd to 10% first');
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
    const reply = await turn(agentAsking({ action: 'deploy', stack: 'prod' }, decisions));
    expect(decisions).toEqual([
      { approved: true, by: 'ada (console)', via: `the console (confirmed plan ${DEPLOY_ID})` },
    ]);
    expect(reply).toMatchObject({ ok: true, confirm: null, answer: 'done' });
  });
});
