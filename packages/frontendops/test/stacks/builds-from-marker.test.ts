/**
 * A build "recorded" in a forged publish log of a stack named in `buildsFrom`. Whoever can change the
 * files the tool reads (frontendops.config.json, the outputs files it names) points staging's outputs
 * at a state location holding a publish log of their own (filled, here with the S3 client, by a party
 * that may write that prefix), while staging's hosting bucket's environment marker names staging's
 * real state location. Production trusts staging's log. Before, the `buildsFrom` stack was opened from
 * its outputs alone: the forged log was read, and the build it "recorded" went live on production.
 * Now that stack is opened as any stack is (its marker followed), and where the marker is not
 * followed (the outputs' location holds a history of its own) the log is refused, nothing changed.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { AUDIT_HEAD, CONDITIONAL_WRITE_PROBES, ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { publishAsCi, requestBy, STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { startPulumiCloudDouble } from '../support/pulumi-cloud-double.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const STAGING = 'staging';
const STAGING_HOSTING = 'sophia-dashboard-hosting-staging';
const QA_HOSTING = 'sophia-dashboard-hosting-qa';
const THEIR_STATE = 'their-own-state';
const FORGED_PREFIX = 'forged/staging/';
const GOOD = 'a00d0001'.repeat(5);
const FORGED = 'f0f0f0f0'.repeat(5);
let t: TestDeployEnv;
let start: BucketSnapshot;

/** A site of staging (its hosting bucket) with its state at `statePrefix`. */
const stagingAt = (statePrefix: string): Promise<Site> =>
  connectSite(
    { ...t.target, stack: STAGING, hostingBucket: STAGING_HOSTING, statePrefix },
    { access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint }, onNotice: () => undefined },
  );

const QA = 'qa';
/** QA's outputs as its owners wrote them: its own hosting bucket, its state beside production's. */
async function qaOutputs(): Promise<string> {
  const file = join(t.tmp, 'qa.json');
  const outputs = { stack: QA, artifactsBucket: t.target.artifactsBucket, hostingBucket: QA_HOSTING };
  await writeFile(file, JSON.stringify({ ...outputs, region: 'us-east-1', endpoint: t.target.endpoint }));
  return file;
}

const build = async (version: string) => (await writeFixtureBuild(join(t.tmp, version), { version })).dir;

beforeAll(async () => {
  t = await startDeployEnv({}, { extraBuckets: [STAGING_HOSTING, QA_HOSTING, THEIR_STATE] });
  // Staging as its owners run it: CI publishes to its log, and it was deployed (its bucket is marked).
  const staging = await stagingAt(defaultStatePrefix(STAGING));
  await publishAsCi(staging, { dir: await build('good'), app: APP, commit: GOOD });
  await deployArtifact(staging, { app: APP, commit: GOOD, request: requestBy('ship staging') });
  staging.close();
  // The attacker's build, "published" to a log under a prefix of their own.
  const forged = await stagingAt(FORGED_PREFIX);
  await publishAsCi(forged, { dir: await build('forged'), app: APP, commit: FORGED });
  forged.close();
  start = await snapshotBuckets([
    { store: t.site.hosting },
    { store: t.site.state, prefix: t.target.statePrefix },
    { store: t.site.state, prefix: FORGED_PREFIX },
    { store: t.s3.store(STAGING_HOSTING) },
    { store: t.s3.store(QA_HOSTING) },
    { store: t.s3.store(THEIR_STATE) },
  ]);
});
beforeEach(() => start.restore());
afterAll(() => t?.stop());

/**
 * The CLI under a configuration where production builds from staging, whose outputs are changed as
 * given; `staging` reads them from elsewhere instead (another backend, under `env`).
 */
async function run(
  argv: string[],
  stagingChanges: Record<string, unknown>,
  from = STAGING,
  { staging: elsewhere, env: more = {} }: { staging?: StackConfig; env?: Record<string, string> } = {},
) {
  const prod = await t.writeOutputs({ cdn: true });
  const staging = join(t.tmp, 'staging-changed.json');
  await writeFile(
    staging,
    JSON.stringify({
      stack: STAGING,
      artifactsBucket: t.target.artifactsBucket,
      hostingBucket: STAGING_HOSTING,
      region: 'us-east-1',
      endpoint: t.target.endpoint,
      ...stagingChanges,
    }),
  );
  const config = join(t.tmp, 'frontendops.config.json');
  const stacks = {
    [STACK]: { backend: 'outputs', file: prod, buildsFrom: [from] },
    [STAGING]: elsewhere ?? { backend: 'outputs', file: staging },
    [QA]: { backend: 'outputs', file: await qaOutputs() },
  };
  await writeFile(config, JSON.stringify({ app: APP, protected: [], stacks }));
  const env = {
    ...t.cliEnv(),
    AWS_REGION: 'us-east-1',
    FRONTENDOPS_ACTOR: 'mallory',
    FRONTENDOPS_CONFIG: config,
    ...more,
  };
  const ran = await cli(argv, { cwd: t.tmp, env });
  return { ...ran, said: ran.stdout + ran.stderr };
}

/**
 * Production's hosting bucket and state location, each object with its ETag: what "nothing was
 * changed" compares (but the probe for conditional writes, which a refused deploy may make first).
 */
async function production(): Promise<string[]> {
  const [state, hosting] = await Promise.all([
    t.site.state.list(t.target.statePrefix),
    t.site.hosting.list(''),
  ]);
  return [...state, ...hosting]
    .filter((o) => !o.key.startsWith(`${t.target.statePrefix}${CONDITIONAL_WRITE_PROBES}`))
    .map((o) => `${o.key} ${o.etag ?? ''}`)
    .sort();
}

/** Whoever can write staging's hosting bucket (not production's, nor any state) breaks its marker. */
const breakStagingMarker = () => t.s3.store(STAGING_HOSTING).put(ENVIRONMENT_MARKER, '{ not json');

const deployForged = (changes: Record<string, unknown>) =>
  run(['deploy', '--commit', FORGED, '--stack', STACK, '--yes'], changes);

describe("a `buildsFrom` stack whose outputs name another state location than its hosting bucket's marker", () => {
  it("is read where its marker says: a build only the outputs' log records is refused on production", async () => {
    const before = await production();
    const refused = await deployForged({ statePrefix: FORGED_PREFIX });
    expect(refused.code, refused.said).not.toBe(0);
    expect(refused.said).toMatch(
      /is not recorded in the publish logs dashboard-hosting-prod deploys builds from: .*staging's \(\.frontendops\/state\/staging\/publishes\/\)/,
    );
    expect(await production()).toEqual(before);
  });

  it("is refused, naming both locations, where the outputs' location holds a history of its own", async () => {
    // The attacker's prefix holds a chain too: the marker would not be followed there.
    await t.site.state.put(`${FORGED_PREFIX}${AUDIT_HEAD}`, JSON.stringify({ seq: 0, hash: 'x' }));
    const before = await production();
    const refused = await deployForged({ statePrefix: FORGED_PREFIX });
    expect(refused.code, refused.said).not.toBe(0);
    expect(refused.said).toMatch(/publish log of staging/);
    expect(refused.said).toMatch(/s3:\/\/[^ ]+\/\.frontendops\/state\/staging\//);
    expect(refused.said).toMatch(/s3:\/\/[^ ]+\/forged\/staging\//);
    expect(refused.said).toMatch(/Nothing was changed/);
    expect(refused.said).not.toMatch(/succeeded/);
    expect(await production()).toEqual(before);
  });

  it('is refused where its marker cannot be read, naming that stack, and nothing is changed', async () => {
    const stagingHosting = t.s3.store(STAGING_HOSTING);
    const marker = await stagingHosting.get(ENVIRONMENT_MARKER);
    await stagingHosting.put(ENVIRONMENT_MARKER, '{ not a marker');
    try {
      const before = await production();
      const refused = await run(['deploy', '--commit', GOOD, '--stack', STACK, '--yes'], {});
      expect(refused.code, refused.said).not.toBe(0);
      expect(refused.said).toMatch(
        /The publish log of staging, .* is not read: .*environment marker .*cannot be read/,
      );
      expect(refused.said).toMatch(/Nothing was changed/);
      expect(await production()).toEqual(before);
    } finally {
      if (marker)
        await stagingHosting.put(ENVIRONMENT_MARKER, marker.body, { contentType: 'application/json' });
    }
  });

  it('as its owners wrote them, its log is read and its build goes live', async () => {
    const deployed = await run(['deploy', '--commit', GOOD, '--stack', STACK, '--yes'], {});
    expect(deployed.code, deployed.said).toBe(0);
    expect(deployed.stdout).toMatch(/→ dashboard-hosting-prod: succeeded/);
  });
});

describe("a `buildsFrom` stack whose hosting bucket's marker cannot be read", () => {
  const OWN = 'a00d0003'.repeat(5);

  it("leaves production's deploys of builds its own log records, and its verify, to production", async () => {
    await publishAsCi(t.site, { dir: await build('own'), app: APP, commit: OWN });
    await breakStagingMarker();
    const deployed = await run(['deploy', '--commit', OWN, '--stack', STACK, '--yes'], {});
    expect(deployed.code, deployed.said).toBe(0);
    expect(deployed.stdout).toMatch(/→ dashboard-hosting-prod: succeeded/);
    const verified = await run(['audit', 'verify', '--stack', STACK], {});
    expect(verified.code, verified.said).toBe(0);
  });

  it("refuses a build only staging's log records, and verify of production reports that log unread", async () => {
    await breakStagingMarker();
    const before = await production();
    const refused = await run(['deploy', '--commit', GOOD, '--stack', STACK, '--yes'], {});
    expect(refused.code, refused.said).not.toBe(0);
    expect(refused.said).toMatch(/environment marker .* cannot be read/);
    expect(await production()).toEqual(before);
    // Deployed while the marker could be read: production relies on staging's log.
    await start.restore();
    const shipped = await run(['deploy', '--commit', GOOD, '--stack', STACK, '--yes'], {});
    expect(shipped.code, shipped.said).toBe(0);
    await breakStagingMarker();
    const verified = await run(['audit', 'verify', '--stack', STACK], {});
    expect(verified.code, verified.said).not.toBe(0);
    expect(verified.said).toMatch(/staging's publish log .*could not be read .*environment marker/s);
    // Verify changes nothing and refuses nothing: its line says what is wrong and what to check.
    // (The log's own line: the release's says it was found there, and not checked.)
    const line = verified.said.split('\n').find((l) => /^\s*\w+: staging's publish log/.test(l)) ?? '';
    expect(line).toMatch(/environment marker \(\.frontendops\/environment\.json\) cannot be read: /);
    expect(line).toMatch(/put back the marker the log records/);
    expect(line).not.toMatch(/Nothing was changed|no change is made|these credentials/);
  });
});

describe("a `buildsFrom` stack kept in Pulumi Cloud whose hosting bucket's marker cannot be read", () => {
  it('has its outputs read from Pulumi Cloud once for a refusal', async () => {
    const TOKEN = 'pul-builds-from-token';
    const outputs = {
      artifactsBucket: t.target.artifactsBucket,
      hostingBucket: STAGING_HOSTING,
      region: 'us-east-1',
      endpoint: t.target.endpoint,
    };
    const cloud = await startPulumiCloudDouble({
      token: TOKEN,
      stacks: {
        [`sophia/dashboard-hosting/${STAGING}`]: {
          version: 3,
          deployment: { resources: [{ type: 'pulumi:pulumi:Stack', outputs }] },
        },
      },
    });
    try {
      await breakStagingMarker();
      const before = await production();
      const staging = {
        backend: 'pulumi-cloud',
        organization: 'sophia',
        project: 'dashboard-hosting',
        apiUrl: cloud.url,
      } as const;
      const refused = await run(['deploy', '--commit', GOOD, '--stack', STACK, '--yes'], {}, STAGING, {
        staging,
        env: { PULUMI_ACCESS_TOKEN: TOKEN, PULUMI_BACKEND_URL: cloud.url },
      });
      expect(refused.code, refused.said).not.toBe(0);
      expect(refused.said).toMatch(/The publish log of staging, .* is not read: .*environment marker/);
      expect(await production()).toEqual(before);
      expect(cloud.requests.map((r) => r.path)).toEqual([
        `/api/stacks/sophia/dashboard-hosting/${STAGING}/export`,
      ]);
    } finally {
      await cloud.close();
    }
  });
});

describe('a `buildsFrom` stack with no history of its own, its hosting bucket marked by someone else', () => {
  it('is not led by that marker to a publish log in a state bucket its outputs do not name', async () => {
    // QA was never deployed: nothing of it is in the state bucket its outputs name. Whoever can write
    // its hosting bucket marks it as QA with its history in a bucket of theirs, where they "publish"
    // a build they put in the artifacts bucket.
    const theirs = await connectSite(
      {
        ...t.target,
        stack: QA,
        hostingBucket: QA_HOSTING,
        stateBucket: THEIR_STATE,
        statePrefix: defaultStatePrefix(QA),
      },
      { access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint }, onNotice: () => undefined },
    );
    const PLANTED = 'b0b0b0b0'.repeat(5);
    await publishAsCi(theirs, { dir: await build('planted'), app: APP, commit: PLANTED });
    theirs.close();
    const marker = {
      v: 1,
      stack: QA,
      stateBucket: THEIR_STATE,
      statePrefix: defaultStatePrefix(QA),
      protected: false,
    };
    await t.s3.store(QA_HOSTING).put(ENVIRONMENT_MARKER, JSON.stringify(marker));
    const before = await production();
    const refused = await run(['deploy', '--commit', PLANTED, '--stack', STACK, '--yes'], {}, QA);
    expect(refused.code, refused.said).not.toBe(0);
    expect(refused.said).toMatch(/publish log of qa/);
    expect(refused.said).toMatch(new RegExp(`s3://${THEIR_STATE}/`));
    expect(await production()).toEqual(before);
  });
});
