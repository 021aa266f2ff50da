/**
 * A stack whose outputs name the KeyValueStore of another environment (whoever can change
 * frontendops.config.json or an outputs file in the repository can point one there). Its protection,
 * its history and its marker are its own buckets'; the store is the other environment's, whose live
 * release it used to switch with no approval of that environment and nothing in its history. Release
 * ids follow from the commit and the build's digest: the same build published to the stack's own log
 * made the id of a release the other environment keeps, which it then served (a rollback nobody
 * approved). The store names its environment (its key frontendops-environment, written with the
 * first switch): any other stack's change is refused before anything is written. A store switched
 * before it kept that key is named only by a stack whose own state records the live release it holds,
 * or the switch to it its own operation stopped at under a FrontendOps from before (killed before its
 * state followed; before, its own stack was refused until the key was put by hand), not by another
 * stack holding that operation's crash-recovery record, nor by one that deployed the environment's
 * live build in place or to its own store (the same release id in its state; before, it claimed the
 * store): a stack's atomic state names the store of its newest switch.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_KEY } from '../../src/atomic/release-pointer.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { migrateToAtomic } from '../../src/deploy/migrate.ts';
import { startLocalEdge } from '../../src/local/edge.ts';
import type { ReleaseStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { connectSite, releaseStoreOwner } from '../../src/stacks/open.ts';
import { adoptApprovalPolicy } from '../../src/state/approval-in-force.ts';
import { createAtomicRecords } from '../../src/state/atomic.ts';
import { readAudit } from '../../src/state/audit.ts';
import { putJsonObject } from '../../src/state/json-object.ts';
import {
  APP,
  type AtomicEnv,
  deployedAtomicEnvFor,
  request,
  storedAtomicPending,
  writeReleaseBuild,
} from '../support/atomic-env.ts';
import { auditEntryKey } from '../support/audit-forgery.ts';
import { publishAsCi } from '../support/deploy-env.ts';
import { rawKvs } from '../support/raw-kvs.ts';

const COMMITS = ['1111111111111111111111111111111111111111', '2222222222222222222222222222222222222222'];
const OPTIONS = {
  extraBuckets: [
    'qa-artifacts',
    'qa-hosting',
    'staging-artifacts',
    'staging-hosting',
    'dev-artifacts',
    'dev-hosting',
    'fresh-artifacts',
    'fresh-hosting',
  ],
};
/** Production, both commits deployed, the second live. The first describe's cases leave it so. */
const env = deployedAtomicEnvFor(OPTIONS, COMMITS, 2);

/**
 * qa (or `stack`): a stack of its own buckets and state whose outputs name `store` (default:
 * production's release store).
 */
function openQa(
  t: AtomicEnv,
  store?: { arn: string; endpoint: string } | 'none',
  stack = 'qa',
): Promise<Site> {
  const { releaseStoreArn: _inPlace, ...target } = t.target;
  return connectSite(
    {
      ...(store === 'none' ? target : t.target),
      stack,
      artifactsBucket: `${stack}-artifacts`,
      hostingBucket: `${stack}-hosting`,
      stateBucket: `${stack}-artifacts`,
      statePrefix: `.frontendops/state/${stack}/`,
      ...(store && store !== 'none' ? { releaseStoreArn: store.arn } : {}),
    },
    {
      access: {
        credentials: t.s3.credentials,
        cdnEndpoint: t.edge.cdnEndpoint,
        kvsEndpoint: store && store !== 'none' ? store.endpoint : (t.edge.atomic?.kvsEndpoint as string),
        propagationMs: 0,
      },
      lockDir: join(t.tmp, 'locks'),
      onNotice: () => undefined,
    },
  );
}

/**
 * qa, its outputs naming production's release store, publishes the bytes of production's first
 * release to its own log and deploys it: what that deploy threw (none: undefined), once it is seen to
 * have written nothing.
 */
async function qaDeploysProductionsFirstBuild(
  t: AtomicEnv,
  buildDir: string,
  before?: (qa: Site) => Promise<void>,
): Promise<unknown> {
  const qa = await openQa(t);
  try {
    const build = await writeReleaseBuild(join(t.tmp, buildDir), 'v1');
    await publishAsCi(qa, { dir: build.dir, app: APP, commit: COMMITS[0] as string });
    await before?.(qa);
    const mark = await t.mark();
    const refused = await deployArtifact(qa, {
      app: APP,
      commit: COMMITS[0] as string,
      request: request(),
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    const written = (await t.requestsSince(mark)).filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
    expect(written).toEqual([]);
    return refused;
  } finally {
    qa.close();
  }
}

describe("a stack whose outputs name another environment's release store", () => {
  it("is refused, CONFLICT, before anything is written: that environment's live release stays", async () => {
    const t = env();
    const before = await t.store().read();
    const page = async () => (await fetch(t.target.siteUrl as string)).text();
    const served = await page();
    const history = (await readAudit(t.site.state, t.target.statePrefix)).length;
    const refused = await qaDeploysProductionsFirstBuild(t, 'build-qa');
    expect(refused).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(
        /^The release store of qa \(its releaseStoreArn output\) switches another environment's releases: its key frontendops-environment names a hosting bucket other than qa's\. Nothing was changed\./,
      ),
    });
    expect((refused as Error).message).not.toContain('atomic-hosting');
    const after = await t.store().read();
    expect(after).toEqual(before);
    expect(await page()).toBe(served);
    expect((await readAudit(t.site.state, t.target.statePrefix)).length).toBe(history);
  }, 120_000);

  it("names the environment of its first switch: a store no switch named yet is the first switcher's", async () => {
    const t = env();
    const kvs = rawKvs(t);
    try {
      expect(await kvs.get(ENVIRONMENT_KEY)).toBe(releaseStoreOwner(t.target));
      // A store switched before stores named their environment: the next switch names it.
      await kvs.set(ENVIRONMENT_KEY, null);
      await deployArtifact(t.site, { app: APP, commit: COMMITS[0] as string, request: request() });
      expect(await kvs.get(ENVIRONMENT_KEY)).toBe(releaseStoreOwner(t.target));
      await deployArtifact(t.site, { app: APP, commit: COMMITS[1] as string, request: request() });
    } finally {
      kvs.destroy();
    }
    // The local environment may listen on another port each run: every name of this machine is one.
    expect(JSON.parse(releaseStoreOwner(t.target))).toEqual({
      v: 1,
      hostingBucket: 'atomic-hosting',
      endpoint: 'loopback',
    });
    expect(releaseStoreOwner({ ...t.target, endpoint: 'http://localhost:1/' })).toBe(
      releaseStoreOwner(t.target),
    );
    expect(JSON.parse(releaseStoreOwner({ hostingBucket: 'atomic-hosting' }))).toEqual({
      v: 1,
      hostingBucket: 'atomic-hosting',
    });
  }, 120_000);
});

describe('a release store no switch has named yet', () => {
  it("anchors a policy adopted before the stack's first switch: cut from the chain, that switch is refused", async () => {
    // Before, the anchor was not written where no switch had named the store: the adoption was held
    // by the state bucket alone, and whoever writes it could cut it unseen before the first deploy.
    const t = env();
    const edge = await startLocalEdge({
      origin: t.s3.store('fresh-hosting'),
      distributionId: 'EFRESHSTORE01',
      apiCredentials: t.s3.credentials,
      atomic: {
        credentials: [t.s3.credentials],
        kvsArn: 'arn:aws:cloudfront::000000000000:key-value-store/fresh-releases',
      },
    });
    try {
      const own = { arn: edge.atomic?.kvsArn as string, endpoint: edge.atomic?.kvsEndpoint as string };
      const fresh = await openQa(t, own, 'fresh');
      try {
        const store = () => fresh.releases as ReleaseStore;
        expect((await store().read()).value).toBeNull();
        const adopted = await adoptApprovalPolicy(fresh, 'Ops', Date.now());
        const read = await store().read();
        expect(read.auditHead).toBe(`${adopted.seq}:${adopted.hash}`);
        // The store is named this stack's by that write, as its first switch would name it.
        const kvs = rawKvs({ ...t, edge, target: fresh.target });
        try {
          expect(await kvs.get(ENVIRONMENT_KEY)).toBe(releaseStoreOwner(fresh.target));
        } finally {
          kvs.destroy();
        }
        // Whoever writes the state bucket cuts the adoption: the first deploy is refused, nothing switched.
        const prefix = fresh.target.statePrefix;
        await fresh.state.delete([auditEntryKey(prefix, adopted.seq)]);
        const before = (await readAudit(fresh.state, prefix)).at(-1);
        if (before) {
          await putJsonObject(fresh.state, `${prefix}audit/head.json`, {
            seq: before.seq,
            hash: before.hash,
          });
        } else await fresh.state.delete([`${prefix}audit/head.json`]);
        const build = await writeReleaseBuild(join(t.tmp, 'build-fresh'), 'fresh');
        const commit = '4444444444444444444444444444444444444444';
        await publishAsCi(fresh, { dir: build.dir, app: APP, commit });
        await expect(deployArtifact(fresh, { app: APP, commit, request: request() })).rejects.toMatchObject({
          code: 'TAMPERED',
          message: expect.stringContaining(`does not hold entry ${adopted.seq}:${adopted.hash}`),
        });
        expect((await store().read()).value).toBeNull();
      } finally {
        fresh.close();
      }
    } finally {
      await edge.close();
    }
  }, 120_000);
});

// It ends with production's first commit live again: a production of its own.
describe('a release store switched before stores named their environment', () => {
  const env = deployedAtomicEnvFor(OPTIONS, COMMITS, 2);
  /** Production's store as a FrontendOps from before left it (no environment key): what it serves. */
  async function legacyStore(t: ReturnType<typeof env>) {
    const raw = rawKvs(t);
    await raw.set(ENVIRONMENT_KEY, null);
    raw.destroy();
    const before = await t.store().read();
    return { before, live: (await t.site.records.readPointer())?.value.commit as string };
  }
  /** Production's live commit and an identical build, deployed to `stack`: the same release id there. */
  async function deployProductionsLive(t: ReturnType<typeof env>, stack: Site, live: string, name: string) {
    const version = live === COMMITS[0] ? 'v1' : 'v2';
    const build = await writeReleaseBuild(join(t.tmp, `build-${name}-${version}`), version);
    await publishAsCi(stack, { dir: build.dir, app: APP, commit: live });
    await deployArtifact(stack, { app: APP, commit: live, request: request() });
  }

  it("is not claimed by another stack's first switch", async () => {
    const t = env();
    const raw = rawKvs(t);
    await raw.set(ENVIRONMENT_KEY, null); // production's store, switched by a FrontendOps from before
    raw.destroy();
    const before = await t.store().read();
    const refused = await qaDeploysProductionsFirstBuild(t, 'build-qa-legacy');
    expect(refused).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(
        /^The release store of qa \(its releaseStoreArn output\) names no environment yet .* qa's state does not record its live release \S+ as switched on this store, so it may be another environment's\. Nothing was changed\./,
      ),
    });
    // What to do if the store is qa's after all: name it by hand, with the command given.
    expect((refused as Error).message).toContain(
      `--key ${ENVIRONMENT_KEY} --value '${releaseStoreOwner({ ...t.target, hostingBucket: 'qa-hosting' })}' --if-match ${before.etag}`,
    );
    expect(await t.store().read(), "production's live release").toEqual(before);
    const kvs = rawKvs(t);
    try {
      expect(await kvs.get(ENVIRONMENT_KEY)).toBeNull();
      // Its own stack's next switch names it (its pointer is the live release its state records).
      await deployArtifact(t.site, { app: APP, commit: COMMITS[0] as string, request: request() });
      expect(await kvs.get(ENVIRONMENT_KEY)).toBe(releaseStoreOwner(t.target));
    } finally {
      kvs.destroy();
    }
  }, 120_000);

  it('stopped at its switch under a FrontendOps from before: its own stack finishes it, qa cannot', async () => {
    const t = env();
    const raw = rawKvs(t);
    try {
      await raw.set(ENVIRONMENT_KEY, null);
      // A FrontendOps from before switches the store (the pointer alone) and is killed before its
      // state follows: the store serves a release the stack's state does not record as live yet.
      const real = t.site.releases as ReleaseStore;
      const old: ReleaseStore = {
        read: () => real.read(),
        previewSecret: () => real.previewSecret(),
        anchorAuditHead: (head, etag) => real.anchorAuditHead(head, etag),
        async write(value) {
          await raw.write({ value: JSON.stringify(value) });
          throw new Error('killed after the key write');
        },
      };
      const live = (await t.site.records.readPointer())?.value.commit;
      const other = (live === COMMITS[0] ? COMMITS[1] : COMMITS[0]) as string;
      const killed = await t.open({ releases: old });
      await expect(deployArtifact(killed, { app: APP, commit: other, request: request() })).rejects.toThrow(
        'killed after the key write',
      );
      const stopped = await storedAtomicPending(t.site);
      expect((await t.store().read()).value).toEqual(stopped.plan.pointerAfter);
      expect((await t.site.records.readPointer())?.value.commit).toBe(live);

      // qa, its state holding that crash-recovery record as its own (as copied, or naming qa), claims nothing.
      const before = await t.store().read();
      for (const [n, record] of [stopped, { ...stopped, plan: { ...stopped.plan, stack: 'qa' } }].entries()) {
        const refused = await qaDeploysProductionsFirstBuild(t, `build-qa-stopped-${n}`, async (qa) => {
          await putJsonObject(qa.state, `${qa.target.statePrefix}atomic/pending.json`, record);
        });
        expect(refused).toMatchObject({
          code: 'CONFLICT',
          message: expect.stringMatching(/names no environment yet/),
        });
      }
      expect(await t.store().read()).toEqual(before);
      expect(await raw.get(ENVIRONMENT_KEY)).toBeNull();

      // Its own stack's next run finishes the stopped deploy, and its switch names the store.
      await deployArtifact(t.site, { app: APP, commit: live as string, request: request() });
      expect(await raw.get(ENVIRONMENT_KEY)).toBe(releaseStoreOwner(t.target));
      const records = (await t.site.records.listRecords()).records;
      expect(records.find((r) => r.deployId === stopped.plan.deployId)?.outcome).toBe('succeeded');
      expect((await t.site.records.readPointer())?.value.commit).toBe(live);
    } finally {
      raw.destroy();
    }
  }, 120_000);

  it("is not claimed by a stack that deployed production's live build to its own store", async () => {
    const t = env();
    const { before, live } = await legacyStore(t);
    // staging's own store, behind an edge of its own in front of its hosting bucket.
    const edge = await startLocalEdge({
      origin: t.s3.store('staging-hosting'),
      distributionId: 'ESTAGINGOWN01',
      apiCredentials: t.s3.credentials,
      atomic: {
        credentials: [t.s3.credentials],
        kvsArn: 'arn:aws:cloudfront::000000000000:key-value-store/staging-releases',
      },
    });
    try {
      const own = { arn: edge.atomic?.kvsArn as string, endpoint: edge.atomic?.kvsEndpoint as string };
      const staging = await openQa(t, own, 'staging');
      try {
        // Production's live commit and an identical build: the same release id, in staging's own history.
        await deployProductionsLive(t, staging, live, 'staging');
        // Its state names the store of that switch.
        const state = await createAtomicRecords(staging.state, staging.target.statePrefix).readState();
        expect(state.releaseStore).toBe(own.arn);
      } finally {
        staging.close();
      }
      // Its outputs then name production's store: its next deploy, of a build of its own.
      const onProduction = await openQa(t, undefined, 'staging');
      try {
        const commit = '3333333333333333333333333333333333333333';
        const build = await writeReleaseBuild(join(t.tmp, 'build-staging-own'), 'staging');
        await publishAsCi(onProduction, { dir: build.dir, app: APP, commit });
        const mark = await t.mark();
        await expect(
          deployArtifact(onProduction, { app: APP, commit, request: request() }),
        ).rejects.toMatchObject({
          code: 'CONFLICT',
          message: expect.stringMatching(/names no environment yet/),
        });
        const written = (await t.requestsSince(mark)).filter(
          (r) => r.method !== 'GET' && r.method !== 'HEAD',
        );
        expect(written).toEqual([]);
      } finally {
        onProduction.close();
      }
      expect(await t.store().read(), "production's live release").toEqual(before);
    } finally {
      await edge.close();
    }
  }, 120_000);

  it("is not claimed by a stack that deployed production's live build in place", async () => {
    const t = env();
    const { before, live } = await legacyStore(t);
    const inPlace = await openQa(t, 'none', 'dev');
    try {
      await deployProductionsLive(t, inPlace, live, 'dev');
    } finally {
      inPlace.close();
    }
    // Its outputs then name production's store: made atomic there, it would switch production's.
    const dev = await openQa(t, undefined, 'dev');
    try {
      const mark = await t.mark();
      await expect(migrateToAtomic(dev, { request: request() })).rejects.toMatchObject({
        code: 'CONFLICT',
        message: expect.stringMatching(/names no environment yet/),
      });
      // Nothing but its lock's probe of conditional writes, in its own state.
      const written = (await t.requestsSince(mark)).filter(
        (r) => r.method !== 'GET' && r.method !== 'HEAD' && !r.key?.includes('/probe/conditional-writes'),
      );
      expect(written).toEqual([]);
    } finally {
      dev.close();
    }
    expect(await t.store().read(), "production's live release").toEqual(before);
  }, 120_000);
});
