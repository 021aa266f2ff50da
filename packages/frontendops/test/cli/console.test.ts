/**
 * `frontendops console` as a process: it starts on 127.0.0.1 with a stack from an outputs file
 * (embedded S3 server), prints a sign-in address, answers the session it starts and refuses
 * without one, and stops on SIGTERM (bin/frontendops.js, as a user runs it).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView, StatusView } from '../../src/console/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { BIN } from '../support/cli.ts';
import { sessionInPage } from '../support/console-sign-in.ts';
import { publishAsCi, STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { spawnTracked } from '../support/processes.ts';

const COMMIT = '4444444ddddddddddddddddddddddddddddddddd';
let t: TestDeployEnv;
let child: ChildProcess;
let output = '';

beforeAll(async () => {
  t = await startDeployEnv();
  const build = await writeFixtureBuild(join(t.tmp, 'build'), { version: 'v1' });
  await publishAsCi(t.site, { dir: build.dir, app: 'sophia-dashboard', commit: COMMIT });
  await deployArtifact(t.site, {
    app: 'sophia-dashboard',
    commit: COMMIT,
    request: { text: 'ship it', actor: 'bob', planner: 'cli', at: new Date().toISOString() },
  });
  const outputs = await t.writeOutputs();
  child = spawnTracked(process.execPath, [BIN, 'console', '--stack', outputs, '--port', '0'], {
    cwd: t.tmp,
    env: { ...process.env, ...t.cliEnv() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await t?.stop();
});

describe('frontendops console', () => {
  it('prints a loopback sign-in address, serves the session it starts, refuses without one, and stops on SIGTERM', async () => {
    const printed = await waitFor(() =>
      /FrontendOps console: (http:\/\/127\.0\.0\.1:\d+\/)\?signin=(\S+)/.exec(output),
    );
    const [address, url] = [printed[0].slice('FrontendOps console: '.length), printed[1] as string];
    const signedIn = sessionInPage(await (await fetch(address)).text());

    expect((await fetch(`${url}api/session`)).status).toBe(401);
    const session = (await (
      await fetch(`${url}api/session`, { headers: { authorization: `Bearer ${signedIn}` } })
    ).json()) as SessionView;
    expect(session.stacks).toHaveLength(1);
    expect(session.chat).toBe(true);
    const status = (await (
      await fetch(`${url}api/stacks/${encodeURIComponent(session.stacks[0] ?? '')}/status`, {
        headers: { authorization: `Bearer ${signedIn}` },
      })
    ).json()) as StatusView;
    expect(status).toMatchObject({ stack: STACK, live: { commit: COMMIT, request: { actor: 'bob' } } });
    expect((await fetch(url)).headers.get('content-type')).toMatch(/text\/html/);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});

/** Polls until `read` returns a value (the process prints its address once it listens). */
async function waitFor<T>(read: () => T | null, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value) return value;
    if (child.exitCode !== null) throw new Error(`the console exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`the console printed no address in time:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
