/**
 * A record planted under the deploy id the next change gets (planted-next-id.test.ts) is refused by
 * that change before it writes anything. Its dry run (`deploy --dry-run`, `rollback --dry-run`, the
 * plan the CLI shows before it asks, the infra server's get_deploy_target and run_sync's plan before
 * the approval) plans the same deploy id from the same state, so it says so, TAMPERED, writing
 * nothing: an operator, or an approver, is not asked to go ahead with a change that will be refused.
 * A record the change would write over (a run of this very request that stopped) is no refusal there
 * either.
 */
import { describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { deployIdFor } from '../../src/engine/ids.ts';
import type { FrontendOpsError } from '../../src/errors.ts';
import { APP, request } from '../support/atomic-env.ts';
import { plantedRecord, plantRecord, stackObjectDigests } from '../support/planted.ts';
import { plantedNextIdStackFor, V3 } from '../support/planted-next-id.ts';
import { refusal } from '../support/refusal.ts';

/** The refusal of a dry run: the record, that it was a dry run and nothing changed, what to do. */
function expectDryRunRefusal(error: Error, deployId: string) {
  expect((error as FrontendOpsError).code).toBe('TAMPERED');
  expect((error as FrontendOpsError).details).toMatchObject({ object: `deployments/${deployId}.json` });
  expect(error.message).toContain(deployId);
  expect(error.message).toContain('dry run');
  expect(error.message).toContain('nothing was changed');
  expect(error.message).toContain('audit verify');
  expect(error.message).toContain('delete that record');
}

describe('in place: a dry run with a record planted under the id it plans', () => {
  const stack = plantedNextIdStackFor('in place', 'planted-next-id-dry-run');

  it('of a deploy says the deploy will refuse it, and writes nothing', async () => {
    const { t } = stack();
    const look = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request('look'),
      dryRun: true,
    });
    await plantRecord(t, look.deployId, plantedRecord(t, APP, look.deployId, V3, look.artifactDigest));
    const before = await stackObjectDigests(t);

    const error = await refusal(
      deployArtifact(t.site, { app: APP, commit: V3, request: request('look again'), dryRun: true }),
    );
    expectDryRunRefusal(error, look.deployId);
    expect(await stackObjectDigests(t)).toEqual(before);
  });

  it('of a rollback says the rollback will refuse it, and writes nothing', async () => {
    const { t } = stack();
    const live = await t.site.records.readPointer();
    const to = live?.value.releases.find((r) => r.artifactDigest !== live.value.artifactDigest);
    if (!live || !to) throw new Error('a release before the live one is retained');
    const next = deployIdFor({
      stack: t.target.stack,
      app: APP,
      commit: to.commit,
      artifactDigest: to.artifactDigest,
      fromDeployId: live.value.deployId,
    });
    await plantRecord(t, next, {
      ...plantedRecord(t, APP, next, to.commit, to.artifactDigest),
      kind: 'rollback',
    });
    const before = await stackObjectDigests(t);

    const error = await refusal(rollbackRelease(t.site, { request: request('look'), dryRun: true }));
    expectDryRunRefusal(error, next);
    expect(await stackObjectDigests(t)).toEqual(before);
  });

  it('is no refusal where the change writes the record over (a stopped run of this very request)', async () => {
    const { t } = stack();
    const asked = request('ship v3');
    const look = await deployArtifact(t.site, { app: APP, commit: V3, request: asked, dryRun: true });
    await plantRecord(t, look.deployId, {
      ...plantedRecord(t, APP, look.deployId, V3, look.artifactDigest),
      request: asked,
      outcome: 'failed',
    });
    const again = await deployArtifact(t.site, { app: APP, commit: V3, request: asked, dryRun: true });
    expect({ id: again.deployId, outcome: again.outcome }).toEqual({ id: look.deployId, outcome: 'planned' });
    const done = await deployArtifact(t.site, { app: APP, commit: V3, request: asked });
    expect(done.outcome).toBe('succeeded');
  });
});

describe('atomic: a dry run with a record planted under the id it plans', () => {
  const stack = plantedNextIdStackFor('atomic', 'planted-next-id-dry-run-atomic');

  it('of a deploy says the deploy will refuse it, and writes nothing', async () => {
    const { t } = stack();
    const look = await deployArtifact(t.site, {
      app: APP,
      commit: V3,
      request: request('look'),
      dryRun: true,
    });
    await plantRecord(t, look.deployId, plantedRecord(t, APP, look.deployId, V3, look.artifactDigest));
    const before = await stackObjectDigests(t);

    const error = await refusal(
      deployArtifact(t.site, { app: APP, commit: V3, request: request('look again'), dryRun: true }),
    );
    expectDryRunRefusal(error, look.deployId);
    expect(await stackObjectDigests(t)).toEqual(before);
  });
});
