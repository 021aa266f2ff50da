/**
 * Item under review: a kept release's index (atomic/releases/<id>.json), edited by the deployer
 * role to drop a page that was deleted from the hosting bucket. A rollback to that release reads the
 * index to check the release is whole; `audit verify` reports the edit. Before, the rollback went
 * through (the lock's check held live.json, pin.json and atomic/state.json to the chain, not the
 * index it used) and served the release with the page gone. Now the index it uses is held to the
 * chain's binding, which the newest entry carries (`indexes`): TAMPERED, nothing written.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { releaseIndexOf } from '../../src/deploy/atomic-apply.ts';
import { startCanary } from '../../src/deploy/canary.ts';
import { rollbackRelease } from '../../src/deploy/deploy.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import type { Manifest } from '../../src/engine/types.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, deployedAtomicEnvFor, request } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { auditEntryKey, rehash } from '../support/audit-forgery.ts';
import { refusal, writesSince } from '../support/refusal.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

/**
 * The attack: a page of V1's kept release deleted from the hosting bucket, and its index edited to
 * list the release without it. Returns the index's key.
 */
async function dropAPageOfV1(
  t: AtomicEnv,
): Promise<{ R1: string; name: string; index: { artifactDigest: string; uploadedAt: string } }> {
  const prefix = t.target.statePrefix;
  const R1 = releaseIdFor({
    commit: V1,
    artifactDigest: artifactDigest((await readManifest(t.site.artifacts, APP, V1)) as Manifest),
  });
  const name = `${prefix}atomic/releases/${R1}.json`;
  const index = JSON.parse((await t.site.state.get(name))?.body.toString('utf8') ?? '{}');
  const page = (index.files as string[]).find((f) => f !== '/index.html') as string;
  expect(page).toBeDefined();
  await t.site.hosting.delete([`_releases/${R1}${page}`]);
  await t.site.state.put(
    name,
    JSON.stringify({ ...index, files: index.files.filter((f: string) => f !== page) }),
    { contentType: 'application/json' },
  );
  return { R1, name, index };
}

describe('atomic: a kept release index edited to drop a deleted page', () => {
  const env = deployedAtomicEnvFor({ stack: 'edited-release-index' }, [V1, V2], 2);
  /** V1 then V2 deployed, nothing edited: each case starts from it, whichever ran before. */
  let deployed: AtomicSnapshot;
  beforeAll(async () => {
    deployed = await snapshotAtomicEnv(env());
  });
  beforeEach(() => deployed.restore());

  it('verify reports the index; the rollback to it refuses rather than serve the release with a page gone', async () => {
    const t = env();
    const prefix = t.target.statePrefix;
    const { R1, name, index } = await dropAPageOfV1(t);
    expect((await verifyAudit(t.site.state, prefix)).problems).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: `atomic/releases/${R1}.json` }),
    );
    const pointer = (await t.store().read()).value;
    const head = (await readAudit(t.site.state, prefix)).length;
    const mark = await t.mark();
    const error = await refusal(rollbackRelease(t.site, { request: request() }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toContain(`put back the version of ${name} the audit log records`);
    expect(error.message).toMatch(/its digest, sha256 over its canonical JSON, is sha256:[0-9a-f]{64}/);
    expect(error.message).toMatch(/Nothing was changed/);
    expect(await writesSince(t, mark)).toEqual([]);
    expect((await t.store().read()).value).toEqual(pointer);
    expect(await readAudit(t.site.state, prefix)).toHaveLength(head);

    // Put back as its deploy wrote it, it lists the deleted page: the rollback is refused, CONFLICT.
    const manifest = (await readManifest(t.site.artifacts, APP, V1)) as Manifest;
    const ref = { releaseId: R1, app: APP, commit: V1, artifactDigest: index.artifactDigest };
    await t.site.state.put(name, JSON.stringify(releaseIndexOf(ref, manifest, index.uploadedAt)), {
      contentType: 'application/json',
    });
    expect((await verifyAudit(t.site.state, prefix)).problems).toEqual([]);
    const whole = await refusal(rollbackRelease(t.site, { request: request() }));
    expect(isFrontendOpsError(whole, 'CONFLICT'), String(whole)).toBe(true);
    expect(whole.message).toMatch(/is not whole in the hosting bucket/);
  });

  it('every entry carries the bindings of the release indexes; one written otherwise is tampered', async () => {
    const t = env();
    const prefix = t.target.statePrefix;
    const entries = await readAudit(t.site.state, prefix);
    const newest = entries.at(-1) as NonNullable<(typeof entries)[number]>;
    expect(Object.keys(newest.indexes ?? {})).toHaveLength(2);
    // An entry appended by hand that says an index is what an edit made it.
    const [name] = Object.keys(newest.indexes ?? {});
    const forged = rehash({
      ...newest,
      seq: newest.seq + 1,
      type: 'agent-request',
      data: {},
      objects: undefined,
      indexes: { ...newest.indexes, [name as string]: 'sha256:0000' },
      prevHash: newest.hash,
    });
    await t.site.state.put(auditEntryKey(prefix, forged.seq), JSON.stringify(forged));
    await t.site.state.put(
      `${prefix}audit/head.json`,
      JSON.stringify({ seq: forged.seq, hash: forged.hash }),
    );
    expect((await verifyAudit(t.site.state, prefix)).problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        seq: forged.seq,
        reason: expect.stringMatching(/records the release indexes otherwise/),
      }),
    );
  });
});

describe('atomic: a kept release index edited while a genuine operation is stopped', () => {
  const env = deployedAtomicEnvFor({ stack: 'edited-index-pending' }, [V1, V2, V3], 2);

  it('a crash-recovery record excuses no edit of an index it did not write: the rollback refuses', async () => {
    const t = env();
    // A canary of V3 killed before its key write: a genuine atomic/pending.json, nothing forged.
    await expect(
      startCanary(await t.openKilledBeforeKeyWrite(), {
        app: APP,
        commit: V3,
        weightPercent: 10,
        request: request('try v3'),
      }),
    ).rejects.toThrow('killed before the key write');
    const prefix = t.target.statePrefix;
    expect(await t.site.state.get(`${prefix}atomic/pending.json`)).not.toBeNull();
    const { R1 } = await dropAPageOfV1(t);
    expect((await verifyAudit(t.site.state, prefix)).problems).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: `atomic/releases/${R1}.json` }),
    );
    const pointer = (await t.store().read()).value;
    const error = await refusal(rollbackRelease(t.site, { request: request() }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect((await t.store().read()).value).toEqual(pointer);
  });
});
