/**
 * How far the deploy tags anchor the chain. Whoever can push to git deletes the newest deploy tags:
 * `audit verify --repo` still checks the chain against the tags left, and the deployments after the
 * newest of them rest on the state bucket alone. Before, verify said "checked against N deploy
 * tag(s)" and nothing more; now it says up to which entry the tags anchor the chain and which
 * deployments after it have no tag (a note: it still exits 0). A pin after the last deploy (no tag
 * is due for it) says nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openLocalGit } from '../../src/adapters/git-local.ts';
import { toAuditStatus } from '../../src/console/views.ts';
import { parseTrailers } from '../../src/git/deploy-tag.ts';
import { readAuditAnchors } from '../../src/read/tags.ts';
import { verifySite } from '../../src/read/verify-site.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
let t: TestDeployEnv;
let repo: TestRepo;
let outputs: string;
let env: Record<string, string>;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'tag-coverage' });
  repo = await createTestRepo();
  await publishFixtureBuilds(t, APP, [repo.commits.dashboard1, repo.commits.dashboard2], { from: 0 });
  outputs = await t.writeOutputs({ cdn: true });
  env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
});
afterAll(async () => {
  await repo?.cleanup();
  await t?.stop();
});

const run = (argv: string[]) => cli(argv, { env, cwd: repo.dir });
const contentsOf = (tag: string) => repo.git(['tag', '-l', '--format=%(contents)', tag]);
const verify = () => run(['audit', 'verify', '--stack', outputs, '--repo', repo.dir]);
const verifyJson = async () =>
  JSON.parse((await run(['audit', 'verify', '--stack', outputs, '--repo', repo.dir, '--json'])).stdout);
const consoleBadge = async () =>
  toAuditStatus(
    await verifySite(
      t.site,
      await readAuditAnchors(await openLocalGit({ repoDir: repo.dir }), 'tag-coverage'),
    ),
  );

it('says which deployments after the newest deploy tag rest on the state bucket alone', async () => {
  for (const commit of [repo.commits.dashboard1, repo.commits.dashboard2]) {
    const deployed = await run(['deploy', '--stack', outputs, '--commit', commit, '--json']);
    expect(deployed.code, deployed.stderr).toBe(0);
  }
  // A pin after the last deploy: an entry no tag is due for. Routine: no note.
  const pinned = await run(['pin', '--stack', outputs, '--message', 'freeze']);
  expect(pinned.code, pinned.stderr).toBe(0);
  const all = await verify();
  expect(all.code, all.stdout + all.stderr).toBe(0);
  expect(all.stdout).toContain('checked against 2 deploy tag(s) in git');
  expect(all.stdout).not.toMatch(/state bucket alone/);
  expect((await verifyJson()).untagged).toBeNull();
  expect((await consoleBadge()).notes).toEqual([]);

  // Whoever can push deletes the newest deploy tag.
  const tags = (await repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean);
  expect(tags).toHaveLength(2);
  const [older, newer] = (
    await Promise.all(
      tags.map(async (tag) => ({
        tag,
        seq: Number(parseTrailers(await contentsOf(tag))['Audit-Head']?.split(':')[0]),
      })),
    )
  ).sort((a, b) => a.seq - b.seq);
  await repo.git(['tag', '-d', String(newer?.tag)]);
  const upTo = Number(older?.seq);
  const deployedAt = Number(newer?.seq);

  // Before: exit 0, "checked against 1 deploy tag(s) in git", and nothing about the deploy after it.
  const after = await verify();
  expect(after.code, after.stdout + after.stderr).toBe(0);
  expect(after.stdout).toContain('checked against 1 deploy tag(s) in git');
  const json = await verifyJson();
  expect(json.ok).toBe(true);
  const note = `note: the deploy tags anchor the chain up to entry ${upTo} of ${json.entries}; the ${json.entries - upTo} entries after it rest on the state bucket alone, among them deployment entry ${deployedAt}, which has no deploy tag here (never made, or deleted)`;
  expect(after.stdout).toContain(note);
  expect(json.untagged).toEqual({ anchoredUpTo: upTo, entries: json.entries, deployments: [deployedAt] });
  // The console's badge says the same thing, once.
  expect((await consoleBadge()).notes).toEqual([note.slice('note: '.length)]);
});
