/**
 * How far the deploy tags anchor the chain. Whoever can push to git deletes the newest deploy tags:
 * `audit verify --repo` still checks the chain against the tags left, and the deployments after the
 * newest of them rest on the state bucket alone. Before, verify said "checked against N deploy
 * tag(s)" and nothing more; now it says up to which entry the tags anchor the chain and which
 * deployments after it have no tag (a note: it still exits 0). A pin after the last deploy (no tag
 * is due for it) says nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocalGit, openLocalGit } from '../../src/adapters/git-local.ts';
import { loadConfig } from '../../src/config.ts';
import { startConsole } from '../../src/console/server.ts';
import { toAuditStatus } from '../../src/console/views.ts';
import { parseTrailers } from '../../src/git/deploy-tag.ts';
import { readAuditAnchors } from '../../src/read/tags.ts';
import { verifySite } from '../../src/read/verify-site.ts';
import { hasChromium, openChromium } from '../support/browser.ts';
import { type CliTagEnv, startCliTagEnv } from '../support/cli-tag-env.ts';

let s: CliTagEnv;
beforeAll(async () => {
  s = await startCliTagEnv('tag-coverage');
});
afterAll(() => s?.stop());

const contentsOf = (tag: string) => s.repo.git(['tag', '-l', '--format=%(contents)', tag]);
const verify = () => s.run(['audit', 'verify', '--stack', s.outputs, '--repo', s.repo.dir]);
const verifyJson = async () =>
  JSON.parse((await s.run(['audit', 'verify', '--stack', s.outputs, '--repo', s.repo.dir, '--json'])).stdout);
const consoleBadge = async () =>
  toAuditStatus(
    await verifySite(
      s.t.site,
      await readAuditAnchors(await openLocalGit({ repoDir: s.repo.dir }), 'tag-coverage'),
    ),
  );

it('says which deployments after the newest deploy tag rest on the state bucket alone', async () => {
  for (const commit of [s.repo.commits.dashboard1, s.repo.commits.dashboard2]) {
    const deployed = await s.run(['deploy', '--stack', s.outputs, '--commit', commit, '--json']);
    expect(deployed.code, deployed.stderr).toBe(0);
  }
  // A pin after the last deploy: an entry no tag is due for. Routine: no note.
  const pinned = await s.run(['pin', '--stack', s.outputs, '--message', 'freeze']);
  expect(pinned.code, pinned.stderr).toBe(0);
  const all = await verify();
  expect(all.code, all.stdout + all.stderr).toBe(0);
  expect(all.stdout).toContain('checked against 2 deploy tag(s) in git');
  expect(all.stdout).not.toMatch(/state bucket alone/);
  expect((await verifyJson()).untagged).toBeNull();
  expect((await consoleBadge()).notes).toEqual([]);

  // Whoever can push deletes the newest deploy tag.
  const tags = await s.tags();
  expect(tags).toHaveLength(2);
  const [older, newer] = (
    await Promise.all(
      tags.map(async (tag) => ({
        tag,
        seq: Number(parseTrailers(await contentsOf(tag))['Audit-Head']?.split(':')[0]),
      })),
    )
  ).sort((a, b) => a.seq - b.seq);
  await s.repo.git(['tag', '-d', String(newer?.tag)]);
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
  // The console says the same thing, once, as what it is: deployments with no deploy tag, not
  // something verify did not check.
  const badge = await consoleBadge();
  expect(badge.untagged).toEqual({ deployments: [deployedAt], note: note.slice('note: '.length) });
  expect(badge.notes).toEqual([]);
  if (!hasChromium) return;
  const server = await startConsole({
    config: await loadConfig(s.t.tmp),
    stacks: ['tag-coverage'],
    openSite: async () => s.t.site,
    git: createLocalGit({ repoDir: s.repo.dir }),
  });
  const browser = await openChromium();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(server.signInAddress());
    const shown = page.getByText(/^audit verified/);
    await expect
      .poll(() => shown.textContent())
      .toBe(`audit verified · ${json.entries} entries · 1 deployment with no deploy tag`);
    expect(await shown.getAttribute('title')).toContain(note.slice('note: '.length));
  } finally {
    await browser.close();
    await server.close();
  }
});
