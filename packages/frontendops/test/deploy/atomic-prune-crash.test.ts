/**
 * An atomic deploy that stops after its prune deleted a retired release (its index among what went)
 * and before the entry that ends the deploy, as a process killed or cut off there would, and is run
 * again. Before, the re-run found nothing left to prune, so no entry said the deleted index is gone
 * on purpose: the entry that wrote it still bound it, and verify said "tampered" for good.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
let t: AtomicEnv;
let site: Site;

beforeAll(async () => {
  t = await startAtomicEnv({ propagationMs: 25, retain: 1, stack: 'atomic-prune-crash' });
  await t.publish(V1, 'v1');
  await t.publish(V2, 'v2');
  // No grace: the deploy of V2 prunes V1 at once.
  site = await t.open({ releaseGraceMs: 0 });
  await deployArtifact(site, { app: APP, commit: V1, request: request() });
});
afterAll(() => t?.stop());

it('a stop after the prune: the re-run records the pruned release index as gone, and the chain verifies', async () => {
  const indexes = async () =>
    (await site.state.list(`${t.target.statePrefix}atomic/releases/`)).map((o) => o.key);
  const v1Index = await indexes();
  expect(v1Index).toHaveLength(1);

  const stopping = stoppingSite(site, (key) => key.includes('/deployments/'));
  await expect(deployArtifact(stopping, { app: APP, commit: V2, request: request() })).rejects.toThrow(
    /stopped/,
  );
  // The prune ran: V1's index is gone.
  expect(await indexes()).not.toContain(v1Index[0]);

  const again = await deployArtifact(site, { app: APP, commit: V2, request: request() });
  expect(again.commit).toBe(V2);
  expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toEqual([]);
});
