/**
 * A deploy tag's Audit-Head held to the deployment the tag names (its deploy id, commit and build).
 * FrontendOps writes a tag's head at its deployment's entry or after it, so the chain up to that head
 * records the deployment. Whoever can push can push a tag with a real head the chain holds (another
 * deployment's) or one no chain has (entry 0): verify said nothing of either; now each is reported as
 * the tag it is. Whoever can write the state bucket can put it back as it was before the newest
 * deployment and let the same deploy run again (same deploy id) write its entry where the first one's
 * was, under a tag of its own: verify named the first, true tag as the false one ("delete it"),
 * because the new tag agreed with the chain at that entry. Nothing tells that from a pushed copy with
 * another hash: both readings are said.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseTrailers } from '../../src/git/deploy-tag.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { type CliTagEnv, startCliTagEnv } from '../support/cli-tag-env.ts';
import { verifyReasons } from '../support/run-cli.ts';

let s: CliTagEnv;
/** The state and hosting buckets after the first deploy, before the second. */
let afterFirst: BucketSnapshot;
let tags: { first: string; second: string };

const contentsOf = async (tag: string) =>
  (await s.repo.git(['tag', '-l', '--format=%(contents)', tag])).trimEnd();
const headOf = async (tag: string) => parseTrailers(await contentsOf(tag))['Audit-Head'] as string;
const deploy = async (commit: string) => {
  const deployed = await s.run(['deploy', '--stack', s.outputs, '--commit', commit, '--json']);
  expect(deployed.code, deployed.stderr).toBe(0);
  return JSON.parse(deployed.stdout).tag as string;
};
const problemsOf = async (argv: string[] = []) =>
  verifyReasons(await s.run(['audit', 'verify', '--stack', s.outputs, '--json', ...argv]));

beforeAll(async () => {
  s = await startCliTagEnv('tag-anchors');
  const first = await deploy(s.repo.commits.dashboard1);
  afterFirst = await snapshotBuckets([
    { store: s.t.site.state, prefix: s.t.target.statePrefix },
    { store: s.t.site.hosting },
  ]);
  tags = { first, second: await deploy(s.repo.commits.dashboard2) };
});
afterAll(() => s?.stop());

it('a tag carrying a real head that is not its deployment, or a head no chain has, is reported as that tag', async () => {
  // Copies of the second deploy's tag: one with the first deploy's head (an entry the chain holds,
  // before the second deployment's), one with entry 0.
  const message = await contentsOf(tags.second);
  const commit = (await s.repo.git(['rev-parse', `${tags.second}^{commit}`])).trim();
  const planted = ['dashboard-deploy-20991231-1', 'dashboard-deploy-20991231-2'];
  const heads = [await headOf(tags.first), `0:sha256:${'0'.repeat(64)}`];
  for (const [i, name] of planted.entries()) {
    const text = message.replace(/^Audit-Head: .*$/m, `Audit-Head: ${heads[i]}`);
    await s.repo.git(['tag', '-a', '--cleanup=verbatim', '-m', text, name, commit]);
  }
  try {
    const { code, reasons } = await problemsOf();
    expect(code).toBe(1);
    expect(reasons).toHaveLength(2);
    for (const name of planted) {
      const reason: string = reasons.find((r: string) => r.includes(name)) ?? '';
      expect(reason).toMatch(
        /is no record of a deployment \(someone who can push to the repository pushed or moved it\); delete it/,
      );
      expect(reason).not.toMatch(/the chain was rewritten|entries were removed/);
    }
  } finally {
    await s.repo.git(['tag', '-d', ...planted]);
  }
  const clean = await s.run(['audit', 'verify', '--stack', s.outputs]);
  expect(clean.code, clean.stdout).toBe(0);
});

it('the newest deployment cut off the chain, and the next deploy written where it was: the true tag is not blamed', async () => {
  const cut = await headOf(tags.second);
  // Whoever can write the state bucket puts it back as it was before the second deploy (its entries,
  // record and pointer gone, the head moved back); the next deploy appends where the cut one was.
  await afterFirst.restore();
  const next = await deploy(s.repo.commits.dashboard2);
  expect((await headOf(next)).split(':')[0]).toBe(cut.split(':')[0]);
  const deployIdOf = async (tag: string) => parseTrailers(await contentsOf(tag))['Deploy-Id'];
  expect(await deployIdOf(next)).toBe(await deployIdOf(tags.second));
  const { code, reasons } = await problemsOf(['--repo', s.repo.dir]);
  expect(code).toBe(1);
  expect(reasons).toHaveLength(1);
  expect(reasons[0]).toContain(tags.second);
  expect(reasons[0]).not.toMatch(/delete it/);
  expect(reasons[0]).toMatch(/the chain was rewritten, or deploy tag .* was pushed/);
});
