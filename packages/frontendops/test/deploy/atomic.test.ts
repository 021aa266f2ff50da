/**
 * Atomic deploys and rollbacks through the real engine, the embedded S3 server (real protocol) and
 * the local edge in atomic mode (the viewer-request function, the KeyValueStore API with SigV4A, a
 * propagation delay), with a concurrent prober that never sees a broken page while releases switch.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorAuditHead } from '../../src/atomic/anchored-head.ts';
import { PREVIEW_SECRET_KEY } from '../../src/atomic/release-pointer.ts';
import type { AuditHead } from '../../src/contract/audit-head.ts';
import { deployArtifact, finishSyncedDeploy, rollbackRelease } from '../../src/deploy/deploy.ts';
import { pinRelease, readPin } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { S3RequestRecord } from '../../src/local/s3-server.ts';
import type { ReleaseStore } from '../../src/ports.ts';
import { approvalInForce } from '../../src/state/approval-in-force.ts';
import { consumeApproval } from '../../src/state/approvals.ts';
import { createAtomicRecords } from '../../src/state/atomic.ts';
import { appendAudit, readAudit, readAuditHead, stateDigest, verifyAudit } from '../../src/state/audit.ts';
import {
  APP,
  type AtomicEnv,
  HOSTING,
  hostingCopies,
  hostingWrites,
  request,
  startAtomicEnv,
} from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { auditEntryKey, forgeEntryPastHead, moveHeadBackOne } from '../support/audit-forgery.ts';
import { Browser, Probe, releaseOf } from '../support/edge-probe.ts';
import { rawKvs } from '../support/raw-kvs.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const C = [
  'a1a1a1a1a1a1a1a1',
  'b2b2b2b2b2b2b2b2',
  'c3c3c3c3c3c3c3c3',
  'd4d4d4d4d4d4d4d4',
  'e5e5e5e5e5e5e5e5',
];
const OPTIONS = { propagationMs: 25 };
let t: AtomicEnv;
/**
 * One history, made once, and the stack after each of its steps: C0 deployed, C1 deployed over it, a
 * rollback to C0 (which pins it), C1 promoted again. Each case puts back the step it starts from (and
 * the first deploy has a stack of its own), so no case depends on what another did.
 */
let c0Live: AtomicSnapshot;
let c1Live: AtomicSnapshot;
let rolledBack: AtomicSnapshot;
let promoted: AtomicSnapshot;

beforeAll(async () => {
  t = await startAtomicEnv(OPTIONS);
  await t.publishVersions(C);
  await deployArtifact(t.site, { app: APP, commit: C[0] as string, request: request() });
  c0Live = await snapshotAtomicEnv(t);
  await deployArtifact(t.site, { app: APP, commit: C[1] as string, request: request() });
  c1Live = await snapshotAtomicEnv(t);
  await rollbackRelease(t.site, { request: request('undo') });
  rolledBack = await snapshotAtomicEnv(t);
  await deployArtifact(t.site, { app: APP, commit: C[1] as string, request: request(), pin: 'clear' });
  promoted = await snapshotAtomicEnv(t);
}, 180_000);
afterAll(() => t?.stop());

const releaseIdOf = async (commit: string, env = t) => {
  const manifest = await readManifest(env.site.artifacts, APP, commit);
  return releaseIdFor({ commit, artifactDigest: artifactDigest(manifest as NonNullable<typeof manifest>) });
};
/** Hosting-bucket requests other than the edge fetching objects for visitors (and the verification). */
/** Requests to the hosting bucket other than reads of objects, by query (concurrent ones finish in any order). */
const engineRequests = (requests: readonly S3RequestRecord[]) =>
  requests
    .filter((r) => r.bucket === HOSTING && !(r.method === 'GET' && r.query === 'x-id=GetObject'))
    .sort((a, b) => (a.query < b.query ? -1 : a.query > b.query ? 1 : 0));
const pointer = async (env = t) => (await env.store().read()).value;
/**
 * What a switch to a release in place sends the hosting bucket: one LIST of its own prefix (its files
 * checked present) and one of its shared assets' folder (their sizes and ETags checked), whatever
 * the site's size.
 */
const onlyPrefixListOf = async (commit: string) => [
  expect.objectContaining({
    method: 'GET',
    query: `list-type=2&prefix=${encodeURIComponent(`_releases/${await releaseIdOf(commit)}/`)}`,
  }),
  expect.objectContaining({ method: 'GET', query: `list-type=2&prefix=${encodeURIComponent('assets/')}` }),
];
const served = async (env = t) => releaseOf(await (await fetch(env.edge.url)).text());

/** Runs `work` while four browsers load pages and their assets; returns the prober's findings. */
async function probed<T>(work: () => Promise<T>): Promise<{ value: T; probe: Probe }> {
  const probe = new Probe();
  const probers = [
    probe.run(new Browser(t.edge.url)),
    probe.run(new Browser(t.edge.url)),
    probe.run(new Browser(t.edge.url, { keepsCookies: false })),
    probe.run(new Browser(t.edge.url, { navigates: false, keepsCookies: false })),
  ];
  try {
    await probe.pagesAfterNow(4);
    const value = await work();
    await probe.pagesAfterNow(8);
    return { value, probe };
  } finally {
    probe.stop();
    await Promise.all(probers);
  }
}

describe('atomic deploy', () => {
  it('uploads assets at their keys and the rest under the release prefix, then one key write; invalidates nothing', async () => {
    // The first deploy of a stack: one of its own (a stack's release pointer, once set, is never unset).
    const own = await startAtomicEnv({ ...OPTIONS, stack: 'dashboard-atomic-first' });
    try {
      await own.publish(C[0] as string, 'v1');
      const mark = await own.mark();
      const summary = await deployArtifact(own.site, {
        app: APP,
        commit: C[0] as string,
        request: request(),
      });
      const requests = await own.requestsSince(mark);
      const id = await releaseIdOf(C[0] as string, own);
      expect(summary).toMatchObject({ outcome: 'succeeded', mode: 'atomic', op: 'deploy', releaseId: id });
      const keys = hostingCopies(requests).map((r) => r.key);
      expect(keys.filter((k) => !k.startsWith('assets/')).sort()).toEqual(
        ['favicon.ico', 'index.html', 'manifest.webmanifest', 'robots.txt'].map(
          (f) => `_releases/${id}/${f}`,
        ),
      );
      expect(keys.filter((k) => k.startsWith('assets/'))).toHaveLength(3);
      expect(keys.at(-1)).toBe(`_releases/${id}/index.html`);
      // Every byte of the site moved server-side (the one PUT is the environment marker).
      expect(
        hostingWrites(requests)
          .filter((r) => r.method === 'PUT' && !r.copySource)
          .map((r) => r.key),
      ).toEqual(['.frontendops/environment.json']);
      expect(await pointer(own)).toEqual({ live: id });
      expect((await own.site.records.readPointer())?.value.deployId).toBe(summary.deployId);
      expect(summary.invalidation).toBeNull();
      expect(summary.verification?.ok).toBe(true);
      expect(own.edge.stats().invalidations).toEqual([]);
      expect(await served(own)).toBe('v1');
      expect((await own.site.records.readRecord(summary.deployId))?.invalidation).toBeNull();
    } finally {
      await own.stop();
    }
  });

  it('deploys the next build copying only its new assets and its few files; visitors always get a whole release', async () => {
    await c0Live.restore();
    const mark = await t.mark();
    const { value: summary, probe } = await probed(() =>
      deployArtifact(t.site, { app: APP, commit: C[1] as string, request: request() }),
    );
    const id = await releaseIdOf(C[1] as string);
    const keys = hostingCopies(await t.requestsSince(mark)).map((r) => r.key);
    // Copies run concurrently: which two, not in which order.
    expect(
      keys
        .filter((k) => k.startsWith('assets/'))
        .map((k) => k.replace(/-.*/, ''))
        .sort(),
    ).toEqual(['assets/app', 'assets/style']);
    expect(keys.filter((k) => k.startsWith('_releases/'))).toHaveLength(4);
    expect(summary.unchanged).toBe(1); // the shared vendor chunk
    expect(await pointer()).toEqual({ live: id });
    expect(probe.broken).toEqual([]);
    expect([...probe.releasesSeen].sort()).toEqual(['v1', 'v2']);
    expect(t.edge.stats().invalidations).toEqual([]);
  });

  it('is a no-op for the live build', async () => {
    await c1Live.restore();
    const mark = await t.mark();
    const again = await deployArtifact(t.site, { app: APP, commit: C[1] as string, request: request() });
    expect(again.outcome).toBe('noop');
    expect(hostingWrites(await t.requestsSince(mark))).toEqual([]);
  });

  it('rolls back with one key write: a LIST of its prefix and of its assets the only requests to the hosting bucket, nothing invalidated', async () => {
    await c1Live.restore();
    const mark = await t.mark();
    const { value: summary, probe } = await probed(() =>
      rollbackRelease(t.site, { request: request('undo') }),
    );
    const requests = await t.requestsSince(mark);
    expect(summary).toMatchObject({
      kind: 'rollback',
      commit: C[0],
      outcome: 'succeeded',
      copied: 0,
      pruned: 0,
    });
    expect(engineRequests(requests)).toEqual(await onlyPrefixListOf(C[0] as string));
    expect(await pointer()).toEqual({ live: await releaseIdOf(C[0] as string) });
    expect((await t.site.records.readPointer())?.value.commit).toBe(C[0]);
    expect(probe.broken).toEqual([]);
    expect(probe.releasesSeen.has('v1')).toBe(true);
    expect(t.edge.stats().invalidations).toEqual([]);
  });

  it("with the chain's head anchored (as after an approval's use), the rollback's check of it reads the chain's head no more", async () => {
    await c1Live.restore();
    const store = t.store();
    const head = await readAuditHead(t.site.state, t.target.statePrefix);
    await anchorAuditHead(store, head as AuditHead, await store.read());
    const mark = await t.mark();
    const summary = await rollbackRelease(t.site, { request: request('undo') });
    expect(summary).toMatchObject({ kind: 'rollback', commit: C[0], outcome: 'succeeded' });
    // The change's start reads the head (assertAuditWritable), and the anchor check holds the chain
    // to the store's key by that read; the appends of its entries (a rollback, its pin) read it again.
    const headReads = (await t.requestsSince(mark)).filter(
      (r) => r.method === 'GET' && r.key === `${t.target.statePrefix}audit/head.json`,
    );
    expect(headReads).toHaveLength(2);
  });

  it('the rollback pinned the stack: a deploy past it is refused; a promote rolls forward without copying', async () => {
    await rolledBack.restore();
    const refused = await deployArtifact(t.site, {
      app: APP,
      commit: C[1] as string,
      request: request(),
    }).catch((e: unknown) => e);
    expect(isFrontendOpsError(refused, 'PINNED')).toBe(true);
    expect(await served()).toBe('v1');
    const mark = await t.mark();
    const summary = await deployArtifact(t.site, {
      app: APP,
      commit: C[1] as string,
      request: request(),
      pin: 'clear',
    });
    expect(summary).toMatchObject({ outcome: 'succeeded', copied: 0, unpinned: { commit: C[0] } });
    expect(engineRequests(await t.requestsSince(mark))).toEqual(await onlyPrefixListOf(C[1] as string));
    expect(await served()).toBe('v2');
  });
});

describe('atomic deploy, interrupted', () => {
  /** The site with a release store that "crashes" (throws like a killed process) around the key write. */
  const crashing = (when: 'before' | 'after'): Promise<typeof t.site> => {
    const real = t.site.releases as ReleaseStore;
    const store: ReleaseStore = {
      read: () => real.read(),
      previewSecret: () => real.previewSecret(),
      anchorAuditHead: (head, etag) => real.anchorAuditHead(head, etag),
      async write(value, etag) {
        if (when === 'before') throw new Error('killed before the key write');
        await real.write(value, etag);
        throw new Error('killed after the key write');
      },
    };
    return t.open({ releases: store });
  };

  /** The site with its release store's reads counted. */
  const countingReads = async () => {
    const real = t.site.releases as ReleaseStore;
    let reads = 0;
    const read = () => {
      reads += 1;
      return real.read();
    };
    return { counting: await t.open({ releases: { ...real, read } }), reads: () => reads };
  };

  it('a crash after the key write and before the state followed: a re-run finishes it, with no second write', async () => {
    await promoted.restore();
    const broken = await crashing('after');
    await expect(
      deployArtifact(broken, { app: APP, commit: C[2] as string, request: request() }),
    ).rejects.toThrow('killed after the key write');
    const id = await releaseIdOf(C[2] as string);
    expect(await pointer()).toEqual({ live: id });
    expect((await t.site.records.readPointer())?.value.commit).toBe(C[1]);
    const pending = await createAtomicRecords(t.site.state, t.target.statePrefix).readPending();
    expect(pending).toMatchObject({ op: 'deploy', switched: false });
    const etag = t.edge.atomic?.currentEtag();

    const { counting, reads } = await countingReads();
    const rerun = await deployArtifact(counting, { app: APP, commit: C[2] as string, request: request() });
    expect(rerun.outcome).toBe('noop');
    // The store read once under the lock for the anchor and the settle's check, once after the
    // finish (which may write it), once by the finish itself (4 before the first two were one).
    expect(reads()).toBe(3);
    expect(t.edge.atomic?.currentEtag()).toBe(etag);
    const live = (await t.site.records.readPointer())?.value;
    expect(live?.commit).toBe(C[2]);
    expect((await t.site.records.readRecord(live?.deployId as string))?.outcome).toBe('succeeded');
    expect(await createAtomicRecords(t.site.state, t.target.statePrefix).readPending()).toBeNull();
    expect(await served()).toBe('v3');
  });

  it('attack: a stopped switch on a cut chain is refused before it is finished, nothing changed', async () => {
    // The change stopped past its switch; the chain's anchored head then cut from the state bucket.
    await promoted.restore();
    const broken = await crashing('after');
    await expect(
      deployArtifact(broken, { app: APP, commit: C[2] as string, request: request() }),
    ).rejects.toThrow('killed after the key write');
    const prefix = t.target.statePrefix;
    const store = t.store();
    // An entry anchored past it (as an approval's use is), then cut with the head moved back.
    const use = await appendAudit(t.site.state, prefix, t.site.locker, {
      type: 'approval-used',
      data: { action: 'deploy', nonce: 'cut' },
    });
    await anchorAuditHead(store, use, await store.read());
    const { last } = await moveHeadBackOne(t.site.state, prefix);
    await t.site.state.delete([auditEntryKey(prefix, last.seq)]);
    const entries = (await readAudit(t.site.state, prefix)).length;
    const { counting, reads } = await countingReads();

    const refused = await deployArtifact(counting, {
      app: APP,
      commit: C[2] as string,
      request: request(),
    }).catch((e: unknown) => e);
    expect(isFrontendOpsError(refused, 'TAMPERED'), String(refused)).toBe(true);
    expect(String(refused)).toContain(`does not hold entry ${last.seq}:${last.hash}`);
    expect(String(refused)).toMatch(/Nothing was changed/);
    // Nothing of the stopped change finished: its record kept, the state and the chain as they were.
    expect(await createAtomicRecords(t.site.state, prefix).readPending()).toMatchObject({
      op: 'deploy',
      switched: false,
    });
    expect((await t.site.records.readPointer())?.value.commit).toBe(C[1]);
    expect((await readAudit(t.site.state, prefix)).length).toBe(entries);
    // One read of the release store: the anchor, and what the settle holds the stopped change to.
    expect(reads()).toBe(1);
  });

  /** The chain cut back past an entry the release store anchors (as an approval's use is). */
  const cutAnchoredChain = async () => {
    const prefix = t.target.statePrefix;
    const store = t.store();
    const use = await appendAudit(t.site.state, prefix, t.site.locker, {
      type: 'approval-used',
      data: { action: 'deploy', nonce: 'cut' },
    });
    await anchorAuditHead(store, use, await store.read());
    const { last } = await moveHeadBackOne(t.site.state, prefix);
    await t.site.state.delete([auditEntryKey(prefix, last.seq)]);
    return { last, entries: (await readAudit(t.site.state, prefix)).length };
  };

  it('attack: a preview on a cut chain finishes no stopped switch, and is refused: nothing changed', async () => {
    await promoted.restore();
    const broken = await crashing('after');
    await expect(
      deployArtifact(broken, { app: APP, commit: C[2] as string, request: request() }),
    ).rejects.toThrow('killed after the key write');
    const { last, entries } = await cutAnchoredChain();
    const state = await t.site.state.get(`${t.target.statePrefix}atomic/state.json`);

    const refused = await previewLink(t.site, {
      app: APP,
      commit: C[3] as string,
      request: request(),
      verify: false,
    }).catch((e: unknown) => e);
    expect(isFrontendOpsError(refused, 'TAMPERED'), String(refused)).toBe(true);
    expect(String(refused)).toContain(`does not hold entry ${last.seq}:${last.hash}`);
    expect(await createAtomicRecords(t.site.state, t.target.statePrefix).readPending()).toMatchObject({
      op: 'deploy',
      switched: false,
    });
    expect((await t.site.records.readPointer())?.value.commit).toBe(C[1]);
    expect((await t.site.state.get(`${t.target.statePrefix}atomic/state.json`))?.etag).toBe(state?.etag);
    expect((await readAudit(t.site.state, t.target.statePrefix)).length).toBe(entries);
  });

  it('attack: the finish of a synced deploy on a cut chain is refused before it finishes: nothing changed', async () => {
    await promoted.restore();
    const synced = await deployArtifact(t.site, {
      app: APP,
      commit: C[3] as string,
      request: request(),
      stopBeforeInvalidation: true,
    });
    expect(synced.outcome).toBe('synced');
    const { last, entries } = await cutAnchoredChain();

    const refused = await finishSyncedDeploy(t.site, synced.deployId, { request: request() }).catch(
      (e: unknown) => e,
    );
    expect(isFrontendOpsError(refused, 'TAMPERED'), String(refused)).toBe(true);
    expect(String(refused)).toContain(`does not hold entry ${last.seq}:${last.hash}`);
    expect(String(refused)).toMatch(/Nothing was changed/);
    expect(await createAtomicRecords(t.site.state, t.target.statePrefix).readPending()).toMatchObject({
      op: 'deploy',
      plan: { deployId: synced.deployId },
    });
    expect(await t.site.records.readRecord(synced.deployId)).toBeNull();
    expect((await readAudit(t.site.state, t.target.statePrefix)).length).toBe(entries);
  });

  it('attack: a pin on a cut chain is refused, nothing written', async () => {
    await promoted.restore();
    const { last, entries } = await cutAnchoredChain();
    const etag = t.edge.atomic?.currentEtag();

    const refused = await pinRelease(t.site, { request: request() }).catch((e: unknown) => e);
    expect(isFrontendOpsError(refused, 'TAMPERED'), String(refused)).toBe(true);
    expect(String(refused)).toContain(`does not hold entry ${last.seq}:${last.hash}`);
    expect(await readPin(t.site)).toBeNull();
    expect(t.edge.atomic?.currentEtag()).toBe(etag);
    expect((await readAudit(t.site.state, t.target.statePrefix)).length).toBe(entries);
  });

  it('attack: a stopped pin on a cut chain is refused before it is finished: pin.json not written', async () => {
    await promoted.restore();
    // A pin stopped between its entry and pin.json; the chain then cut back past the anchored head.
    const pinKey = `${t.target.statePrefix}pin.json`;
    await expect(
      pinRelease(
        stoppingSite(t.site, (key) => key === pinKey),
        { request: request() },
      ),
    ).rejects.toThrow('the process stopped');
    const { last, entries } = await cutAnchoredChain();
    const etag = t.edge.atomic?.currentEtag();

    const refused = await deployArtifact(t.site, {
      app: APP,
      commit: C[2] as string,
      request: request(),
    }).catch((e: unknown) => e);
    expect(isFrontendOpsError(refused, 'TAMPERED'), String(refused)).toBe(true);
    expect(String(refused)).toContain(`does not hold entry ${last.seq}:${last.hash}`);
    // The stopped pin is left as it was: its entry written, its pin.json not.
    expect(await readPin(t.site)).toBeNull();
    expect(t.edge.atomic?.currentEtag()).toBe(etag);
    expect((await readAudit(t.site.state, t.target.statePrefix)).length).toBe(entries);
  });

  it('a crash before the key write: nothing went live; the re-run reuses the uploaded files and switches', async () => {
    await promoted.restore();
    const broken = await crashing('before');
    await expect(
      deployArtifact(broken, { app: APP, commit: C[3] as string, request: request() }),
    ).rejects.toThrow('killed before the key write');
    expect(await served()).toBe('v2');
    const mark = await t.mark();
    const rerun = await deployArtifact(t.site, { app: APP, commit: C[3] as string, request: request() });
    expect(rerun).toMatchObject({ outcome: 'succeeded', copied: 0 });
    expect(hostingCopies(await t.requestsSince(mark))).toEqual([]);
    expect(await served()).toBe('v4');
    const outcomes = (await t.site.records.listRecords()).records.map((r) => r.outcome);
    expect(outcomes).not.toContain('superseded');
  });
});

describe('atomic deploy, racing another switch', () => {
  /** A release store that lets `meanwhile` run just before this deploy's key write. */
  const racing = (meanwhile: () => Promise<unknown>) => {
    const real = t.site.releases as ReleaseStore;
    let raced = false;
    return t.open({
      releases: {
        read: () => real.read(),
        previewSecret: () => real.previewSecret(),
        anchorAuditHead: (head, etag) => real.anchorAuditHead(head, etag),
        async write(value, etag) {
          if (!raced) {
            raced = true;
            await meanwhile();
          }
          return real.write(value, etag);
        },
      },
    });
  };

  it('another key changing (the preview secret created) is retried: the deploy goes live', async () => {
    await promoted.restore();
    // Making the preview secret is a write to the same store: its ETag changes, the pointer does not.
    const site = await racing(() => t.store().previewSecret());
    const summary = await deployArtifact(site, { app: APP, commit: C[4] as string, request: request() });
    expect(summary.outcome).toBe('succeeded');
    expect(await served()).toBe('v5');
  });

  it('a case that made the preview secret leaves none for the next: the snapshot puts the store back', async () => {
    // The case above counts on making the secret itself (a write that changes the store's ETag): a
    // secret left by a case before it would make its race change nothing.
    const raw = rawKvs(t);
    try {
      await promoted.restore();
      expect(await raw.get(PREVIEW_SECRET_KEY)).toBeNull();
      await t.store().previewSecret();
      await promoted.restore();
      expect(await raw.get(PREVIEW_SECRET_KEY)).toBeNull();
    } finally {
      raw.destroy();
    }
  });

  it('another operator switching first stops the deploy: the site stays where they put it, the state names nothing of this deploy; every operation is in the audit chain', async () => {
    await promoted.restore();
    const v1 = await releaseIdOf(C[0] as string);
    const before = (await t.site.records.readPointer())?.value;
    const site = await racing(async () => {
      const store = t.store();
      await store.write({ live: v1 }, (await store.read()).etag);
    });
    const error = await deployArtifact(site, { app: APP, commit: C[2] as string, request: request() }).catch(
      (e: unknown) => e,
    );
    expect(isFrontendOpsError(error, 'PRECONDITION_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/Another switch .* came first/);
    expect(await pointer()).toEqual({ live: v1 });
    expect((await t.site.records.readPointer())?.value).toEqual(before);
    expect(await createAtomicRecords(t.site.state, t.target.statePrefix).readPending()).toBeNull();
    const last = (await readAudit(t.site.state, t.target.statePrefix)).at(-1);
    expect(last).toMatchObject({ type: 'atomic-switch-lost', data: { found: { live: v1 } } });

    // The next operation plans from the state, records what the store held, and converges.
    const next = await deployArtifact(t.site, { app: APP, commit: C[2] as string, request: request() });
    expect(next).toMatchObject({ outcome: 'succeeded', drift: { live: v1 } });
    expect(await served()).toBe('v3');
    expect((await t.site.records.readPointer())?.value.commit).toBe(C[2]);

    // Every operation (the history's deploys and rollback, the lost switch, the deploy after it) is
    // in the audit chain, which verifies.
    const audit = await readAudit(t.site.state, t.target.statePrefix);
    expect(audit.map((e) => e.type)).toEqual(
      expect.arrayContaining(['deploy', 'rollback', 'atomic-switch-lost']),
    );
    expect(audit.filter((e) => e.type === 'deploy').every((e) => e.data.mode === 'atomic')).toBe(true);
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });
});

describe('the atomic state and release indexes are under the audit chain', () => {
  const stateKey = () => `${t.target.statePrefix}atomic/state.json`;

  it('between a sync and its finish it is unfinished, not tampered; the finish binds it', async () => {
    await promoted.restore();
    const synced = await deployArtifact(t.site, {
      app: APP,
      commit: C[3] as string,
      request: request(),
      stopBeforeInvalidation: true,
    });
    expect(synced.outcome).toBe('synced');
    const between = await verifyAudit(t.site.state, t.target.statePrefix);
    expect(between.problems.filter((p) => p.kind !== 'unfinished')).toEqual([]);
    expect(between.problems).toContainEqual(
      expect.objectContaining({
        object: 'atomic/state.json',
        reason: expect.stringMatching(/interrupted after writing it: the next deploy or rollback/),
      }),
    );
    const finished = await finishSyncedDeploy(t.site, synced.deployId, { request: request() });
    expect(finished.record.outcome).toBe('succeeded');
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    const written = JSON.parse((await t.site.state.get(stateKey()))?.body.toString('utf8') ?? 'null');
    expect(entries.at(-1)?.objects?.['atomic/state.json']).toBe(stateDigest(written));
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });

  it('an edit (a retiring release dropped, so its files could be pruned while edges serve them) fails verify, naming it', async () => {
    await promoted.restore();
    const original = await t.site.state.get(stateKey());
    const state = JSON.parse(original?.body.toString('utf8') ?? '{}');
    expect(state.retiring.length).toBeGreaterThan(0);
    await t.site.state.put(stateKey(), JSON.stringify({ ...state, retiring: [] }, null, 2));
    try {
      const result = await verifyAudit(t.site.state, t.target.statePrefix);
      expect(result.problems).toEqual([
        expect.objectContaining({
          kind: 'tampered',
          object: 'atomic/state.json',
          reason: expect.stringMatching(/atomic\/state\.json was changed after entry \d+ recorded it\.$/),
        }),
      ]);
    } finally {
      await t.site.state.put(stateKey(), original?.body ?? '');
    }
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });
  it('an edited release index (files dropped), one added around the chain and a deleted one all fail verify, naming them', async () => {
    await promoted.restore();
    const prefix = t.target.statePrefix;
    const live = await releaseIdOf(C[1] as string);
    const name = `atomic/releases/${live}.json`;
    const original = await t.site.state.get(`${prefix}${name}`);
    const index = JSON.parse(original?.body.toString('utf8') ?? '{}');
    expect(index.files.length).toBeGreaterThan(1);
    const check = async (
      edit: () => Promise<unknown>,
      expected: { kind: string; object: string; reason: RegExp },
    ) => {
      await edit();
      try {
        expect((await verifyAudit(t.site.state, prefix)).problems).toEqual([
          expect.objectContaining({ ...expected, reason: expect.stringMatching(expected.reason) }),
        ]);
      } finally {
        await t.site.state.put(`${prefix}${name}`, original?.body ?? '');
        await t.site.state.delete([`${prefix}atomic/releases/forged.json`]);
      }
    };
    await check(
      () => t.site.state.put(`${prefix}${name}`, JSON.stringify({ ...index, files: index.files.slice(1) })),
      {
        kind: 'tampered',
        object: name,
        reason: /was changed after entry \d+ recorded it\.$/,
      },
    );
    await check(() => t.site.state.put(`${prefix}atomic/releases/forged.json`, JSON.stringify(index)), {
      kind: 'tampered',
      object: 'atomic/releases/forged.json',
      reason: /not in the audit chain .*written around the chain/,
    });
    await check(() => t.site.state.delete([`${prefix}${name}`]), {
      kind: 'tampered',
      object: name,
      reason: /is missing \(it was deleted\)/,
    });
    expect(await verifyAudit(t.site.state, prefix)).toMatchObject({ ok: true, problems: [] });
  });

  it('an operation stopped before its switch and superseded by another leaves its uploaded index vouched for', async () => {
    await promoted.restore();
    const F = 'f6f6f6f6f6f6f6f6';
    await t.publish(F, 'v6');
    const crashed = await t.openKilledBeforeKeyWrite();
    await expect(deployArtifact(crashed, { app: APP, commit: F, request: request() })).rejects.toThrow(
      'killed before the key write',
    );
    const name = `atomic/releases/${await releaseIdOf(F)}.json`;
    expect(await t.site.state.head(`${t.target.statePrefix}${name}`)).not.toBeNull();

    // Another operation (a deploy of another release) drops it and records it as superseded.
    const other = await deployArtifact(t.site, { app: APP, commit: C[2] as string, request: request() });
    expect(other.outcome).toBe('succeeded');
    const superseded = (await readAudit(t.site.state, t.target.statePrefix)).find(
      (e) => e.type === 'deploy-superseded' && e.data.commit === F,
    );
    expect(superseded?.objects?.[name]).toMatch(/^sha256:/);
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });

  it('an approved operation stopped before its switch and superseded names the approval it used', async () => {
    await promoted.restore();
    const H = 'b8b8b8b8b8b8b8b8';
    await t.publish(H, 'v8');
    const crashed = await t.openKilledBeforeKeyWrite();
    // Ada's approval on her word (as an MCP client's elicitation gives it), used as the infra server uses one.
    const approval = { nonce: 'nonce-superseded-AAAAAA', by: 'Ada', via: 'elicitation' as const };
    const authorize = async (plan: { deployId: string }) => {
      const { nonce, ...given } = approval;
      await consumeApproval(crashed, nonce, {
        action: 'deploy',
        deployId: plan.deployId,
        approval: given,
        now: Date.now(),
        judged: await approvalInForce(crashed),
      });
      return approval;
    };
    await expect(
      deployArtifact(crashed, { app: APP, commit: H, request: request(), authorize }),
    ).rejects.toThrow('killed before the key write');

    // Another deploy supersedes it: its record and entry say who approved the change that stopped,
    // as an in-place deploy's superseded record does (audit verify holds them to that approval).
    await deployArtifact(t.site, { app: APP, commit: C[2] as string, request: request() });
    const entry = (await readAudit(t.site.state, t.target.statePrefix)).find(
      (e) => e.type === 'deploy-superseded' && e.data.commit === H,
    );
    expect(entry?.data.approval).toEqual(approval);
    const record = (await t.site.records.listRecords()).records.find((r) => r.commit === H);
    expect(record).toMatchObject({ outcome: 'superseded', approval });
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });

  it('a deploy that loses its switch to another operator leaves its uploaded index vouched for', async () => {
    await promoted.restore();
    const G = 'a7a7a7a7a7a7a7a7';
    await t.publish(G, 'v7');
    const real = t.site.releases as ReleaseStore;
    const before = await real.read();
    const losing = await t.open({
      releases: {
        read: () => real.read(),
        previewSecret: () => real.previewSecret(),
        anchorAuditHead: (head, etag) => real.anchorAuditHead(head, etag),
        async write(value, etag) {
          // Another operator switches the site back to the release live before, first.
          await t.store().write({ live: await releaseIdOf(C[0] as string) }, (await t.store().read()).etag);
          return real.write(value, etag);
        },
      },
    });
    const error = await deployArtifact(losing, { app: APP, commit: G, request: request() }).catch((e) => e);
    expect((error as Error).message).toMatch(/Another switch .* came first/);
    expect(before.value).not.toEqual((await real.read()).value);
    const name = `atomic/releases/${await releaseIdOf(G)}.json`;
    const written = await t.site.state.get(`${t.target.statePrefix}${name}`);
    const last = (await readAudit(t.site.state, t.target.statePrefix)).at(-1);
    expect(last).toMatchObject({
      type: 'atomic-switch-lost',
      objects: { [name]: stateDigest(JSON.parse(written?.body.toString('utf8') ?? 'null')) },
    });
    // The operator's switch went around FrontendOps: the next deploy records it as drift and converges.
    const next = await deployArtifact(t.site, { app: APP, commit: G, request: request() });
    expect(next.outcome).toBe('succeeded');
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });
});

describe('atomic deploy on an edited audit log', () => {
  it('an entry past the head that does not follow from it stops the deploy before anything is written', async () => {
    await promoted.restore();
    const { state } = t.site;
    const prefix = t.target.statePrefix;
    // The newest entry edited and re-hashed: well formed, but chained to nothing in this log.
    await forgeEntryPastHead(state, prefix);
    const live = await pointer();
    const mark = await t.mark();
    const error = await deployArtifact(t.site, {
      app: APP,
      commit: C[3] as string,
      request: request(),
    }).catch((e: unknown) => e);
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/after the entry its head names .*but it does not follow/);
    expect((await t.requestsSince(mark)).filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual(
      [],
    );
    expect(await pointer()).toEqual(live);
  });
});
