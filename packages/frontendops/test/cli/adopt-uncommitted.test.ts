/**
 * A working tree with uncommitted edits of the app is not the build of HEAD: `publish --commit HEAD`
 * refuses it (exit 2, the files named, nothing published), since a published build is immutable and
 * would keep that commit's real build out for good. `dev` does not publish such a tree either: it
 * says so and deploys only what is published for the commit.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { readManifest, uncommittedAppFiles } from '../../src/deploy/publish.ts';
import { startLocalEnvironment } from '../../src/local/dev.ts';
import { LOCAL_STACK } from '../../src/stacks/local.ts';
import { openSite } from '../../src/stacks/open.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { type CliRun, cli, DEV_READY, serveInProcess } from '../support/run-cli.ts';

let repo: TestRepo;
let tmp: string;
const env = {
  FRONTENDOPS_ACTOR: 'dev-ada',
  FRONTENDOPS_STACK: undefined,
  FRONTENDOPS_CONFIG: undefined,
  FRONTENDOPS_MODEL: undefined,
};
const page = (version: string) => `<!doctype html><title>Brochure</title><h1>Brochure ${version}</h1>\n`;
const index = () => join(repo.dir, 'public', 'index.html');
const head = async () => (await repo.git(['rev-parse', 'HEAD'])).trim();
/** A commit the repository has beside HEAD (as on another branch), HEAD and the working tree untouched. */
const sideCommit = async () =>
  (await repo.git(['commit-tree', 'HEAD^{tree}', '-p', 'HEAD', '-m', `side ${Math.random()}`])).trim();

async function commitVersion(version: string): Promise<string> {
  await writeFile(index(), page(version));
  await repo.git(['commit', '-qam', `brochure ${version}`]);
  return head();
}

/** Edits public/ without committing: a tracked change, an untracked file, and an ignored one. */
async function editWithoutCommitting(): Promise<void> {
  await writeFile(index(), page('DIRTY'));
  await writeFile(join(repo.dir, 'public', 'new.css'), 'h1 { color: red; }\n');
  await writeFile(join(repo.dir, 'public', 'debug.log'), 'ignored\n');
}

async function discardEdits(): Promise<void> {
  await repo.git(['checkout', '--', 'public']);
  await rm(join(repo.dir, 'public', 'new.css'), { force: true });
}

// Each start of the environment runs the agent with its two MCP servers: seconds, more on a busy machine.
const DEV_TIMEOUT = 300_000;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-adopt-dirty-'));
  repo = await createTestRepo();
  await mkdir(join(repo.dir, 'public'), { recursive: true });
  await writeFile(index(), page('v1'));
  await writeFile(join(repo.dir, '.gitignore'), '.frontendops/\n*.log\n');
  await writeFile(
    join(repo.dir, 'frontendops.config.json'),
    JSON.stringify({ app: 'brochure', appPath: 'public', build: { output: '.' } }),
  );
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-q', '-m', 'brochure v1']);
});
afterAll(async () => {
  await repo?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('publish --commit HEAD with uncommitted changes of the app', () => {
  it('is refused, naming the files, why and what to do; nothing is published', {
    timeout: DEV_TIMEOUT,
  }, async () => {
    const config = await loadConfig(repo.dir, {});
    const local = await startLocalEnvironment({ cwd: repo.dir, config });
    const site = await openSite(LOCAL_STACK, config, repo.dir, { onNotice: () => undefined });
    try {
      const v2 = await commitVersion('v2');
      await editWithoutCommitting();
      const refused = await cli(['publish', 'public', '--commit', v2], { cwd: repo.dir, env });
      expect(refused.code, refused.stdout + refused.stderr).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toMatch(/^error: /);
      expect(refused.stderr).toMatch(/public\/index\.html/);
      expect(refused.stderr).toMatch(/public\/new\.css/);
      expect(refused.stderr).not.toMatch(/debug\.log/);
      expect(refused.stderr).toMatch(/uncommitted/);
      expect(refused.stderr).toMatch(/immutable/);
      expect(refused.stderr).toMatch(/[Cc]ommit the changes/);
      expect(refused.stderr).toMatch(/stash/);
      expect(await readManifest(site.artifacts, 'brochure', v2)).toBeNull();

      // Another commit of the repository than HEAD (a build made elsewhere, of a commit on another
      // branch): the working tree is not compared with it.
      const elsewhere = await cli(['publish', 'public', '--commit', await sideCommit()], {
        cwd: repo.dir,
        env,
      });
      expect(elsewhere.code, elsewhere.stderr).toBe(0);

      // Committed (here: the edits put away), HEAD's build publishes.
      await discardEdits();
      const clean = await cli(['publish', 'public', '--commit', v2], { cwd: repo.dir, env });
      expect(clean.code, clean.stderr).toBe(0);
      expect(clean.stdout).toMatch(new RegExp(`published brochure@${v2.slice(0, 7)}`));
    } finally {
      site.close();
      await local.close();
    }
  });

  it('outside a git repository nothing is compared', async () => {
    const plain = join(tmp, 'plain');
    await mkdir(join(plain, 'public'), { recursive: true });
    expect(await uncommittedAppFiles({ root: plain, appPath: 'public', commit: 'ab'.repeat(20) })).toBeNull();
    expect(await uncommittedAppFiles({ root: repo.dir, appPath: 'public', commit: await head() })).toEqual(
      [],
    );
  });
});

describe('frontendops dev with uncommitted changes of the app', () => {
  it('publishes nothing: a commit never published is not deployed (exit 2 under --once), and says what to do', {
    timeout: DEV_TIMEOUT,
  }, async () => {
    const v3 = await commitVersion('v3');
    await editWithoutCommitting();
    const once = await cli(['dev', '--once', '--no-console'], { cwd: repo.dir, env });
    const said = once.stdout + once.stderr;
    expect(once.code, said).toBe(2);
    expect(said).toMatch(/public\/index\.html/);
    expect(said).toMatch(/uncommitted/);
    expect(said).toMatch(/stash/);
    expect(said).not.toMatch(new RegExp(`published brochure@${v3.slice(0, 7)}`));
    expect(once.stderr).not.toMatch(/^error:|\n\s+at /m);

    // Once the tree is clean, that commit's own build is published (it was not before) and deployed.
    await discardEdits();
    const clean = await cli(['dev', '--once', '--no-console'], { cwd: repo.dir, env });
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stderr).toMatch(new RegExp(`published brochure@${v3.slice(0, 7)}`));
    expect(clean.stdout).toMatch(new RegExp(`Deployed brochure ${v3.slice(0, 7)}`));
  });

  it('with the commit already published, deploys that build, not the edits, and says so', {
    timeout: DEV_TIMEOUT,
  }, async () => {
    // v4 is published (as CI would), not deployed: the dev below deploys it, from the edited tree.
    const v4 = await commitVersion('v4');
    const local = await startLocalEnvironment({ cwd: repo.dir, config: await loadConfig(repo.dir, {}) });
    try {
      const published = await cli(['publish', 'public', '--commit', v4], { cwd: repo.dir, env });
      expect(published.code, published.stderr).toBe(0);
    } finally {
      await local.close();
    }
    await editWithoutCommitting();
    const dev = await serveInProcess(['dev', '--no-console'], { cwd: repo.dir, env, ready: DEV_READY });
    let ended: CliRun;
    try {
      expect(dev.output).toMatch(/Serving until Ctrl-C/);
      const body = await (await fetch(dev.url)).text();
      expect(body).toContain('Brochure v4');
      expect(body).not.toContain('DIRTY');
    } finally {
      ended = await dev.stop();
    }
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stdout + ended.stderr).toMatch(new RegExp(`Deployed brochure ${v4.slice(0, 7)}`));
    expect(ended.stdout + ended.stderr).toMatch(/public\/index\.html/);
    expect(ended.stdout + ended.stderr).toMatch(/uncommitted/);
    expect(ended.stderr).not.toMatch(new RegExp(`published brochure@${v4.slice(0, 7)}`));
    await discardEdits();
  });
});
