import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import type { S3RequestRecord } from '../../src/local/s3-server.ts';
import { LOCAL_DISTRIBUTION_ID } from '../../src/stacks/local.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { HOSTING, publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { type FixtureBuild, referencedPaths, writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const COMMITS = ['1111111aaaaaaa', '2222222bbbbbbb', '3333333ccccccc', '4444444ddddddd'] as const;
const request: RequestInfo = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };

let t: TestDeployEnv;
const builds: FixtureBuild[] = [];

/**
 * The history the cases look at, made once in beforeAll, in turn: the first deploy (with the CDN's
 * invalidation requests after it), the second, the third and fourth (an atomic release's file put
 * beside them, read after), then the rollback; what each returned and wrote is kept for its case.
 */
const story = {} as {
  first: Recorded;
  createRequests: unknown[];
  second: Recorded;
  fourth: Recorded;
  migrationFile: unknown;
  rollback: Recorded;
  /** The request log's part the history was made in. */
  requests: S3RequestRecord[];
};
/** The state prefix and hosting bucket after the second deploy, the fourth, and the rollback. */
let v2Live: BucketSnapshot;
let v4Live: BucketSnapshot;
let rolledBack: BucketSnapshot;
/**
 * The snapshot the stack is as. No case changes it (those that try assert that nothing was written),
 * so a case restores its start only when it is another than the stack is as.
 */
let current: BucketSnapshot | undefined;
async function startFrom(snapshot: BucketSnapshot) {
  if (current !== snapshot) await snapshot.restore();
  current = snapshot;
}

beforeAll(async () => {
  t = await startDeployEnv();
  for (const [i, commit] of COMMITS.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `build-${i}`), {
      version: `v${i + 1}`,
      robots: i === 2 ? 'User-agent: *\nDisallow: /x\n' : 'User-agent: *\n',
    });
    builds.push(build);
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  }
  const snapshot = () => snapshotStack(t.site);
  await t.s3.settle();
  const from = t.s3.requests.length;
  story.first = await deployAndRecord(COMMITS[0]);
  story.createRequests = [...t.cdn.createRequests()];
  story.second = await deployAndRecord(COMMITS[1]);
  v2Live = await snapshot();
  await deployAndRecord(COMMITS[2]);
  // An atomic release's file, as a migration whose lock this deploy's did not meet (another
  // machine, an older version) leaves it, the site now serving it: never an in-place prune's.
  await t.site.hosting.put('_releases/9999999-r0123456789ab/index.html', '<p>served by the migration</p>');
  story.fourth = await deployAndRecord(COMMITS[3]);
  story.migrationFile = await t.site.hosting.get('_releases/9999999-r0123456789ab/index.html');
  await t.site.hosting.delete(['_releases/9999999-r0123456789ab/index.html']);
  v4Live = await snapshot();
  story.rollback = await recorded(() => rollbackRelease(t.site, { request }));
  rolledBack = await snapshot();
  current = rolledBack;
  await t.s3.settle();
  story.requests = t.s3.requests.slice(from);
}, 180_000);
afterAll(() => t.stop());

type Recorded = Awaited<ReturnType<typeof deployAndRecord>>;
async function recorded(change: () => ReturnType<typeof deployArtifact>) {
  await t.s3.settle();
  const from = t.s3.requests.length;
  const summary = await change();
  await t.s3.settle();
  return {
    summary,
    writes: t.s3.requests.slice(from).filter((r) => r.method !== 'GET' && r.method !== 'HEAD'),
  };
}
const deployAndRecord = (commit: string) =>
  recorded(() => deployArtifact(t.site, { app: APP, commit, request }));

const hostingCopies = (writes: S3RequestRecord[]) =>
  writes.filter((r) => r.bucket === HOSTING && r.copySource);

describe('deploy against the real S3 protocol', () => {
  it('first deploy copies every file server-side, HTML last, then the pointer; invalidates only non-hashed paths', async () => {
    const { summary, writes } = story.first;
    const build = builds[0] as FixtureBuild;
    expect(summary.outcome).toBe('succeeded');
    expect(summary.copied).toBe(Object.keys(build.files).length);
    const copies = hostingCopies(writes);
    expect(
      copies.every((c) =>
        c.copySource?.startsWith(`sophia-dashboard-build-artifacts/${APP}/${COMMITS[0]}/files/`),
      ),
    ).toBe(true);
    // Every byte of the site moved server-side: the one PUT with a body to the hosting bucket is the
    // environment marker (which environment this bucket is), written before the first copy.
    const puts = writes.filter((r) => r.bucket === HOSTING && r.method === 'PUT' && !r.copySource);
    expect(puts.map((r) => r.key)).toEqual(['.frontendops/environment.json']);
    expect(writes.findIndex((r) => r.key === '.frontendops/environment.json')).toBeLessThan(
      writes.findIndex((r) => r.copySource !== undefined),
    );
    const keys = copies.map((c) => c.key);
    const lastAsset = Math.max(...keys.map((k, i) => (k.startsWith('assets/') ? i : -1)));
    expect(keys.indexOf('favicon.ico')).toBeGreaterThan(lastAsset);
    expect(keys.at(-1)).toBe('index.html');
    const pointerAt = writes.findIndex((r) => r.key.endsWith('/live.json'));
    expect(pointerAt).toBeGreaterThan(
      writes.findIndex((r) => r.key === 'index.html' && r.bucket === HOSTING),
    );
    expect(summary.invalidation?.paths).toEqual(['/', '/favicon.ico', '/index.html', '/robots.txt']);
    expect(story.createRequests).toHaveLength(1);
  });

  it('redeploys incrementally: only changed files move, old assets are kept, HTML invalidated', async () => {
    await startFrom(v2Live);
    const { summary, writes } = story.second;
    const copies = hostingCopies(writes).map((c) => c.key);
    const changed = (builds[1] as FixtureBuild).assets.filter(
      (a) => !(builds[0] as FixtureBuild).assets.includes(a),
    );
    expect(copies.sort()).toEqual([...changed.map((p) => p.slice(1)), 'index.html'].sort());
    expect(summary.unchanged).toBe(5); // 3 shared chunks, favicon, robots
    expect(summary.pruned).toBe(0);
    expect(summary.invalidation?.paths).toEqual(['/', '/index.html']);
    const hosting = new Set((await t.site.hosting.list()).map((o) => o.key));
    for (const old of (builds[0] as FixtureBuild).assets) expect(hosting.has(old.slice(1))).toBe(true);
  });

  it('keeps the assets of the last 3 releases and prunes older ones only after the pointer moved', async () => {
    await startFrom(v4Live);
    const { summary, writes } = story.fourth;
    expect(summary.plan.prune.filter((key) => key.startsWith('_releases/'))).toEqual([]);
    expect(story.migrationFile).not.toBeNull();
    const v1Only = (builds[0] as FixtureBuild).assets.filter(
      (a) => !(builds[1] as FixtureBuild).assets.includes(a),
    );
    expect(summary.retained).toHaveLength(3);
    expect(summary.plan.prune.sort()).toEqual(v1Only.map((p) => p.slice(1)).sort());
    const pointerAt = writes.findIndex((r) => r.key.endsWith('/live.json'));
    const deleteAt = writes.findIndex((r) => r.bucket === HOSTING && r.query.includes('delete'));
    expect(deleteAt).toBeGreaterThan(pointerAt);
    const hosting = new Set((await t.site.hosting.list()).map((o) => o.key));
    for (const path of v1Only) expect(hosting.has(path.slice(1))).toBe(false);
    for (const b of builds.slice(1))
      for (const path of b.assets) expect(hosting.has(path.slice(1))).toBe(true);
    // v3 changed robots.txt and v4 changed it back: the cached copy is wrong, so it is invalidated.
    expect(summary.invalidation?.paths).toEqual(['/', '/index.html', '/robots.txt']);
  });

  it('plans without changing anything on --dry-run, and does nothing when the artifact is live', async () => {
    await startFrom(v4Live);
    await t.s3.settle();
    const before = t.s3.requests.length;
    const dry = await deployArtifact(t.site, { app: APP, commit: COMMITS[1], request, dryRun: true });
    expect(dry.outcome).toBe('planned');
    expect(dry.plan.copies.map((c) => c.key)).toEqual(['index.html']);
    const again = await deployArtifact(t.site, { app: APP, commit: COMMITS[3], request });
    expect(again.outcome).toBe('noop');
    await t.s3.settle();
    expect(
      t.s3.requests
        .slice(before)
        .filter((r) => r.bucket === HOSTING && r.method !== 'GET' && r.method !== 'HEAD'),
    ).toEqual([]);
  });

  it('refuses before any write when the CDN is the local edge and its API endpoint is unknown', async () => {
    await startFrom(v4Live);
    // What an outputs file naming the embedded environment's buckets gives: the edge's distribution
    // id, but not the endpoint its CloudFront API listens on (only `--stack local` knows that).
    const blind = await connectSite(
      { ...t.target, distributionId: LOCAL_DISTRIBUTION_ID },
      { access: { credentials: t.s3.credentials }, onNotice: () => undefined, env: {} },
    );
    try {
      await t.s3.settle();
      const before = t.s3.requests.length;
      const refused = deployArtifact(blind, { app: APP, commit: COMMITS[2], request });
      await expect(refused).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(refused).rejects.toThrow(/--stack local[\s\S]*AWS_ENDPOINT_URL_CLOUDFRONT/);
      await expect(rollbackRelease(blind, { request }), 'a rollback is refused alike').rejects.toMatchObject({
        code: 'BAD_INPUT',
      });
      await t.s3.settle();
      expect(t.s3.requests.slice(before).filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual(
        [],
      );
      // Told where the edge's API is (the SDK's standard variable), the same stack may change.
      const told = await connectSite(
        { ...t.target, distributionId: LOCAL_DISTRIBUTION_ID },
        { access: { credentials: t.s3.credentials }, env: { AWS_ENDPOINT_URL_CLOUDFRONT: t.cdn.endpoint } },
      );
      expect(told.cdn?.unavailable).toBeUndefined();
      told.close();
    } finally {
      blind.close();
    }
  });

  it('refuses words the audit cannot record (half a surrogate pair) before any write; the next deploy is not stuck', async () => {
    await startFrom(v4Live);
    await t.s3.settle();
    const before = t.s3.requests.length;
    const live = (await t.site.records.readPointer())?.value.deployId;
    const refused = deployArtifact(t.site, {
      app: APP,
      commit: COMMITS[2],
      request: { ...request, text: 'deploy \ud800 now' },
    });
    await expect(refused).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(refused).rejects.toThrow(/cannot be recorded.*Nothing was written/);
    await t.s3.settle();
    expect(t.s3.requests.slice(before).filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
    expect(await t.site.records.readPending()).toBeNull();
    expect((await t.site.records.readPointer())?.value.deployId).toBe(live);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('refuses before any write or approval when the CDN client cannot be set up; it is set up once the change begins', async () => {
    await startFrom(v4Live);
    // The CloudFront client is loaded when a change begins, not when the stack opens. A CDN that
    // fails there must stop the change with nothing written, not after the release went live.
    const prepared: string[] = [];
    const broken = {
      ...t.site,
      cdn: {
        invalidate: () => Promise.reject(new Error('never reached')),
        prepare: async () => {
          prepared.push('broken');
          throw new Error('the CloudFront client could not be loaded');
        },
      },
    };
    await t.s3.settle();
    const before = t.s3.requests.length;
    // Nor is its approval asked for (and used up) for a change that cannot be made.
    const asked: string[] = [];
    const authorize = async (plan: { kind: string }) => {
      asked.push(plan.kind);
      return undefined;
    };
    await expect(
      deployArtifact(broken, { app: APP, commit: COMMITS[2], request, authorize }),
    ).rejects.toThrow(/CloudFront client could not be loaded/);
    await expect(rollbackRelease(broken, { request, authorize })).rejects.toThrow(
      /CloudFront client could not be loaded/,
    );
    expect(prepared).toEqual(['broken', 'broken']);
    expect(asked).toEqual([]);
    await t.s3.settle();
    expect(t.s3.requests.slice(before).filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).ok).toBe(true);
  });

  it('rolls back to the previous release moving only what differs', async () => {
    await startFrom(rolledBack);
    const { summary, writes } = story.rollback;
    expect(summary.kind).toBe('rollback');
    expect(summary.commit).toBe(COMMITS[2]);
    const copies = writes.filter((r) => r.bucket === HOSTING && r.copySource).map((r) => r.key);
    expect(copies.sort()).toEqual(['index.html', 'robots.txt']);
    const live = await t.site.records.readPointer();
    expect(live?.value.commit).toBe(COMMITS[2]);
  });

  it('never left an HTML file referencing a missing object, at any moment', async () => {
    await startFrom(rolledBack);
    const state = new Map<string, string>();
    const contentOf = (copySource: string) => {
      const [, , commit, , ...rest] = copySource.split('/');
      const build = builds[COMMITS.indexOf(commit as (typeof COMMITS)[number])] as FixtureBuild;
      return build.files[`/${rest.join('/')}`] ?? '';
    };
    let checks = 0;
    for (const r of story.requests.filter((q) => q.bucket === HOSTING)) {
      if (r.copySource) state.set(r.key, contentOf(r.copySource));
      else if (r.method === 'POST' && r.query.includes('delete')) {
        // DeleteObjects: the keys are in the body; reconstruct from what the bucket holds now.
        const remaining = new Set((await t.site.hosting.list()).map((o) => o.key));
        for (const key of [...state.keys()]) if (!remaining.has(key)) state.delete(key);
      } else continue;
      for (const [key, content] of state) {
        if (!key.endsWith('.html')) continue;
        for (const ref of referencedPaths(content)) {
          checks++;
          expect(state.has(ref.slice(1)), `${key} references ${ref}`).toBe(true);
        }
      }
    }
    expect(checks).toBeGreaterThan(20);
  });

  it('records every deployment and chains an audit entry for each (and one for the pin the rollback set)', async () => {
    await startFrom(rolledBack);
    const records = (await t.site.records.listRecords()).records;
    expect(records.map((r) => r.commit)).toEqual([
      COMMITS[2],
      COMMITS[3],
      COMMITS[2],
      COMMITS[1],
      COMMITS[0],
    ]);
    const audit = await verifyAudit(t.site.state, t.target.statePrefix);
    // The environment marked once, then one entry as each release went live (binding the pointer)
    // and one as each was recorded (binding the record); the rollback's pin.
    expect(audit).toMatchObject({ ok: true, entries: 12, problems: [] });
    const types = (await readAudit(t.site.state, t.target.statePrefix)).map((e) => e.type);
    expect(types.filter((type) => type === 'release')).toHaveLength(5);
  });
});
