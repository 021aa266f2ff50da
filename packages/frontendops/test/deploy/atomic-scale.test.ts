/**
 * An atomic rollback does the same work whatever the site's size: the same S3 requests for a site
 * of 9 files and one of 259 (no copy, no manifest read, and no listing of the bucket: one LIST of the
 * release's own prefix, whose non-asset files are checked present before the switch — one page up to
 * 1,000 of them), one key write, nothing invalidated. `npm run bench -- atomic` times it at 800 and
 * 20,000 files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import type { S3RequestRecord } from '../../src/local/s3-server.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';

const C = ['5e5e5e5e5e5e5e5e', '6f6f6f6f6f6f6f6f'];
const envs: AtomicEnv[] = [];

beforeAll(async () => {
  for (const extraAssets of [0, 250]) {
    const t = await startAtomicEnv({ stack: `size-${extraAssets}` });
    for (const [i, commit] of C.entries()) {
      await t.publish(commit, `v${i + 1}`, { extraAssets });
      await deployArtifact(t.site, { app: APP, commit, request: request() });
    }
    envs.push(t);
  }
}, 180_000);
afterAll(async () => {
  for (const t of envs) await t.stop();
});

/** Requests by bucket and operation, ignoring the order concurrent ones finished in. */
const shape = (requests: readonly S3RequestRecord[]) =>
  requests.map((r) => `${r.bucket.replace(/^atomic-/, '')} ${r.method} ${r.query.replace(/=.*/, '')}`).sort();

describe('atomic rollback at any size', () => {
  it('sends the same S3 requests for 9 files and 259: a LIST of its prefix and of its assets, no copy, one key write', async () => {
    const shapes: string[][] = [];
    for (const t of envs) {
      const mark = await t.mark();
      const etag = t.edge.atomic?.currentEtag();
      const summary = await rollbackRelease(t.site, { request: request() });
      expect(summary).toMatchObject({ outcome: 'succeeded', copied: 0, commit: C[0] });
      expect(t.edge.atomic?.currentEtag()).not.toBe(etag);
      expect(t.edge.stats().invalidations).toEqual([]);
      const requests = await t.requestsSince(mark);
      expect(requests.filter((r) => r.copySource)).toEqual([]);
      // Its prefix, its shared assets' folder and its build's published files: one LIST each.
      const lists = requests
        .filter((r) => r.query.includes('list-type'))
        .map((r) => decodeURIComponent(r.query));
      expect(lists).toHaveLength(3);
      expect(lists).toEqual(
        expect.arrayContaining([
          expect.stringContaining(`prefix=_releases/${(await t.store().read()).value?.live}/`),
          expect.stringContaining('prefix=assets/'),
        ]),
      );
      shapes.push(shape(requests));
    }
    expect(shapes[1]).toEqual(shapes[0]);
    // 49 here: the change's reads and writes, with the lock's check of the state objects against the
    // chain (the head, its entry and the three objects, read together: state/recorded-state.ts), the
    // read of any record already under the change's deploy id (deploy/apply.ts ownRecordAhead), and
    // the check of its shared assets (its manifest, two LISTs: atomic-apply.ts sharedAssetsNotInPlace),
    // and, since every switch anchors the chain's head in the release store, the entry it anchors (a
    // few before the head), read to hold the chain to it (state/audit.ts assertChainHoldsAnchor).
    expect((shapes[0] ?? []).length).toBeLessThanOrEqual(49);
  });
});
