/**
 * run_sync on an atomic stack, stopped by its client: cancelled while it copies, it stops before its
 * one key write (visitors keep the live release, the plan stays pending with why it stopped); made
 * live but never verified nor recorded (its client gone before invalidate_cdn: `audit verify` calls
 * state.json unfinished), it is not "already live, nothing to do": the same steps finish it, with a
 * receipt for its deploy tag, and the chain verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atomicRecordsOf } from '../../../src/deploy/atomic-live.ts';
import { deployArtifact } from '../../../src/deploy/deploy.ts';
import type { Site } from '../../../src/site.ts';
import { verifyAudit } from '../../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../../support/atomic-env.ts';
import { releaseOf } from '../../support/edge-probe.ts';
import { holdCopies } from '../../support/hold-copies.ts';
import { connectInfra, type InfraClient, infraServerOn } from '../../support/mcp-infra.ts';

const C = [
  'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
  'b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1',
  'c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1',
] as const;
let t: AtomicEnv;
const opened: InfraClient[] = [];

beforeAll(async () => {
  t = await startAtomicEnv({ stack: 'interrupt-atomic' });
  await t.publishVersions(C);
  await deployArtifact(t.site, { app: APP, commit: C[0], request: request('first') });
});
afterAll(async () => {
  await Promise.allSettled(opened.map((c) => c.close()));
  await t?.stop();
});

async function connect(site: Site, notes: string[]) {
  const c = await connectInfra(infraServerOn(site, { onNotice: (n) => notes.push(n) }));
  opened.push(c);
  return c;
}

const served = async () => releaseOf(await (await fetch(t.edge.url)).text());
const audit = () => verifyAudit(t.site.state, t.target.statePrefix);

describe('run_sync stopped by its client, atomic', () => {
  it('cancelled while it copies: no key write, visitors keep the live release; the same steps deploy it', async () => {
    const held = holdCopies(t.site);
    const notes: string[] = [];
    const c = await connect(held.site, notes);
    const before = await t.store().read();
    const target = await c.call('get_deploy_target', { commit: C[1], app: APP });
    expect(target.structured).toMatchObject({ noop: false });
    const cancel = new AbortController();
    const sync = c.client.callTool(
      { name: 'run_sync', arguments: { handle: target.structured.handle } },
      { signal: cancel.signal },
    );
    sync.catch(() => {});
    try {
      await held.reached;
      cancel.abort('Ctrl-C');
      await expect(sync).rejects.toThrow();
      await expect
        .poll(() => notes.join('\n'))
        .toMatch(/run_sync of sophia-dashboard@b1b1b1b.*stops at its next safe point/);
    } finally {
      held.release();
    }
    const status = await c.call('get_status');
    expect(status.structured).toMatchObject({ live: { commit: C[0] } });
    expect(notes.join('\n')).toMatch(/stopped before the switch: nothing went live/);
    expect((await t.store().read()).value).toEqual(before.value);
    expect(await served()).toBe('v1');
    const pending = await atomicRecordsOf(t.site).readPending();
    expect(pending).toMatchObject({ switched: false, stoppedBy: { code: 'INTERRUPTED' } });

    const again = await c.call('get_deploy_target', { commit: C[1], app: APP });
    const synced = await c.call('run_sync', { handle: again.structured.handle });
    expect(synced.structured, synced.text).toMatchObject({ outcome: 'synced' });
    const inv = await c.call('invalidate_cdn', { deployId: synced.structured.deployId });
    expect(inv.structured, inv.text).toMatchObject({ outcome: 'succeeded', receipt: expect.any(String) });
    expect(await served()).toBe('v2');
    expect(await audit()).toMatchObject({ ok: true });
  });

  it('live but never verified nor recorded: get_deploy_target is not a no-op, and the same steps finish it', async () => {
    const c = await connect(t.site, []);
    const target = await c.call('get_deploy_target', { commit: C[2], app: APP });
    const synced = await c.call('run_sync', { handle: target.structured.handle });
    expect(synced.structured, synced.text).toMatchObject({ outcome: 'synced' });
    const deployId = String(synced.structured.deployId);
    // Its client went away here: live for every visitor, its record and entry never written.
    expect(await served()).toBe('v3');
    expect(await audit()).toMatchObject({
      ok: false,
      problem: { kind: 'unfinished', object: 'atomic/state.json' },
    });

    const again = await c.call('get_deploy_target', { commit: C[2], app: APP });
    expect(again.structured, again.text).toMatchObject({ noop: false, deployId, approvalRequired: false });
    const finished = await c.call('run_sync', { handle: again.structured.handle });
    expect(finished.structured, finished.text).toMatchObject({ deployId, outcome: 'synced' });
    const inv = await c.call('invalidate_cdn', { deployId });
    expect(inv.structured, inv.text).toMatchObject({
      deployId,
      outcome: 'succeeded',
      verification: { ok: true },
      receipt: expect.any(String),
    });
    expect(await atomicRecordsOf(t.site).readPending()).toBeNull();
    expect(await audit()).toMatchObject({ ok: true });
    const noop = await c.call('get_deploy_target', { commit: C[2], app: APP });
    expect(noop.structured).toMatchObject({ noop: true });
  });
});
