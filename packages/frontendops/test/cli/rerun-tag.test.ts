/**
 * A deploy stopped after it made its release live (before its record and its deploy tag), then run
 * again as the README says: the re-run finishes and records it, and tags it, through the CLI in a git
 * repository. Before, the re-run's own plan was a no-op ("already live, nothing to do"), so the
 * deployment that went live never got its deploy tag, the anchor `audit verify --repo` checks.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CliTagEnv, startCliTagEnv } from '../support/cli-tag-env.ts';

let s: CliTagEnv;
beforeAll(async () => {
  s = await startCliTagEnv('rerun-tag');
});
afterAll(() => s?.stop());

it('the re-run of a deploy stopped after it went live records and tags it', async () => {
  // dashboard1 deployed and tagged; dashboard2's deploy stopped: live, not recorded, not tagged.
  await s.stoppedAfterFirstDeploy({ text: 'deploy', actor: 'rm-alice' });

  const again = await s.run([
    'deploy',
    '--stack',
    s.outputs,
    '--commit',
    s.repo.commits.dashboard2,
    '--json',
  ]);
  expect(again.code, again.stderr).toBe(0);
  const summary = JSON.parse(again.stdout);
  const record = (await s.t.site.records.listRecords()).records.find(
    (r) => r.commit === s.repo.commits.dashboard2 && r.outcome === 'succeeded',
  );
  expect(summary.finishedInterrupted).toBe(record?.deployId);
  expect(summary.tag).toMatch(/^dashboard-deploy-/);
  expect(await s.tags()).toContain(summary.tag);
  const message = await s.repo.git(['tag', '-l', '--format=%(contents)', summary.tag]);
  expect(message).toContain(`Deploy-Id: ${record?.deployId}`);

  // In words too.
  const words = await s.run(['deploy', '--stack', s.outputs, '--commit', s.repo.commits.dashboard2]);
  expect(words.stdout).toMatch(new RegExp(`already live \\(as ${record?.deployId}\\), nothing to do`));
});
