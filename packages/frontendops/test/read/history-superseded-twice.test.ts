/**
 * The same deploy stopped twice before it went live is recorded superseded once (records.ts
 * writeRecord keeps the first record), while each stop leaves a history row under its deploy id. Both
 * rows name the one record the chain binds: `history` lists it once and leaves nothing out, never
 * saying that a row's record was written around the audit log.
 */
import { expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readHistory } from '../../src/read/history.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, deployedAtomicEnvFor, request } from '../support/atomic-env.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
const env = deployedAtomicEnvFor({ propagationMs: 25, stack: 'history-superseded-twice' }, [V1, V2], 1);

it('a deploy stopped twice, superseded twice: one row, nothing left out', async () => {
  const t = env();
  for (const _ of [1, 2]) {
    await expect(
      deployArtifact(await t.openKilledBeforeKeyWrite(), { app: APP, commit: V2, request: request() }),
    ).rejects.toThrow('killed before the key write');
    // The next operation, a no-op deploy of what is live, records the stopped one as superseded.
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
  }
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  const page = await readHistory(t.site);
  expect(page.deployments.filter((d) => d.commit === V2).map((d) => d.outcome)).toEqual(['superseded']);
  expect(page.unrecorded ?? 0).toBe(0);
  // The index names the record as kept: one row for it, not one per stop.
  const rows = (await t.site.state.list(`${t.target.statePrefix}history/`)).filter((o) =>
    o.key.endsWith(page.deployments.find((d) => d.commit === V2)?.deployId ?? '-'),
  );
  expect(rows).toHaveLength(1);
});
