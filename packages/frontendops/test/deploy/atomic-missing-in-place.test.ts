/**
 * The in-place counterpart of atomic-missing-release.test.ts: an in-place stack keeps only the live
 * release's files at the bucket root (and the hashed assets of the last K), and a rollback plans from
 * a listing of the whole hosting bucket and the release's manifest in the artifacts bucket. Files of
 * the release rolled back to that someone deleted from the hosting bucket are therefore copied again
 * from its published build: nothing to refuse.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { keyOf } from '../../src/engine/manifest.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const [V1, V2] = ['d4d4d4d4d4d4d4d4', 'e5e5e5e5e5e5e5e5'] as const;
const request = () => ({ text: 'test', actor: 'test', planner: 'cli', at: new Date().toISOString() });
let t: TestDeployEnv;

beforeEach(async () => {
  t = await startDeployEnv({ stack: 'in-place-missing' });
  for (const [i, commit] of [V1, V2].entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `b${i}`), { version: `v${i + 1}` });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
    await deployArtifact(t.site, { app: APP, commit, request: request() });
  }
});
afterEach(() => t.stop());

it('an in-place rollback copies the deleted files of its release again from the artifacts bucket', async () => {
  const manifest = await readManifest(t.site.artifacts, APP, V1);
  const keys = Object.keys(manifest?.files ?? {}).map(keyOf);
  const hosting = new Set((await t.site.hosting.list()).map((o) => o.key));
  // Every key of v1 the bucket still holds beside v2 (its retained hashed assets, the paths v2 shares): deleted by hand.
  const deleted = keys.filter((k) => hosting.has(k));
  expect(deleted.length).toBeGreaterThan(0);
  await t.site.hosting.delete(deleted);

  const back = await rollbackRelease(t.site, { to: V1, request: request() });
  expect(back.outcome).toBe('succeeded');
  const copied = new Set(back.plan.copies.map((c) => c.key));
  for (const key of deleted) expect(copied.has(key), key).toBe(true);
  const after = new Set((await t.site.hosting.list()).map((o) => o.key));
  expect(keys.filter((k) => !after.has(k))).toEqual([]);
  expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
});
