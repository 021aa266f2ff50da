/**
 * `audit verify` of a stack that deployed a build recorded in another stack's publish log (its
 * `buildsFrom`). Before, that log was read only for its entries: its own problems were left to the
 * other stack's verify, so a release whose record was altered there was reported as put in the
 * artifacts bucket without publishing (the wrong cause), a damaged entry past it said nothing, and a
 * log that could not be read failed the whole verify with no report. Now the problems of a log this
 * stack relies on (it records, or may have recorded, one of its releases) are reported, named by the
 * log's stack; an append stopped in that log is the other stack's to finish, and a log this stack
 * does not rely on stays that stack's to report.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { artifactPrefix } from '../../src/engine/manifest.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import { verifySite } from '../../src/read/verify-site.ts';
import { readAudit } from '../../src/state/audit.ts';
import { PUBLISH_LOG } from '../../src/state/names.ts';
import { auditEntryKey, moveHeadBackOne } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotStackAndBuilds } from '../support/bucket-snapshot.ts';
import {
  deployUnchecked,
  publishAsCi,
  publishToStack,
  requestBy,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const STAGING = 'staging';
const STAGING_LOG = `${defaultStatePrefix(STAGING)}${PUBLISH_LOG}`;
const FROM_STAGING = 'a00d0001'.repeat(5);
const LATER = 'a00d0002'.repeat(5);
let t: TestDeployEnv;
let start: BucketSnapshot;
let stagedDir: string;

const build = async (version: string) => (await writeFixtureBuild(join(t.tmp, version), { version })).dir;
const stagingLog = () => ({ stack: STAGING, state: t.site.state, log: STAGING_LOG });

beforeAll(async () => {
  t = await startDeployEnv();
  // CI publishes to staging's log (entries 1 and 2); production builds from it and deployed entry 1's.
  stagedDir = await build('staged');
  const builds = [
    { dir: stagedDir, app: APP, commit: FROM_STAGING },
    { dir: await build('later'), app: APP, commit: LATER },
  ];
  await publishToStack(t, { stack: STAGING, hostingBucket: 'sophia-dashboard-hosting-staging' }, builds);
  await publishToStack(t, { stack: 'qa', hostingBucket: 'sophia-dashboard-hosting-qa' }, builds.slice(1));
  t.site.buildsFrom = async () => [stagingLog()];
  await deployArtifact(t.site, { app: APP, commit: FROM_STAGING, request: requestBy('ship') });
  // Every case starts from this: the stacks' state (kept in the artifacts bucket), the published
  // builds (cases publish builds of their own) and production's hosting bucket (cases deploy).
  if (t.site.state.bucket !== t.site.artifacts.bucket)
    throw new Error('the snapshot expects the state in the artifacts bucket');
  start = await snapshotStackAndBuilds(t.site);
});
beforeEach(async () => {
  await start.restore();
  t.site.buildsFrom = async () => [stagingLog()];
});
afterAll(() => t?.stop());

const reasons = async () => {
  const { result } = await verifySite(t.site, []);
  return {
    ok: result.ok,
    said: result.problems
      .map((p) => `${p.kind} ${p.seq === undefined ? '' : `entry ${p.seq}: `}${p.reason}`)
      .join('\n'),
  };
};

/** Entry `seq` of the log under `log`, changed as `change` says and written back with its old hash. */
async function alterEntry(log: string, seq: number, change: (data: Record<string, unknown>) => void) {
  const entry = (await readAudit(t.site.state, log))[seq - 1];
  if (!entry) throw new Error(`${log} has no entry ${seq}`);
  change(entry.data);
  await t.site.state.put(auditEntryKey(log, seq), JSON.stringify(entry));
}

describe("verify of a release recorded in a `buildsFrom` stack's publish log", () => {
  it('is ok while that log holds it whole', async () => {
    expect(await reasons()).toEqual({ ok: true, said: '' });
  });

  it('reports the record altered there, naming that log', async () => {
    await alterEntry(STAGING_LOG, 1, (data) => {
      data.files = 1;
    });
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    expect(said).toMatch(/entry 1: staging's publish log.*does not match its hash/);
  });

  it('reports a damaged entry of that log past the record', async () => {
    await t.site.state.put(auditEntryKey(STAGING_LOG, 2), '{ not json');
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    expect(said).toMatch(/staging's publish log.*is damaged/);
  });

  it('reports a log that cannot be read, saying its releases were not checked against it', async () => {
    t.site.buildsFrom = async () => [{ ...stagingLog(), state: t.s3.store('no-such-state-bucket') }];
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    expect(said).toMatch(/staging's publish log .*could not be read.*NoSuchBucket/s);
    // That log may record the release: no cause is claimed for it. Its deployment's entry says it was
    // found there: said so (before, "none of the publish logs this stack could read recorded it").
    expect(said).not.toMatch(/without publishing/);
    // Damaged, not tampered: nothing shows it was altered; it could not be held to that log.
    expect(said).toMatch(
      /^damaged entry \d+: .*, which deploy entry \d+ says staging's publish log recorded, and staging's could not be read: it was not checked against that log/m,
    );
  });

  it('calls a release recorded in no log it could read damaged, where one could not be read', async () => {
    // Deployed as a version that named no log did: the release may be in staging's, unread.
    await deployUnchecked(t.site, APP, LATER, requestBy('ship later'));
    const seq = (await readAudit(t.site.state, t.target.statePrefix)).find(
      (e) => e.data.commit === LATER,
    )?.seq;
    t.site.buildsFrom = async () => [{ ...stagingLog(), state: t.s3.store('no-such-state-bucket') }];
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    expect(said).toMatch(
      new RegExp(
        `^damaged entry ${seq}: entry ${seq} records ${APP}@${LATER.slice(0, 7)} going out as sha256:\\w+, a build none of the publish logs this stack could read recorded \\(staging's could not be read\\): it may be recorded there`,
        'm',
      ),
    );
  });

  it('calls a release its own log records under another digest damaged, where another log could not be read', async () => {
    // Staging publishes a build, deployed here as a version that named no log did; the build expires
    // from the artifacts bucket (a lifecycle rule) and CI publishes the commit again to this stack,
    // a build that does not reproduce byte for byte. Staging's log, which records the one deployed,
    // cannot be read: nothing shows the release was replaced, only that it cannot be held to a log.
    const expired = 'a00d0003'.repeat(5);
    const staged = [{ dir: await build('expired'), app: APP, commit: expired }];
    await publishToStack(t, { stack: STAGING, hostingBucket: 'sophia-dashboard-hosting-staging' }, staged);
    await deployUnchecked(t.site, APP, expired, requestBy('ship expired'));
    const seq = (await readAudit(t.site.state, t.target.statePrefix)).find(
      (e) => e.data.commit === expired,
    )?.seq;
    const gone = await t.site.artifacts.list(artifactPrefix(APP, expired));
    await t.site.artifacts.delete(gone.map((o) => o.key));
    await publishAsCi(t.site, { dir: await build('expired-rebuilt'), app: APP, commit: expired });
    t.site.buildsFrom = async () => [{ ...stagingLog(), state: t.s3.store('no-such-state-bucket') }];
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    // Before: "tampered … its manifest and files were replaced in the artifacts bucket after publishing".
    expect(said).not.toMatch(/replaced in the artifacts bucket/);
    expect(said).toMatch(
      new RegExp(
        `^damaged entry ${seq}: entry ${seq} records ${APP}@${expired.slice(0, 7)} going out as sha256:\\w+, a build none of the publish logs this stack could read recorded \\(staging's could not be read; they record that commit as sha256:\\w+\\): it may be recorded there`,
        'm',
      ),
    );
  });

  it('reports a log that cannot be read where an entry names a head in it, though its own log records the release', async () => {
    // The deployed build published to production too since: its own log records it, but the
    // deployment's entry names the head of staging's log it was found in, which is not checked.
    await publishAsCi(t.site, { dir: stagedDir, app: APP, commit: FROM_STAGING });
    t.site.buildsFrom = async () => [{ ...stagingLog(), state: t.s3.store('no-such-state-bucket') }];
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    expect(said).toMatch(
      /staging's publish log .*could not be read.*NoSuchBucket.*the head deploy entry \d+ saw there was not checked/s,
    );
    expect(said).not.toMatch(/releases of this stack its own log does not record/);
  });

  it('gives a release recorded past a break in that log, or not read back to, the true cause', async () => {
    // Production deploys the second build too (staging's entry 2); then staging's entry 1 is damaged.
    await deployArtifact(t.site, { app: APP, commit: LATER, request: requestBy('ship later') });
    await t.site.state.put(auditEntryKey(STAGING_LOG, 1), '{ not json');
    const chain = await readAudit(t.site.state, t.target.statePrefix);
    // Each release is named at the first entry that records it.
    const [first, later] = [FROM_STAGING, LATER].map((c) => chain.find((e) => e.data.commit === c)?.seq);
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    expect(said).toMatch(/staging's publish log.*audit entry .*0000000001\.json is damaged/);
    // Before, both "it was put in the artifacts bucket without publishing it to this stack".
    expect(said).not.toMatch(/without publishing/);
    expect(said).toMatch(
      new RegExp(
        `^damaged entry ${later}: entry ${later} records ${APP}@${LATER.slice(0, 7)} going out as sha256:\\w+, which staging's publish log records in entry 2, past entry 1, where that log is broken: that record cannot be held to the log`,
        'm',
      ),
    );
    expect(said).toMatch(
      new RegExp(
        `^damaged entry ${first}: entry ${first} records ${APP}@${FROM_STAGING.slice(0, 7)} going out as sha256:\\w+, a build the publish logs this stack trusts do not record as far as they verify \\(staging's is broken at entry 1\\): its record may be in what could not be read there`,
        'm',
      ),
    );
  });

  it('says plainly that a log the configuration no longer names was not checked, where an entry names its head', async () => {
    // Staging dropped from buildsFrom: the deployment's entry names a head of staging's log, and its
    // release is recorded nowhere else. Before: "put in the artifacts bucket without publishing".
    t.site.buildsFrom = async () => [];
    const chain = await readAudit(t.site.state, t.target.statePrefix);
    const entry = chain.find((e) => e.type === 'deploy');
    const recorded = chain.find((e) => e.data.commit === FROM_STAGING)?.seq; // where the release is named
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    expect(said).not.toMatch(/without publishing/);
    expect(said).toContain(
      `staging's publish log: it was not read, since this stack's "buildsFrom" does not name staging, so the releases of this stack its own log does not record were not checked against it, and the head deploy entry ${entry?.seq} saw there was not checked. Run verify again with staging named there (the configuration from before it was dropped, say) to check them`,
    );
    expect(said).toMatch(
      new RegExp(
        `^damaged entry ${recorded}: entry ${recorded} records ${APP}@${FROM_STAGING.slice(0, 7)} going out as sha256:\\w+, which deploy entry ${entry?.seq} says staging's publish log recorded, and staging's was not read: it was not checked against that log`,
        'm',
      ),
    );
  });

  it('names every entry whose head there was not checked, in the plural', async () => {
    // Production deploys staging's second build too: two deploy entries name a head of its log.
    await deployArtifact(t.site, { app: APP, commit: LATER, request: requestBy('ship later') });
    const deploys = (await readAudit(t.site.state, t.target.statePrefix)).filter((e) => e.type === 'deploy');
    expect(deploys.map((e) => e.data.publishedIn)).toEqual([STAGING, STAGING]);
    t.site.buildsFrom = async () => [];
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    expect(said).toContain(
      `and the heads deploy entry ${deploys[0]?.seq}, deploy entry ${deploys[1]?.seq} saw there were not checked. Run verify again`,
    );
  });

  it('says so too where its own log records the release since', async () => {
    // Before, verify passed: the head the entry names in staging's log was checked against nothing.
    await publishAsCi(t.site, { dir: stagedDir, app: APP, commit: FROM_STAGING });
    t.site.buildsFrom = async () => [];
    const { ok, said } = await reasons();
    expect(ok).toBe(false);
    expect(said).toMatch(
      /staging's publish log: it was not read, since this stack's "buildsFrom" .*the head deploy entry \d+ saw there was not checked/,
    );
    expect(said).not.toMatch(/releases of this stack its own log does not record/);
  });

  it("leaves an append stopped in that log to staging's next publish", async () => {
    await moveHeadBackOne(t.site.state, STAGING_LOG);
    expect(await reasons()).toEqual({ ok: true, said: '' });
  });

  it("leaves the problems of a log that records none of its releases to that log's stack", async () => {
    // QA's log records a build production never deployed; its entry was altered.
    const qa = { stack: 'qa', state: t.site.state, log: `${defaultStatePrefix('qa')}${PUBLISH_LOG}` };
    await alterEntry(qa.log, 1, (data) => {
      data.files = 1;
    });
    t.site.buildsFrom = async () => [stagingLog(), qa];
    expect(await reasons()).toEqual({ ok: true, said: '' });
  });
});
