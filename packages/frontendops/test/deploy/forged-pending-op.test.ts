/**
 * An atomic crash-recovery record whose `op` is not its plan's. FrontendOps writes both from one
 * operation, but atomic/pending.json is the deployer role's to write, and the settle and finish read
 * one or the other: the checks of a stopped record by `op` (a canary start's share, an abort's
 * running canary, a migration's first switch, a rollback's destination), the record and entry partly
 * by `plan.op`. Before, a stopped deploy whose plan was relabelled a canary promote was recorded
 * superseded as a `deploy-superseded` entry binding a history row that says "canary-promote": one
 * stopped operation recorded as two kinds. Now such a record is refused (TAMPERED), nothing written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployAtomic } from '../../src/deploy/atomic-deploy.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { readAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { refusal } from '../support/refusal.ts';

const C = ['5151515151515151', '5252525252525252', '5353535353535353'] as const;

let t: AtomicEnv;
let site: Site;

beforeAll(async () => {
  t = await startAtomicEnv({ stack: 'forged-pending-op' });
  await t.publishVersions(C);
  site = t.site;
  for (const commit of C.slice(0, 2)) await deployAtomic(site, { app: APP, commit, request: request() });
}, 180_000);
afterAll(() => t?.stop());

const pendingKey = () => `${t.target.statePrefix}atomic/pending.json`;

describe('atomic/pending.json naming one operation with the plan of another', () => {
  it('a stopped deploy whose plan says canary-promote: refused, not recorded as either', async () => {
    const { plan } = await deployAtomic(site, {
      app: APP,
      commit: C[2],
      dryRun: true,
      request: request('deploy v3'),
    });
    const asked = request('deploy v3');
    const stopped = {
      op: 'deploy',
      plan: { ...plan, op: 'canary-promote' },
      request: asked,
      startedAt: asked.at,
      switched: false,
    };
    await site.state.put(pendingKey(), JSON.stringify(stopped), { contentType: 'application/json' });
    try {
      const head = (await readAudit(site.state, t.target.statePrefix)).length;
      // The next change (a redeploy of what is live) settles the stopped one first.
      const error = await refusal(deployAtomic(site, { app: APP, commit: C[1], request: request() }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(error.message).toContain('atomic/pending.json');
      expect(error.message).toMatch(/not written by FrontendOps/);
      expect(await readAudit(site.state, t.target.statePrefix)).toHaveLength(head);
      expect(await site.records.readRecord(plan.deployId)).toBeNull();
    } finally {
      await site.state.delete([pendingKey()]);
    }
    // The genuine record of that stopped deploy is recorded superseded, as a deploy.
    const again = request('deploy v3');
    await site.state.put(
      pendingKey(),
      JSON.stringify({ op: 'deploy', plan, request: again, startedAt: again.at, switched: false }),
      { contentType: 'application/json' },
    );
    await deployAtomic(site, { app: APP, commit: C[1], request: request() });
    const entries = await readAudit(site.state, t.target.statePrefix);
    expect(entries.at(-1)?.type).toBe('deploy-superseded');
    const record = await site.records.readRecord(plan.deployId);
    expect(record).toMatchObject({ outcome: 'superseded', kind: 'deploy' });
    expect(record?.op).toBeUndefined();
  });
});
