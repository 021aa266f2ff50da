/**
 * Deployment records the chain does not bind, named where a release is asked for by its deploy id.
 * `deployments/<id>.json` and its history row are the deployer role's to write, and nothing holds a
 * record to the chain before a change starts. Before, a promote or redeploy of a deploy id
 * (resolveRelease: the CLI's `promote <id>`, promote_release, the console's redeploy) went to the
 * build a record edited or planted under that id named, never live here; and a preview by deploy id
 * uploaded that build and recorded in the chain a preview of "deployment <id>" that never was. Now
 * such a record is refused (TAMPERED, nothing changed); a release the chain records still resolves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployAtomic } from '../../src/deploy/atomic-deploy.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { rolledBackAway } from '../../src/read/history.ts';
import type { Site } from '../../src/site.ts';
import { readAudit } from '../../src/state/audit.ts';
import type { DeploymentRecord } from '../../src/state/records.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { refusal } from '../support/refusal.ts';

const C = ['1111111111111111', '2222222222222222', '3333333333333333', '4444444444444444'] as const;
/** A deploy id nothing ever deployed under, of the build never live (C[3]). */
const PLANTED = `${C[3].slice(0, 7)}-0123456789`;

let t: AtomicEnv;
let site: Site;
const ids: string[] = [];

beforeAll(async () => {
  t = await startAtomicEnv({ retain: 1, stack: 'forged-release-record' });
  await t.publishVersions(C);
  site = t.site;
  for (const commit of C.slice(0, 3)) {
    ids.push((await deployAtomic(site, { app: APP, commit, request: request() })).deployId);
  }
}, 180_000);
afterAll(() => t?.stop());

const prefix = () => t.target.statePrefix;
const recordKey = (deployId: string) => `${prefix()}deployments/${deployId}.json`;

/** The build never live (C[3]) as a record says it: its app, commit and digest. */
async function neverLive(): Promise<Pick<DeploymentRecord, 'app' | 'commit' | 'artifactDigest'>> {
  const manifest = await readManifest(site.artifacts, APP, C[3]);
  if (!manifest) throw new Error('C[3] is not published');
  return { app: APP, commit: C[3], artifactDigest: artifactDigest(manifest) };
}

/** Writes `record` around the chain (as the deployer role can), with its history row; returns the undo. */
async function writeAround(record: DeploymentRecord): Promise<() => Promise<void>> {
  const key = recordKey(record.deployId);
  const before = await site.state.get(key);
  await site.state.put(key, JSON.stringify(record), { contentType: 'application/json' });
  const row = `${prefix()}history/0000000000001-${record.deployId}`;
  await site.state.put(row, '', { contentType: 'application/octet-stream' });
  return async () => {
    if (before) await site.state.put(key, before.body, { contentType: 'application/json' });
    else await site.state.delete([key]);
    await site.state.delete([row]);
  };
}

function expectRefused(error: Error & { code?: string }, deployId: string) {
  expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
  expect(error.message).toContain(`deployments/${deployId}.json`);
  expect(error.message).toMatch(/no audit entry records it/);
  expect(error.message).toMatch(/Nothing was changed/);
  expect(error.message).toMatch(/frontendops audit verify/);
}

describe('a deployment record written around the chain, named by its deploy id', () => {
  it('a genuine deploy id resolves to the build the chain recorded for it', async () => {
    expect(await resolveRelease(site, APP, ids[0] as string)).toEqual({
      app: APP,
      commit: C[0],
      deployId: ids[0],
    });
  });

  it('promote of a deploy id whose record was edited to name a build never live: refused', async () => {
    const genuine = await site.records.readRecord(ids[0] as string);
    if (!genuine) throw new Error('no record of the first deploy');
    const undo = await writeAround({ ...genuine, ...(await neverLive()) });
    try {
      const error = await refusal(resolveRelease(site, APP, ids[0] as string));
      expectRefused(error, ids[0] as string);
    } finally {
      await undo();
    }
    expect((await resolveRelease(site, APP, ids[0] as string)).commit).toBe(C[0]);
  });

  it('promote of a deploy id only a planted record names: refused', async () => {
    const genuine = await site.records.readRecord(ids[0] as string);
    if (!genuine) throw new Error('no record of the first deploy');
    const undo = await writeAround({ ...genuine, ...(await neverLive()), deployId: PLANTED });
    try {
      const error = await refusal(resolveRelease(site, APP, PLANTED));
      expectRefused(error, PLANTED);
    } finally {
      await undo();
    }
  });

  it('promote of a deploy id only a live.json edited around the chain keeps: refused', async () => {
    // No record under that id: before, the id resolved to the build the edited pointer's kept release
    // names, never live here (the promote itself was then refused at its lock's check, but the words
    // of its request, "promote …@4444444", came from this answer).
    const key = `${prefix()}live.json`;
    const before = await site.state.get(key);
    const live = await site.records.readPointer();
    if (!before || !live) throw new Error('a release is live');
    const kept = { ...(await neverLive()), deployId: PLANTED, releasedAt: live.value.releasedAt };
    await site.state.put(key, JSON.stringify({ ...live.value, releases: [...live.value.releases, kept] }), {
      contentType: 'application/json',
    });
    try {
      const error = await refusal(resolveRelease(site, APP, PLANTED));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
      expect(error.message).toContain('live.json');
      expect(error.message).toMatch(/Nothing was changed/);
    } finally {
      await site.state.put(key, before.body, { contentType: 'application/json' });
    }
  });

  it('a preview by a planted deploy id: refused, nothing uploaded or recorded', async () => {
    const genuine = await site.records.readRecord(ids[0] as string);
    if (!genuine) throw new Error('no record of the first deploy');
    const undo = await writeAround({ ...genuine, ...(await neverLive()), deployId: PLANTED });
    try {
      const head = (await readAudit(site.state, prefix())).length;
      const hosting = (await site.hosting.list()).length;
      const error = await refusal(previewLink(site, { deployId: PLANTED, request: request() }));
      expectRefused(error, PLANTED);
      expect(await readAudit(site.state, prefix())).toHaveLength(head);
      expect((await site.hosting.list()).length).toBe(hosting);
    } finally {
      await undo();
    }
    // A deployment the chain records, no longer retained, is still previewed by its id.
    const link = await previewLink(site, { deployId: ids[0] as string, request: request() });
    expect(link).toMatchObject({ commit: C[0], deployId: ids[0] });
  });

  it('the rolled-back note: a rollback record written around the chain is not told as fact', async () => {
    // Before, a deploy of the live build said "…@3333333 was rolled back on … by mallory (…)".
    const genuine = await site.records.readRecord(ids[1] as string);
    if (!genuine) throw new Error('no record of the second deploy');
    const undo = await writeAround({
      ...genuine,
      deployId: `${C[1].slice(0, 7)}-9876543210`,
      kind: 'rollback',
      outcome: 'succeeded',
      fromDeployId: ids[2] as string,
      fromCommit: C[2],
      request: { ...genuine.request, actor: 'mallory', message: 'it leaked the totals' },
    });
    try {
      expect(await rolledBackAway(site, { app: APP, commit: C[2] })).toBeNull();
    } finally {
      await undo();
    }
  });
});
