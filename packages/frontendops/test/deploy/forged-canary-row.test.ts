/**
 * A canary start genuinely stopped after it wrote its history row and before the entry that binds
 * it. The deployer role rewrites that row (deployments/<row id>.json) as a release: `op` taken out,
 * the rest as written. The next change finishes the stopped start and binds the row it finds. Before,
 * a row already stored was kept when its build, kind, request and outcome were this change's, so
 * the rewritten row was bound and counted from then on as a release the stack had live: `rollback
 * --to` a build that was only ever a canary went through. Now what the row is (`op`, its canary) must
 * be this change's too: TAMPERED, nothing bound (and `audit verify` reports the row).
 */
import { describe, expect, it } from 'vitest';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { canaryRowId } from '../../src/engine/ids.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { readAudit } from '../../src/state/audit.ts';
import { APP, deployedAtomicEnvFor, request, storedAtomicPending } from '../support/atomic-env.ts';
import { refusal } from '../support/refusal.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;

describe('atomic: a stopped canary start whose history row is rewritten as a release', () => {
  const env = deployedAtomicEnvFor({ stack: 'forged-canary-row' }, [V1, V2], 1);

  it('the next change refuses to bind it: TAMPERED, nothing recorded', async () => {
    const t = env();
    const prefix = t.target.statePrefix;
    // Stopped at the entry that binds its row: the row is written, the entry is not.
    const stopping = stoppingSite(
      t.site,
      (key, body) => /\/audit\/\d{10}\.json$/.test(key) && /"type":"canary-start"/.test(String(body)),
    );
    await expect(
      startCanary(stopping, { app: APP, commit: V2, weightPercent: 10, request: request('try v2') }),
    ).rejects.toThrow(/stopped/);
    const pending = await storedAtomicPending(t.site);
    const rowId = canaryRowId(pending) as string;
    const rowKey = `${prefix}deployments/${rowId}.json`;
    const row = JSON.parse((await t.site.state.get(rowKey))?.body.toString('utf8') ?? 'null');
    expect(row).toMatchObject({ op: 'canary-start', commit: V2 });
    const { op: _op, canary: _canary, ...release } = row;
    await t.site.state.put(rowKey, JSON.stringify(release), { contentType: 'application/json' });

    const head = (await readAudit(t.site.state, prefix)).length;
    const error = await refusal(abortCanary(t.site, { request: request('end it') }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toContain(`The deployment record of ${rowId}`);
    expect(await readAudit(t.site.state, prefix)).toHaveLength(head);
  });
});
