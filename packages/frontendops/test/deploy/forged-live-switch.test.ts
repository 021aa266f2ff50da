/**
 * A crash-recovery record planted to claim the live release's switch: atomic/pending.json, written
 * by the deployer role, saying an operation made the release the CDN already serves live (`switched`,
 * its plan's build the live build, under a deploy id nobody deployed, with made-up words and actor).
 * The release store does serve that release, but the switch was not this record's: the next change
 * (a preview, even) must not finish it into the chain as a deployment nobody made.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import type { Manifest } from '../../src/engine/types.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';

const [V2, V3] = ['b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;
const FORGED_ACTOR = 'made-up-actor';

describe('atomic: a planted record claiming the live release switch', () => {
  let t: AtomicEnv;
  let site: Site;
  let R2: string;
  let R3: string;
  let digest3: string;
  let indexSha3: string | undefined;
  const prefix = () => t.target.statePrefix;
  const pendingKey = () => `${prefix()}atomic/pending.json`;

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'forged-live-switch' });
    site = t.site;
    await t.publish(V2, 'v2');
    await t.publish(V3, 'v3');
    for (const commit of [V2, V3]) await deployArtifact(site, { app: APP, commit, request: request() });
    const m2 = (await readManifest(site.artifacts, APP, V2)) as Manifest;
    const m3 = (await readManifest(site.artifacts, APP, V3)) as Manifest;
    R2 = releaseIdFor({ commit: V2, artifactDigest: artifactDigest(m2) });
    digest3 = artifactDigest(m3);
    R3 = releaseIdFor({ commit: V3, artifactDigest: digest3 });
    indexSha3 = m3.files['/index.html']?.sha256;
  }, 180_000);
  afterAll(() => t?.stop());
  afterEach(async () => {
    await site.state.delete([pendingKey()]);
  });

  /** A record saying `op` of the live build V3, under deploy id D, switched from R2 to R3. */
  async function plant(op: string, liveChanges: boolean, switched = true, fromNothing = false) {
    const served = (await t.store().read()).value as Record<string, unknown>;
    expect(served.live).toBe(R3);
    const D = `${V3.slice(0, 7)}-0999999999`;
    const pending = {
      op,
      plan: {
        op,
        kind: op === 'rollback' ? 'rollback' : 'deploy',
        stack: t.target.stack,
        deployId: D,
        app: APP,
        commit: V3,
        artifactDigest: digest3,
        releaseId: R3,
        liveChanges,
        inPlace: true,
        verify: { indexSha256: indexSha3 },
        pointerBefore: fromNothing ? null : { ...served, live: R2 },
        pointerAfter: served,
        copies: [],
        prune: [],
        canaryAfter: null,
        leaving: { releaseIds: [], root: false },
      },
      request: {
        text: 'ship it, approved by Ada',
        actor: FORGED_ACTOR,
        planner: 'cli',
        at: '2026-12-03T21:00:00.000Z',
      },
      startedAt: '2026-12-03T21:00:00.000Z',
      switched,
    };
    await site.state.put(pendingKey(), JSON.stringify(pending), { contentType: 'application/json' });
    return D;
  }

  for (const [op, liveChanges, switched, fromNothing = false] of [
    ['migrate', false, true, true],
    ['deploy', true, true],
    ['deploy', false, true],
    ['migrate', false, true],
    ['rollback', false, true],
    ['canary-promote', false, true],
    ['deploy', true, false],
    ['deploy', false, false],
  ] as const) {
    it(`a preview does not record a "${op}" (liveChanges ${liveChanges}, switched ${switched}${fromNothing ? ', from no pointer' : ''}) of the live build nobody made`, async () => {
      const D = await plant(op, liveChanges, switched, fromNothing);
      const head = (await readAudit(site.state, prefix())).length;
      const outcome = await previewLink(site, { app: APP, commit: V2, request: request('preview v2') }).then(
        () => null,
        (error: unknown) => error,
      );
      const added = (await readAudit(site.state, prefix())).slice(head);
      expect(JSON.stringify(added)).not.toContain(FORGED_ACTOR);
      expect(added.filter((e) => e.data.deployId === D)).toEqual([]);
      expect(await site.records.readRecord(D)).toBeNull();
      if (outcome !== null) expect(isFrontendOpsError(outcome, 'TAMPERED'), String(outcome)).toBe(true);
      // verify does not call the planted record an interrupted operation to finish
      const verdict = await verifyAudit(site.state, prefix(), { releaseStore: site.releases });
      expect(verdict.problems.filter((p) => p.kind === 'unfinished')).toEqual([]);
    });
  }
});
