/**
 * `npm start -- --once` as a new user runs it, in a fresh clone of this repository: the embedded
 * S3 server, the local edge, the dashboard build, and the deploy through the agent with its tag.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
let clone: string;
const startOnce = (env: Record<string, string>) =>
  run(process.execPath, [join(clone, 'bin', 'frontendops.js'), 'dev', '--once'], {
    cwd: clone,
    env: { ...process.env, ...env },
  })
    .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }))
    .catch((error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? 1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }));
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-dev-'));
  clone = join(tmp, 'repo');
  await run('git', ['clone', '--quiet', '--shared', resolve('.'), clone]);
  await symlink(resolve('node_modules'), join(clone, 'node_modules'), 'dir');
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('npm start -- --once in a fresh clone', () => {
  it('builds, publishes and has the agent deploy the dashboard, with a deploy tag', async () => {
    const env = {
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@localhost',
      FRONTENDOPS_ACTOR: 'new-user',
    };
    const first = await startOnce(env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(
      /latest_commit[\s\S]*get_deploy_target[\s\S]*run_sync[\s\S]*invalidate_cdn[\s\S]*create_deploy_tag/,
    );
    expect(first.stdout).toMatch(/SUCCEEDED/);
    expect(first.stdout).toMatch(/the CDN serves the new release/);
    expect(first.stdout).toMatch(/Sophia Dashboard: http:\/\/127\.0\.0\.1:\d+/);
    const tag = /Tag: (dashboard-deploy-\d{8}-\d+)/.exec(first.stdout)?.[1];
    expect(tag).toBeDefined();
    const { stdout: tags } = await run('git', ['tag', '-l', 'dashboard-deploy-*'], { cwd: clone });
    expect(tags.trim()).toBe(tag);

    // The state persists under .frontendops/: a second start finds the dashboard already live.
    const second = await startOnce(env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/already live|NOOP|nothing to do/i);
    const { stdout: after } = await run('git', ['tag', '-l', 'dashboard-deploy-*'], { cwd: clone });
    expect(after.trim()).toBe(tag);
  });

  it('keeps serving; a second terminal finds it without flags; the console is beside the site; Ctrl-C stops it', async () => {
    const env = { ...process.env, GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 'test@localhost' };
    const dev = spawn(process.execPath, [join(clone, 'bin', 'frontendops.js'), 'dev'], {
      cwd: clone,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    dev.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolveExit) => dev.on('close', (code) => resolveExit(code)));
    try {
      await new Promise<void>((resolveReady, reject) => {
        dev.stdout.on('data', () => out.includes('Serving until Ctrl-C') && resolveReady());
        dev.on('close', () => reject(new Error(`dev exited early: ${out}`)));
      });
      const site = /Sophia Dashboard: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] as string;
      const html = await (await fetch(site)).text();
      expect(html).toContain('<div id="root">');

      // Another terminal in the same checkout: no --stack, no endpoint, no credentials.
      const { stdout } = await run(
        process.execPath,
        [join(clone, 'bin', 'frontendops.js'), 'status', '--json'],
        { cwd: clone },
      );
      const status = JSON.parse(stdout);
      expect(status.stack).toBe('dashboard-hosting-prod');
      expect(status.live.app).toBe('sophia-dashboard');
      expect(new URL(status.siteUrl).origin).toBe(new URL(site).origin);

      const consoleUrl = /FrontendOps console: (\S+)\?token=(\S+)/.exec(out);
      expect(consoleUrl).not.toBeNull();
      const [, base, token] = consoleUrl as RegExpExecArray;
      expect((await fetch(new URL('api/session', base))).status).toBe(401);
      expect(
        (await fetch(new URL('api/session', base), { headers: { authorization: `Bearer ${token}` } })).status,
      ).toBe(200);
    } finally {
      dev.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    await expect(run('test', ['-e', join(clone, '.frontendops', 'env.json')])).rejects.toBeDefined();
  });
});
