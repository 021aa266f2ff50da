/**
 * A change the agent makes through its own words (a rollback: the runbook's summary, not a plan handle
 * the server described), on a protected stack whose configuration adds an approver the audit log does
 * not record yet. Approving it adopts that policy, and the infra server says so in its question. The
 * person said yes to "roll back …" only: the gate must not answer the server's question, which says
 * more, from that yes; it asks the person again with the server's words.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentClients, ApprovalRequest } from '../../src/agent/types.ts';
import { readAudit } from '../../src/state/audit.ts';
import { type AgentTestEnv, runbookRequests, startAgentTestEnv } from '../support/agent-env.ts';
import { approverKeysFor } from '../support/approver.ts';

let e: AgentTestEnv;
let clients: AgentClients;
const keys = approverKeysFor(['ada']);
const ADOPTS =
  /This approval also adopts the approval policy in frontendops\.config\.json: adds approver Ada \(ed25519:[\w-]{43}\)\./;

beforeAll(async () => {
  e = await startAgentTestEnv();
  clients = await e.connect();
  const run = runbookRequests(e, clients);
  // Two releases, each approved under the policy the configuration has (which their entries record).
  expect((await run('Deploy the latest dashboard')).outcome).toBe('succeeded');
  await e.addRelease('v3');
  expect((await run('Deploy the latest dashboard')).outcome).toBe('succeeded');
  // The configuration now adds Ada: approving the next change adopts that.
  e.config.approval = { approvers: { Ada: keys().ada.publicKey }, trustElicitation: true };
});
afterAll(async () => {
  await e?.stop();
});

const rollBack = (answer: (request: ApprovalRequest, n: number) => boolean) => {
  const asked: ApprovalRequest[] = [];
  const result = runbookRequests(e, clients)('roll back the dashboard', {
    approve: async (request) => {
      asked.push(request);
      return { approved: answer(request, asked.length), by: 'Ada Release', via: 'test' };
    },
  });
  return { asked, result };
};

describe('an agent change that adopts an approval policy, approved through the runbook’s own words', () => {
  it('the person who said yes to the rollback is asked again with what it adopts: a no changes nothing, a yes runs it', async () => {
    const live = await e.hostingIndex();
    const entries = (await readAudit(e.t.site.state, e.t.target.statePrefix)).length;
    const declined = rollBack((_, n) => n === 1);
    const outcome = await declined.result;
    expect(declined.asked.map((r) => r.summary)).toEqual([
      expect.stringMatching(/^roll back dashboard-hosting-prod from /),
      expect.stringMatching(ADOPTS),
    ]);
    expect(declined.asked[0]?.summary).not.toMatch(ADOPTS);
    expect(outcome.outcome, outcome.message).toBe('declined');
    expect(await e.hostingIndex()).toBe(live);
    const added = (await readAudit(e.t.site.state, e.t.target.statePrefix)).slice(entries);
    expect(added.map((entry) => entry.type)).not.toContain('approval-used');

    // Asked again, the person approves what it adopts too: the rollback runs and records the policy.
    const approved = rollBack(() => true);
    expect((await approved.result).outcome).toBe('succeeded');
    expect(approved.asked).toHaveLength(2);
    expect(approved.asked[1]?.summary).toMatch(ADOPTS);
    expect(await e.hostingIndex()).not.toBe(live);
    const used = (await readAudit(e.t.site.state, e.t.target.statePrefix)).filter(
      (entry) => entry.type === 'approval-used',
    );
    expect(JSON.stringify(used.at(-1)?.data.policy)).toContain(keys().ada.publicKey);
  });
});
