/**
 * The infra server's seed steps on an atomic stack: run_sync makes the release live (one key
 * write), invalidate_cdn has nothing to invalidate — it verifies through the edge and records —
 * and rollback is one key write; no result names the release store, a bucket or an endpoint.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApproverKey } from '../../../src/approval/keys.ts';
import { AUDIT_HEAD_KEY, RELEASE_KEY } from '../../../src/atomic/release-pointer.ts';
import { type AuditHead, parseAuditHead } from '../../../src/contract/audit-head.ts';
import { deployAtomic } from '../../../src/deploy/atomic-deploy.ts';
import { startCanary } from '../../../src/deploy/canary.ts';
import { pinRelease, promoteRelease, unpinRelease } from '../../../src/deploy/pin.ts';
import { artifactFileKey } from '../../../src/engine/manifest.ts';
import { FrontendOpsError } from '../../../src/errors.ts';
import { loadReceiptKey, verifyReceipt } from '../../../src/mcp/receipts.ts';
import type { ReleasePointer, ReleaseStore } from '../../../src/ports.ts';
import { adoptApprovalPolicy, approvalInForce } from '../../../src/state/approval-in-force.ts';
import { changeDigest, checkSignedApproval, consumeApproval, isUsed } from '../../../src/state/approvals.ts';
import {
  type AuditEntry,
  appendAudit,
  readAudit,
  readAuditHead,
  verifyAudit,
} from '../../../src/state/audit.ts';
import { markEnvironment, readEnvironmentMarker } from '../../../src/state/environment.ts';
import { APPROVALS_USED, PIN } from '../../../src/state/names.ts';
import { approveShown, findApprovalRequests } from '../../support/approver.ts';
import {
  APP,
  ARTIFACTS,
  type AtomicEnv,
  COLLIDING_COMMITS,
  HOSTING,
  request,
  startAtomicEnv,
} from '../../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../../support/atomic-snapshot.ts';
import { auditEntryKey } from '../../support/audit-forgery.ts';
import { Browser, releaseOf } from '../../support/edge-probe.ts';
import { heldPoint } from '../../support/held-point.ts';
import { connectInfra, type InfraClient, infraServerOn, type ToolCall } from '../../support/mcp-infra.ts';
import { rawKvs } from '../../support/raw-kvs.ts';

const C = ['a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0', 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0'];
/** Published by the case that deploys it: a build no snapshot's deploys made live. */
const C3 = 'c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0';
let t: AtomicEnv;
let c: InfraClient;
/** The stack the cases start from: v1 then v2 deployed through the tools; then rolled back to v1. */
let v2Live: AtomicSnapshot;
let rolledBack: AtomicSnapshot;
/**
 * The seed steps as beforeAll ran them on this stack, from nothing ever live (a snapshot cannot
 * empty the release store): per version, what each tool answered, and the release the edge served
 * once run_sync answered; then the CDN invalidations made by all of them. The first case checks them.
 */
let fromNothing: Array<{
  target: ToolCall;
  sync: ToolCall;
  servedThen: string | undefined;
  done: ToolCall;
  again: ToolCall;
}>;
let invalidationsFromNothing: unknown[];

beforeAll(async () => {
  t = await startAtomicEnv();
  await t.publishVersions(C);
  c = await connectInfra(infraServerOn(t.site));
  fromNothing = [];
  for (const commit of C) {
    const target = await c.call('get_deploy_target', { commit, app: APP });
    const sync = await c.call('run_sync', { handle: target.structured.handle, request: 'Deploy the latest' });
    const servedThen = await served();
    const done = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
    const again = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
    fromNothing.push({ target, sync, servedThen, done, again });
    // What follows starts from these deploys: one that failed stops here (the first case says how).
    if ([target, sync, done].some((step) => step.isError)) break;
  }
  invalidationsFromNothing = [...t.edge.stats().invalidations];
  v2Live = await snapshotAtomicEnv(t);
  const back = await c.call('rollback', {});
  if (back.isError) throw new Error(back.text);
  rolledBack = await snapshotAtomicEnv(t);
});
afterAll(async () => {
  await c.close();
  await t.stop();
});

/** The stack protected, with Ada (a key of her own) its approver, behind an infra server of its own. */
async function guardedStack(releases: ReleaseStore = t.site.releases as ReleaseStore) {
  const keys = await mkdtemp(join(tmpdir(), 'frontendops-canary-keys-'));
  const keyPath = join(keys, 'ada.pem');
  const approvers = { Ada: await createApproverKey(keyPath, undefined) };
  const site = { ...t.site, releases, protected: true, approval: { approvers, trustElicitation: false } };
  const guarded = await connectInfra(infraServerOn(site));
  /** Ada approves the request open for `deployId`; returns what she was shown. */
  const approve = (deployId: string) => approveShown(site, keyPath, deployId);
  const close = async () => {
    await guarded.close();
    await rm(keys, { recursive: true, force: true });
  };
  return { site, approvers, guarded, approve, close };
}

const served = async () => releaseOf(await (await fetch(t.edge.url)).text());
/** What the store's writer (the deployer role) keeps when the state bucket is put back. */
const KVS_KEYS = [RELEASE_KEY, AUDIT_HEAD_KEY] as const;

describe('infra tools on an atomic stack', () => {
  it('get_deploy_target → run_sync (live: one key write) → invalidate_cdn (nothing to invalidate: verify, record)', async () => {
    // The steps beforeAll ran, v1 then v2, on the stack from nothing ever live.
    expect(fromNothing).toHaveLength(C.length);
    for (const [i, { target, sync, servedThen, done, again }] of fromNothing.entries()) {
      expect(target.isError, target.text).toBe(false);
      expect(target.structured).toMatchObject({ invalidationPaths: [] });
      expect(target.text).toMatch(/one key write, nothing to invalidate/);
      expect(sync.isError, sync.text).toBe(false);
      expect(sync.structured).toMatchObject({ outcome: 'synced', deployId: target.structured.deployId });
      expect(sync.text).toMatch(/It is live: an atomic release switched by one key write/);
      expect(servedThen).toBe(`v${i + 1}`);
      expect(done.isError, done.text).toBe(false);
      expect(done.structured).toMatchObject({
        outcome: 'succeeded',
        paths: [],
        invalidationIds: [],
        verification: { ok: true },
      });
      expect(again.structured).toMatchObject({ outcome: 'succeeded', invalidationIds: [] });
    }
    expect(invalidationsFromNothing).toEqual([]);
  });

  it('rollback: one key write; no result names the store, a bucket or an endpoint', async () => {
    await v2Live.restore();
    const back = await c.call('rollback', {});
    expect(back.isError, back.text).toBe(false);
    expect(back.structured).toMatchObject({ commit: C[0], outcome: 'succeeded' });
    expect(await served()).toBe('v1');
    // Every result this client had: the deploys of v1 and v2 (beforeAll), this rollback, and any case's.
    const everything = JSON.stringify(c.seen);
    for (const secret of [t.target.releaseStoreArn as string, ARTIFACTS, HOSTING, t.s3.endpoint]) {
      expect(everything).not.toContain(secret);
    }
    expect(t.edge.stats().invalidations).toEqual([]);
  });

  it('start_canary, then promote_canary: a share first, then everyone; each one key write, nothing invalidated', async () => {
    // The rollback pinned v1: a canary of another build waits for the pin like a deploy.
    await rolledBack.restore();
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
    await v2Live.restore();
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

  it('attack: preview_release of a build ground to a kept release’s id is refused in the engine’s words', async () => {
    await v2Live.restore();
    const [kept, ground] = COLLIDING_COMMITS;
    await t.publish(kept, 'kept');
    await t.publish(ground, 'ground');
    await deployAtomic(t.site, { app: APP, commit: kept, request: request() });
    const entries = (await readAudit(t.site.state, t.target.statePrefix)).length;
    const preview = await c.call('preview_release', { commit: ground, hours: 2 });
    expect(preview.isError).toBe(true);
    expect(preview.text).toMatch(
      /CONFLICT: The release id c0111de-r\S+ of sophia-dashboard@c0111de .*another build.*Nothing was changed/,
    );
    expect(await readAudit(t.site.state, t.target.statePrefix)).toHaveLength(entries);
    expect(await served()).toBe('kept');
  });

  it('on a protected stack a canary waits for its own approval (action canary), and nothing changes meanwhile', async () => {
    await v2Live.restore();
    const guarded = await connectInfra(
      infraServerOn({
        ...t.site,
        protected: true,
        approval: { approvers: { Ada: `ed25519:${'A'.repeat(43)}` }, trustElicitation: false },
      }),
    );
    try {
      const start = await guarded.call('start_canary', { commit: C[0], percent: 10, app: APP });
      expect(start.isError).toBe(true);
      expect(start.text).toMatch(/APPROVAL_REQUIRED: .*send 10%/);
      const deployId = /frontendops approve (\S+) --stack/.exec(start.text)?.[1] ?? '';
      expect((await findApprovalRequests(t.site, deployId)).map((r) => r.action)).toEqual(['canary']);
      expect((await t.store().read()).value).toEqual({ live: expect.any(String) });
      expect(await served()).toBe('v2');
    } finally {
      await guarded.close();
    }
  });

  it('attack: an approval its refused change used, its marker and the chain from its use cut, is not spent again', async () => {
    // Nothing after the use anchors the chain (no switch, no deploy tag): whoever writes the state
    // bucket deletes the "used" marker and the entries from its use on, and moves the head back.
    await v2Live.restore();
    await t.publish(C3, 'v3');
    const { guarded, approve, site, close } = await guardedStack();
    try {
      const prefix = site.target.statePrefix;
      // The stack marked protected already, as by its earlier changes: the run appends no marker entry.
      await markEnvironment(site, await readEnvironmentMarker(site.hosting));
      const target = await guarded.call('get_deploy_target', { commit: C3, app: APP });
      const deployId = target.structured.deployId as string;
      const handle = target.structured.handle;
      expect((await guarded.call('run_sync', { handle })).text).toMatch(/APPROVAL_REQUIRED/);
      await approve(deployId);
      // A file of the build swapped after publishing: the run uses Ada's approval, then stops.
      const key = artifactFileKey(APP, C3, '/index.html');
      const artifacts = t.s3.store(ARTIFACTS);
      const published = (await artifacts.get(key))?.body;
      await artifacts.put(key, '<h1>not what was published</h1>', { contentType: 'text/html' });
      expect((await guarded.call('run_sync', { handle })).text).toMatch(/TAMPERED/);
      await artifacts.put(key, published ?? '', { contentType: 'text/html' });
      const [asked] = await findApprovalRequests(site, deployId);
      expect(await isUsed(site, asked?.nonce ?? '')).toBe(true);

      const entries = await readAudit(site.state, prefix);
      const use = entries.findLast((e) => e.type === 'approval-used') as AuditEntry;
      const before = entries.find((e) => e.seq === use.seq - 1) as AuditEntry;
      await site.state.delete([
        `${prefix}${APPROVALS_USED}${asked?.nonce}.json`,
        ...entries.filter((e) => e.seq >= use.seq).map((e) => auditEntryKey(prefix, e.seq)),
      ]);
      await site.state.put(
        `${prefix}audit/head.json`,
        JSON.stringify({ seq: before.seq, hash: before.hash }),
        {
          contentType: 'application/json',
        },
      );
      const cut = (await readAudit(site.state, prefix)).length;

      const again = await guarded.call('get_deploy_target', { commit: C3, app: APP });
      expect(again.structured.deployId, again.text).toBe(deployId);
      const replayed = await guarded.call('run_sync', { handle: again.structured.handle });
      expect(replayed.isError, replayed.text).toBe(true);
      expect(replayed.text).toMatch(/TAMPERED/);
      expect(replayed.text).toContain(`${use.seq}:${use.hash}`);
      expect(replayed.text).toMatch(/Nothing was changed/);
      expect(await served()).toBe('v2');
      expect(await isUsed(site, asked?.nonce ?? '')).toBe(false);
      expect((await readAudit(site.state, prefix)).length).toBe(cut);
      // status and audit verify say it too, from the same store.
      expect((await guarded.call('get_status')).structured.recorded).toMatchObject({
        state: 'changed-outside',
        note: expect.stringMatching(/refused until its audit log holds the head .* does not hold entry/),
      });
      const verified = await verifyAudit(site.state, prefix, { releaseStore: t.store() });
      expect(verified.ok).toBe(false);
      expect(verified.problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          seq: use.seq,
          reason: expect.stringMatching(
            /anchors entry \d+:sha256:\w+ .*does not hold: the chain was cut back/,
          ),
        }),
      );
    } finally {
      await close();
    }
  });

  it('attack: an approval whose run stopped before its anchor, cut after the next switch, is not spent again', async () => {
    // The run is killed between the approval's use (its entry) and the anchor's write. Other changes
    // switch (in the store the state-bucket party cannot write); that party then puts the state
    // bucket back to before them and cuts the use, so the approval would spend itself again.
    await v2Live.restore();
    await t.publish(C3, 'v3');
    const real = t.site.releases as ReleaseStore;
    let stops = 1;
    const anchorAuditHead: ReleaseStore['anchorAuditHead'] = (head, etag) =>
      stops-- > 0 ? Promise.reject(new Error('killed before the anchor')) : real.anchorAuditHead(head, etag);
    const { guarded, approve, site, close } = await guardedStack({ ...real, anchorAuditHead });
    const kvs = rawKvs(t);
    try {
      const prefix = site.target.statePrefix;
      const target = await guarded.call('get_deploy_target', { commit: C3, app: APP });
      const deployId = target.structured.deployId as string;
      expect((await guarded.call('run_sync', { handle: target.structured.handle })).text).toMatch(
        /APPROVAL_REQUIRED/,
      );
      await approve(deployId);
      const stopped = await guarded.call('run_sync', { handle: target.structured.handle });
      expect(stopped.text).toMatch(/^INTERNAL: /);
      const [asked] = await findApprovalRequests(site, deployId);
      expect(await isUsed(site, asked?.nonce ?? '')).toBe(true);
      const use = (await readAudit(site.state, prefix)).findLast(
        (e) => e.type === 'approval-used',
      ) as AuditEntry;
      const afterStop = await snapshotAtomicEnv(t);

      // Switches that bring back what the approval's plan was made from: a rollback, then a promote.
      expect((await c.call('rollback', {})).isError).toBe(false);
      const promoted = await c.call('promote_release', { to: C[1], app: APP, reason: 'forward again' });
      expect(promoted.isError, promoted.text).toBe(false);
      expect(await served()).toBe('v2');
      const store = await Promise.all(KVS_KEYS.map((key) => kvs.get(key)));
      // The state bucket put back to before the rollback, the use cut; the store keeps what it holds.
      await afterStop.restore();
      for (const [i, key] of KVS_KEYS.entries()) await kvs.set(key, store[i] ?? null);
      const entries = await readAudit(site.state, prefix);
      const before = entries.find((e) => e.seq === use.seq - 1) as AuditEntry;
      await site.state.delete([
        `${prefix}${APPROVALS_USED}${asked?.nonce}.json`,
        ...entries.filter((e) => e.seq >= use.seq).map((e) => auditEntryKey(prefix, e.seq)),
      ]);
      await site.state.put(
        `${prefix}audit/head.json`,
        JSON.stringify({ seq: before.seq, hash: before.hash }),
        {
          contentType: 'application/json',
        },
      );
      expect(await isUsed(site, asked?.nonce ?? '')).toBe(false);

      const again = await guarded.call('get_deploy_target', { commit: C3, app: APP });
      const replayed = await guarded.call('run_sync', { handle: again.structured.handle });
      expect(replayed.isError, replayed.text).toBe(true);
      // The anchor the switches wrote: the chain's head at their start, past the use.
      const anchored = /does not hold entry (\d+):/.exec(replayed.text)?.[1];
      expect(replayed.text).toMatch(/^TAMPERED: The audit log of \S+ does not hold entry/);
      expect(Number(anchored)).toBeGreaterThanOrEqual(use.seq);
      expect(replayed.text).toMatch(/Nothing was changed/);
      expect(await served()).toBe('v2');
      expect(await isUsed(site, asked?.nonce ?? '')).toBe(false);
    } finally {
      kvs.destroy();
      await close();
    }
  });

  it("attack: a policy adoption cut from the chain's end: verify fails, the next change is refused", async () => {
    // `approvers adopt` appends an entry no switch or deploy tag follows: whoever writes the state
    // bucket deletes it and moves the head back, and the policy recorded before is in force again.
    await v2Live.restore();
    const { site, close } = await guardedStack();
    try {
      const prefix = site.target.statePrefix;
      const before = (await readAuditHead(site.state, prefix)) as AuditHead;
      const adopted = await adoptApprovalPolicy(site, 'Ops', Date.now());
      await site.state.delete([auditEntryKey(prefix, adopted.seq)]);
      await site.state.put(`${prefix}audit/head.json`, JSON.stringify(before), {
        contentType: 'application/json',
      });
      const verified = await verifyAudit(site.state, prefix, { releaseStore: t.store() });
      expect(verified.problems).toContainEqual(
        expect.objectContaining({ kind: 'tampered', seq: adopted.seq }),
      );
      expect((await c.call('get_status')).structured.recorded).toMatchObject({
        state: 'changed-outside',
        note: expect.stringContaining(`does not hold entry ${adopted.seq}:${adopted.hash}`),
      });
      const back = await c.call('rollback', {});
      expect(back.isError, back.text).toBe(true);
      expect(back.text).toMatch(
        new RegExp(`TAMPERED: The audit log of \\S+ does not hold entry ${adopted.seq}:${adopted.hash}`),
      );
      expect(back.text).toMatch(/Nothing was changed/);
      expect(await served()).toBe('v2');
      expect((await readAuditHead(site.state, prefix))?.seq).toBe(before.seq);
    } finally {
      await close();
    }
  });

  it("attack: `approvers adopt` beside an approved promote does not anchor its older head over the promote's use", async () => {
    // The adoption has appended its entry and read the release store; its anchor is not sent yet.
    // Meanwhile a promote of the live release lifts the rollback's pin with an approval and anchors
    // the head after its use. Before, the adoption then wrote its older head over it (the store
    // changed by another key only, it read it again and wrote), and the use was anchored by nothing.
    await rolledBack.restore();
    const real = t.site.releases as ReleaseStore;
    const adoptionHeld = heldPoint();
    let hold = true;
    const adopting = adoptApprovalPolicy(
      {
        ...t.site,
        releases: {
          ...real,
          async anchorAuditHead(head, etag) {
            if (hold) {
              hold = false;
              await adoptionHeld.arrive();
            }
            return real.anchorAuditHead(head, etag);
          },
        },
      },
      'Ops',
      Date.now(),
    );
    adopting.catch(() => {});
    await adoptionHeld.reached;
    let waiting = () => {};
    const waits = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    const promoter = await t.open({ onNotice: (notice) => /is locked by/.test(notice) && waiting() });
    const approval = { nonce: 'nonce-adopt-race-AAAAAAA', by: 'Ada', via: 'elicitation' as const };
    const promoting = promoteRelease(promoter, {
      app: APP,
      commit: C[0] as string,
      request: request('lift it'),
      waitMs: 60_000,
      authorize: async (plan) => {
        const { nonce, ...given } = approval;
        await consumeApproval(promoter, nonce, {
          action: 'promote',
          deployId: plan.deployId,
          approval: given,
          now: Date.now(),
          judged: await approvalInForce(promoter),
        });
        return approval;
      },
    });
    promoting.catch(() => {});
    // The promote done (the adoption outside the lock), or waiting for the lock the adoption holds.
    await Promise.race([promoting, waits]);
    adoptionHeld.release();
    const [adopted, promoted] = await Promise.allSettled([adopting, promoting]);
    const prefix = t.site.target.statePrefix;
    const use = (await readAudit(t.site.state, prefix)).findLast((e) => e.type === 'approval-used');
    const anchored = parseAuditHead((await t.store().read()).auditHead ?? '');
    expect(use).toBeDefined();
    expect(anchored?.seq).toBeGreaterThanOrEqual(use?.seq ?? Number.POSITIVE_INFINITY);
    expect(adopted.status, String((adopted as PromiseRejectedResult).reason)).toBe('fulfilled');
    expect(promoted).toMatchObject({ status: 'fulfilled', value: { unpinned: { commit: C[0] } } });
    expect(await verifyAudit(t.site.state, prefix, { releaseStore: t.store() })).toMatchObject({
      ok: true,
      problems: [],
    });
  });

  it('attack: `approvers adopt` on a chain cut back past an anchored use: refused, the anchor kept', async () => {
    // A promote of the live release lifts the rollback's pin with an approval, and anchors its use.
    // Whoever writes the state bucket cuts the chain from that use and moves the head back. Before,
    // the next adoption appended to the cut chain and anchored its head: the cut then held, unseen.
    await rolledBack.restore();
    const approval = { nonce: 'nonce-adopt-cut-AAAAAAAA', by: 'Ada', via: 'elicitation' as const };
    await promoteRelease(t.site, {
      app: APP,
      commit: C[0] as string,
      request: request('lift it'),
      authorize: async (plan) => {
        const { nonce, ...given } = approval;
        await consumeApproval(t.site, nonce, {
          action: 'promote',
          deployId: plan.deployId,
          approval: given,
          now: Date.now(),
          judged: await approvalInForce(t.site),
        });
        return approval;
      },
    });
    const prefix = t.site.target.statePrefix;
    const entries = await readAudit(t.site.state, prefix);
    const use = entries.findLast((e) => e.type === 'approval-used') as AuditEntry;
    const before = entries.find((e) => e.seq === use.seq - 1) as AuditEntry;
    await t.site.state.delete(
      entries.filter((e) => e.seq >= use.seq).map((e) => auditEntryKey(prefix, e.seq)),
    );
    await t.site.state.put(
      `${prefix}audit/head.json`,
      JSON.stringify({ seq: before.seq, hash: before.hash }),
      {
        contentType: 'application/json',
      },
    );
    const anchoredBefore = (await t.store().read()).auditHead;

    const refused = await adoptApprovalPolicy(t.site, 'Ops', Date.now()).catch((error: unknown) => error);
    expect(refused).toMatchObject({
      code: 'TAMPERED',
      message: expect.stringContaining(`does not hold entry ${use.seq}:${use.hash}`),
    });
    expect((refused as Error).message).toMatch(/Nothing was changed/);
    expect((await t.store().read()).auditHead).toBe(anchoredBefore);
    expect((await readAuditHead(t.site.state, prefix))?.seq).toBe(before.seq);
  });

  it('attack: promote_release of the live release lifts a protected pin only with an approval of it', async () => {
    // v1 live by a rollback, so pinned: a promote of v1 copies nothing, but lifts the pin.
    await rolledBack.restore();
    const real = t.site.releases as ReleaseStore;
    let reads = 0;
    const read = () => {
      reads += 1;
      return real.read();
    };
    const { guarded, approve, approvers, site, close } = await guardedStack({ ...real, read });
    try {
      const pinned = { commit: C[0], cause: 'rollback' };
      const asked = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      expect(asked.isError, asked.text).toBe(true);
      expect(asked.text).toMatch(/^APPROVAL_REQUIRED: .*frontendops approve [0-9a-f]{7}-[0-9a-f]{10}/s);
      expect((await guarded.call('get_status')).structured).toMatchObject({ pin: pinned });
      const deployId = /frontendops approve (\S+) --stack/.exec(asked.text)?.[1] ?? '';
      expect(await approve(deployId)).toMatch(
        /^promote: sophia-dashboard@a0a0a0a is already live on \S+: no file changes; the pin \(a0a0a0a, by .*\) is cleared$/,
      );
      const readsBefore = reads;
      const lifted = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      // The store read once before the lock and once under it, the use's anchor written over that
      // read: no third read for the anchor.
      expect(reads - readsBefore).toBe(2);
      expect(lifted.structured, lifted.text).toMatchObject({
        commit: C[0],
        unpinned: pinned,
        approvedBy: expect.stringMatching(/^Ada .*\(signed\)$/),
      });
      expect((await guarded.call('get_status')).structured).toMatchObject({ pin: null });
      expect(await served()).toBe('v1');
      const audit = await readAudit(site.state, site.target.statePrefix);
      expect(audit.findLast((e) => e.type === 'approval-used')?.data).toMatchObject({
        action: 'promote',
        deployId,
      });
      const verified = await verifyAudit(site.state, site.target.statePrefix, {
        approvers,
        releaseStore: t.store(),
      });
      expect(verified.problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('attack: the approval a promote of the live release used, cut with its marker, does not lift the pin again', async () => {
    // The promote lifts the rollback's pin with Ada's approval; no switch or deploy tag follows. Whoever
    // writes the state bucket deletes the "used" marker and the entries from the use on, moves the
    // head back and puts the pin back: the same approval would lift it again within its hour.
    await rolledBack.restore();
    const { guarded, approve, site, close } = await guardedStack();
    try {
      const prefix = site.target.statePrefix;
      const pinBefore = (await site.state.get(`${prefix}${PIN}`))?.body ?? '';
      const asked = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      const deployId = /frontendops approve (\S+) --stack/.exec(asked.text)?.[1] ?? '';
      await approve(deployId);
      const lifted = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      expect(lifted.structured, lifted.text).toMatchObject({ unpinned: { commit: C[0] } });
      const [approved] = await findApprovalRequests(site, deployId);

      const entries = await readAudit(site.state, prefix);
      const use = entries.findLast((e) => e.type === 'approval-used') as AuditEntry;
      const before = entries.find((e) => e.seq === use.seq - 1) as AuditEntry;
      await site.state.delete([
        `${prefix}${APPROVALS_USED}${approved?.nonce}.json`,
        ...entries.filter((e) => e.seq >= use.seq).map((e) => auditEntryKey(prefix, e.seq)),
      ]);
      const json = { contentType: 'application/json' };
      await site.state.put(
        `${prefix}audit/head.json`,
        JSON.stringify({ seq: before.seq, hash: before.hash }),
        json,
      );
      await site.state.put(`${prefix}${PIN}`, pinBefore, json);
      expect(await isUsed(site, approved?.nonce ?? '')).toBe(false);

      const again = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      expect(again.isError, again.text).toBe(true);
      expect(again.text).toMatch(/TAMPERED/);
      expect(again.text).toContain(`${use.seq}:${use.hash}`);
      expect(again.text).toMatch(/Nothing was changed/);
      expect((await guarded.call('get_status')).structured).toMatchObject({ pin: { commit: C[0] } });
      expect(await isUsed(site, approved?.nonce ?? '')).toBe(false);
      expect((await readAuditHead(site.state, prefix))?.seq).toBe(before.seq);
    } finally {
      await close();
    }
  });

  it('a promote of the live release whose use is not anchored says it is used and the pin kept', async () => {
    // Every write of the anchor fails, as when the release store keeps changing under it.
    await rolledBack.restore();
    const real = t.site.releases as ReleaseStore;
    const changed = () =>
      Promise.reject(
        new FrontendOpsError('PRECONDITION_FAILED', 'The release store changed after it was read.'),
      );
    const { guarded, approve, site, close } = await guardedStack({ ...real, anchorAuditHead: changed });
    try {
      const asked = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      const deployId = /frontendops approve (\S+) --stack/.exec(asked.text)?.[1] ?? '';
      await approve(deployId);
      const [approved] = await findApprovalRequests(site, deployId);
      const headBefore = (await real.read()).auditHead;
      const lifted = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      expect(lifted.isError, lifted.text).toBe(true);
      const use = (await readAudit(site.state, site.target.statePrefix)).findLast(
        (e) => e.type === 'approval-used',
      ) as AuditEntry;
      expect(lifted.text).toMatch(/PRECONDITION_FAILED/);
      expect(lifted.text).toContain(`The approval's use is recorded (audit entry ${use.seq})`);
      expect(lifted.text).toMatch(/not anchored in the CDN's release store/);
      expect(lifted.text).toMatch(/the pin on .* was not lifted/);
      expect(lifted.text).toMatch(/a new approval/);
      // What it says: the approval used, its head not anchored, the pin kept; a run again asks anew.
      expect(await isUsed(site, approved?.nonce ?? '')).toBe(true);
      expect((await real.read()).auditHead).toEqual(headBefore);
      expect((await guarded.call('get_status')).structured).toMatchObject({ pin: { commit: C[0] } });
      const again = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      expect(again.text).toMatch(/APPROVAL_REQUIRED/);
    } finally {
      await close();
    }
  });

  it('a change whose use is not anchored says the approval is used, and that nothing of it was written', async () => {
    await v2Live.restore();
    await t.publish(C3, 'v3');
    const real = t.site.releases as ReleaseStore;
    const changed = () =>
      Promise.reject(
        new FrontendOpsError('PRECONDITION_FAILED', 'The release store changed after it was read.'),
      );
    const { guarded, approve, site, close } = await guardedStack({ ...real, anchorAuditHead: changed });
    try {
      const target = await guarded.call('get_deploy_target', { commit: C3, app: APP });
      const handle = target.structured.handle;
      await guarded.call('run_sync', { handle });
      await approve(target.structured.deployId as string);
      const synced = await guarded.call('run_sync', { handle });
      expect(synced.isError, synced.text).toBe(true);
      const use = (await readAudit(site.state, site.target.statePrefix)).findLast(
        (e) => e.type === 'approval-used',
      ) as AuditEntry;
      expect(synced.text).toMatch(/^PRECONDITION_FAILED: /);
      expect(synced.text).toContain(`The approval's use is recorded (audit entry ${use.seq})`);
      expect(synced.text).toMatch(/not anchored in the CDN's release store/);
      expect(synced.text).toMatch(/nothing of this deploy was written, and nothing went live/);
      expect(synced.text).toMatch(/a new approval/);
      expect(await served()).toBe('v2');
    } finally {
      await close();
    }
  });

  it("attack: Ada's unused approval to lift the rollback's pin does not lift one set after it went", async () => {
    await rolledBack.restore();
    const { guarded, approve, approvers, site, close } = await guardedStack();
    try {
      const asked = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      const deployId = /frontendops approve (\S+) --stack/.exec(asked.text)?.[1] ?? '';
      await approve(deployId);
      const [approved] = await findApprovalRequests(site, deployId);
      // Not used yet: the rollback's pin goes at a terminal, and Bob pins v1 again.
      await unpinRelease(site, { request: { ...request('unpin'), actor: 'dave' } });
      const { pin } = await pinRelease(site, { request: { ...request('pin'), actor: 'bob' } });
      const lifted = await guarded.call('promote_release', { to: C[0], app: APP, reason: 'lift it' });
      expect(lifted.isError, lifted.text).toBe(true);
      expect(lifted.text).toMatch(
        /^APPROVAL_REQUIRED: .*the stored approval was not accepted: the approval of this promote was for lifting another pin \(the pin of \S+, set by .+ at \S+\), not the pin of \S+, set by bob at \S+, which is there now; ask for a new approval of this plan/s,
      );
      expect((await guarded.call('get_status')).structured).toMatchObject({ pin: { by: 'bob', at: pin.at } });
      expect(await isUsed(site, approved?.nonce ?? '')).toBe(false);
      expect(await served()).toBe('v1');
      const verified = await verifyAudit(site.state, site.target.statePrefix, {
        approvers,
        releaseStore: t.store(),
      });
      expect(verified.problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('attack: an approval of a 5% canary does not start it at 99%, even with the stored request edited', async () => {
    await v2Live.restore();
    const { guarded, approve, close } = await guardedStack();
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

      // Whoever can write the state bucket edits the stored request to the share they want, and to
      // the digest of that change (anyone can make it): Ada's signature names the share she was shown.
      const [open] = await findApprovalRequests(t.site, deployId);
      const key = `${t.site.target.statePrefix}approvals/requests/canary-${deployId}.json`;
      expect(open?.weight).toBe(99);
      expect(await approve(deployId)).toMatch(/^send 99% of /);
      const forty = await startCanary(t.site, {
        app: APP,
        commit: C[0] as string,
        weightPercent: 40,
        dryRun: true,
        request: request(),
      });
      await t.site.state.put(key, JSON.stringify({ ...open, weight: 40, change: changeDigest(forty.plan) }));
      const edited = await guarded.call('start_canary', { commit: C[0], percent: 40, app: APP });
      expect(edited.isError).toBe(true);
      // The edited request, which the chain does not bind, is not reused: the server asks anew, and
      // Ada's approval answers the request she signed.
      expect(edited.text).toMatch(
        /APPROVAL_REQUIRED: .*send 40% .*the stored approval was not accepted: it answers another request/,
      );
      expect((await t.store().read()).value).toEqual(before);
    } finally {
      await close();
    }
  });

  it('attack: a canary of 99% recorded as made with an approval of 10%, by whoever can append: audit verify reports it', async () => {
    await v2Live.restore();
    const { site, approvers, guarded, approve, close } = await guardedStack();
    const verify = () =>
      verifyAudit(site.state, site.target.statePrefix, { approvers, releaseStore: t.store() });
    try {
      // Genuine: Ada approves a 5% canary, and the server starts it.
      const ask = await guarded.call('start_canary', { commit: C[0], percent: 5, app: APP });
      const deployId = /frontendops approve (\S+) --stack/.exec(ask.text)?.[1] ?? '';
      expect(await approve(deployId)).toMatch(/^send 5% of /);
      const started = await guarded.call('start_canary', { commit: C[0], percent: 5, app: APP });
      expect(started.isError, started.text).toBe(false);
      const genuine = (await readAudit(site.state, site.target.statePrefix)).findLast(
        (e) => e.type === 'canary-start',
      );
      // It names the approval it used: the request's nonce, and Ada as the use's entry names her.
      const genuineUse = (await readAudit(site.state, site.target.statePrefix)).findLast(
        (e) => e.type === 'approval-used',
      );
      expect(genuine?.data).toMatchObject({
        deployId,
        weight: 5,
        pointer: { weight: 5 },
        approval: { nonce: expect.any(String), by: genuineUse?.data.by, via: 'signed' },
      });
      expect(genuineUse?.objects).toHaveProperty(
        `approvals/used/${(genuine?.data.approval as { nonce?: string } | undefined)?.nonce}.json`,
      );
      const clean = await verify();
      expect(clean.problems).toEqual([]);

      // Ada approves 10% for the same canary; before the server uses it, the deployer role does,
      // with the tool's own functions and its own credentials, then records a canary of 99% that
      // names her approval, and makes the CDN serve what that entry records.
      const wider = await guarded.call('start_canary', { commit: C[0], percent: 10, app: APP });
      expect(wider.text).toMatch(/APPROVAL_REQUIRED: .*send 10%/);
      expect(await approve(deployId)).toMatch(/^send 10% of /);
      const open = (await findApprovalRequests(site, deployId)).find((r) => r.action === 'canary');
      const checked = open && (await checkSignedApproval(site, open, Date.now()));
      if (!checked || !('approval' in checked)) throw new Error(`not accepted: ${JSON.stringify(checked)}`);
      const use = {
        action: 'canary' as const,
        deployId,
        approval: checked.approval,
        now: Date.now(),
        judged: await approvalInForce(site),
      };
      expect(await consumeApproval(site, open.nonce, use)).toBe(true);
      const pointer = { ...(genuine?.data.pointer as ReleasePointer), weight: 99 };
      const forged = await appendAudit(site.state, site.target.statePrefix, site.locker, {
        type: 'canary-start',
        data: {
          ...genuine?.data,
          weight: 99,
          pointer,
          approval: { nonce: open.nonce, by: checked.approval.by, via: 'signed' },
        },
      });
      const kvs = t.store();
      await kvs.write(pointer, (await kvs.read()).etag);
      expect((await kvs.read()).value).toMatchObject({ weight: 99 });

      const result = await verify();
      expect(result.problems).toEqual([
        expect.objectContaining({
          kind: 'tampered',
          seq: forged.seq,
          reason: expect.stringMatching(
            new RegExp(
              `^entry ${forged.seq}: it names the approval entry ${forged.seq - 1} records used, signed by Ada, but sends 99% of visitors to the canary where the statement says 10%: it was not made with that approval$`,
            ),
          ),
        }),
      ]);
      // Her approval and its use are hers, within its hour, once: both still counted as checked.
      expect(result.approvals.checked).toBe(clean.approvals.checked + 2);

      // The same 99% naming no approval claims none, as the operator's own `canary` command and the
      // console's button record a canary: nothing in the chain says Ada approved it.
      const { approval: _named, ...unclaimed } = forged.data;
      const plain = await appendAudit(site.state, site.target.statePrefix, site.locker, {
        type: 'canary-start',
        data: unclaimed,
      });
      expect((await verify()).problems.map((p) => p.seq)).toEqual([forged.seq]);
      expect(plain.data.approval).toBeUndefined();
    } finally {
      await close();
    }
  });
});
