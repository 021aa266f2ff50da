/**
 * A release manager's week through the CLI in process: releases deployed one after another (the
 * oldest stops being retained, and the plan says which), a rollback with its reason (its deploy tag
 * says it is one), and a release someone rolled back away from made live again (said, not refused).
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
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
let t: TestDeployEnv;
let repo: TestRepo;
let site: Awaited<ReturnType<typeof serveHostingBucket>> | undefined;
let outputs: string;
let env: Record<string, string | undefined>;
const commits: string[] = [];
const short = (sha: string) => sha.slice(0, 7);

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
  env = {
    ...t.cliEnv(),
    AWS_REGION: 'us-east-1',
    FRONTENDOPS_ACTOR: 'rm-alice',
    FRONTENDOPS_MODEL: undefined,
  };
  commits.push(repo.commits.dashboard1, repo.commits.dashboard2);
  for (const version of ['v3', 'v4']) {
    await writeFile(join(repo.dir, 'apps', APP, 'index.html'), `<h1>${version}</h1>\n`);
    await repo.git(['commit', '-qam', `dashboard: ${version}`]);
    commits.push((await repo.git(['rev-parse', 'HEAD'])).trim());
  }
  for (const [i, commit] of commits.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `v${i + 1}`), { version: `v${i + 1}` });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  }
});
afterAll(async () => {
  await site?.close();
  await repo?.cleanup();
  await t?.stop();
});

const run = (argv: string[]) => cli(argv, { env, cwd: repo.dir });
const deployIds: string[] = [];

describe("a release manager's week", () => {
  it('the plan and the summary name the release a deploy stops retaining', async () => {
    for (const commit of commits.slice(0, 3)) {
      const deployed = await run(['deploy', '--stack', outputs, '--commit', commit, '--json']);
      expect(deployed.code, deployed.stderr).toBe(0);
      deployIds.push(JSON.parse(deployed.stdout).deployId);
    }
    const [C1, , , C4] = commits as [string, string, string, string];
    const gone = `no longer retained: ${APP}@${short(C1)} (${deployIds[0]})`;
    const dry = await run(['deploy', '--stack', outputs, '--commit', C4, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`  ${gone}\n`);
    const json = await run(['deploy', '--stack', outputs, '--commit', C4, '--dry-run', '--json']);
    expect(JSON.parse(json.stdout).unretained).toEqual([{ deployId: deployIds[0], app: APP, commit: C1 }]);
    const deployed = await run(['deploy', '--stack', outputs, '--commit', C4]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/pruned [1-9]\d*, 3 release\(s\) retained\n/);
    expect(deployed.stdout).toContain(`  ${gone}\n`);
  });

  it("a rollback's deploy tag says it is a rollback, from what to what, and carries its request with the why", async () => {
    const [, , C3, C4] = commits as [string, string, string, string];
    const rolled = await run(['rollback', '--stack', outputs, '--message', 'C4 broke the totals', '--json']);
    expect(rolled.code, rolled.stderr).toBe(0);
    const summary = JSON.parse(rolled.stdout);
    expect(summary).toMatchObject({ kind: 'rollback', commit: C3 });
    const message = await repo.git(['tag', '-l', '--format=%(contents)', summary.tag]);
    expect(message.split('\n')[0]).toBe(`Roll back ${APP} from ${short(C4)} to ${short(C3)}`);
    expect(parseTrailers(message)).toMatchObject({
      'Deploy-Id': summary.deployId,
      Commit: C3,
      Kind: 'rollback',
      'Rolled-Back-From': C4,
      Request: 'rollback: C4 broke the totals',
    });
  });

  it('making a release live again that was rolled back away from says who took it down, when and why', async () => {
    const C4 = commits[3] ?? '';
    const history = JSON.parse((await run(['history', '--stack', outputs, '--json'])).stdout);
    const when = `${history.deployments[0].finishedAt.replace('T', ' ').slice(0, 19)} UTC`;
    const note = `note: ${APP}@${short(C4)} was rolled back on ${when} by rm-alice ("C4 broke the totals")`;
    for (const argv of [
      ['rollback', '--stack', outputs, '--to', short(C4), '--dry-run'],
      ['promote', short(C4), '--stack', outputs, '--dry-run'],
    ]) {
      const dry = await run(argv);
      expect(dry.code, `${argv.join(' ')}\n${dry.stderr}`).toBe(0);
      expect(dry.stdout, argv.join(' ')).toContain(`  ${note}\n`);
    }
    // A release the stack was not rolled back away from: no note.
    const back = await run(['rollback', '--stack', outputs, '--to', short(commits[1] ?? ''), '--dry-run']);
    expect(back.stdout).not.toContain('was rolled back on');
    // Said, never refused: the rollback goes through, and its output says it too.
    const again = await run(['rollback', '--stack', outputs, '--to', short(C4)]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`  ${note}\n`);
  });
});
