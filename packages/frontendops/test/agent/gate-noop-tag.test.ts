/**
 * A model in a request that makes nothing live: the live build's handle (a no-op) run through
 * run_sync, whose answer names the live deployment (made by another request, untagged), then
 * invalidate_cdn of that id, which answers the recorded deployment with its receipt. The gate tags
 * only a deployment the request made live: the no-op's id is none, so create_deploy_tag is refused.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AgentClients } from '../../src/agent/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { type AgentTestEnv, APP, gateFor, startAgentTestEnv } from '../support/agent-env.ts';

let e: AgentTestEnv;
let clients: AgentClients;
beforeAll(async () => {
  e = await startAgentTestEnv();
  clients = await e.connect();
});
afterAll(() => e?.stop());

it('a no-op run_sync does not make the live deployment of another request one this request may tag', async () => {
  const { dashboard2 } = e.repo.commits;
  // Deployed by another run (the CLI with --no-tag): live, recorded, untagged.
  const earlier = await deployArtifact(e.t.site, {
    app: APP,
    commit: dashboard2,
    request: { text: 'deploy', actor: 'rm-bob', planner: 'cli', at: new Date().toISOString() },
  });
  const gate = gateFor(e, clients, 'deploy the latest dashboard');
  await gate.call('latest_commit', {});
  const target = await gate.call('get_deploy_target', { commit: dashboard2 });
  expect(target.structured?.noop).toBe(true);
  const sync = await gate.call('run_sync', { handle: target.structured?.handle });
  expect(sync.structured).toMatchObject({ outcome: 'noop', deployId: earlier.deployId });
  const cdn = await gate.call('invalidate_cdn', { deployId: earlier.deployId });
  expect(cdn.structured?.receipt).toEqual(expect.any(String));
  const tag = await gate.call('create_deploy_tag', {
    deployId: earlier.deployId,
    commit: dashboard2,
    artifactDigest: earlier.artifactDigest,
    request: 'deploy the latest dashboard',
  });
  // Before: ok, a tag made for a deployment this request did not make.
  expect(tag.record).toMatchObject({
    status: 'refused',
    summary: expect.stringMatching(/only created for a deployment made live in this request/),
  });
  expect((await e.repo.git(['tag', '-l'])).trim()).toBe('');
});
