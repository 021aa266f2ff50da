/**
 * A run_sync whose client stops waiting (notifications/cancelled) or goes away (its transport closed)
 * stops in the server at the engine's next safe point, as the CLI's own Ctrl-C leaves a deploy: before
 * its switch nothing goes live, the plan stays pending with why it stopped, the lock is free, and the
 * server does no more work for it. A sync that went live and was never verified nor recorded (its
 * client gone before invalidate_cdn) is not "already live, nothing to do": the same steps finish it,
 * with a receipt for its deploy tag, and the audit chain verifies. In place; atomic stacks are in
 * interrupt-atomic.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../../src/deploy/deploy.ts';
import type { Site } from '../../../src/site.ts';
import { verifyAudit } from '../../../src/state/audit.ts';
import type { BucketSnapshot } from '../../support/bucket-snapshot.ts';
import { HOSTING } from '../../support/deploy-env.ts';
import { holdCopies } from '../../support/hold-copies.ts';
import {
  APP,
  COMMITS,
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
} from '../../support/mcp-infra.ts';

let f: InfraFixture;
const opened: InfraClient[] = [];
/** The stack each case starts from: v1 live and recorded; v2 live over it. */
let v1Live: BucketSnapshot;
let v2Live: BucketSnapshot;

beforeAll(async () => {
  f = await startInfraFixture({ stack: 'interrupt-in-place' });
  const deploy = (commit: string, text: string) =>
    deployArtifact(f.t.site, {
      app: APP,
      commit,
      request: { text, actor: 'test', planner: 'cli', at: new Date().toISOString() },
    });
  // v1 is live and recorded: what an interrupted deploy of v2 must leave serving.
  await deploy(COMMITS[0], 'first');
  v1Live = await f.snapshot();
  // v2 over it: what an interrupted deploy of v3 must leave serving.
  await deploy(COMMITS[1], 'second');
  v2Live = await f.snapshot();
});
afterAll(async () => {
  await Promise.allSettled(opened.map((c) => c.close()));
  await f?.t.stop();
});

async function connect(site: Site, notes: string[]) {
  const c = await connectInfra(f.server({ openSite: async () => site, onNotice: (n) => notes.push(n) }));
  opened.push(c);
  return c;
}

const index = async () => (await f.t.s3.store(HOSTING).get('index.html'))?.body.toString('utf8') ?? null;
const audit = () => verifyAudit(f.t.site.state, f.t.site.target.statePrefix);

describe('run_sync stopped by its client, in place', () => {
  it('notifications/cancelled mid-copy: stops before the switch, nothing goes live; the same steps deploy it', async () => {
    await v1Live.restore();
    const held = holdCopies(f.t.site);
    const notes: string[] = [];
    const c = await connect(held.site, notes);
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    expect(target.structured).toMatchObject({ noop: false, filesToCopy: 3 });
    const cancel = new AbortController();
    const sync = c.client.callTool(
      { name: 'run_sync', arguments: { handle: target.structured.handle } },
      { signal: cancel.signal },
    );
    sync.catch(() => {});
    try {
      await held.reached;
      cancel.abort('the person pressed Ctrl-C');
      await expect(sync).rejects.toThrow();
      // The server was told (notifications/cancelled) and says what it does about it.
      await expect
        .poll(() => notes.join('\n'))
        .toMatch(/run_sync of sophia-dashboard@2222222.*stops at its next safe point/);
    } finally {
      held.release();
    }
    // get_status waits for the stop, then says what it left: v1 live, v2 pending, not moved.
    const status = await c.call('get_status');
    expect(status.structured).toMatchObject({
      live: { commit: COMMITS[0] },
      pending: { deployId: target.structured.deployId, pointerMoved: false },
    });
    expect(notes.join('\n')).toMatch(/stopped before the switch: nothing went live/);
    expect((await f.t.site.records.readPending())?.stoppedBy).toMatchObject({ code: 'INTERRUPTED' });
    // It stopped: the held copy landed, no other file was copied after it and no HTML at all.
    expect(held.copied.filter((key) => key.endsWith('.html'))).toEqual([]);
    expect(held.copied.length).toBeLessThan(3);
    expect(await index()).toContain('Sophia v1');

    // The lock is free and the same three steps deploy it.
    const again = await c.call('get_deploy_target', { commit: COMMITS[1] });
    expect(again.structured).toMatchObject({ noop: false, deployId: target.structured.deployId });
    const synced = await c.call('run_sync', { handle: again.structured.handle });
    expect(synced.structured, synced.text).toMatchObject({ outcome: 'synced' });
    const inv = await c.call('invalidate_cdn', { deployId: synced.structured.deployId });
    expect(inv.structured).toMatchObject({ outcome: 'succeeded', receipt: expect.any(String) });
    expect(await index()).toContain('Sophia v2');
    expect(await audit()).toMatchObject({ ok: true });
  });

  it('the client going away (transport closed) mid-copy stops it the same way; no work goes on for it', async () => {
    await v2Live.restore();
    const held = holdCopies(f.t.site);
    const notes: string[] = [];
    const c = await connect(held.site, notes);
    const target = await c.call('get_deploy_target', { commit: COMMITS[2] });
    const sync = c.client.callTool({ name: 'run_sync', arguments: { handle: target.structured.handle } });
    sync.catch(() => {});
    try {
      await held.reached;
      await c.close();
      await expect
        .poll(() => notes.join('\n'))
        .toMatch(/run_sync of sophia-dashboard@3333333.*stops at its next safe point/);
    } finally {
      held.release();
    }
    await expect.poll(() => notes.join('\n')).toMatch(/stopped before the switch: nothing went live/);
    expect(held.copied.filter((key) => key.endsWith('.html'))).toEqual([]);
    expect((await f.t.site.records.readPointer())?.value.commit).toBe(COMMITS[1]);
    expect((await f.t.site.records.readPending())?.stoppedBy).toMatchObject({ code: 'INTERRUPTED' });
    expect(await index()).toContain('Sophia v2');
  });

  it('a sync that went live and was never invalidated is finished by the same steps, not called a no-op', async () => {
    await v2Live.restore();
    const c = await connect(f.t.site, []);
    // The client went away after run_sync: live, neither verified nor recorded.
    const target = await c.call('get_deploy_target', { commit: COMMITS[2] });
    const synced = await c.call('run_sync', { handle: target.structured.handle });
    expect(synced.structured, synced.text).toMatchObject({ outcome: 'synced' });
    const deployId = synced.structured.deployId;
    expect(await f.t.site.records.readRecord(String(deployId))).toBeNull();

    const again = await c.call('get_deploy_target', { commit: COMMITS[2] });
    expect(again.structured, again.text).toMatchObject({ noop: false, deployId, approvalRequired: false });
    expect(again.structured.description).toMatch(/finish .*interrupted/);
    const finished = await c.call('run_sync', { handle: again.structured.handle });
    expect(finished.structured, finished.text).toMatchObject({ deployId, outcome: 'synced' });
    const inv = await c.call('invalidate_cdn', { deployId });
    expect(inv.structured, inv.text).toMatchObject({
      deployId,
      outcome: 'succeeded',
      receipt: expect.any(String),
    });
    expect(await f.t.site.records.readPending()).toBeNull();
    expect(await f.t.site.records.readRecord(String(deployId))).toMatchObject({ outcome: 'succeeded' });
    expect(await audit()).toMatchObject({ ok: true });
    // Now it is recorded: the same build again is the no-op it is.
    const noop = await c.call('get_deploy_target', { commit: COMMITS[2] });
    expect(noop.structured).toMatchObject({ noop: true });
  });
});
