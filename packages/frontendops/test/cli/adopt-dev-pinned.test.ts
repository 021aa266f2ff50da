/**
 * `frontendops dev` restarted while the local stack is pinned (a rollback pins it): it keeps serving
 * the pinned release and says what to do, instead of exiting; `unpin` then works against it, and the
 * next start deploys the latest again. Under --once a pin is reported and refused (exit 2), not a
 * failure.
 */
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_DIR } from '../../src/stacks/local-env-file.ts';
import { createBrochureRepo, snapshotRepo, type TestRepo } from '../support/git-repo.ts';
import { type CliRun, cli, DEV_READY, serveInProcess } from '../support/run-cli.ts';
import { sharedHistory } from '../support/shared-history.ts';

let repo: TestRepo;
let v2: string;
/** What the rollback in beforeAll said. */
let rollback: CliRun;
const PINS = 'a rollback while dev serves pins the stack';
/** beforeAll's history: checked by the case PINS, the start of every other case. */
const history = sharedHistory(PINS);
const ROLLED_BACK = 'dev serves v1, v2 goes live, a rollback takes it back';
/** The repository and its local stack as the cases after the first start from them: see beforeAll. */
let pinnedByRollback: { restore(): Promise<void> };
const env = {
  FRONTENDOPS_ACTOR: 'dev-ada',
  FRONTENDOPS_STACK: undefined,
  FRONTENDOPS_CONFIG: undefined,
  FRONTENDOPS_MODEL: undefined,
};
const page = (version: string) => `<!doctype html><title>Brochure</title><h1>Brochure ${version}</h1>\n`;
const newRepo = () => createBrochureRepo({ 'index.html': page('v1') }, 'brochure v1');
const devOnce = () => cli(['dev', '--once', '--no-console'], { cwd: repo.dir, env });

/** `frontendops dev` serving, in this process, until stop(). */
const serveDev = (dir = repo.dir) =>
  serveInProcess(['dev', '--no-console'], { cwd: dir, env, ready: DEV_READY });

const served = async (siteUrl: string) => (await fetch(siteUrl)).text();
/** Waits until the site serves `text`, as expect.poll does; beforeAll, too, can wait so. */
const servesSoon = (siteUrl: string, text: string) =>
  vi.waitFor(async () => expect(await served(siteUrl)).toContain(text));

// Each start of the environment runs the agent with its two MCP servers: seconds, more on a busy machine.
const DEV_TIMEOUT = 300_000;

/**
 * In `repo`, of v1 alone and never served: `dev` deploys v1; v2, published and deployed from a
 * second terminal, goes live; a rollback takes it back to v1 and pins the stack. Returns v2's sha
 * and what the rollback said.
 */
async function rollBackWhileDevServes({ dir, git }: TestRepo): Promise<{ v2: string; rollback: CliRun }> {
  const dev = await serveDev(dir);
  try {
    await servesSoon(dev.url, 'Brochure v1');
    // A new version, published and deployed from a second terminal, then rolled back.
    await writeFile(join(dir, 'public', 'index.html'), page('v2'));
    await git(['commit', '-qam', 'brochure v2']);
    const sha = (await git(['rev-parse', 'HEAD'])).trim();
    for (const argv of [
      ['publish', 'public', '--commit', sha],
      ['deploy', '--latest', '--yes'],
    ]) {
      const step = await cli(argv, { cwd: dir, env });
      expect(step.code, step.stderr).toBe(0);
      // A one-page site: "1 file", not "1 files".
      if (argv[0] === 'publish') expect(step.stdout).toMatch(/: 1 file, \d+ bytes/);
    }
    await servesSoon(dev.url, 'Brochure v2');
    const rollback = await cli(['rollback', '--yes'], { cwd: dir, env });
    expect(rollback.code, rollback.stderr).toBe(0);
    await servesSoon(dev.url, 'Brochure v1');
    return { v2: sha, rollback };
  } finally {
    expect((await dev.stop()).code).toBe(0);
  }
}

/** The copies snapshotLocal made, deleted after the file. */
const copies: string[] = [];

/**
 * The repository's refs and its local stack (.frontendops/: the buckets, the preview secret, the
 * site's port) as they are now, to put back while no environment runs there.
 */
async function snapshotLocal(repo: TestRepo): Promise<{ restore(): Promise<void> }> {
  const history = await snapshotRepo(repo);
  const local = join(repo.dir, LOCAL_DIR);
  const copy = `${repo.dir}-local-snapshot`;
  await cp(local, copy, { recursive: true, preserveTimestamps: true });
  copies.push(copy);
  return {
    async restore() {
      await history.restore();
      await rm(local, { recursive: true, force: true });
      await cp(copy, local, { recursive: true, preserveTimestamps: true });
    },
  };
}

beforeAll(async () => {
  repo = await newRepo();
  await history.step(ROLLED_BACK, async () => {
    ({ v2, rollback } = await rollBackWhileDevServes(repo));
    pinnedByRollback = await snapshotLocal(repo);
  });
}, DEV_TIMEOUT);
afterAll(async () => {
  await repo?.cleanup();
  for (const copy of copies) await rm(copy, { recursive: true, force: true });
});

describe('frontendops dev on a pinned stack', () => {
  it(PINS, (context) => {
    // beforeAll's history (each step checked as it ran: dev served v1, then v2, then v1 again after
    // the rollback), which the other cases start from; the rollback said it pinned v1.
    history.check(context, ROLLED_BACK);
    expect(rollback.stdout).toMatch(/^ {2}pinned to [0-9a-f]{7}: /m);
    expect(rollback.stdout).not.toMatch(new RegExp(`pinned to ${v2.slice(0, 7)}`));
  });

  it('dev started again keeps serving the pinned release, says so and how to go on; unpin then works', {
    timeout: DEV_TIMEOUT,
  }, async (context) => {
    history.need(context);
    await pinnedByRollback.restore();
    const dev = await serveDev();
    let ended: CliRun | undefined;
    try {
      expect(dev.output).toMatch(/local is pinned to brochure@[0-9a-f]{7}/);
      expect(dev.output).toMatch(/frontendops unpin/);
      expect(dev.output).toMatch(/frontendops promote/);
      expect(dev.output).not.toMatch(/SUCCEEDED/);
      await expect.poll(() => served(dev.url)).toContain('Brochure v1');

      const unpin = await cli(['unpin'], { cwd: repo.dir, env });
      expect(unpin.code, unpin.stderr).toBe(0);
      expect(unpin.stdout).toMatch(/Unpinned local/);
      // Pinned again, as a person would hold v1.
      const pin = await cli(['pin', '--message', 'hold v1'], { cwd: repo.dir, env });
      expect(pin.code, pin.stderr).toBe(0);
    } finally {
      ended = await dev.stop();
    }
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).not.toMatch(/^error:/m);
  });

  it('dev --once on a pinned stack reports the pin and exits 2 (refused), with nothing deployed', {
    timeout: DEV_TIMEOUT,
  }, async (context) => {
    history.need(context);
    await pinnedByRollback.restore();
    const once = await devOnce();
    expect(once.code, once.stdout + once.stderr).toBe(2);
    expect(once.stdout + once.stderr).toMatch(/local is pinned to brochure@[0-9a-f]{7}/);
    expect(once.stdout + once.stderr).toMatch(/frontendops unpin/);
    expect(once.stderr).not.toMatch(/^error:|\n\s+at /m);
    expect(once.stdout).not.toMatch(/SUCCEEDED/);
  });

  it('pinned, with uncommitted edits of a commit never published: says why, never "promote" a build that does not exist', {
    timeout: DEV_TIMEOUT,
  }, async (context) => {
    history.need(context);
    await pinnedByRollback.restore();
    const file = join(repo.dir, 'public', 'index.html');
    const before = await readFile(file, 'utf8');
    await writeFile(file, before.replace('</h1>', ' v3</h1>'));
    await repo.git(['commit', '-qam', 'brochure v3']);
    await writeFile(file, before.replace('</h1>', ' v3, edited</h1>'));
    try {
      const once = await devOnce();
      const said = once.stdout + once.stderr;
      expect(once.code, said).toBe(2);
      expect(said).toMatch(/local is pinned to brochure@[0-9a-f]{7}/);
      expect(said).toMatch(/The latest commit, brochure@[0-9a-f]{7}, has no published build/);
      expect(said).toMatch(/Commit them \(or stash them/);
      expect(said).not.toMatch(/the latest build, brochure@[0-9a-f]{7}, was not deployed/);
    } finally {
      await repo.git(['checkout', '--', 'public']);
      await repo.git(['reset', '-q', '--hard', 'HEAD~1']);
    }
  });

  it('after unpin, dev deploys the latest again', { timeout: DEV_TIMEOUT }, async (context) => {
    history.need(context);
    await pinnedByRollback.restore();
    const dev = await serveDev();
    try {
      const unpin = await cli(['unpin'], { cwd: repo.dir, env });
      expect(unpin.code, unpin.stderr).toBe(0);
    } finally {
      expect((await dev.stop()).code).toBe(0);
    }
    const once = await devOnce();
    expect(once.code, once.stdout + once.stderr).toBe(0);
    expect(once.stdout).toMatch(new RegExp(`Deployed brochure ${v2.slice(0, 7)}`));
  });
});
