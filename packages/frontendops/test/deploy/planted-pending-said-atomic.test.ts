/**
 * planted-pending-said.test.ts on an atomic stack: atomic/pending.json is bound by no entry either, so
 * the deployer role can plant a record saying an operation switched the CDN (`switched`) that never
 * did. The next change refuses it, TAMPERED (atomic-apply.ts heldToItsWrites: the release store does
 * not name its switch). Before, its dry run said the run would first finish it, and `status` said it
 * "went live and is not recorded yet", exit 0. Now both say the change's refusal.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readStatus } from '../../src/read/status.ts';
import { readAudit } from '../../src/state/audit.ts';
import {
  APP,
  type AtomicEnv,
  request,
  startDeployedAtomicEnv,
  storedAtomicPending,
} from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { get, releaseOf } from '../support/edge-probe.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
let t: AtomicEnv;
let deployed: AtomicSnapshot;
let planted: unknown;

beforeAll(async () => {
  t = await startDeployedAtomicEnv({ stack: 'planted-pending-said-atomic' }, [V1, V2, V3], 2);
  deployed = await snapshotAtomicEnv(t);
  // A genuine record of a deploy of v3, stopped before its switch, then planted as switched.
  const stopped = stoppingSite(t.site, (key) => key.includes('/atomic/releases/'));
  await expect(deployArtifact(stopped, { app: APP, commit: V3, request: request('v3') })).rejects.toThrow(
    /stopped/,
  );
  planted = { ...(await storedAtomicPending(t.site)), switched: true };
}, 180_000);
beforeEach(async () => {
  await deployed.restore();
  await t.site.state.put(`${t.target.statePrefix}atomic/pending.json`, JSON.stringify(planted), {
    contentType: 'application/json',
  });
});
afterAll(() => t?.stop());

describe('an atomic crash-recovery record planted as a switch that never happened', () => {
  it('the change refuses it (TAMPERED); its dry run says that refusal, not that it finishes it first', async () => {
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v2');
    const entries = (await readAudit(t.site.state, t.target.statePrefix)).length;
    const run = await deployArtifact(t.site, { app: APP, commit: V1, request: request('back to v1') }).catch(
      (e: unknown) => e as Error,
    );
    expect(run).toMatchObject({ code: 'TAMPERED' });
    const dry = await deployArtifact(t.site, {
      app: APP,
      commit: V1,
      request: request('back to v1'),
      dryRun: true,
    }).catch((e: unknown) => e as Error);
    expect(dry).toMatchObject({ code: 'TAMPERED', message: (run as Error).message });
    expect(await readAudit(t.site.state, t.target.statePrefix)).toHaveLength(entries);
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v2');
  });

  it('status shows no interrupted operation of it and says the record is refused', async () => {
    const status = await readStatus(t.site);
    expect(status.live?.commit).toBe(V2);
    expect(status.pending).toBeNull();
    expect(status.recorded.state).toBe('changed-outside');
    expect(status.recorded.note).toContain('atomic/pending.json');
    expect(status.served?.state).toBe('as-recorded');
  });
});
