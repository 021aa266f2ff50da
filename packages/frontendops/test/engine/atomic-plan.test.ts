/**
 * The pure planning of atomic releases: release ids, what a release still needs, the pointer each
 * operation writes, what may be pruned and when — and the canary arithmetic kept equal to the
 * viewer-request function's (run in its sandbox).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { VIEWER_REQUEST_FUNCTION_FILE } from '../../src/atomic/function-code.ts';
import { RELEASE_KEY } from '../../src/atomic/release-pointer.ts';
import {
  type AtomicLiveState,
  type AtomicRelease,
  assertOwnReleaseId,
  bucketFor,
  planAtomic,
  planAtomicPruneNow,
  planReleaseFiles,
  RELEASE_ID,
  releaseIdFor,
  releaseIdOfKey,
  unvouchedReleaseKeys,
} from '../../src/engine/atomic-plan.ts';
import { cacheControlFor } from '../../src/engine/cache-policy.ts';
import { describePlan } from '../../src/engine/describe.ts';
import { DEPLOY_ID } from '../../src/engine/ids.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import type { Manifest } from '../../src/engine/types.ts';
import { type EdgeFunction, eventFromHttp, loadEdgeFunctionFile } from '../../src/local/edge-function.ts';

function build(
  commit: string,
  version: string,
  extra: Record<string, string> = {},
): AtomicRelease & { manifest: Manifest } {
  const files: Manifest['files'] = {};
  const add = (path: string, sha: string) => {
    files[path] = {
      sha256: sha.padEnd(64, '0'),
      size: 10,
      contentType: 'x/y',
      cacheControl: cacheControlFor(path),
    };
  };
  add('/index.html', `a${version}`);
  add('/favicon.ico', `b${version}`);
  add(`/assets/app-${version}Xy12345.js`, `c${version}`);
  add('/assets/vendor-Sh4r3dX1.js', 'd');
  for (const [path, sha] of Object.entries(extra)) add(path, sha);
  const manifest: Manifest = { app: 'app', commit, createdAt: '2026-01-01T00:00:00Z', files };
  const digest = artifactDigest(manifest);
  return {
    releaseId: releaseIdFor({ commit, artifactDigest: digest }),
    app: 'app',
    commit,
    artifactDigest: digest,
    manifest,
  };
}

const A = build('aaaaaaa1', 'A');
const B = build('bbbbbbb2', 'B');
const keysOf = (r: AtomicRelease & { manifest: Manifest }) =>
  Object.keys(r.manifest.files).map((p) =>
    p.startsWith('/assets/') ? p.slice(1) : `_releases/${r.releaseId}${p}`,
  );
const hosting = (...releases: Array<AtomicRelease & { manifest: Manifest }>) =>
  new Map(releases.flatMap(keysOf).map((k) => [k, 10]));
const retained = (r: AtomicRelease, i: number) => ({
  ...r,
  deployId: `${r.commit.slice(0, 7)}-000000000${i}`,
  releasedAt: '',
});

function liveWith(overrides: Partial<AtomicLiveState> = {}): AtomicLiveState {
  return {
    hosting: hosting(A),
    pointer: { live: A.releaseId },
    retained: [retained(A, 0)],
    canary: null,
    previews: [],
    retiring: [],
    ...overrides,
  };
}

const base = { stack: 'prod', retain: 3, spa: false, now: 1_000_000, graceMs: 5_000 };

describe('release ids', () => {
  it('name the content: the same artifact always gets the same id, another artifact another one', () => {
    expect(A.releaseId).toMatch(RELEASE_ID);
    expect(A.releaseId).not.toMatch(DEPLOY_ID);
    expect(releaseIdFor(A)).toBe(A.releaseId);
    expect(releaseIdFor({ commit: A.commit, artifactDigest: B.artifactDigest })).not.toBe(A.releaseId);
    expect(releaseIdOfKey(`_releases/${A.releaseId}/index.html`)).toBe(A.releaseId);
    expect(releaseIdOfKey('assets/app.js')).toBeNull();
  });
});

describe('planAtomic', () => {
  /**
   * A release id holds 7 hex of the commit and 48 bits of a hash of the build's digest: whoever makes
   * builds (a publisher, with a commit of the same first 7 hex) can grind one to another release's id
   * (about 2^48 hashes: hours on one GPU). Its deploy would switch to that release's files, in place,
   * while recording itself: a job allowed only to deploy would roll back to an older release.
   */
  it.each(['deploy', 'canary-start'] as const)(
    'a %s of a build whose release id is a kept release’s of another build is refused, nothing planned',
    (op) => {
      const older = build('ccccccc3', 'C');
      const ground = { ...build(older.commit.slice(0, 7).padEnd(8, 'f'), 'G'), releaseId: older.releaseId };
      expect(ground.artifactDigest).not.toBe(older.artifactDigest);
      const live = liveWith({
        hosting: hosting(A, older),
        retained: [retained(A, 0), retained(older, 1)],
      });
      const plan = () => planAtomic({ ...base, op, weight: 10, release: ground, live });
      expect(plan).toThrow(
        expect.objectContaining({
          code: 'CONFLICT',
          message: expect.stringMatching(
            new RegExp(`release id ${older.releaseId} .*app@ccccccc.*another build.*Nothing was changed`),
          ),
        }),
      );
    },
  );

  /**
   * A release index is read as stored (JSON, no schema): one under the id without a digest (written
   * around FrontendOps, or cut short) names no build, so it is not judged, as a release known by its
   * id alone is not. Before, it refused every build under that id as "another build (undefined)".
   */
  it('a stored release index without a digest names no build: not held against the release id', () => {
    const { artifactDigest: _digest, ...unnamed } = build('ccccccc3', 'C');
    const release = build('ccccccc3', 'C');
    for (const stored of [unnamed, { ...unnamed, artifactDigest: null }])
      expect(() =>
        assertOwnReleaseId('s', release, [stored as unknown as Parameters<typeof assertOwnReleaseId>[2][0]]),
      ).not.toThrow();
  });

  it('a deploy copies the new hashed asset and the release files, and writes one pointer; nothing to invalidate', () => {
    const plan = planAtomic({ ...base, op: 'deploy', release: B, live: liveWith() });
    expect(plan.copies.map((c) => [c.key, c.reason])).toEqual([
      ['assets/app-BXy12345.js', 'new'],
      [`_releases/${B.releaseId}/favicon.ico`, 'new'],
      [`_releases/${B.releaseId}/index.html`, 'new'],
    ]);
    expect(plan.unchanged).toBe(1);
    expect([plan.pointerBefore, plan.pointerAfter]).toEqual([{ live: A.releaseId }, { live: B.releaseId }]);
    expect(plan.invalidationPaths).toEqual([]);
    expect(plan.leaving).toEqual({ releaseIds: [A.releaseId], root: false });
    expect(plan.deployId).toMatch(DEPLOY_ID);
    expect(describePlan(plan)).toBe(
      `deploy app@bbbbbbb to prod (live: aaaaaaa): 3 files to copy, one key write, nothing to invalidate`,
    );
  });

  it('a switch to a release in place copies, lists and prunes nothing, whatever the size', () => {
    const plan = planAtomic({
      ...base,
      op: 'rollback',
      release: { ...A, manifest: null },
      inPlace: { files: 1, assets: 20_000, indexSha256: 'f'.repeat(64) },
      live: liveWith({
        hosting: new Map(),
        pointer: { live: B.releaseId },
        retained: [retained(B, 1), retained(A, 0)],
      }),
    });
    expect([plan.copies, plan.prune, plan.inPlace, plan.kind]).toEqual([[], [], true, 'rollback']);
    expect(plan.verify.indexSha256).toBe('f'.repeat(64));
  });

  it('keeps the release it replaces through the grace, and the root of an in-place layout too', () => {
    const live = liveWith({ retained: [retained(A, 0)] });
    const planned = planAtomic({ ...base, retain: 1, op: 'deploy', release: B, live });
    expect(planned.prune).toEqual([]);
    const noGrace = planAtomic({ ...base, retain: 1, graceMs: 0, op: 'deploy', release: B, live });
    expect(noGrace.prune).toEqual([
      `_releases/${A.releaseId}/favicon.ico`,
      `_releases/${A.releaseId}/index.html`,
      'assets/app-AXy12345.js',
    ]);
    const fromRoot = planAtomic({
      ...base,
      op: 'deploy',
      release: B,
      live: liveWith({
        pointer: null,
        hosting: new Map([['index.html', 1], ['favicon.ico', 1], ...hosting(A)]),
      }),
    });
    expect(fromRoot.leaving).toEqual({ releaseIds: [], root: true });
    expect(fromRoot.prune).toEqual([]);
  });

  it('prunes after the switch what nothing keeps: not the last K, the canary, open previews or what edges may still serve', () => {
    const C = build('ccccccc3', 'C');
    const D = build('ddddddd4', 'D');
    const live: AtomicLiveState = {
      hosting: new Map([...hosting(A, B, C, D), ['index.html', 1], ['.frontendops/x', 1]]),
      pointer: { live: D.releaseId },
      retained: [retained(D, 3)],
      canary: null,
      previews: [C],
      retiring: [{ releases: [B], root: false, until: base.now + 1 }],
    };
    const prune = planAtomicPruneNow({ live, now: base.now, keepPrefixes: ['.frontendops/'] });
    expect(prune).toEqual([
      `_releases/${A.releaseId}/favicon.ico`,
      `_releases/${A.releaseId}/index.html`,
      'assets/app-AXy12345.js',
      'index.html',
    ]);
    const later = planAtomicPruneNow({ live, now: base.now + 1, keepPrefixes: ['.frontendops/'] });
    expect(later).toContain(`_releases/${B.releaseId}/index.html`);
    expect(later).not.toContain('assets/vendor-Sh4r3dX1.js');
  });

  it('canary: start writes {live, canary, weight}; deploys are refused while it runs; promote and abort', () => {
    const started = planAtomic({ ...base, op: 'canary-start', release: B, weight: 10, live: liveWith() });
    expect(started.pointerAfter).toEqual({ live: A.releaseId, canary: B.releaseId, weight: 10 });
    expect([started.liveChanges, started.verify.as]).toEqual([false, 'canary']);
    const canary = { ...B, deployId: started.deployId, weight: 10 };
    const running = liveWith({ pointer: started.pointerAfter, hosting: hosting(A, B), canary });
    expect(() => planAtomic({ ...base, op: 'deploy', release: B, live: running })).toThrow(
      /Promote it or abort it first/,
    );
    expect(() => planAtomic({ ...base, op: 'canary-start', release: A, weight: 5, live: running })).toThrow(
      /already live/,
    );
    for (const weight of [0, 100]) {
      expect(() => planAtomic({ ...base, op: 'canary-start', release: B, weight, live: liveWith() })).toThrow(
        /A canary share is a whole percentage from 1 to 99, not (0|100)\./,
      );
    }
    expect(
      planAtomic({ ...base, op: 'canary-start', release: B, weight: 99, live: liveWith() }).pointerAfter,
    ).toEqual({ live: A.releaseId, canary: B.releaseId, weight: 99 });
    const promoted = planAtomic({ ...base, op: 'canary-promote', release: B, live: running });
    expect([promoted.pointerAfter, promoted.deployId, promoted.liveChanges]).toEqual([
      { live: B.releaseId },
      started.deployId,
      true,
    ]);
    const aborted = planAtomic({
      ...base,
      op: 'canary-abort',
      release: B,
      live: running,
      liveIndexSha256: 'e'.repeat(64),
    });
    expect([aborted.pointerAfter, aborted.leaving.releaseIds, aborted.verify]).toEqual([
      { live: A.releaseId },
      [B.releaseId],
      { releaseId: A.releaseId, indexSha256: 'e'.repeat(64), as: 'live' },
    ]);
  });

  it('refuses a hashed asset whose content differs from a release the site still serves', () => {
    const clash = build('eeeeeee5', 'E', { '/assets/vendor-Sh4r3dX1.js': 'other' });
    expect(() => planAtomic({ ...base, op: 'deploy', release: clash, live: liveWith() })).toThrow(
      /content-hashed/,
    );
  });

  it('assets already in the bucket are vouched for only by releases that were deployed', () => {
    const files = planReleaseFiles({ release: B, hosting: hosting(A, B), known: [A] });
    expect(files.copies.map((c) => [c.key, c.reason])).toEqual([['assets/app-BXy12345.js', 'unverified']]);
    expect(planReleaseFiles({ release: B, hosting: hosting(A, B), known: [A, B] }).copies).toEqual([]);
  });

  /**
   * Files under B's id with no release index (a deploy stopped before it): those a stopped run of
   * B's own build wrote are B's, except what it was copying over another build's; anything else
   * there may be another build's with the same id, copied again, and keys B has no file for stray.
   */
  it('files under the id that no index vouches for are copied again unless a stopped run of the build wrote them', () => {
    const under = (path: string) => `_releases/${B.releaseId}${path}`;
    const present = new Map([...hosting(A, B), [under('/old.html'), 10]]);
    const stopped = { releaseId: B.releaseId, artifactDigest: B.artifactDigest, copies: [] };
    const plan = (interrupted: Parameters<typeof unvouchedReleaseKeys>[2]) => {
      const unvouched = unvouchedReleaseKeys(B, present.keys(), interrupted);
      const files = planReleaseFiles({ release: B, hosting: present, known: [A, B], unvouched });
      return [files.copies.map((c) => [c.key, c.reason]), files.stray];
    };
    const foreign = [
      [
        [under('/index.html'), 'changed'],
        [under('/favicon.ico'), 'changed'],
      ],
      [under('/old.html')],
    ];
    expect(plan(null)).toEqual(foreign);
    expect(plan({ ...stopped, artifactDigest: A.artifactDigest })).toEqual(foreign);
    expect(plan(stopped)).toEqual([[], [under('/old.html')]]);
    const over = planAtomic({ ...base, op: 'deploy', release: B, live: liveWith() }).copies.filter(
      (c) => c.key === under('/index.html'),
    );
    expect(plan({ ...stopped, copies: over.map((c) => ({ ...c, reason: 'changed' as const })) })).toEqual([
      [[under('/index.html'), 'changed']],
      [under('/old.html')],
    ]);
    // Nothing said about the prefix (an index or a kept release vouches for it): as before.
    expect(planReleaseFiles({ release: B, hosting: present, known: [A, B] })).toMatchObject({
      copies: [],
      stray: [],
    });
  });

  it('spa: true is written into the pointer', () => {
    expect(
      planAtomic({ ...base, spa: true, op: 'deploy', release: B, live: liveWith() }).pointerAfter,
    ).toEqual({
      live: B.releaseId,
      spa: true,
    });
  });
});

describe('the canary arithmetic and the function agree', () => {
  let fn: EdgeFunction;
  beforeAll(async () => {
    fn = await loadEdgeFunctionFile(VIEWER_REQUEST_FUNCTION_FILE);
  });

  it('bucketFor(canary) gets the canary and bucketFor(live) the live release, for any weight 1–99', () => {
    for (const canary of [A.releaseId, B.releaseId, 'rel-x', 'zz']) {
      for (const weight of [1, 10, 50, 99]) {
        const entries = new Map([[RELEASE_KEY, JSON.stringify({ live: 'live1', canary, weight })]]);
        const routed = (bucket: number) => {
          const event = eventFromHttp(
            { method: 'GET', url: '/', headers: { cookie: `fo_bucket=${bucket}` } },
            { id: 'E1', domainName: 'd.cloudfront.net' },
          );
          const run = fn.run(event, { kvs: { entries }, now: Date.now() });
          return run.kind === 'request' ? run.request.uri : run.kind;
        };
        expect(routed(bucketFor(canary, 'canary'))).toBe(`/_releases/${canary}/index.html`);
        expect(routed(bucketFor(canary, 'live'))).toBe('/_releases/live1/index.html');
      }
    }
  });
});
