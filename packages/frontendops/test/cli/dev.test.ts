/**
 * `npm start -- --once` as a new user runs it, in a fresh clone of this repository: the embedded
 * S3 server, the local edge, the dashboard build, and the deploy through the agent with its tag.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli.ts';
import { sessionInPage } from '../support/console-sign-in.ts';
import { GIT_IDENTITY } from '../support/git-repo.ts';
import { runTracked, spawnTracked } from '../support/processes.ts';

const run = promisify(execFile);
let clone: string;
let tmp: string;
const cli = () => join(clone, 'packages', 'frontendops', 'bin', 'frontendops.js');
const startOnce = (env: Record<string, string>) =>
  runTracked('npm', ['start', '--silent', '--', '--once'], { cwd: clone, env: { ...process.env, ...env } });

/**
 * A fresh clone of this working tree (what is committed plus what is not yet, minus what git
 * ignores), as a repository of its own: so the test runs the code under test, not the last commit,
 * and no tag of this checkout (say, from an `npm start` here) leaks in. node_modules is shared.
 */
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-dev-'));
  clone = join(tmp, 'repo');
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  for (const file of stdout.split('\0').filter(Boolean)) {
    await mkdir(dirname(join(clone, file)), { recursive: true });
    await cp(join(REPO_ROOT, file), join(clone, file), { preserveTimestamps: true }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error; // deleted in the working tree, not yet in the index
      },
    );
  }
  // The tool's build output comes along, each file with its time as the sources' (the build's stamps
  // record each input's time and size): npm start's build step then only checks it, as it would after
  // `npm ci` in a real clone, instead of building the tool again (tsc, the CLI bundle, the console UI).
  await cp(join(REPO_ROOT, 'packages/frontendops/dist'), join(clone, 'packages/frontendops/dist'), {
    recursive: true,
    preserveTimestamps: true,
  });
  const git = (args: string[]) => run('git', args, { cwd: clone, env: { ...process.env, ...GIT_IDENTITY } });
  await git(['init', '-q']);
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', 'the working tree under test']);
  await symlink(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
}, 120_000);
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('npm start -- --once in a fresh clone', () => {
  it('builds, publishes and has the agent deploy the dashboard, with a deploy tag', {
    timeout: 120_000,
  }, async () => {
    const env = { ...GIT_IDENTITY, FRONTENDOPS_ACTOR: 'new-user' };
    const first = await startOnce(env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(
      /latest_commit[\s\S]*get_deploy_target[\s\S]*run_sync[\s\S]*invalidate_cdn[\s\S]*create_deploy_tag/,
    );
    expect(first.stdout).toMatch(/SUCCEEDED/);
    expect(first.stdout).toMatch(/verified: the CDN serves it/);
    expect(first.stdout).toMatch(/sophia-dashboard: http:\/\/127\.0\.0\.1:\d+/);
    const tag = /Tag: (dashboard-deploy-\d{8}-\d+)/.exec(first.stdout)?.[1];
    expect(tag).toBeDefined();
    const { stdout: tags } = await run('git', ['tag', '-l', 'dashboard-deploy-*'], { cwd: clone });
    expect(tags.trim()).toBe(tag);
    // The buckets' files are the owner's alone: on disk they need no S3 key.
    expect((await stat(join(clone, '.frontendops'))).mode & 0o777).toBe(0o700);

    // The state persists under .frontendops/: a second start finds the dashboard already live.
    const second = await startOnce(env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/already live|NOOP|nothing to do/i);
    const { stdout: after } = await run('git', ['tag', '-l', 'dashboard-deploy-*'], { cwd: clone });
    expect(after.trim()).toBe(tag);
  });

  it('keeps serving; a second terminal finds it without flags; the console is beside the site; Ctrl-C stops it', async () => {
    const env = { ...process.env, ...GIT_IDENTITY };
    const dev = spawnTracked(process.execPath, [cli(), 'dev'], {
      cwd: clone,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    dev.stdout?.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolveExit) => dev.on('close', (code) => resolveExit(code)));
    try {
      await new Promise<void>((resolveReady, reject) => {
        dev.stdout?.on('data', () => out.includes('Serving until Ctrl-C') && resolveReady());
        dev.on('close', () => reject(new Error(`dev exited early: ${out}`)));
      });
      const site = /sophia-dashboard: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] as string;
      const html = await (await fetch(site)).text();
      expect(html).toContain('<div id="root">');

      // Another terminal in the same checkout: no --stack, no endpoint, no credentials.
      const { code, stdout, stderr } = await runTracked(process.execPath, [cli(), 'status', '--json'], {
        cwd: clone,
      });
      expect(code, stderr).toBe(0);
      const status = JSON.parse(stdout);
      expect(status.stack).toBe('local');
      expect(status.live.app).toBe('sophia-dashboard');
      expect(new URL(status.siteUrl).origin).toBe(new URL(site).origin);

      const printed = /FrontendOps console: ((\S+)\?signin=\S+)/.exec(out);
      expect(printed).not.toBeNull();
      const [, address, base] = printed as RegExpExecArray;
      const signedIn = async (at: string) => {
        const session = sessionInPage(await (await fetch(at)).text());
        if (session === null) return 401;
        return (
          await fetch(new URL('api/session', base), { headers: { authorization: `Bearer ${session}` } })
        ).status;
      };
      expect((await fetch(new URL('api/session', base))).status).toBe(401);
      expect(await signedIn(address as string)).toBe(200);
      // Used once: that address signs nothing in again. `frontendops console` in another terminal asks
      // the running console for a new one, which does.
      expect(await signedIn(address as string)).toBe(401);
      const again = await runTracked(process.execPath, [cli(), 'console'], { cwd: clone });
      expect(again.code, again.stderr).toBe(0);
      const fresh = /^FrontendOps console: (\S+)$/m.exec(again.stdout)?.[1] ?? '';
      expect(fresh.startsWith(`${base}?signin=`), again.stdout).toBe(true);
      expect(await signedIn(fresh)).toBe(200);
    } finally {
      dev.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(existsSync(join(clone, '.frontendops', 'env.json'))).toBe(false);
  });
});
