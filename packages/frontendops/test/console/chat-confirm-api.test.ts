/**
 * Attacks on the chat's confirmation through the console's API, by whoever holds its token: the
 * confirmation of a plan shown on one stack sent for another stack, and a confirming turn on which
 * the agent asks for another kind of change under the confirmed deploy id (a deploy of a commit and a
 * rollback to it, planned from one live release, share it). The chat never opens a stack itself, so
 * the console here serves two stack names and an agent that asks as the gate does.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import type { ApprovalAction, ApprovalDecision } from '../../src/ports.ts';
import { agentAsking, ASKED_DEPLOY_ID as DEPLOY_ID } from '../support/chat-agent.ts';

let server: ConsoleServer;
let uiDir: string;
/** What the agent asks for on its next turn, and what it was answered. */
let next: { action: ApprovalAction; stack: string } = { action: 'deploy', stack: 'prod' };
const decisions: ApprovalDecision[] = [];

const agent = agentAsking(() => next, decisions);

beforeAll(async () => {
  uiDir = await mkdtemp(join(tmpdir(), 'frontendops-console-ui-'));
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>console</title>');
  server = await startConsole({
    config: defaultConfig(),
    stacks: ['prod', 'staging'],
    openSite: async () => {
      throw new Error('the chat opens no stack itself');
    },
    agent,
    uiDir,
    actor: 'ada (console)',
  });
});
afterAll(async () => {
  await server?.close();
  if (uiDir) await rm(uiDir, { recursive: true, force: true });
});

async function chat(body: Record<string, unknown>) {
  const res = await fetch(new URL('/api/chat', server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('attack: a chat confirmation used for a change the person did not judge', () => {
  it('a plan shown on one stack, confirmed for another: refused, the agent not run', async () => {
    next = { action: 'deploy', stack: 'prod' };
    const shown = await chat({ text: 'deploy a31ccdd', stack: 'prod' });
    expect(shown.body.confirm).toMatchObject({ action: 'deploy', deployId: DEPLOY_ID });
    const turns = decisions.length;
    const elsewhere = await chat({
      text: 'deploy a31ccdd',
      stack: 'staging',
      confirm: { deployId: DEPLOY_ID },
    });
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body.error).toBe('CONFIRMATION_USED');
    expect(decisions.length).toBe(turns);
  });

  it('the confirming turn asks for a rollback under the confirmed deploy’s id: not approved, shown instead', async () => {
    next = { action: 'deploy', stack: 'prod' };
    await chat({ text: 'deploy a31ccdd', stack: 'prod' });
    next = { action: 'rollback', stack: 'prod' };
    const swapped = await chat({ text: 'deploy a31ccdd', stack: 'prod', confirm: { deployId: DEPLOY_ID } });
    expect(decisions.at(-1)?.approved).toBe(false);
    expect(swapped.body).toMatchObject({ confirm: { action: 'rollback', deployId: DEPLOY_ID } });

    // What was shown now (the rollback) is what a confirmation approves, once.
    const rollback = await chat({ text: 'deploy a31ccdd', stack: 'prod', confirm: { deployId: DEPLOY_ID } });
    expect(decisions.at(-1)).toMatchObject({ approved: true });
    expect(rollback.body).toMatchObject({ ok: true, confirm: null });
    const again = await chat({ text: 'deploy a31ccdd', stack: 'prod', confirm: { deployId: DEPLOY_ID } });
    expect(again.status).toBe(409);
  });
});
