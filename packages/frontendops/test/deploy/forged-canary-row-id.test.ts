/**
 * A canary start genuinely stopped after its switch and before it wrote atomic/state.json (the CDN
 * serves it; its crash-recovery record names no state yet). Its record may excuse, as its own, the
 * history row its finish writes under the canary event's id (canaryRowId). Before, that id was
 * among the ids the record excused in EVERY object it excuses: the deployer role could put it in
 * atomic/state.json (a retiring or preview release of that id, which no entry records) and verify
 * took the edit for the stopped start's own. Now only its row is excused under it: tampered.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { canaryRowId } from '../../src/engine/ids.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { AtomicPending } from '../../src/state/atomic.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { refusal } from '../support/refusal.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

describe('atomic: a stopped canary start, and its row id put in atomic/state.json', () => {
  let t: AtomicEnv;
  const prefix = () => t.target.statePrefix;
  const stateKey = () => `${prefix()}atomic/state.json`;
  let stopped: AtomicPending;
  let rowId: string;
  let written: string;

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'forged-canary-row-id' });
    await t.publishVersions([V1, V2, V3]);
    for (const commit of [V1, V2]) await deployArtifact(t.site, { app: APP, commit, request: request() });
    // Stopped at its first write after the switch: the record naming the state it writes.
    const stopping = stoppingSite(
      t.site,
      (key, body) => key === `${prefix()}atomic/pending.json` && String(body).includes('"stateDigest"'),
    );
    await expect(
      startCanary(stopping, { app: APP, commit: V3, weightPercent: 20, request: request() }),
    ).rejects.toThrow(/stopped/);
    stopped = JSON.parse(
      (await t.site.state.get(`${prefix()}atomic/pending.json`))?.body.toString('utf8') ?? 'null',
    ) as AtomicPending;
    expect(stopped.switched).toBe(false);
    expect(stopped.stateDigest).toBeUndefined();
    expect((await t.store().read()).value?.canary).toBe(stopped.plan.releaseId);
    rowId = canaryRowId(stopped) ?? '';
    expect(rowId).not.toBe('');
    written = (await t.site.state.get(stateKey()))?.body.toString('utf8') ?? '';
    const verdict = await verifyAudit(t.site.state, prefix(), { releaseStore: t.site.releases });
    expect(verdict.problems.map((p) => p.kind)).not.toContain('tampered');
  }, 180_000);
  afterAll(() => t?.stop());
  beforeEach(async () => {
    await t.site.state.put(stateKey(), written, { contentType: 'application/json' });
  });

  it('a retiring release named by its row id: verify says tampered, the next change refuses', async () => {
    const state = JSON.parse(written);
    const forged = {
      ...state,
      retiring: [
        ...(state.retiring ?? []),
        {
          releases: [{ releaseId: rowId, app: APP, commit: V3, artifactDigest: '' }],
          root: false,
          until: '2099-01-01T00:00:00.000Z',
          by: 'deploy:x:y:',
        },
      ],
    };
    await t.site.state.put(stateKey(), JSON.stringify(forged), { contentType: 'application/json' });
    const verdict = await verifyAudit(t.site.state, prefix(), { releaseStore: t.site.releases });
    expect(verdict.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        object: 'atomic/state.json',
        reason: expect.stringContaining(rowId),
      }),
    );
    const head = (await readAudit(t.site.state, prefix())).length;
    const error = await refusal(abortCanary(t.site, { request: request('abort') }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(await readAudit(t.site.state, prefix())).toHaveLength(head);
  });

  it('as it was, the next change finishes the stopped start and records its row', async () => {
    await abortCanary(t.site, { request: request('abort') });
    expect((await t.site.records.readRecord(rowId))?.outcome).toBe('succeeded');
    expect((await verifyAudit(t.site.state, prefix(), { releaseStore: t.site.releases })).problems).toEqual(
      [],
    );
  });
});
