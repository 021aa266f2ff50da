/**
 * A release manager's week through the CLI in process: releases deployed one after another (the
 * oldest stops being retained, and the plan says which), a rollback with its reason (its deploy tag
 * says it is one), and a release someone rolled back away from made live again (said, not refused).
 * The configuration retains two releases: the third deploy is the one that drops the first.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrailers } from '../../src/git/deploy-tag.ts';
import {
  publishAsCi,
  serveHostingBucket,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { type CliRun, cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
let t: TestDeployEnv;
let repo: TestRepo;
let site: Awaited<ReturnType<typeof serveHostingBucket>> | undefined;
let outputs: string;
let env: Record<string, string | undefined>;
const commits: string[] = [];
const short = (sha: string) => sha.slice(0, 7);
const run = (argv: string[]) => cli(argv, { env, cwd: repo.dir });

/**
 * The week, told once in beforeAll: what each step answered. Each case asserts on its steps; only
 * the last case changes the stack after, and it is the last step of the story.
 */
const week = {} as {
  /** The deploy ids of C1 and C2, deployed in turn. */
  deployIds: string[];
  /** C3's plan (text and --json) with C1 and C2 deployed, and its deploy. */
  dry: CliRun;
  dryJson: CliRun;
  deployed: CliRun;
  /** C3 rolled back ("C3 broke the totals"), --json. */
  rolled: CliRun;
};

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-staging' });
  repo = await createTestRepo();
  site = await serveHostingBucket(t);
  outputs = join(t.tmp, 'staging.json');
  await writeFile(
    outputs,
    JSON.stringify({
      stack: 'dashboard-staging',
      artifactsBucket: t.target.artifactsBucket,
      hostingBucket: t.target.hostingBucket,
      distributionId: t.target.distributionId,
      region: 'us-east-1',
      endpoint: t.s3.endpoint,
      siteUrl: site.url,
    }),
  );
  await writeFile(join(repo.dir, 'frontendops.config.json'), JSON.stringify({ retain: 2 }));
  env = {
    ...t.cliEnv(),
    AWS_REGION: 'us-east-1',
    FRONTENDOPS_ACTOR: 'rm-alice',
    FRONTENDOPS_MODEL: undefined,
  };
  commits.push(repo.commits.dashboard1, repo.commits.dashboard2);
  await writeFile(join(repo.dir, 'apps', APP, 'index.html'), '<h1>v3</h1>\n');
  await repo.git(['commit', '-qam', 'dashboard: v3']);
  commits.push((await repo.git(['rev-parse', 'HEAD'])).trim());
  for (const [i, commit] of commits.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `v${i + 1}`), { version: `v${i + 1}` });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  }

  const [C1, C2, C3] = commits as [string, string, string];
  week.deployIds = [];
  for (const commit of [C1, C2]) {
    const deployed = await run(['deploy', '--stack', outputs, '--commit', commit, '--json']);
    if (deployed.code !== 0) throw new Error(`deploy ${commit}: ${deployed.stderr}`);
    week.deployIds.push(JSON.parse(deployed.stdout).deployId);
  }
  week.dry = await run(['deploy', '--stack', outputs, '--commit', C3, '--dry-run']);
  week.dryJson = await run(['deploy', '--stack', outputs, '--commit', C3, '--dry-run', '--json']);
  week.deployed = await run(['deploy', '--stack', outputs, '--commit', C3]);
  week.rolled = await run(['rollback', '--stack', outputs, '--message', 'C3 broke the totals', '--json']);
});
afterAll(async () => {
  await site?.close();
  await repo?.cleanup();
  await t?.stop();
});

describe("a release manager's week", () => {
  it('the plan and the summary name the release a deploy stops retaining', () => {
    const [C1] = commits as [string];
    const gone = `no longer retained: ${APP}@${short(C1)} (${week.deployIds[0]})`;
    expect(week.dry.code, week.dry.stderr).toBe(0);
    expect(week.dry.stdout).toContain(`  ${gone}\n`);
    expect(JSON.parse(week.dryJson.stdout).unretained).toEqual([
      { deployId: week.deployIds[0], app: APP, commit: C1 },
    ]);
    expect(week.deployed.code, week.deployed.stderr).toBe(0);
    expect(week.deployed.stdout).toMatch(/pruned [1-9]\d*, 2 release\(s\) retained\n/);
    expect(week.deployed.stdout).toContain(`  ${gone}\n`);
  });

  it("a rollback's deploy tag says it is a rollback, from what to what, and carries its request with the why", async () => {
    const [, C2, C3] = commits as [string, string, string];
    expect(week.rolled.code, week.rolled.stderr).toBe(0);
    const summary = JSON.parse(week.rolled.stdout);
    expect(summary).toMatchObject({ kind: 'rollback', commit: C2 });
    const message = await repo.git(['tag', '-l', '--format=%(contents)', summary.tag]);
    expect(message.split('\n')[0]).toBe(`Roll back ${APP} from ${short(C3)} to ${short(C2)}`);
    expect(parseTrailers(message)).toMatchObject({
      'Deploy-Id': summary.deployId,
      Commit: C2,
      Kind: 'rollback',
      'Rolled-Back-From': C3,
      Request: 'rollback: C3 broke the totals',
    });
  });

  it('making a release live again that was rolled back away from says who took it down, when and why', async () => {
    const [C1, , C3] = commits as [string, string, string];
    const history = JSON.parse((await run(['history', '--stack', outputs, '--json'])).stdout);
    expect(history.deployments[0]).toMatchObject({ kind: 'rollback', commit: commits[1] });
    const when = `${history.deployments[0].finishedAt.replace('T', ' ').slice(0, 19)} UTC`;
    const note = `note: ${APP}@${short(C3)} was rolled back on ${when} by rm-alice ("C3 broke the totals")`;
    for (const argv of [
      ['rollback', '--stack', outputs, '--to', short(C3), '--dry-run'],
      ['promote', short(C3), '--stack', outputs, '--dry-run'],
    ]) {
      const dry = await run(argv);
      expect(dry.code, `${argv.join(' ')}\n${dry.stderr}`).toBe(0);
      expect(dry.stdout, argv.join(' ')).toContain(`  ${note}\n`);
    }
    // A release the stack was not rolled back away from (C1, no longer retained: promoted again): no note.
    const back = await run(['promote', short(C1), '--stack', outputs, '--dry-run']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).not.toContain('was rolled back on');
    // Said, never refused: the rollback goes through, and its output says it too.
    const again = await run(['rollback', '--stack', outputs, '--to', short(C3)]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`  ${note}\n`);
  });
});
