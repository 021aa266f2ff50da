/**
 * A build planted in the artifacts bucket before CI publishes it. Whoever can write the artifacts
 * bucket (and not the state) puts a build there for the newest commit, with the S3 client and no entry
 * in the publish log: "the latest" names that commit, and CI's own publish of it is then refused
 * (saying no log records the build found, and what the bucket's administrator does). Before, `deploy --latest`, a deploy of that commit and
 * the agent's tools made the planted build live, and `audit verify` said nothing of it. Now a build
 * goes live only when the stack's publish log records it with the digest it has, and verify reports a
 * deployed build the log never recorded.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { configSchema } from '../../src/config.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishArtifact, publishBuild, resolvePublishedCommit } from '../../src/deploy/publish.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { deployUnchecked, requestBy, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { connectInfra } from '../support/mcp-infra.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const STAGING_HOSTING = 'sophia-dashboard-hosting-staging';
const PROD_HOSTING = 'sophia-dashboard-hosting-prod2';
/** A state bucket of staging's own, apart from prod's. */
const STAGING_STATE = 'sophia-ops-staging-own';
let t: TestDeployEnv;
let repo: TestRepo;
let outputs: string;
/** v1 live, the planted build beside it, staging and prod untouched: where every case starts. */
let planted: BucketSnapshot;

/** A fixture build of `version` in its own directory. */
const buildOf = async (version: string) => (await writeFixtureBuild(join(t.tmp, version), { version })).dir;

/** Every object in the state and hosting buckets, with its ETag: what "nothing was written" compares. */
async function everything(): Promise<string[]> {
  const [state, hosting] = await Promise.all([
    t.site.state.list(t.target.statePrefix),
    t.site.hosting.list(''),
  ]);
  return [...state, ...hosting].map((o) => `${o.key} ${o.etag ?? ''}`).sort();
}

beforeAll(async () => {
  t = await startDeployEnv(
    { stack: 'dashboard-planted' },
    { extraBuckets: [STAGING_HOSTING, PROD_HOSTING, STAGING_STATE] },
  );
  repo = await createTestRepo();
  outputs = await t.writeOutputs({ cdn: true });
  // CI published the dashboard's first commit, and it is live.
  await publishBuild(
    t.site,
    { dir: await buildOf('v1'), app: APP, commit: repo.commits.dashboard1 },
    requestBy('publish', 'ci'),
  );
  await deployArtifact(t.site, { app: APP, commit: repo.commits.dashboard1, request: requestBy('ship v1') });
  // The attacker's build of the newest commit touching the dashboard, before CI publishes it.
  await publishArtifact(t.site.artifacts, {
    dir: await buildOf('planted'),
    app: APP,
    commit: repo.commits.dashboard2,
  });
  // The artifacts bucket holds every stack's state here; staging's and prod's hosting buckets too.
  planted = await snapshotBuckets(
    [t.site.artifacts, t.site.hosting, t.s3.store(STAGING_HOSTING), t.s3.store(PROD_HOSTING)].map(
      (store) => ({
        store,
      }),
    ),
  );
});
beforeEach(() => planted.restore());
afterAll(async () => {
  await repo?.cleanup();
  await t?.stop();
});

describe('a build no publish log recorded', () => {
  it('is refused by a deploy naming its commit, and by its dry run, before anything is written', async () => {
    const before = await everything();
    for (const dryRun of [true, false]) {
      const refused = deployArtifact(t.site, {
        app: APP,
        commit: repo.commits.dashboard2,
        request: requestBy('ship the newest'),
        dryRun,
      });
      await expect(refused).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(refused).rejects.toThrow(
        new RegExp(
          `${APP}@${repo.commits.dashboard2.slice(0, 7)} in the artifacts bucket is not recorded in the publish log dashboard-planted deploys builds from: dashboard-planted's \\(\\.frontendops/state/dashboard-planted/publishes/\\).*Nothing was changed\\. Publish it through CI`,
        ),
      );
    }
    expect(await everything()).toEqual(before);
  });

  it('is not made live by `deploy --latest`', async () => {
    const before = await everything();
    const run = await cli(['deploy', '--latest', '--stack', outputs, '--json'], {
      cwd: repo.dir,
      env: { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'cli-test' },
    });
    expect(run.code, run.stdout + run.stderr).not.toBe(0);
    expect(run.stdout + run.stderr).toMatch(
      /is not recorded in the publish log dashboard-planted deploys builds from/,
    );
    expect(await everything()).toEqual(before);
    expect((await t.site.records.readPointer())?.value.commit).toBe(repo.commits.dashboard1);
  });

  it('that went live before is reported by `audit verify`', async () => {
    // As a deploy of the old code made it live: planned and applied, with no publish log consulted.
    await deployUnchecked(t.site, APP, repo.commits.dashboard2, requestBy('ship the newest'));
    const verified = await verifyAudit(t.site.state, t.target.statePrefix);
    expect(verified.ok).toBe(false);
    expect(verified.problems.map((p) => p.reason).join('\n')).toMatch(
      new RegExp(`${APP}@${repo.commits.dashboard2.slice(0, 7)}.*no publish log this stack trusts recorded`),
    );
  });
});

describe("a build published under another stack's log", () => {
  /** A project whose configuration names staging and prod (outputs files), prod with `prod` added. */
  async function project(name: string, prod: Record<string, unknown>, protectedStacks: string[] = []) {
    const dir = join(t.tmp, name);
    await mkdir(dir, { recursive: true });
    const staging = await t.writeOutputs({ stack: 'staging', hostingBucket: STAGING_HOSTING, cdn: true });
    const prodFile = await t.writeOutputs({ stack: 'prod', hostingBucket: PROD_HOSTING, cdn: true });
    const stacks = {
      staging: { backend: 'outputs', file: staging },
      prod: { backend: 'outputs', file: prodFile, ...prod },
    };
    await writeFile(
      join(dir, 'frontendops.config.json'),
      JSON.stringify({ app: APP, stacks, protected: protectedStacks }),
    );
    const env = {
      ...t.cliEnv(),
      AWS_REGION: 'us-east-1',
      FRONTENDOPS_ACTOR: 'cli-test',
      FRONTENDOPS_CONFIG: undefined,
    };
    return (argv: string[]) => cli(argv, { cwd: dir, env });
  }

  it('deploys to a stack whose configuration names that log in "buildsFrom", and is refused by one that does not', async () => {
    const commit = 'cafe0001'.repeat(5);
    const trusting = await project('trusting', { buildsFrom: ['staging'] });
    const published = await trusting([
      'publish',
      await buildOf('staged'),
      '--commit',
      commit,
      '--stack',
      'staging',
    ]);
    expect(published.code, published.stdout + published.stderr).toBe(0);

    const untrusting = await project('untrusting', {});
    const refused = await untrusting(['deploy', '--commit', commit, '--stack', 'prod', '--yes']);
    expect(refused.code, refused.stdout + refused.stderr).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(
      /is not recorded in the publish log prod deploys builds from: prod's \(\.frontendops\/state\/prod\/publishes\/\).*"buildsFrom"/s,
    );

    const deployed = await trusting(['deploy', '--commit', commit, '--stack', 'prod', '--yes']);
    expect(deployed.code, deployed.stdout + deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/→ prod: succeeded/);
    const verified = await trusting(['audit', 'verify', '--stack', 'prod', '--json']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    // Without the trust, the same history has a release no log it reads recorded: its entry says it
    // was found in staging's log, which verify did not read, and says so (before: "no publish log
    // this stack trusts recorded ... put in the artifacts bucket without publishing").
    // Damaged, not tampered (nothing shows it altered; it could not be held to the log), and verify
    // still fails: exit 1, as for anything it cannot vouch for.
    const unverified = await untrusting(['audit', 'verify', '--stack', 'prod']);
    expect(unverified.code).toBe(1);
    const said = unverified.stdout + unverified.stderr;
    expect(said).toMatch(
      /staging's publish log: it was not read, since this stack's "buildsFrom" does not name staging/,
    );
    expect(said).toMatch(/^ {2}damaged: entry \d+ records .*: it was not checked against that log$/m);
    expect(said).not.toMatch(/without publishing/);
  });

  it('names that log to whoever approves the deploy of a protected stack', async () => {
    // Whoever can change the configuration can add a stack to "buildsFrom": the approver sees whose log it is.
    const commit = 'cafe0002'.repeat(5);
    const trusting = await project('trusting-protected', { buildsFrom: ['staging'] }, ['prod']);
    const published = await trusting([
      'publish',
      await buildOf('staged2'),
      '--commit',
      commit,
      '--stack',
      'staging',
    ]);
    expect(published.code, published.stdout + published.stderr).toBe(0);
    const asked = await trusting(['deploy', '--commit', commit, '--stack', 'prod']);
    expect(asked.code, asked.stdout + asked.stderr).not.toBe(0);
    expect(asked.stdout + asked.stderr).toMatch(
      new RegExp(`deploy ${APP}@cafe000 to prod[^"]*; published to staging's log`),
    );
  });

  it("an agent's refusal of the planted build names no place of the stack prod builds from", async () => {
    // The agent sees no bucket and no state location (mcp/secrecy.ts): prod's own are hidden once a
    // call opens it, and those of every stack the configuration names, staging's included, which a
    // call reads but never opens by name. Before, the refusal named staging's log at its state prefix.
    Object.assign(process.env, { ...t.cliEnv(), AWS_REGION: 'us-east-1' });
    const stagingState = 'sophia-ops-private/staging/';
    const stagingFiles = {
      // The usual set-up: staging's state beside prod's, at the prefix its name gives it.
      usual: await t.writeOutputs({ stack: 'staging', hostingBucket: STAGING_HOSTING }),
      // Its outputs put its state under a prefix of its own.
      own: join(t.tmp, 'staging-own-prefix.json'),
    };
    await writeFile(
      stagingFiles.own,
      JSON.stringify({
        ...JSON.parse(await readFile(stagingFiles.usual, 'utf8')),
        statePrefix: stagingState,
      }),
    );
    const prodFile = await t.writeOutputs({ stack: 'prod', hostingBucket: PROD_HOSTING });
    for (const [setUp, staging] of Object.entries(stagingFiles)) {
      const config = configSchema.parse({
        app: APP,
        stacks: {
          staging: { backend: 'outputs', file: staging },
          prod: { backend: 'outputs', file: prodFile, buildsFrom: ['staging'] },
        },
      });
      const c = await connectInfra(createInfraServer({ config, cwd: t.tmp }));
      try {
        const plan = await c.call('plan_deploy', { stack: 'prod', commit: repo.commits.dashboard2 });
        expect(plan.isError, setUp).toBe(true);
        expect(plan.text, setUp).toMatch(/publish logs prod deploys builds from: prod's .*, staging's/);
        const seen = JSON.stringify(c.seen);
        for (const leak of [defaultStatePrefix('staging'), stagingState, STAGING_HOSTING, t.tmp]) {
          expect(seen, `${setUp}: ${leak}`).not.toContain(leak.replace(/\/$/, ''));
        }
      } finally {
        await c.close();
      }
    }
  });

  it('a marker in the hosting bucket of a stack prod builds from, refused: its own state bucket is not named', async () => {
    // Staging keeps its state in a bucket of its own, which the agent is never shown (learnt as the
    // call reads staging's outputs: openSite's onTarget). Its hosting bucket's marker cannot be read,
    // or leads to another state bucket: its log is not read, and the refusal says why.
    Object.assign(process.env, { ...t.cliEnv(), AWS_REGION: 'us-east-1' });
    const usual = await t.writeOutputs({ stack: 'staging', hostingBucket: STAGING_HOSTING });
    const staging = join(t.tmp, 'staging-own-bucket.json');
    await writeFile(
      staging,
      JSON.stringify({ ...JSON.parse(await readFile(usual, 'utf8')), stateBucket: STAGING_STATE }),
    );
    const prodFile = await t.writeOutputs({ stack: 'prod', hostingBucket: PROD_HOSTING });
    const config = configSchema.parse({
      app: APP,
      stacks: {
        staging: { backend: 'outputs', file: staging },
        prod: { backend: 'outputs', file: prodFile, buildsFrom: ['staging'] },
      },
    });
    const elsewhere = {
      v: 1,
      stack: 'staging',
      stateBucket: 'planted-state',
      statePrefix: 'x/',
      protected: false,
    };
    for (const [marker, said] of [
      ['{"v": 1, "stack": ', /environment marker .* cannot be read/],
      [
        JSON.stringify(elsewhere),
        /history at s3:\/\/planted-state\/x\/, a state bucket staging's outputs do not name/,
      ],
    ] as const) {
      await t.s3.store(STAGING_HOSTING).put(ENVIRONMENT_MARKER, marker, { contentType: 'application/json' });
      const c = await connectInfra(createInfraServer({ config, cwd: t.tmp }));
      try {
        const plan = await c.call('plan_deploy', { stack: 'prod', commit: repo.commits.dashboard2 });
        expect(plan.isError).toBe(true);
        expect(plan.text).toMatch(
          /The publish log of staging, whose builds prod deploys \("buildsFrom"\), is not read/,
        );
        expect(plan.text).toMatch(said);
        const seen = JSON.stringify(c.seen);
        for (const leak of [STAGING_STATE, STAGING_HOSTING, defaultStatePrefix('staging'), t.tmp]) {
          expect(seen, leak).not.toContain(leak.replace(/\/$/, ''));
        }
      } finally {
        await c.close();
      }
    }
  });

  it('a "buildsFrom" naming no configured stack, or the stack itself, is refused when the file is read', async () => {
    for (const [from, said] of [
      ['stagin', /"stagin" names no stack of "stacks" \(did you mean "staging"\?\)/],
      ['prod', /"prod" is this stack: its own publish log is always read/],
    ] as const) {
      const run = await (await project(`bad-${from}`, { buildsFrom: [from] }))(['status', '--stack', 'prod']);
      expect(run.code).toBe(2);
      expect(run.stdout + run.stderr).toMatch(said);
    }
  });
});

describe('a build published first with the publisher’s credentials (not covered, as it is)', () => {
  it('is the commit’s build: a deploy takes it, and CI’s own build of the commit is refused', async () => {
    // Any job the publisher role's trust policy admits publishes a build of its own for a commit
    // CI has not published yet: it is recorded in the publish log, as CI's would be.
    const commit = repo.commits.docs;
    const first = await publishBuild(
      t.site,
      { dir: await buildOf('first'), app: APP, commit },
      requestBy('publish', 'another job'),
    );
    const ci = publishBuild(
      t.site,
      { dir: await buildOf('ci'), app: APP, commit },
      requestBy('publish', 'ci'),
    );
    await expect(ci).rejects.toMatchObject({ code: 'CONFLICT' });
    // Who published it, as the publish log records: where to ask.
    await expect(ci).rejects.toThrow(
      /already published with different content \(sha256:\w+, this build is sha256:\w+\): another job published it at \d{4}-[\d-]+T[\d:.]+Z \(entry \d+ of the publish log\)/,
    );
    await deployArtifact(t.site, { app: APP, commit, request: requestBy('ship the docs commit') });
    expect((await t.site.records.readPointer())?.value).toMatchObject({
      commit,
      artifactDigest: first.artifactDigest,
    });
  });
});

describe('what a writer of the artifacts bucket can block (denial of service only)', () => {
  it('a planted build blocks CI’s publish of that commit: the refusal says no log records it and what to do', async () => {
    const log = () => t.site.state.list(`${t.target.statePrefix}publishes/`);
    const before = await log();
    const ci = publishBuild(
      t.site,
      { dir: await buildOf('ci'), app: APP, commit: repo.commits.dashboard2 },
      requestBy('publish', 'ci'),
    );
    await expect(ci).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(ci).rejects.toThrow(
      new RegExp(
        `^Commit ${repo.commits.dashboard2} of ${APP} is already in the artifacts bucket with different content \\(sha256:\\w+, this build is sha256:\\w+\\), and no publish log records that build: it was written there without \`frontendops publish\`, and no deploy takes it\\. Nothing was published\\. An administrator of the artifacts bucket finds who wrote ${APP}/${repo.commits.dashboard2}/ there \\(the bucket's access log, or CloudTrail's data events\\), removes it, and runs this publish again\\.$`,
      ),
    );
    expect(await log()).toEqual(before);
  });

  it('a published build whose manifest was replaced since blocks publishing it again: who published what is named', async () => {
    const commit = 'cafe0003'.repeat(5);
    const dir = await buildOf('replaced');
    const published = await publishBuild(t.site, { dir, app: APP, commit }, requestBy('publish', 'ci'));
    const key = `${APP}/${commit}/manifest.json`;
    const manifest = JSON.parse((await t.site.artifacts.get(key))?.body.toString('utf8') ?? '{}');
    // One file fewer: another build's manifest, with another digest.
    const [, ...files] = Object.entries(manifest.files ?? {});
    await t.site.artifacts.put(
      key,
      Buffer.from(JSON.stringify({ ...manifest, files: Object.fromEntries(files) })),
    );
    const again = publishBuild(t.site, { dir, app: APP, commit }, requestBy('publish', 'ci'));
    await expect(again).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(again).rejects.toThrow(
      `and the publish log records another build of it (ci published ${published.artifactDigest} at `,
    );
    await expect(again).rejects.toThrow(
      /without `frontendops publish`, and no deploy takes it\. Nothing was published\. An administrator/,
    );
  });

  it('a commit planted beside a published one under the same short sha: git names the one; with no git, refused, both named in full', async () => {
    const published = repo.commits.dashboard1;
    // The same first 39 characters: any shorter way of writing them names both.
    const planted = `${published.slice(0, 39)}${published.at(-1) === '0' ? '1' : '0'}`;
    const key = `${APP}/${planted}/manifest.json`;
    await t.site.artifacts.put(key, Buffer.from('{}'));
    try {
      const dryRun = (cwd: string) =>
        cli(['deploy', '--commit', published.slice(0, 12), '--dry-run', '--json', '--stack', outputs], {
          cwd,
          env: { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'cli-test' },
        });
      const inRepo = await dryRun(repo.dir);
      expect(inRepo.code, inRepo.stderr).toBe(0);
      expect(inRepo.stdout).toContain(published);
      expect(inRepo.stdout).not.toContain(planted);
      const run = await dryRun(t.tmp);
      expect(run.code, run.stderr).toBe(2);
      const [first, second] = [published, planted].sort();
      expect(run.stderr).toContain(
        `${published.slice(0, 12)} is the start of 2 published commits of ${APP} (${first}, ${second}); give more of the sha, or all of it.`,
      );
    } finally {
      await t.site.artifacts.delete([key]);
    }
  });
});

describe('a build published under a short commit key', () => {
  /** The publisher's build of the docs commit, under its first 7 hex digits; its full sha is not published. */
  async function plantShort() {
    const short = repo.commits.docs.slice(0, 7);
    await publishBuild(
      t.site,
      { dir: await buildOf('short'), app: APP, commit: short },
      requestBy('publish', 'ci'),
    );
    return short;
  }

  it('is not what `deploy --commit <short sha>` takes: git names the full commit, which is not published', async () => {
    const short = await plantShort();
    const before = await everything();
    const run = await cli(['deploy', '--commit', short, '--no-tag', '--stack', outputs, '--json'], {
      cwd: repo.dir,
      env: { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'cli-test' },
    });
    expect(run.code, run.stdout + run.stderr).not.toBe(0);
    expect(run.stderr).toContain(repo.commits.docs.slice(0, 12));
    expect(await everything()).toEqual(before);
    expect((await t.site.records.readPointer())?.value.commit).toBe(repo.commits.dashboard1);
  });

  it('a short sha git cannot resolve is refused, saying what was expected and what to do', async () => {
    const git = createLocalGit({ repoDir: repo.dir });
    const refused = resolvePublishedCommit(t.site.artifacts, APP, 'deadbee', git);
    await expect(refused).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(refused).rejects.toThrow(
      /deadbee is not a commit the git repository knows: expected a short sha of one commit in it.*Nothing was changed\. Give more of the sha or all of it/,
    );
  });
});
