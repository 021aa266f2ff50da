/**
 * "deploy 3f2c1a9" when someone who can push has tagged another commit "3f2c1a9": git reads the name
 * as that tag before the abbreviated sha, so get_commit answered the tagged commit, the gate took it
 * for the one the words name, and the agent deployed it (the stack here is unprotected: nobody was
 * asked). Now the git host refuses the ambiguous name, and the agent refuses the request in words.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AgentClients } from '../../src/agent/types.ts';
import { exitCodeFor } from '../../src/cli/commands/agent.ts';
import { type AgentTestEnv, runbookRequests, startAgentTestEnv } from '../support/agent-env.ts';

let e: AgentTestEnv;
let clients: AgentClients;

beforeAll(async () => {
  e = await startAgentTestEnv();
  clients = await e.connect();
});
afterAll(async () => {
  await e?.stop();
});

it('a short sha a pushed tag shadows is refused: nothing is deployed, and the words say what to pass', async () => {
  const asked = e.repo.commits.dashboard1.slice(0, 7);
  await e.repo.git(['tag', asked, e.repo.commits.dashboard2]);
  const index = await e.hostingIndex();
  const result = await runbookRequests(e, clients)(`deploy ${asked}`);
  expect(result.outcome, result.message).toBe('refused');
  expect(exitCodeFor(result)).toBe(2);
  expect(result.message).toMatch(/Nothing was changed\./);
  expect(result.message).toContain('full sha');
  expect(await e.hostingIndex()).toBe(index);
  expect(result.calls.map((c) => c.tool)).not.toContain('run_sync');
});
