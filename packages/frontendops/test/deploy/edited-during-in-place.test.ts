/**
 * In place, on a store without conditional writes (the pointer cannot be written over the version the
 * lock's check read), a deploy reads live.json again after it synced its files and writes the pointer
 * from it. Someone who can write the state bucket edits live.json while the deploy copies: before,
 * the release list they wrote (a build never live here) went into the pointer the deploy bound, and
 * verify was clean. Now what the deploy reads again is held to the audit chain as the check held it:
 * the deploy stops before it writes the pointer, verify reports the edit, and once it is put back the
 * deploy run again finishes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const request = () => ({ text: 'test', actor: 'test', planner: 'cli', at: new Date().toISOString() });
let t: TestDeployEnv;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'edited-in-place' });
  await publishFixtureBuilds(t, APP, [V1, V2, V3]);
  await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
});
afterAll(() => t?.stop());

it('live.json edited while an in-place deploy copies: the deploy stops before the pointer; verify reports it', async () => {
  expect(await t.site.state.supportsConditionalWrites()).toBe(false);
  const key = `${t.target.statePrefix}live.json`;
  const original = (await t.site.state.get(key))?.body as Buffer;
  const manifest = await readManifest(t.site.artifacts, APP, V3);
  const fake = {
    deployId: `${V3.slice(0, 7)}-0000000000`,
    app: APP,
    commit: V3,
    artifactDigest: artifactDigest(manifest as NonNullable<typeof manifest>),
    releasedAt: new Date(Date.now() - 3_600_000).toISOString(),
  };
  let edited = false;
  const hosting: ObjectStore = {
    ...t.site.hosting,
    async copyFrom(source, target, meta) {
      if (!edited) {
        edited = true;
        const live = JSON.parse((await t.site.state.get(key))?.body.toString('utf8') ?? '{}');
        await t.site.state.put(key, JSON.stringify({ ...live, releases: [live.releases[0], fake] }), {
          contentType: 'application/json',
        });
      }
      return t.site.hosting.copyFrom(source, target, meta);
    },
  };
  const site: Site = { ...t.site, hosting };
  await expect(deployArtifact(site, { app: APP, commit: V2, request: request() })).rejects.toMatchObject({
    code: 'TAMPERED',
    message: expect.stringMatching(/^live\.json of edited-in-place changed outside FrontendOps/),
  });
  expect(edited).toBe(true);
  expect((await t.site.records.readPointer())?.value.commit).toBe(V1);
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toContainEqual(
    expect.objectContaining({ kind: 'tampered', object: 'live.json' }),
  );

  await t.site.state.put(key, original, { contentType: 'application/json' });
  expect((await deployArtifact(t.site, { app: APP, commit: V2, request: request() })).outcome).toBe(
    'succeeded',
  );
  expect((await t.site.records.readPointer())?.value.releases.map((r) => r.commit)).toEqual([V2, V1]);
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});
