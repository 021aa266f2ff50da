/**
 * `status` on an atomic stack beside a stopped operation's crash-recovery record (atomic/pending.json),
 * which no entry binds and the deployer role can write. A canary start stopped after its switch
 * writes no live.json: one naming the canary's build live, written around the chain, is tampered
 * (`audit verify` says so), not that stopped change's. status called it "unfinished" (the plan names
 * that build) and exited 0; it now holds such a pointer to what verify excuses.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readStatus } from '../../src/read/status.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv, storedAtomicPending } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { livePointerNaming } from '../support/audit-forgery.ts';
import { stoppedAtEntryAfter } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;

let t: AtomicEnv;
let prefix: string;
/** V1 live and the canary start of V2 stopped after its switch: each case starts from it. */
let stopped: AtomicSnapshot;
beforeAll(async () => {
  t = await startAtomicEnv({ stack: 'status-stopped-atomic' });
  prefix = t.target.statePrefix;
  await t.publishVersions([V1, V2]);
  await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
  const stopping = stoppedAtEntryAfter(
    t.site,
    (key, body) => key === `${prefix}atomic/pending.json` && /"switched": ?true/.test(String(body)),
  );
  await expect(
    startCanary(stopping, { app: APP, commit: V2, weightPercent: 10, request: request('try v2') }),
  ).rejects.toThrow('the process stopped');
  stopped = await snapshotAtomicEnv(t);
}, 180_000);
afterAll(() => t?.stop());

describe('status beside a stopped canary start', () => {
  beforeEach(() => stopped.restore());

  it('the stopped start itself: the live pointer is as recorded', async () => {
    expect((await readStatus(t.site)).recorded.state).toBe('as-recorded');
  });

  it("live.json naming the canary's build live: changed outside, as verify says, not unfinished", async () => {
    const { plan } = await storedAtomicPending(t.site);
    const live = await t.site.records.readPointer();
    if (!live) throw new Error('v1 is live: live.json exists');
    await t.site.state.put(
      `${prefix}live.json`,
      JSON.stringify(livePointerNaming(plan, live.value.releases)),
      {
        contentType: 'application/json',
      },
    );
    const { problems } = await verifyAudit(t.site.state, prefix, { releaseStore: t.store() });
    expect(problems.filter((p) => p.object === 'live.json').map((p) => p.kind)).toEqual(['tampered']);
    const status = await readStatus(t.site);
    expect(status.live?.commit).toBe(V2);
    expect(status.recorded.state).toBe('changed-outside');
  });
});

describe('status beside a genuine stopped atomic deploy', () => {
  let u: AtomicEnv;
  afterAll(() => u?.stop());

  it('stopped after its live.json, before the entry binding it: unfinished, not accused', async () => {
    u = await startAtomicEnv({ stack: 'status-stopped-atomic-deploy' });
    await u.publishVersions([V1, V2]);
    await deployArtifact(u.site, { app: APP, commit: V1, request: request('first') });
    const stopping = stoppedAtEntryAfter(u.site, (key) => key.endsWith('/live.json'));
    await expect(
      deployArtifact(stopping, { app: APP, commit: V2, request: request('ship v2') }),
    ).rejects.toThrow('the process stopped');
    const status = await readStatus(u.site);
    expect(status.live?.commit).toBe(V2);
    expect(status.recorded.state).toBe('unfinished');
  }, 120_000);
});
