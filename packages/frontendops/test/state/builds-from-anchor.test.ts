/**
 * Another stack's publish log (a `buildsFrom`), rewritten after this stack deployed a build it
 * recorded. Whoever can write staging's state (its state bucket's administrator, or anyone where
 * entries are not create-only) can rewrite staging's log whole and consistently, each entry re-hashed
 * and re-linked. Before, a deployment's entry named only its own log's head (`publishHead`), so
 * production's `audit verify` still passed on such a log: who published the build, or what came
 * before it, could be changed and nothing production holds said otherwise. Now the entry of a
 * deployment whose build was found in another stack's log names that log's head as the check read
 * it (`publishedIn`, `publishedInHead`), and verify holds that log to it, as its own log to
 * `publishHead`. An entry written before names no such head: nothing is held to one.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import { verifySite } from '../../src/read/verify-site.ts';
import { type AuditEntry, readAudit } from '../../src/state/audit.ts';
import { PUBLISH_LOG } from '../../src/state/names.ts';
import { type AtomicEnv, request, startAtomicEnv, writeReleaseBuild } from '../support/atomic-env.ts';
import { auditEntryKey, rehash } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import {
  deployUnchecked,
  publishToStack,
  requestBy,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { deployStoppedAfterRecord } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const STAGING = 'staging';
const STAGING_LOG = `${defaultStatePrefix(STAGING)}${PUBLISH_LOG}`;
const FROM_STAGING = 'a00e0001'.repeat(5);
const LATER = 'a00e0002'.repeat(5);
const PREVIEWED = 'a00e0003'.repeat(5);
let t: TestDeployEnv;
let published: BucketSnapshot;
let deployed: BucketSnapshot;
/** What the deploy asked of staging's log: its head, then entries back to the build's record. */
let stagingReads: string[];

const build = async (version: string) => (await writeFixtureBuild(join(t.tmp, version), { version })).dir;
const trustStaging = () => {
  t.site.buildsFrom = async () => [{ stack: STAGING, state: t.site.state, log: STAGING_LOG }];
};

beforeAll(async () => {
  t = await startDeployEnv();
  // CI publishes two builds to staging's log; production builds from it and deploys the first.
  const builds = [
    { dir: await build('staged'), app: APP, commit: FROM_STAGING },
    { dir: await build('later'), app: APP, commit: LATER },
  ];
  await publishToStack(t, { stack: STAGING, hostingBucket: 'sophia-dashboard-hosting-staging' }, builds);
  trustStaging();
  const buckets = [
    { store: t.site.state, prefix: '.frontendops/state/' },
    { store: t.site.hosting, prefix: '' },
  ];
  published = await snapshotBuckets(buckets);
  const mark = await t.mark();
  await deployArtifact(t.site, { app: APP, commit: FROM_STAGING, request: requestBy('ship') });
  stagingReads = (await t.requestsSince(mark))
    .filter((r) => r.key?.startsWith(STAGING_LOG))
    .map((r) => `${r.method} ${r.key.slice(STAGING_LOG.length)}`);
  deployed = await snapshotBuckets(buckets);
});
beforeEach(async () => {
  await deployed.restore();
  trustStaging();
});
afterAll(() => t?.stop());

const problems = async () =>
  (await verifySite(t.site, [])).result.problems.map(
    (p) => `${p.kind}: ${p.seq === undefined ? '' : `entry ${p.seq}: `}${p.reason}`,
  );
const deployEntry = async () =>
  (await readAudit(t.site.state, t.target.statePrefix)).find((e) => e.type === 'deploy') as AuditEntry;

/** Staging's log written again from `entries`, each re-hashed onto the one before: consistent in itself. */
async function rewriteStagingLog(
  entries: readonly AuditEntry[],
  state = t.site.state,
): Promise<AuditEntry[]> {
  const rewritten: AuditEntry[] = [];
  for (const entry of entries) {
    const prev = rewritten.at(-1);
    const again = rehash({ ...entry, ...(prev ? { prevHash: prev.hash } : {}) });
    await state.put(auditEntryKey(STAGING_LOG, again.seq), JSON.stringify(again));
    rewritten.push(again);
  }
  const head = rewritten.at(-1) as AuditEntry;
  await state.put(`${STAGING_LOG}audit/head.json`, JSON.stringify({ seq: head.seq, hash: head.hash }));
  return rewritten;
}

describe("a deployment of a build recorded only in staging's publish log", () => {
  it("names staging's log and its head as the check read it (no read more), and verifies", async () => {
    expect(stagingReads).toEqual([
      'GET audit/head.json',
      'GET audit/0000000002.json',
      'GET audit/0000000001.json',
    ]);
    const staged = await readAudit(t.site.state, STAGING_LOG);
    expect((await deployEntry()).data).toMatchObject({
      publishedIn: STAGING,
      publishedInHead: `2:${staged[1]?.hash}`,
    });
    expect(await problems()).toEqual([]);
  });

  it("fails verify once staging's log is rewritten whole, re-hashed, naming that log and the deployment", async () => {
    const [first, second] = await readAudit(t.site.state, STAGING_LOG);
    // Who published the deployed build, changed, and the log re-hashed and re-linked after it.
    await rewriteStagingLog([
      { ...(first as AuditEntry), data: { ...first?.data, actor: 'someone-else' } },
      second as AuditEntry,
    ]);
    const entry = await deployEntry();
    expect(await problems()).toEqual([
      `tampered: entry 2: staging's publish log (${STAGING_LOG}): entry 2 is not the one deploy entry ${entry.seq} saw (${second?.hash}): the publish log was rewritten after that deployment`,
    ]);
  });

  it("fails verify once staging's log is cut back to before the head the deployment saw", async () => {
    const [first, second] = await readAudit(t.site.state, STAGING_LOG);
    await t.site.state.delete([auditEntryKey(STAGING_LOG, 2)]);
    await t.site.state.put(`${STAGING_LOG}audit/head.json`, JSON.stringify({ seq: 1, hash: first?.hash }));
    const entry = await deployEntry();
    expect(await problems()).toEqual([
      `tampered: entry 2: staging's publish log (${STAGING_LOG}): it holds no entry 2, which deploy entry ${entry.seq} saw (${second?.hash}): the publish log was cut or rewritten after that deployment`,
    ]);
  });

  it("says the log was rewritten where the deployed build's digest was changed there and the log re-hashed", async () => {
    const [first, second] = await readAudit(t.site.state, STAGING_LOG);
    await rewriteStagingLog([
      { ...(first as AuditEntry), data: { ...first?.data, artifactDigest: `sha256:${'e'.repeat(64)}` } },
      second as AuditEntry,
    ]);
    const entry = await deployEntry();
    expect(await problems()).toContain(
      `tampered: entry 2: staging's publish log (${STAGING_LOG}): entry 2 is not the one deploy entry ${entry.seq} saw (${second?.hash}): the publish log was rewritten after that deployment`,
    );
  });

  it('a deployment stopped before its entry, finished by the next deploy, names the head its own check read', async () => {
    await published.restore();
    await deployStoppedAfterRecord(t.site, { app: APP, commit: FROM_STAGING, request: requestBy('ship') });
    await deployArtifact(t.site, { app: APP, commit: LATER, request: requestBy('ship later') });
    const staged = await readAudit(t.site.state, STAGING_LOG);
    const deploys = (await readAudit(t.site.state, t.target.statePrefix)).filter((e) => e.type === 'deploy');
    expect(deploys.map((e) => [e.data.commit, e.data.publishedIn, e.data.publishedInHead])).toEqual([
      [FROM_STAGING, STAGING, `2:${staged[1]?.hash}`],
      [LATER, STAGING, `2:${staged[1]?.hash}`],
    ]);
    expect(await problems()).toEqual([]);
  });

  it("refuses a deploy when staging's head record names no entry as the log writes it", async () => {
    // Upper-cased, the head named in the entry was one verify passes over as malformed: staging's log
    // could then be rewritten whole with verify clean. Now the head is refused where it is read.
    await published.restore();
    const [, second] = await readAudit(t.site.state, STAGING_LOG);
    const head = { seq: 2, hash: second?.hash.toUpperCase() };
    await t.site.state.put(`${STAGING_LOG}audit/head.json`, JSON.stringify(head));
    const refused = await deployArtifact(t.site, {
      app: APP,
      commit: FROM_STAGING,
      request: requestBy('ship'),
    }).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: 'TAMPERED',
      message: expect.stringContaining(
        `The audit head ${STAGING_LOG}audit/head.json of ${STAGING}'s publish log is damaged`,
      ),
    });
    expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual([]);
    // Production's operator may not reach staging's state bucket: the refusal says whose head it is,
    // where to verify it and who restores it. Before, "restore it from the bucket's versions" alone.
    const { message } = refused as Error;
    expect(message).toContain(`frontendops audit verify --stack ${STAGING}`);
    expect(message).toContain(`an administrator of ${STAGING}'s state bucket restore it`);
  });

  it('holds an entry written before deployments named that head to nothing: no false tampered', async () => {
    // As a version before this one recorded the deployment: no head of staging's log named.
    await published.restore();
    await deployUnchecked(t.site, APP, FROM_STAGING, requestBy('ship'));
    // Neither head named (production's own log is empty too): an old chain, well-formed, reported
    // for nothing (no "damaged", as an entry naming a malformed head is below).
    expect((await deployEntry()).data).not.toHaveProperty('publishedInHead');
    expect((await deployEntry()).data).not.toHaveProperty('publishHead');
    const [first, second] = await readAudit(t.site.state, STAGING_LOG);
    await rewriteStagingLog([
      { ...(first as AuditEntry), data: { ...first?.data, actor: 'someone-else' } },
      second as AuditEntry,
    ]);
    expect(await problems()).toEqual([]);
  });

  it('reports an entry an older version wrote naming a malformed head, as unchecked and not as tampered', async () => {
    // A version before head records were checked named whatever head it read: a damaged one too.
    // Its entry's hash holds, so nothing says it was tampered with, but neither log can be held to
    // such a head. Before, verify passed over it without a word.
    await published.restore();
    const [, second] = await readAudit(t.site.state, STAGING_LOG);
    const upper = String(second?.hash).toUpperCase();
    const own = await readAudit(t.site.state, `${t.target.statePrefix}${PUBLISH_LOG}`);
    expect(own).toEqual([]); // production's own log is empty: its head is named only as one
    await deployUnchecked(t.site, APP, FROM_STAGING, requestBy('ship'), {
      publishHead: { seq: 2, hash: upper },
      publishedIn: STAGING,
      publishedInHead: `2:${upper}`,
    });
    const entry = await deployEntry();
    expect(entry.data).toMatchObject({ publishHead: `2:${upper}`, publishedInHead: `2:${upper}` });
    expect(await problems()).toEqual([
      `damaged: entry ${entry.seq}: publish log: deploy entry ${entry.seq} names its head as "2:${upper}", which names no entry as the log writes it (<seq>:sha256:<64 lowercase hex digits>), so the log could not be held to the head that deployment saw`,
      `damaged: entry ${entry.seq}: staging's publish log (${STAGING_LOG}): deploy entry ${entry.seq} names its head as "2:${upper}", which names no entry as the log writes it (<seq>:sha256:<64 lowercase hex digits>), so the log could not be held to the head that deployment saw`,
    ]);
  });
});

describe("on an atomic stack, a deploy, a canary and a preview of builds recorded only in staging's log", () => {
  let a: AtomicEnv;
  beforeAll(async () => {
    a = await startAtomicEnv();
    const builds = [];
    for (const [commit, version] of [
      [FROM_STAGING, 'staged'],
      [LATER, 'later'],
      [PREVIEWED, 'previewed'],
    ] as const) {
      const { dir } = await writeReleaseBuild(join(a.tmp, version), version);
      builds.push({ dir, app: APP, commit });
    }
    await publishToStack(a, { stack: STAGING, hostingBucket: 'staging-hosting' }, builds);
    a.site.buildsFrom = async () => [{ stack: STAGING, state: a.site.state, log: STAGING_LOG }];
  }, 180_000);
  afterAll(() => a?.stop());

  it("each names staging's head; a promote names none of its own; a rewrite of staging's log fails verify for each", async () => {
    await deployArtifact(a.site, { app: APP, commit: FROM_STAGING, request: request('ship') });
    await startCanary(a.site, { app: APP, commit: LATER, weightPercent: 10, request: request('10%') });
    await promoteCanary(a.site, { request: request('promote') });
    await previewLink(a.site, { app: APP, commit: PREVIEWED, request: request('preview'), verify: false });
    const staged = await readAudit(a.site.state, STAGING_LOG);
    const head = `3:${staged[2]?.hash}`;
    const named = (await readAudit(a.site.state, a.target.statePrefix))
      .filter((e) => ['deploy', 'canary-start', 'canary-promote', 'preview'].includes(e.type))
      .map((e) => [e.type, e.data.publishedIn, e.data.publishedInHead]);
    // The promote takes the canary's release as kept: no publish log is read, and its canary names it.
    expect(named).toEqual([
      ['deploy', STAGING, head],
      ['canary-start', STAGING, head],
      ['canary-promote', undefined, undefined],
      ['preview', STAGING, head],
    ]);
    const verified = async () => (await verifySite(a.site, [])).result.problems.map((p) => p.reason);
    expect(await verified()).toEqual([]);

    const [first, ...after] = staged;
    await rewriteStagingLog(
      [{ ...(first as AuditEntry), data: { ...first?.data, actor: 'someone-else' } }, ...after],
      a.site.state,
    );
    const naming = (await readAudit(a.site.state, a.target.statePrefix)).filter(
      (e) => e.data.publishedInHead === head,
    );
    // Each entry said as the kind it is: before, "deploy entry" for the canary's and the preview's too.
    expect(naming.map((e) => e.type)).toEqual(['deploy', 'canary-start', 'preview']);
    // And the change after which the log was rewritten in words: before, "after that canary-start".
    const words: Record<string, string> = {
      deploy: 'deployment',
      'canary-start': 'canary start',
      preview: 'preview',
    };
    expect(await verified()).toEqual(
      naming.map(
        ({ seq, type }) =>
          `staging's publish log (${STAGING_LOG}): entry 3 is not the one ${type} entry ${seq} saw (${staged[2]?.hash}): the publish log was rewritten after that ${words[type]}`,
      ),
    );
  });
});
