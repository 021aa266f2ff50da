/**
 * The note a change makes when it makes live again a release that was rolled back away from: a
 * person's rollback names who and why; the automatic switch back after a failed verification says
 * it was automatic, and names no one as having rolled it back. It looks back over the stack's last 20
 * releases: the rows of canaries started and aborted meanwhile are none.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { describeRolledBackAway, rolledBackAway } from '../../src/read/history.ts';
import type { DeploymentRecord, RequestInfo } from '../../src/state/records.ts';
import { APP, type AtomicEnv, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { auditEntryKey } from '../support/audit-forgery.ts';
import { writeCanaryRows } from '../support/canary-rows.ts';

const [V1, V2] = ['d1d1d1d1d1d1d1d1', 'd2d2d2d2d2d2d2d2'];
let t: AtomicEnv;
/**
 * The stack each case starts from, whichever ran before: v1 deployed and live, nothing rolled back;
 * and v2 deployed over it, for the case that rolls back away from v2.
 */
let v1Live: AtomicSnapshot;
let v2Live: AtomicSnapshot;
const asked = (text: string, actor: string, message?: string): RequestInfo => ({
  text,
  actor,
  planner: 'cli',
  at: new Date().toISOString(),
  ...(message ? { message } : {}),
});

beforeAll(async () => {
  t = await startAtomicEnv();
  await t.publish(V1, 'v1');
  await t.publish(V2, 'v2');
  await deployArtifact(t.site, { app: APP, commit: V1, request: asked('deploy v1', 'ada') });
  v1Live = await snapshotAtomicEnv(t);
  await deployArtifact(t.site, { app: APP, commit: V2, request: asked('deploy v2', 'bob') });
  v2Live = await snapshotAtomicEnv(t);
}, 180_000);
afterAll(() => t?.stop());
beforeEach(() => v1Live.restore());

/**
 * What `rolledBackAway` returns, with how many times it read the audit chain (each read GETs every
 * entry, the first among them).
 */
async function withChainReads<T>(run: () => Promise<T>): Promise<{ result: T; chainReads: number }> {
  const first = auditEntryKey(t.target.statePrefix, 1);
  const mark = await t.mark();
  const result = await run();
  const chainReads = (await t.requestsSince(mark)).filter(
    (r) => r.method === 'GET' && r.key === first,
  ).length;
  return { result, chainReads };
}

describe('the rolled-back note', () => {
  it('tells the automatic switch back after a failed verification from a rollback someone asked for', async () => {
    // No rollback away from v1: nothing of the chain is read.
    const first = await t.site.records.readPointer();
    const none = await withChainReads(() =>
      rolledBackAway(t.site, { app: APP, commit: V1, deployId: first?.value.deployId as string }),
    );
    expect(none).toEqual({ result: null, chainReads: 0 });
    // The "CDN" keeps serving v1: the deploy of v2 fails its verification and is switched back.
    const stale = await (await fetch(`${t.edge.url}/index.html`, { headers: { cookie: 'x=1' } })).text();
    const failed = await deployArtifact(t.site, {
      app: APP,
      commit: V2,
      request: asked('deploy v2', 'bob'),
      verifyTimeoutMs: 200,
      fetch: async () => new Response(stale, { status: 200, headers: { 'content-type': 'text/html' } }),
    });
    expect([failed.outcome, failed.rolledBackTo]).toEqual(['failed', expect.any(String)]);

    const again = await deployArtifact(t.site, { app: APP, commit: V2, request: asked('deploy v2', 'bob') });
    expect(again.outcome).toBe('succeeded');
    // Both the rollback and the change it went back from are held to the chain, read once.
    const { result: automatic, chainReads } = await withChainReads(() => rolledBackAway(t.site, again));
    expect(chainReads).toBe(1);
    const words = describeRolledBackAway(automatic as NonNullable<typeof automatic>);
    expect(words).not.toMatch(/rolled back on .* by bob/);
    expect(words).toMatch(/^sophia-dashboard@d2d2d2d was switched back automatically on \d{4}-\d\d-\d\d /);
    expect(words).toContain('nobody rolled it back');
    expect(automatic?.automatic).toBe(true);

    // Someone rolls back on purpose, then v2 is promoted again: that rollback is the one named.
    await rollbackRelease(t.site, { to: V1, request: asked('roll back', 'carol', 'v2 broke the totals') });
    const promoted = await deployArtifact(t.site, {
      app: APP,
      commit: V2,
      request: asked('promote v2', 'bob'),
      pin: 'clear',
    });
    const byPerson = await rolledBackAway(t.site, promoted);
    expect(byPerson?.automatic).toBe(false);
    expect(describeRolledBackAway(byPerson as NonNullable<typeof byPerson>)).toMatch(
      /^sophia-dashboard@d2d2d2d was rolled back on .+ UTC by carol \("v2 broke the totals"\)$/,
    );
  });

  it('looks back over 20 releases: rows of canaries started and aborted since do not count', async () => {
    await v2Live.restore();
    const rollback = await rollbackRelease(t.site, {
      to: V1,
      request: asked('roll back', 'dave', 'v2 is slow'),
    });
    const record = (await t.site.records.readRecord(rollback.deployId)) as DeploymentRecord;
    // Twelve canaries of v2 started and aborted since (24 rows, the shape the atomic apply writes
    // them in): more rows than the look-back, and no release among them.
    const since = Date.parse(record.finishedAt);
    const until = Date.now();
    await writeCanaryRows(
      t.site,
      record,
      24,
      (i) => new Date(since + ((until - since) * (i + 1)) / 25).toISOString(),
      { kind: 'deploy', commit: V2, canary: { deployId: `${V2.slice(0, 7)}-0123456789` } },
    );
    const promoted = await deployArtifact(t.site, {
      app: APP,
      commit: V2,
      request: asked('promote v2', 'bob'),
      pin: 'clear',
    });
    const found = await rolledBackAway(t.site, promoted);
    expect(found?.rollback.deployId).toBe(rollback.deployId);
    expect(describeRolledBackAway(found as NonNullable<typeof found>)).toMatch(/ by dave \("v2 is slow"\)$/);
  });
});
