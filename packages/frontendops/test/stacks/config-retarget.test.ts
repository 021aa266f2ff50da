/**
 * Where a stack is (its hosting bucket, its state location) is read from files in the repository:
 * frontendops.config.json's stacks and the outputs files they name. The attacker: whoever can change
 * those files, to lower a protection or have a change made where the operator does not believe it is.
 * A stack the operator believes is staging, pointed at production's hosting bucket (with a state
 * location of its own, no history there), opens production: its name, its one history, its
 * protection, which the bucket's environment marker gives. Production's name pointed at a hosting
 * bucket never marked, with production's state location, in a configuration that protects nothing,
 * used to open unprotected: the deploy went there without an approval, wrote a marker saying
 * unprotected, and production's history and status said it was live, while production's bucket
 * still served the release before it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import {
  HOSTING,
  publishFixtureBuilds,
  publishToStack,
  STACK,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const OTHER = 'sophia-dashboard-hosting-other';
const STAGING_HOSTING = 'sophia-dashboard-hosting-staging';
const COMMITS = ['1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'];
const request = { text: 'deploy', actor: 'ada', planner: 'cli', at: new Date().toISOString() };
let t: TestDeployEnv;
/** Production's outputs, as its owners wrote them. */
let outputs: string;
/** Production with COMMITS[0] live, the other buckets empty: where each case starts, whichever ran before. */
let deployed: BucketSnapshot;

beforeAll(async () => {
  t = await startDeployEnv({}, { protected: true, extraBuckets: [OTHER, STAGING_HOSTING] });
  // Published to production's log and to staging's (a stack of its own with its default state location).
  const published = await publishFixtureBuilds(t, APP, COMMITS);
  await publishToStack(t, { stack: 'dashboard-staging', hostingBucket: STAGING_HOSTING }, published);
  await deployArtifact(t.site, { app: APP, commit: COMMITS[0] as string, request });
  outputs = await t.writeOutputs({ cdn: true });
  deployed = await snapshotBuckets([
    { store: t.site.hosting },
    // Every stack's state location: production's, and the ones the cases send stacks to.
    { store: t.site.state, prefix: '.frontendops/state/' },
    { store: t.s3.store(OTHER) },
    { store: t.s3.store(STAGING_HOSTING) },
  ]);
});
beforeEach(() => deployed.restore());
afterAll(() => t?.stop());

const env = () => ({ ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'mallory' });

/**
 * The CLI under a configuration protecting nothing, whose `stacks` are production's outputs changed
 * as given, each in an outputs file of its own.
 */
async function run(argv: string[], changed: Record<string, Record<string, unknown>>) {
  const stacks: Record<string, { backend: string; file: string }> = {};
  for (const [name, changes] of Object.entries(changed)) {
    const file = join(t.tmp, `changed-${name}.json`);
    const written = JSON.parse(await readFile(outputs, 'utf8'));
    await writeFile(file, JSON.stringify({ ...written, stack: name, ...changes }));
    stacks[name] = { backend: 'outputs', file };
  }
  const config = join(t.tmp, `changed-config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(config, JSON.stringify({ protected: [], stacks }));
  return cli(argv, { env: { ...env(), FRONTENDOPS_CONFIG: config }, cwd: t.tmp });
}

describe("someone who changes the configuration's stacks", () => {
  it("a 'staging' pointed at production's hosting bucket, with a state location of its own, opens production, protected", async () => {
    const staging = { 'dashboard-staging': { hostingBucket: HOSTING, statePrefix: 'elsewhere/staging/' } };
    const status = await run(['status', '--stack', 'dashboard-staging', '--json'], staging);
    expect(JSON.parse(status.stdout)).toMatchObject({
      stack: STACK,
      protected: true,
      live: expect.objectContaining({ commit: COMMITS[0] }),
    });
    const refused = await run(
      ['deploy', '--stack', 'dashboard-staging', '--commit', COMMITS[1] as string, '--no-tag'],
      staging,
    );
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/dashboard-hosting-prod is a protected environment/);
  });

  it("production's name pointed at a hosting bucket its history never marked is still protected: refused before anything is written, and its dry run says so", async () => {
    const moved = { [STACK]: { hostingBucket: OTHER } };
    const deploy = ['deploy', '--stack', STACK, '--commit', COMMITS[1] as string, '--no-tag'];
    const plan = await run([...deploy, '--dry-run'], moved);
    const refused = await run([...deploy, '--yes'], moved);
    for (const answer of [plan, refused]) {
      expect(answer.code, answer.stderr).toBe(2);
      expect(answer.stderr).toMatch(
        /dashboard-hosting-prod is protected: its audit log records it protected, on another hosting bucket than the one it is opened with now .*Nothing was changed\..*list dashboard-hosting-prod under `protected`/s,
      );
    }
    const status = await run(['status', '--stack', STACK, '--json'], moved);
    expect(JSON.parse(status.stdout)).toMatchObject({ stack: STACK, protected: true });
    expect(await t.s3.store(OTHER).list()).toEqual([]);
    expect((await t.site.records.readPointer())?.value.commit).toBe(COMMITS[0]);
  });

  it('moved there on purpose (listed under `protected`), the change is approved as a protected one and marks that bucket protected', async () => {
    const deploy = ['deploy', '--stack', STACK, '--commit', COMMITS[1] as string, '--no-tag'];
    const config = join(t.tmp, 'moved-config.json');
    const file = join(t.tmp, 'moved-outputs.json');
    await writeFile(
      file,
      JSON.stringify({ ...JSON.parse(await readFile(outputs, 'utf8')), hostingBucket: OTHER }),
    );
    await writeFile(
      config,
      JSON.stringify({ protected: [STACK], stacks: { [STACK]: { backend: 'outputs', file } } }),
    );
    const moved = await cli([...deploy, '--yes'], {
      env: { ...env(), FRONTENDOPS_CONFIG: config },
      cwd: t.tmp,
    });
    expect(moved.code, moved.stderr).toBe(0);
    const marker = JSON.parse((await t.s3.store(OTHER).get(ENVIRONMENT_MARKER))?.body.toString() ?? '{}');
    expect(marker).toMatchObject({ stack: STACK, protected: true });
  });

  it("production's name sent to staging's history is refused: that chain never marked production's bucket", async () => {
    const staging = { 'dashboard-staging': { hostingBucket: STAGING_HOSTING } };
    const first = await run(
      ['deploy', '--stack', 'dashboard-staging', '--commit', COMMITS[0] as string, '--yes', '--no-tag'],
      staging,
    );
    expect(first.code, first.stderr).toBe(0);
    const before = (await t.s3.store(HOSTING).list()).map((o) => `${o.key}:${o.etag}`);
    const elsewhere = { [STACK]: { statePrefix: '.frontendops/state/dashboard-staging/' } };
    const refused = await run(
      ['deploy', '--stack', STACK, '--commit', COMMITS[1] as string, '--yes', '--no-tag'],
      elsewhere,
    );
    expect(refused.code, refused.stderr).toBe(1);
    // The marker is genuine: the refusal says the configuration may have moved the stack, not only the marker.
    expect(refused.stderr).toMatch(/TAMPERED|not the one the audit log last recorded/);
    expect(refused.stderr).toMatch(
      /The marker names the state location s3:\/\/sophia-dashboard-build-artifacts\/\.frontendops\/state\/dashboard-hosting-prod\/, not dashboard-hosting-prod's s3:\/\/sophia-dashboard-build-artifacts\/\.frontendops\/state\/dashboard-staging\/: if its configuration or outputs file was changed to send the stack there, put them back \(`git log -p`\), and leave the marker as it is\. Otherwise: The audit log/,
    );
    expect((await t.s3.store(HOSTING).list()).map((o) => `${o.key}:${o.etag}`)).toEqual(before);
  });
});
