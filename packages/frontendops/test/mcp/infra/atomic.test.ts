/**
 * The infra server's seed steps on an atomic stack: run_sync makes the release live (one key
 * write), invalidate_cdn has nothing to invalidate — it verifies through the edge and records —
 * and rollback is one key write; no result names the release store, a bucket or an endpoint.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApproverKey, loadApproverKey } from '../../../src/approval/keys.ts';
import { approveRequest } from '../../../src/cli/approve-deploy.ts';
import { defaultConfig } from '../../../src/config.ts';
import { createInfraServer } from '../../../src/mcp/infra/server.ts';
import { loadReceiptKey, verifyReceipt } from '../../../src/mcp/receipts.ts';
import {
  APP,
  ARTIFACTS,
  type AtomicEnv,
  HOSTING,
  request,
  startAtomicEnv,
} from '../../support/atomic-env.ts';
import { Browser, releaseOf } from '../../support/edge-probe.ts';
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

  it('start_canary, then promote_canary: a share first, then everyone; each one key write, nothing invalidated', async () => {
    // The rollback pinned v1: a canary of another build waits for the pin like a deploy.
    const held = await c.call('start_canary', {
      commit: (C[1] as string).slice(0, 7),
      percent: 25,
      app: APP,
    });
    expect(held.isError).toBe(true);
    expect(held.text).toMatch(/^PINNED: /);
    expect((await t.store().read()).value).not.toHaveProperty('canary');
    expect((await c.call('unpin_release', { reason: 'try v2 on a share first' })).isError).toBe(false);
    const start = await c.call('start_canary', {
      commit: (C[1] as string).slice(0, 7),
      percent: 25,
      app: APP,
    });
    expect(start.isError, start.text).toBe(false);
    expect(start.structured).toMatchObject({
      commit: C[1],
      percent: 25,
      outcome: 'succeeded',
      approvedBy: null,
    });
    expect((await t.store().read()).value).toMatchObject({ canary: start.structured.releaseId, weight: 25 });
    const status = await c.call('get_status', {});
    expect(status.structured).toMatchObject({
      mode: 'atomic',
      canary: { commit: C[1], percent: 25, deployId: start.structured.deployId },
    });
    expect(status.text).toMatch(/a canary of sophia-dashboard@[0-9a-f]{7} gets 25% of visitors/);
    const promoted = await c.call('promote_canary', {});
    expect(promoted.isError, promoted.text).toBe(false);
    expect(promoted.structured).toMatchObject({ commit: C[1], outcome: 'succeeded' });
    // Only the promote made a release live for everyone: only it carries a receipt to tag with.
    expect(start.structured.receipt).toBeNull();
    expect(verifyReceipt(await loadReceiptKey(), String(promoted.structured.receipt))).toMatchObject({
      deployId: promoted.structured.deployId,
      commit: C[1],
    });
    expect((await t.store().read()).value).toEqual({ live: promoted.structured.releaseId });
    expect(await served()).toBe('v2');
    expect((await c.call('get_status', {})).structured).toMatchObject({ canary: null });
    const none = await c.call('abort_canary', {});
    expect(none.isError).toBe(true);
    expect(none.text).toMatch(/no canary/i);
    expect(t.edge.stats().invalidations).toEqual([]);
  });

  it('preview_release: a signed, expiring link that shows the build; what visitors get is unchanged', async () => {
    const preview = await c.call('preview_release', { commit: C[0], hours: 2 });
    expect(preview.isError, preview.text).toBe(false);
    expect(preview.structured).toMatchObject({ commit: C[0], app: APP });
    expect(Date.parse(preview.structured.expiresAt as string) - Date.now()).toBeGreaterThan(3600_000);
    // A browser: the link's token moves into a cookie by a redirect, then the page is the preview.
    const link = new URL(preview.structured.url as string);
    const browser = new Browser(link.origin);
    expect(releaseOf((await browser.navigate(`${link.pathname}${link.search}`)).body)).toBe('v1');
    expect(await served()).toBe('v2');
    // Status says a link is open, and for what — never the link itself (it grants access).
    const status = await c.call('get_status', {});
    expect(status.structured.previews).toEqual([
      expect.objectContaining({ commit: C[0], expiresAt: preview.structured.expiresAt }),
    ]);
    expect(JSON.stringify(status.structured)).not.toContain(link.search.slice(1));
  });

  it('on a protected stack a canary waits for its own approval (action canary), and nothing changes meanwhile', async () => {
    const guarded = await connectInfra(
      createInfraServer({
        config: { ...defaultConfig(), protected: [t.site.target.stack] },
        defaultStack: t.site.target.stack,
        openSite: async () => ({
          ...t.site,
          protected: true,
          approval: { approvers: { Ada: `ed25519:${'A'.repeat(43)}` }, trustElicitation: false },
        }),
      }),
    );
    try {
      const start = await guarded.call('start_canary', { commit: C[0], percent: 10, app: APP });
      expect(start.isError).toBe(true);
      expect(start.text).toMatch(/APPROVAL_REQUIRED: .*send 10%/);
      const deployId = /frontendops approve (\S+) --stack/.exec(start.text)?.[1] ?? '';
      const { findApprovalRequests } = await import('../../../src/state/approvals.ts');
      expect((await findApprovalRequests(t.site, deployId)).map((r) => r.action)).toEqual(['canary']);
      expect((await t.store().read()).value).toEqual({ live: expect.any(String) });
      expect(await served()).toBe('v2');
    } finally {
      await guarded.close();
    }
  });

  it('attack: an approval of a 5% canary does not start it at 99%, even with the stored request edited', async () => {
    const keys = await mkdtemp(join(tmpdir(), 'frontendops-canary-keys-'));
    const keyPath = join(keys, 'ada.pem');
    const site = {
      ...t.site,
      protected: true,
      approval: { approvers: { Ada: await createApproverKey(keyPath, undefined) }, trustElicitation: false },
    };
    const guarded = await connectInfra(
      createInfraServer({
        config: { ...defaultConfig(), protected: [t.site.target.stack] },
        defaultStack: t.site.target.stack,
        openSite: async () => site,
      }),
    );
    const approve = async (deployId: string) => {
      let shown = '';
      await approveRequest(site, {
        deployId,
        request: request('approve'),
        loadKey: () => loadApproverKey(keyPath, undefined),
        confirm: async (preview) => {
          shown = preview.description;
          return true;
        },
      });
      return shown;
    };
    try {
      const before = (await t.store().read()).value;
      const ask = await guarded.call('start_canary', { commit: C[0], percent: 5, app: APP });
      const deployId = /frontendops approve (\S+) --stack/.exec(ask.text)?.[1] ?? '';
      expect(await approve(deployId)).toMatch(/^send 5% of /);

      // The model (or any MCP client) asks for more than the person approved: same deploy id.
      const wider = await guarded.call('start_canary', { commit: C[0], percent: 99, app: APP });
      expect(wider.isError).toBe(true);
      expect(wider.text).toMatch(/APPROVAL_REQUIRED: .*send 99%/);
      expect((await t.store().read()).value).toEqual(before);

      // Whoever can write the state bucket edits the stored request to the share they want: Ada's
      // signature names the share she was shown.
      const { findApprovalRequests } = await import('../../../src/state/approvals.ts');
      const [open] = await findApprovalRequests(t.site, deployId);
      const key = `${t.site.target.statePrefix}approvals/requests/canary-${deployId}.json`;
      expect(open?.weight).toBe(99);
      expect(await approve(deployId)).toMatch(/^send 99% of /);
      await t.site.state.put(key, JSON.stringify({ ...open, weight: 40 }));
      const edited = await guarded.call('start_canary', { commit: C[0], percent: 40, app: APP });
      expect(edited.isError).toBe(true);
      expect(edited.text).toMatch(
        /APPROVAL_REQUIRED: .*it approves 99% of visitors, but 40% of visitors was asked for/,
      );
      expect((await t.store().read()).value).toEqual(before);
    } finally {
      await guarded.close();
      await rm(keys, { recursive: true, force: true });
    }
  });
});
