/**
 * `frontendops console` beside `npm start`: the console `dev` serves recorded its address and token in
 * .frontendops/env.json, and a second `console` asks it for a new sign-in address (each works once)
 * instead of starting another console. The old one printed the address stored in the file, the
 * console's token in it, the same for the console's life.
 */
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { type LocalEnv, writeLocalEnv } from '../../src/stacks/local-env-file.ts';
import { nodeRunnableByOthers, runCli } from '../support/cli.ts';
import { newSession, sessionInPage } from '../support/console-sign-in.ts';
import { cli } from '../support/run-cli.ts';

const env = { FRONTENDOPS_STACK: undefined, FRONTENDOPS_CONFIG: undefined, FRONTENDOPS_MODEL: undefined };
let dir: string;
let server: ConsoleServer;

/** What `dev` writes (writeLocalEnv: owner-only), naming this process and `console`'s address and token. */
async function announce(console: { url: string; token: string }): Promise<LocalEnv> {
  const announced: LocalEnv = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    s3Endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    buckets: { artifacts: 'a', hosting: 'h' },
    distributionId: 'E1LOCALEDGE',
    edgeUrl: 'http://127.0.0.1:2/',
    cdnEndpoint: 'http://127.0.0.1:3/',
    consoleUrl: console.url,
    consoleToken: console.token,
    dataDir: join(dir, '.frontendops'),
  };
  await writeLocalEnv(dir, announced);
  return announced;
}

/** `frontendops console` in that directory; it would serve until stopped if it started a console. */
const runConsole = () => cli(['console'], { env, cwd: dir, stopped: Promise.resolve() });
const printedAddress = (stdout: string) => /^FrontendOps console: (\S+)$/m.exec(stdout)?.[1] ?? '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-console-running-'));
  // As `dev` makes it: its owner's only.
  await mkdir(join(dir, '.frontendops'), { mode: 0o700 });
  server = await startConsole({
    config: defaultConfig(),
    stacks: ['local'],
    openSite: async () => {
      throw new Error('no stack is opened by these tests');
    },
  });
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('frontendops console beside npm start', () => {
  it('prints a new sign-in address of the running console each time, never its token', async () => {
    await announce(server);
    const first = await runConsole();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/served by the local environment \(`npm start`, pid \d+\)/);
    expect(first.stdout).not.toContain(server.token);
    const address = printedAddress(first.stdout);
    expect(address.startsWith(`${server.url}?signin=`), first.stdout).toBe(true);
    expect(sessionInPage(await (await fetch(address)).text())).not.toBeNull();
    // Spent: a second `console` prints another one, which works.
    expect((await fetch(address)).status).toBe(403);
    const second = printedAddress((await runConsole()).stdout);
    expect(second).not.toBe(address);
    expect(sessionInPage(await (await fetch(second)).text())).not.toBeNull();
  });

  it('--sign-out-all ends every browser session of the running console; a new sign-in works', async () => {
    await announce(server);
    const sessions = [await newSession(server), await newSession(server)];
    const sessionStatus = (id: string) =>
      fetch(`${server.url}api/session`, { headers: { authorization: `Bearer ${id}` } }).then((r) => r.status);
    const run = await cli(['console', '--sign-out-all'], { env, cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^Ended every browser session of the console `npm start` serves \(\d+ live\)/m,
    );
    expect(run.stdout).not.toContain(server.token);
    for (const id of sessions) expect(await sessionStatus(id)).toBe(401);
    expect(await sessionStatus(await newSession(server))).toBe(200);
  });

  it('--sign-out-all with no console `npm start` serves here: says what to do, exit 2', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'frontendops-console-none-'));
    try {
      const run = await cli(['console', '--sign-out-all'], { env, cwd: empty });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^error: No console `npm start` serves for this directory.*Ctrl-C/m);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      const mixed = await cli(['console', '--sign-out-all', '--port', '8400'], { env, cwd: empty });
      expect(mixed.code).toBe(2);
      expect(mixed.stderr).toMatch(
        /^error: --sign-out-all starts no console, so it takes no --stack, --port/m,
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('a console that does not answer: says so and what to do, prints no address', async () => {
    const gone = await startConsole({
      config: defaultConfig(),
      stacks: ['local'],
      openSite: async () => {
        throw new Error('no stack is opened by these tests');
      },
    });
    await gone.close();
    await announce(gone);
    const run = await runConsole();
    expect(run.code).not.toBe(0);
    expect(run.stdout).not.toMatch(/FrontendOps console:/);
    expect(run.stderr).toMatch(
      /did not give a sign-in address: .*Restart `npm start`, or start another console with `frontendops console --new`/,
    );
  });

  it('an env.json others may read, or one of another user, is not believed: says what to do, prints no address', async () => {
    // Another local user's console (any server would do) and a file naming it, planted in the checkout.
    const theirs = await startConsole({
      config: defaultConfig(),
      stacks: ['local'],
      openSite: async () => {
        throw new Error('no stack is opened by these tests');
      },
    });
    try {
      const file = join(dir, '.frontendops', 'env.json');
      await announce(theirs);
      await chmod(file, 0o644);
      const shared = await runConsole();
      expect(shared.code).not.toBe(0);
      expect(shared.stdout).not.toMatch(/FrontendOps console:/);
      expect(shared.stderr).toMatch(
        /\.frontendops\/env\.json can be read by others than you \(mode 0644\), so it is not believed: .*If you did not write it, remove it \(`rm \.frontendops\/env\.json`\).*`chmod 600 \.frontendops\/env\.json`/,
      );
      if (process.getuid?.() === 0) {
        // Root may hand it to another user: a file of theirs, mode 0600, is not believed either.
        await chmod(file, 0o600);
        await chown(file, 4242, 4242);
        const foreign = await runConsole();
        expect(foreign.code).not.toBe(0);
        expect(foreign.stdout).not.toMatch(/FrontendOps console:/);
        expect(foreign.stderr).toMatch(
          /env\.json belongs to another user \(uid 4242; you are uid 0\), so it is not believed/,
        );
      }
    } finally {
      await theirs.close();
    }
  });

  it('an env.json in a .frontendops others may write, or another user owns, is not believed: says what to do', async () => {
    const folder = join(dir, '.frontendops');
    // A genuine env.json (0600, ours), in a folder whoever else may write could have put it in.
    await announce(server);
    try {
      await chmod(folder, 0o775);
      const open = await runConsole();
      expect(open.code).not.toBe(0);
      expect(open.stdout).not.toMatch(/FrontendOps console:/);
      expect(open.stderr).toMatch(
        /\.frontendops may be written by others than you \(mode 0775\), so \.frontendops\/env\.json in it is not believed: .*`chmod 700 \.frontendops`.*`rm -r \.frontendops`/,
      );
      if (process.getuid?.() === 0) {
        await chmod(folder, 0o700);
        await chown(folder, 4242, 4242);
        const foreign = await runConsole();
        expect(foreign.code).not.toBe(0);
        expect(foreign.stdout).not.toMatch(/FrontendOps console:/);
        expect(foreign.stderr).toMatch(
          /\.frontendops belongs to another user \(uid 4242; you are uid 0\), so \.frontendops\/env\.json in it is not believed/,
        );
      }
    } finally {
      if (process.getuid?.() === 0) await chown(folder, 0, 0);
      await chmod(folder, 0o700);
    }
  });

  it('an env.json you may not open is said so, not taken as no local environment', async (ctx) => {
    const file = join(dir, '.frontendops', 'env.json');
    await announce(server);
    const said =
      /\.frontendops\/env\.json could not be opened \(EACCES\), so whether a local environment runs here is not known\. Nothing was done\./;
    if (process.getuid?.() !== 0) {
      await chmod(file, 0o000);
      try {
        const run = await cli(['status'], { env, cwd: dir });
        expect(run.code).not.toBe(0);
        expect(run.stderr).toMatch(said);
      } finally {
        await chmod(file, 0o600);
      }
      return;
    }
    // Root opens any file: the CLI runs as another user (nobody), who may enter the directory but
    // not open root's env.json (0600). Nobody must be able to run this Node: one installed under a
    // private temporary folder (CI's second Node line) cannot be, and the first line's run holds it.
    if (!nodeRunnableByOthers()) ctx.skip();
    await chmod(dir, 0o755);
    await chmod(join(dir, '.frontendops'), 0o755);
    try {
      const run = await runCli(['status'], { ...env, HOME: dir }, dir, { uid: 65534, gid: 65534 });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(said);
      expect(run.stderr).not.toMatch(/no local environment runs/);
    } finally {
      await chmod(join(dir, '.frontendops'), 0o700);
      await chmod(dir, 0o700);
    }
  });
});
