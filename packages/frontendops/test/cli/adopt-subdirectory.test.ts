/**
 * Commands run anywhere inside the repository act as at its top, as git does: the project root is
 * the nearest directory above the working directory (or -C) that holds frontendops.config.json,
 * up to the git top-level; its configuration and its running local environment are the ones used,
 * by the command and by the MCP servers the agent spawns. Paths given on the command line stay
 * relative to where the command was started.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProjectRoot, loadConfig } from '../../src/config.ts';
import { type LocalEnvironment, startLocalEnvironment } from '../../src/local/dev.ts';
import { LOCAL_STACK } from '../../src/stacks/local.ts';
import { openSite } from '../../src/stacks/open.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { cli } from '../support/run-cli.ts';

let repo: TestRepo;
let other: TestRepo;
let tmp: string;
let local: LocalEnvironment | undefined;
let closeSite: (() => void) | undefined;
let publicDir: string;
let aboutDir: string;
/** The local stack as the cases start from it: nothing deployed yet; the latest deployed from public/about. */
let fresh: BucketSnapshot;
let deployed: BucketSnapshot;
const env = {
  FRONTENDOPS_ACTOR: 'brochure-team',
  FRONTENDOPS_STACK: undefined,
  FRONTENDOPS_CONFIG: undefined,
  FRONTENDOPS_MODEL: undefined,
};

// Each start of the environment runs the agent with its two MCP servers: seconds, more on a busy machine.
const DEV_TIMEOUT = 300_000;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-adopt-subdir-'));
  repo = await createTestRepo();
  other = await createTestRepo();
  publicDir = join(repo.dir, 'public');
  aboutDir = join(publicDir, 'about');
  await mkdir(aboutDir, { recursive: true });
  await writeFile(join(publicDir, 'index.html'), '<!doctype html><title>Brochure</title><h1>Brochure</h1>\n');
  await writeFile(join(aboutDir, 'index.html'), '<!doctype html><title>About</title><h1>About</h1>\n');
  await writeFile(join(repo.dir, '.gitignore'), '.frontendops/\n');
  await writeFile(
    join(repo.dir, 'frontendops.config.json'),
    JSON.stringify({ app: 'brochure', appPath: 'public', build: { output: '.' } }),
  );
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-q', '-m', 'The brochure site']);
  // `frontendops dev` at the top of the repository: what a second terminal in public/ must find.
  const config = await loadConfig(repo.dir, {});
  local = await startLocalEnvironment({ cwd: repo.dir, config });
  const site = await openSite(LOCAL_STACK, config, repo.dir, { onNotice: () => undefined });
  closeSite = () => site.close();
  fresh = await snapshotStack(site);
  const deploy = await cli(['deploy', '--latest', '--yes'], { cwd: aboutDir, env });
  expect(deploy.code, deploy.stderr).toBe(0);
  deployed = await snapshotStack(site);
}, DEV_TIMEOUT);
afterAll(async () => {
  closeSite?.();
  await local?.close();
  await repo?.cleanup();
  await other?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the project root', () => {
  it('is the nearest directory up from the working directory that holds frontendops.config.json', async () => {
    expect(await findProjectRoot(aboutDir)).toBe(repo.dir);
    expect(await findProjectRoot(publicDir)).toBe(repo.dir);
    expect(await findProjectRoot(repo.dir)).toBe(repo.dir);
  });

  it('without a configuration: the git top-level in a git repository, else the working directory', async () => {
    expect(await findProjectRoot(join(other.dir, 'apps', 'sophia-dashboard'))).toBe(other.dir);
    const plain = join(tmp, 'plain', 'sub');
    await mkdir(plain, { recursive: true });
    expect(await findProjectRoot(plain)).toBe(plain);
  });

  it('stops at the git top-level: a configuration above the repository is not its', async () => {
    // A directory of its own: the configuration it writes is not above the other cases' directories.
    const outer = join(tmp, 'outer');
    await mkdir(outer);
    await writeFile(join(outer, 'frontendops.config.json'), JSON.stringify({ app: 'outer' }));
    const inner = join(outer, 'inner');
    await mkdir(join(inner, '.git', 'objects'), { recursive: true });
    await mkdir(join(inner, 'src'), { recursive: true });
    expect(await findProjectRoot(join(inner, 'src'))).toBe(inner);
    expect(await findProjectRoot(join(outer, 'plain'))).toBe(outer);
  });
});

describe('commands run in the app directory', () => {
  it('status finds the local environment without flags, and with --stack local', async () => {
    for (const argv of [
      ['status', '--json'],
      ['status', '--json', '--stack', 'local'],
    ]) {
      const run = await cli(argv, { cwd: publicDir, env });
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ stack: 'local' });
    }
  });

  it('deploy --latest from a directory below it deploys the app of the configuration', {
    timeout: DEV_TIMEOUT,
  }, async () => {
    await fresh.restore();
    const run = await cli(['deploy', '--latest', '--yes'], { cwd: aboutDir, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/deploy brochure@[0-9a-f]{7} → local: succeeded/);
    expect(await (await fetch(local?.env.edgeUrl as string)).text()).toContain('<h1>Brochure</h1>');
  });

  it('the agent, and the MCP servers it spawns, act for the repository', {
    timeout: DEV_TIMEOUT,
  }, async () => {
    await deployed.restore();
    const run = await cli(['agent', 'what is live'], { cwd: publicDir, env });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/FAILED|without a stack/);
    expect(run.stdout).toMatch(/brochure/);
  });

  it('-C <dir> below the root acts for the repository too', async () => {
    const run = await cli(['-C', publicDir, 'status', '--json'], { cwd: tmp, env });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ stack: 'local' });
  });

  it('a path on the command line is relative to where the command was started', async () => {
    // In public/about, "." is public/about (one file), not the repository's top.
    // Commits the repository has beside HEAD (a publish names a commit of the repository).
    const side = async () =>
      (await repo.git(['commit-tree', 'HEAD^{tree}', '-p', 'HEAD', '-m', `side ${Math.random()}`])).trim();
    const commit = await side();
    const run = await cli(['publish', '.', '--commit', commit, '--json'], { cwd: aboutDir, env });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ app: 'brochure', commit, files: 1 });
    // And with -C, relative to that directory, as if started there.
    const again = await cli(['-C', publicDir, 'publish', 'about', '--commit', await side(), '--json'], {
      cwd: tmp,
      env,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ files: 1 });
  });
});
