/** planDeploy is pure: these tests need no server. */
import { describe, expect, it } from 'vitest';
import { cacheControlFor } from '../../src/engine/cache-policy.ts';
import { describePlan } from '../../src/engine/describe.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import { type LiveState, planDeploy, type Release } from '../../src/engine/plan.ts';
import type { Manifest } from '../../src/engine/types.ts';

const file = (path: string, sha: string) => ({
  sha256: sha.repeat(64).slice(0, 64),
  size: 10,
  contentType: 'text/plain',
  cacheControl: cacheControlFor(path),
});
const manifest = (commit: string, files: Record<string, string>): Manifest => ({
  app: 'app',
  commit,
  createdAt: '2026-11-25T00:00:00Z',
  files: Object.fromEntries(Object.entries(files).map(([p, s]) => [p, file(p, s)])),
});
const release = (deployId: string, m: Manifest): Release => ({
  deployId,
  app: m.app,
  commit: m.commit,
  artifactDigest: artifactDigest(m),
  manifest: m,
});
const live = (releases: Release[], extra: string[] = [], uncertain: string[] = []): LiveState => ({
  hosting: new Map(
    [...releases.flatMap((r) => Object.keys(r.manifest.files).map((p) => p.slice(1))), ...extra].map((k) => [
      k,
      10,
    ]),
  ),
  releases,
  uncertainKeys: new Set(uncertain),
});
const plan = (m: Manifest, state: LiveState, over: { retain?: number; prune?: boolean } = {}) =>
  planDeploy({
    stack: 's',
    kind: 'deploy',
    manifest: m,
    artifactDigest: artifactDigest(m),
    live: state,
    retain: over.retain ?? 3,
    prune: over.prune ?? true,
  });

const v1 = manifest('1111111', { '/index.html': 'a', '/assets/a-AAAA1111.js': 'b', '/favicon.ico': 'c' });
const v2 = manifest('2222222', { '/index.html': 'd', '/assets/a-BBBB2222.js': 'e', '/favicon.ico': 'c' });
const v3 = manifest('3333333', { '/index.html': 'f', '/assets/a-CCCC3333.js': 'g', '/favicon.ico': 'h' });
const v4 = manifest('4444444', { '/index.html': 'i', '/assets/a-DDDD4444.js': 'j', '/favicon.ico': 'h' });

describe('planDeploy', () => {
  it('orders copies hashed assets → other → HTML and gives a deterministic id', () => {
    const p = plan(v1, live([]));
    expect(p.copies.map((c) => c.path)).toEqual(['/assets/a-AAAA1111.js', '/favicon.ico', '/index.html']);
    expect(plan(v1, live([])).deployId).toBe(p.deployId);
    expect(p.deployId).toMatch(/^1111111-[0-9a-f]{10}$/);
    expect(p.invalidationPaths).toEqual(['/', '/favicon.ico', '/index.html']);
  });

  it('moves only what changed, by sha256, and keeps retained releases', () => {
    const p = plan(v2, live([release('r1', v1)]));
    expect(p.copies.map((c) => [c.path, c.reason])).toEqual([
      ['/assets/a-BBBB2222.js', 'new'],
      ['/index.html', 'changed'],
    ]);
    expect(p.unchanged).toBe(1);
    expect(p.prune).toEqual([]);
    expect(p.invalidationPaths).toEqual(['/', '/index.html']);
  });

  it('prunes what none of the last K releases reference, and invalidates pruned non-hashed paths', () => {
    const p = plan(v4, live([release('r3', v3), release('r2', v2), release('r1', v1)], ['old.txt']));
    expect(p.retained).toEqual([p.deployId, 'r3', 'r2']);
    expect(p.prune).toEqual(['assets/a-AAAA1111.js', 'old.txt']);
    expect(p.invalidationPaths).toEqual(['/', '/index.html', '/old.txt']);
    // The release that goes is named, in the plan and in its sentence.
    expect(p.unretained).toEqual([{ deployId: 'r1', app: v1.app, commit: '1111111' }]);
    expect(describePlan(p)).toBe(
      'deploy app@4444444 to s (live: 3333333): 2 files to copy, 2 old files to prune (1111111 is no longer retained), 3 paths to invalidate',
    );
    expect(
      plan(v4, live([release('r3', v3), release('r2', v2), release('r1', v1)], ['old.txt']), { prune: false })
        .prune,
    ).toEqual([]);
  });

  it('copies again what an interrupted deploy may have overwritten', () => {
    const p = plan(v2, live([release('r2', v2)], [], ['favicon.ico']));
    expect(p.copies.map((c) => [c.path, c.reason])).toEqual([['/favicon.ico', 'unverified']]);
    expect(p.noop).toBe(false);
  });

  it('is a no-op when the artifact is live and whole; a release of the same artifact counts once', () => {
    const p = plan(v2, live([release('r2', v2), release('r1', v1)]));
    expect(p.noop).toBe(true);
    expect(p.copies).toEqual([]);
    expect(p.retained).toEqual([p.deployId, 'r1']);
  });

  it('rolls back moving only the files that differ from the live release', () => {
    const p = plan(v1, live([release('r2', v2), release('r1', v1)]));
    expect(p.copies.map((c) => c.path)).toEqual(['/index.html']);
    expect(p.prune).toEqual([]);
  });
});
