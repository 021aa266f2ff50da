/**
 * A deploy stopped by an error before it went live (a copy S3 refused) is recorded, when a later
 * deploy replaces it, with the error that stopped it — not as "interrupted", which is what a crash
 * (no error seen) is. In place and atomic. Recorded once: the crash-recovery record goes with it,
 * also when the change that replaces it is a no-op (before, it stayed, and every later change wrote
 * the same "superseded" entry again).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { atomicRecordsOf } from '../../src/deploy/atomic-live.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { type AtomicEnv, request as atomicRequest, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import {
  publishAsCi,
  publishFixtureBuilds,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3, V4] = ['1111111aaaaaaaaa', '2222222bbbbbbbbb', '3333333ccccccccc', '4444444ddddddddd'];
const request = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };
const REFUSED = 'S3 could not copy assets/app.js into the hosting bucket (NoSuchKey)';

/** The same site, but S3 refuses every copy into its hosting bucket. */
const refusingCopies = (site: Site): Site => ({
  ...site,
  hosting: {
    ...site.hosting,
    copyFrom: async () => {
      throw new FrontendOpsError('UPSTREAM', REFUSED);
    },
  },
});

describe('a deploy stopped by an error before it went live', () => {
  let t: TestDeployEnv;
  /**
   * The state prefix and hosting bucket each case starts from, whichever ran before: the builds
   * published and nothing deployed; then V1 and V3 deployed, V3 live.
   */
  let published: BucketSnapshot;
  let v3Live: BucketSnapshot;
  const snapshot = () => snapshotStack(t.site);
  beforeAll(async () => {
    t = await startDeployEnv();
    await publishFixtureBuilds(t, APP, [V1, V2, V3]);
    // V3's build and one asset more: stopped at that copy, it touched nothing V3 serves.
    const build = await writeFixtureBuild(join(t.tmp, 'b3'), { version: 'v3' });
    await writeFile(join(build.dir, 'assets/extra-0123456Z.js'), 'export const extra = 1;\n');
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit: V4 });
    published = await snapshot();
    for (const commit of [V1, V3]) await deployArtifact(t.site, { app: APP, commit, request });
    v3Live = await snapshot();
  }, 180_000);
  afterAll(() => t?.stop());
  beforeEach(() => v3Live.restore());

  it('in place: the record the next deploy writes for it carries the error', async () => {
    await published.restore();
    await deployArtifact(t.site, { app: APP, commit: V1, request });
    await expect(deployArtifact(refusingCopies(t.site), { app: APP, commit: V2, request })).rejects.toThrow(
      REFUSED,
    );
    await deployArtifact(t.site, { app: APP, commit: V3, request });
    const stopped = (await t.site.records.listRecords()).records.find((r) => r.commit === V2);
    expect(stopped).toMatchObject({
      outcome: 'superseded',
      error: { code: 'UPSTREAM', message: expect.stringContaining(REFUSED) },
    });
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('in place: a no-op deploy after it records it once and lets its crash-recovery record go', async () => {
    await expect(deployArtifact(refusingCopies(t.site), { app: APP, commit: V4, request })).rejects.toThrow(
      REFUSED,
    );
    expect(await t.site.records.readPending()).not.toBeNull();
    expect(await supersededEntries(t.site, V4)).toBe(0);
    for (const _ of [1, 2]) {
      const noop = await deployArtifact(t.site, { app: APP, commit: V3, request });
      expect(noop.outcome).toBe('noop');
    }
    expect(await supersededEntries(t.site, V4)).toBe(1);
    expect(await t.site.records.readPending()).toBeNull();
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });
});

/** How many entries of the chain record a change of `commit` as superseded. */
async function supersededEntries(site: Site, commit: string): Promise<number> {
  const entries = await readAudit(site.state, site.target.statePrefix);
  return entries.filter((e) => e.data.commit === commit && e.data.outcome === 'superseded').length;
}

describe('an atomic deploy stopped by an error before it went live', () => {
  let t: AtomicEnv;
  /**
   * A stack with nothing deployed, for the first case, whichever ran before (a release store cannot
   * be emptied again, so no snapshot of `t` can start it).
   */
  let fresh: AtomicEnv;
  /** V1 then V3 deployed on `t`, V3 live: each other case starts from it. */
  let v3Live: AtomicSnapshot;
  const started = async () => {
    const env = await startAtomicEnv();
    await env.publishVersions([V1, V2, V3, V4]);
    return env;
  };
  beforeAll(async () => {
    fresh = await started();
    t = await started();
    for (const commit of [V1, V3])
      await deployArtifact(t.site, { app: APP, commit, request: atomicRequest() });
    v3Live = await snapshotAtomicEnv(t);
  }, 180_000);
  afterAll(async () => {
    await fresh?.stop();
    await t?.stop();
  });
  beforeEach(() => v3Live.restore());

  it('the record the next deploy writes for it carries the error', async () => {
    const t = fresh;
    await deployArtifact(t.site, { app: APP, commit: V1, request: atomicRequest() });
    await expect(
      deployArtifact(refusingCopies(t.site), { app: APP, commit: V2, request: atomicRequest() }),
    ).rejects.toThrow(REFUSED);
    await deployArtifact(t.site, { app: APP, commit: V3, request: atomicRequest() });
    const stopped = (await t.site.records.listRecords()).records.find((r) => r.commit === V2);
    expect(stopped).toMatchObject({
      outcome: 'superseded',
      error: { code: 'UPSTREAM', message: expect.stringContaining(REFUSED) },
    });
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('a no-op deploy after it records it once and lets its crash-recovery record go', async () => {
    await expect(
      deployArtifact(refusingCopies(t.site), { app: APP, commit: V4, request: atomicRequest() }),
    ).rejects.toThrow(REFUSED);
    expect(await atomicRecordsOf(t.site).readPending()).not.toBeNull();
    for (const _ of [1, 2]) {
      const noop = await deployArtifact(t.site, { app: APP, commit: V3, request: atomicRequest() });
      expect(noop.outcome).toBe('noop');
    }
    expect(await supersededEntries(t.site, V4)).toBe(1);
    expect(await atomicRecordsOf(t.site).readPending()).toBeNull();
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('stopped in its copies, then a preview of that build (its own index): the next change goes on', async () => {
    // A fuzz of genuine flows: the stopped deploy's record names the index it would have written,
    // the preview wrote another of the same build, and every change was refused TAMPERED since.
    await expect(
      deployArtifact(refusingCopies(t.site), { app: APP, commit: V4, request: atomicRequest() }),
    ).rejects.toThrow(REFUSED);
    await previewLink(t.site, { app: APP, commit: V4, request: atomicRequest('preview'), verify: false });
    const next = await deployArtifact(t.site, { app: APP, commit: V4, request: atomicRequest() });
    expect(next.outcome).toBe('succeeded');
    expect((await t.site.records.readRecord(next.deployId))?.outcome).toBe('succeeded');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});
