/**
 * What the agent answers when the servers say the request cannot be done as asked: the same answer
 * the CLI gives it. A server's BAD_INPUT, NOT_FOUND or CONFLICT before the request changed anything, and a
 * request with nothing to act on, are refusals (exit 2, "Nothing was changed"), never failures; after
 * a change, the failure is the news (exit 1).
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { runAgentRequest } from '../../src/agent/index.ts';
import type { AgentClients } from '../../src/agent/types.ts';
import { exitCodeFor } from '../../src/cli/commands/agent.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { unpinRelease } from '../../src/deploy/pin.ts';
import { readAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import {
  type AgentSnapshot,
  type AgentTestEnv,
  APP,
  runbookRequests,
  startAgentTestEnv,
} from '../support/agent-env.ts';
import { requestBy } from '../support/deploy-env.ts';

let e: AgentTestEnv;
let clients: AgentClients;
/**
 * The stack as the cases start from it, with a newer build (v3) published than the one deployed:
 * nothing deployed; the dashboard's older build live.
 */
let nothingDeployed: AgentSnapshot;
let oneRelease: AgentSnapshot;

beforeAll(async () => {
  e = await startAgentTestEnv();
  clients = await e.connect();
  // Published before the snapshots: its publish record is part of the state they put back.
  await e.addRelease('v3');
  nothingDeployed = await e.snapshot();
  await deployArtifact(e.t.site, {
    app: APP,
    commit: e.repo.commits.dashboard2,
    request: requestBy('deploy the latest dashboard'),
  });
  oneRelease = await e.snapshot();
});
afterAll(async () => {
  await e?.stop();
});

const run = (text: string, options: Partial<Parameters<typeof runAgentRequest>[1]> = {}) =>
  runbookRequests(e, clients)(text, options);

const entries = async () => (await readAudit(e.t.site.state, e.t.target.statePrefix)).length;

/** Each request is refused (exit 2) in words that say nothing changed, and the stack's chain grows by its own request entry only. */
async function expectRefused(
  text: string,
  words: RegExp,
  options: Partial<Parameters<typeof runAgentRequest>[1]> = {},
) {
  const before = await entries();
  const index = await e.hostingIndex();
  const result = await run(text, options);
  expect(result.outcome, result.message).toBe('refused');
  expect(exitCodeFor(result)).toBe(2);
  expect(result.message).toMatch(words);
  expect(result.message).toMatch(/Nothing was changed\./);
  expect(result.message).not.toMatch(/NOT_FOUND|BAD_INPUT|failed:/);
  expect(await e.hostingIndex()).toBe(index);
  const audit = await readAudit(e.t.site.state, e.t.target.statePrefix);
  expect(audit.length).toBe(before + 1);
  expect(audit.at(-1)).toMatchObject({ type: 'agent-request', data: { outcome: 'refused' } });
}

describe('the agent refuses what the servers refuse, as the CLI does', () => {
  it('before anything is deployed: "roll back" and "invalidate the CDN" are refused', async () => {
    await nothingDeployed.restore();
    await expectRefused('roll back', /Nothing is deployed to .* yet, so there is nothing to roll back\./);
    // The reason given for a rollback names no app: "broke" is read as no other app's name.
    await expectRefused(
      'roll back, the latest broke checkout',
      /Nothing is deployed to .* yet, so there is nothing to roll back\./,
    );
    await expectRefused('invalidate the CDN', /Nothing is live on .*, so there is nothing to invalidate\./);
  });

  it('with one release: "roll back" is refused, and so is invalidating a deploy id the stack never had', async () => {
    await nothingDeployed.restore();
    const deployed = await run('deploy the latest dashboard');
    expect(deployed.outcome, deployed.message).toBe('succeeded');
    await expectRefused('roll back', /Only one release of .* is known, so there is no previous release/);
    await expectRefused('invalidate 0000000-0000000000', /0000000-0000000000/);
    await expectRefused("roll back to yesterday's version", /no yesterday's version to roll back to/);
  });

  it('an app path no commit touches is refused, naming the setting to check', async () => {
    await expectRefused(
      'deploy the latest dashboard',
      /No commit touching apps\/nowhere was found .*"appPath"/,
      {
        config: { ...e.config, appPath: 'apps/nowhere' },
      },
    );
  });

  it('"promote the canary" with no canary running is refused; no release is promoted and the pin stays', async () => {
    await oneRelease.restore();
    const pinned = await run('pin the live release');
    expect(pinned.outcome, pinned.message).toBe('succeeded');
    const pin = await e.t.site.records.readPointer();
    await expectRefused('promote the canary', /No canary runs on .*, so there is no canary to promote/);
    await expectRefused('promote the canary', /No canary runs on/, { dryRun: true });
    expect((await e.t.site.records.readPointer())?.value.deployId).toBe(pin?.value.deployId);
    expect(await readPin(e.t.site)).toMatchObject({ cause: 'pin', deployId: pin?.value.deployId });
    // The stack is protected: the agent's unpin is refused by the infra server; a person unpins.
    const unpin = await run('unpin');
    expect(unpin.outcome, unpin.message).toBe('declined');
    expect(unpin.message).toMatch(
      /is protected: lifting its pin .*Nothing was changed\. Unpin at a terminal/,
    );
    expect(await readPin(e.t.site)).toMatchObject({ cause: 'pin', deployId: pin?.value.deployId });
    await unpinRelease(e.t.site, { request: requestBy('unpin') });
  });

  it('a BAD_INPUT or NOT_FOUND after the request changed something is a failure (exit 1), not a refusal', async () => {
    await oneRelease.restore();
    // The infra server is asked to invalidate a deploy id it never had, right after the sync made a
    // release live: its answer (NOT_FOUND) is a real one, and comes after a change.
    const infra = new Proxy(clients.infra, {
      get(target, key, receiver) {
        if (key !== 'callTool') return Reflect.get(target, key, receiver);
        return (params: Parameters<Client['callTool']>[0], ...rest: unknown[]) =>
          target.callTool(
            params.name === 'invalidate_cdn'
              ? { ...params, arguments: { ...params.arguments, deployId: '0000000-0000000000' } }
              : params,
            ...(rest as []),
          );
      },
    });
    const result = await run('deploy the latest dashboard', { clients: { ...clients, infra } });
    expect(result.outcome, result.message).toBe('failed');
    expect(exitCodeFor(result)).toBe(1);
    expect(result.message).toMatch(/^invalidate_cdn failed: NOT_FOUND: /);
  });
});
