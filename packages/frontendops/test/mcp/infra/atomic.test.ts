/**
 * The infra server's seed steps on an atomic stack: run_sync makes the release live (one key
 * write), invalidate_cdn has nothing to invalidate — it verifies through the edge and records —
 * and rollback is one key write; no result names the release store, a bucket or an endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config.ts';
import { createInfraServer } from '../../../src/mcp/infra/server.ts';
import { APP, ARTIFACTS, type AtomicEnv, HOSTING, startAtomicEnv } from '../../support/atomic-env.ts';
import { releaseOf } from '../../support/edge-probe.ts';
import { connectInfra, type InfraClient } from '../../support/mcp-infra.ts';

const C = ['a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0', 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0'];
let t: AtomicEnv;
let c: InfraClient;

beforeAll(async () => {
  t = await startAtomicEnv();
  for (const [i, commit] of C.entries()) await t.publish(commit, `v${i + 1}`);
  const server = createInfraServer({
    config: defaultConfig(),
    defaultStack: t.site.target.stack,
    openSite: async () => t.site,
  });
  c = await connectInfra(server);
});
afterAll(async () => {
  await c.close();
  await t.stop();
});

const served = async () => releaseOf(await (await fetch(t.edge.url)).text());

describe('infra tools on an atomic stack', () => {
  it('get_deploy_target → run_sync (live: one key write) → invalidate_cdn (nothing to invalidate: verify, record)', async () => {
    for (const [i, commit] of C.entries()) {
      const target = await c.call('get_deploy_target', { commit, app: APP });
      expect(target.isError, target.text).toBe(false);
      expect(target.structured).toMatchObject({ invalidationPaths: [] });
      expect(target.text).toMatch(/one key write, nothing to invalidate/);
      const sync = await c.call('run_sync', {
        handle: target.structured.handle,
        request: 'Deploy the latest',
      });
      expect(sync.isError, sync.text).toBe(false);
      expect(sync.structured).toMatchObject({ outcome: 'synced', deployId: target.structured.deployId });
      expect(sync.text).toMatch(/It is live: an atomic release switched by one key write/);
      expect(await served()).toBe(`v${i + 1}`);
      const inv = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
      expect(inv.isError, inv.text).toBe(false);
      expect(inv.structured).toMatchObject({
        outcome: 'succeeded',
        paths: [],
        invalidationIds: [],
        verification: { ok: true },
      });
      const again = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
      expect(again.structured).toMatchObject({ outcome: 'succeeded', invalidationIds: [] });
    }
    expect(t.edge.stats().invalidations).toEqual([]);
  });

  it('rollback: one key write; no result names the store, a bucket or an endpoint', async () => {
    const back = await c.call('rollback', {});
    expect(back.isError, back.text).toBe(false);
    expect(back.structured).toMatchObject({ commit: C[0], outcome: 'succeeded' });
    expect(await served()).toBe('v1');
    const everything = JSON.stringify(c.seen);
    for (const secret of [t.target.releaseStoreArn as string, ARTIFACTS, HOSTING, t.s3.endpoint]) {
      expect(everything).not.toContain(secret);
    }
    expect(t.edge.stats().invalidations).toEqual([]);
  });
});
