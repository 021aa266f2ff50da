/**
 * What the check of a build about to go live (publishedBuild) reads of the publish logs the stack
 * trusts. Each log is read from its head back until it records the build. Before, every log was read
 * so whatever another log said: a build the newest of production's own log still had staging's log
 * read whole (a GET per entry), and the other way round. Now the logs are read round by round
 * together, and no more once one of them records the build as it is; one recording it under another
 * digest does not end the search (another log may record it as it is, and otherwise it is refused
 * as replaced, as before).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishedBuild } from '../../src/deploy/live.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import { type AuditEntry, appendAudit, readAudit } from '../../src/state/audit.ts';
import { PUBLISH_LOG } from '../../src/state/names.ts';
import { auditEntryKey, rehash } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import {
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
const OWN = 'a0110001'.repeat(5);
const STAGED = 'a0110002'.repeat(5);
const OTHERS = 99;
let t: TestDeployEnv;
let ownLog: string;
let start: BucketSnapshot;

const build = async (version: string) => (await writeFixtureBuild(join(t.tmp, version), { version })).dir;

/**
 * `count` publish entries of other builds in the log under `log`, as a long-lived log holds: the
 * first appended, the rest written after it at once, each re-hashed onto the one before.
 */
async function publishedOthers(log: string, count: number) {
  const publish = (i: number) => ({
    app: APP,
    commit: `${i}`.padStart(40, 'c'),
    artifactDigest: `sha256:${'0'.repeat(64)}`,
    request: requestBy('publish', 'ci'),
  });
  let prev = await appendAudit(t.site.state, log, t.site.locker, { type: 'publish', data: publish(1) });
  const rest: AuditEntry[] = [];
  for (let seq = prev.seq + 1; seq <= count; seq++) {
    prev = rehash({ ...prev, seq, prevHash: prev.hash, data: publish(seq) });
    rest.push(prev);
  }
  await Promise.all(rest.map((e) => t.site.state.put(auditEntryKey(log, e.seq), JSON.stringify(e))));
  await t.site.state.put(`${log}audit/head.json`, JSON.stringify({ seq: prev.seq, hash: prev.hash }));
}

/** publishedBuild of app@commit, with what it asked of each log: its head and the entries it read. */
async function checked(commit: string) {
  const mark = await t.mark();
  const found = await publishedBuild(t.site, APP, commit).catch((e: unknown) => e);
  const requests = await t.requestsSince(mark);
  const reads = (log: string) => {
    const of = requests.filter((r) => r.method === 'GET' && r.key?.startsWith(log));
    return { head: of.filter((r) => r.key.endsWith('head.json')).length, entries: of.length };
  };
  const staging = reads(STAGING_LOG);
  const own = reads(ownLog);
  return {
    found,
    staging: { head: staging.head, entries: staging.entries - staging.head },
    own: { head: own.head, entries: own.entries - own.head },
  };
}

beforeAll(async () => {
  t = await startDeployEnv();
  ownLog = `${t.target.statePrefix}${PUBLISH_LOG}`;
  // Each log 100 entries long, the build it was asked for its newest.
  await publishedOthers(STAGING_LOG, OTHERS);
  await publishToStack(t, { stack: STAGING, hostingBucket: 'sophia-dashboard-hosting-staging' }, [
    { dir: await build('staged'), app: APP, commit: STAGED },
  ]);
  await publishedOthers(ownLog, OTHERS);
  await publishAsCi(t.site, { dir: await build('own'), app: APP, commit: OWN });
  t.site.buildsFrom = async () => [{ stack: STAGING, state: t.site.state, log: STAGING_LOG }];
  start = await snapshotBuckets([{ store: t.site.state, prefix: '.frontendops/' }]);
});
afterAll(() => t?.stop());

describe('the check of a build against the logs a stack trusts', () => {
  it("reads no more of staging's log once production's own log records the build", async () => {
    const { found, staging, own } = await checked(OWN);
    expect(found).toMatchObject({ manifest: { commit: OWN } });
    expect(found).not.toHaveProperty('publishedIn');
    expect(own).toEqual({ head: 1, entries: 1 });
    // Before: all 100 of staging's entries were read.
    expect(staging).toEqual({ head: 1, entries: 1 });
  });

  it("reads no more of production's own log once staging's records the build", async () => {
    const { found, staging, own } = await checked(STAGED);
    const staged = await readAudit(t.site.state, STAGING_LOG);
    expect(found).toMatchObject({
      manifest: { commit: STAGED },
      publishedIn: STAGING,
      publishedInHead: `${staged.length}:${staged.at(-1)?.hash}`,
    });
    expect(staging).toEqual({ head: 1, entries: 1 });
    // Before: all 100 of production's entries were read.
    expect(own).toEqual({ head: 1, entries: 1 });
  });

  it('is not refused for a damaged entry of a log where the search ends before it: no entry names that part', async () => {
    // The search stops at the round that finds the build, so an entry of staging's log further back
    // is never read. That is right: a change refuses a damaged head (its entry names the head, which
    // verify holds the log to), but an entry read and found damaged is passed over as well, never
    // refused (the build is taken only from an entry that records it whole), and what the change's
    // entry names is the heads, not what lies behind them. Verify reports the damage where this
    // stack relies on that log, and staging's own verify does in any case.
    await t.site.state.put(auditEntryKey(STAGING_LOG, 50), '{ not json');
    await t.site.state.put(auditEntryKey(ownLog, 50), '{ not json');
    try {
      const own = await checked(OWN);
      expect(own.found).toMatchObject({ manifest: { commit: OWN } });
      expect(own.staging).toEqual({ head: 1, entries: 1 });
      const staged = await checked(STAGED);
      expect(staged.found).toMatchObject({ manifest: { commit: STAGED }, publishedIn: STAGING });
      expect(staged.own).toEqual({ head: 1, entries: 1 });
    } finally {
      await start.restore();
    }
  });

  it('reads on past a log recording the build under another digest, and takes the log recording it as it is', async () => {
    // Production's newest entry records staging's build under another digest; staging's records it as it is.
    await appendAudit(t.site.state, ownLog, t.site.locker, {
      type: 'publish',
      data: {
        app: APP,
        commit: STAGED,
        artifactDigest: `sha256:${'e'.repeat(64)}`,
        request: requestBy('publish', 'ci'),
      },
    });
    try {
      const { found } = await checked(STAGED);
      expect(found).toMatchObject({ manifest: { commit: STAGED }, publishedIn: STAGING });
    } finally {
      await start.restore();
    }
  });
});
