/**
 * Each command loads only what it uses: the built CLI as a process, with Node's module hooks
 * recording every file it loads (test/support/loaded-modules.mjs). What a bundle chunk holds is read
 * from the source paths esbuild writes into it ("// ../../node_modules/@aws-sdk/client-s3/…").
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.ts';
import { publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { spawnTracked } from '../support/processes.ts';

const HOOKS = fileURLToPath(new URL('../support/loaded-modules.mjs', import.meta.url));
const COMMIT = 'c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffe';
let t: TestDeployEnv;
let dir: string;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-loading' });
  dir = await mkdtemp(join(tmpdir(), 'frontendops-loading-'));
  const build = await writeFixtureBuild(join(dir, 'build'), { version: 'v1' });
  await publishAsCi(t.site, { dir: build.dir, app: 'sophia-dashboard', commit: COMMIT });
});
afterAll(async () => {
  await t?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI to its end (stdin closed) and returns the packages whose code it loaded. */
async function packagesLoadedBy(args: string[], env: Record<string, string> = {}) {
  const record = join(dir, `loaded-${args[0]}-${Math.random().toString(36).slice(2)}.txt`);
  const child = spawnTracked(process.execPath, ['--import', HOOKS, BIN, ...args], {
    cwd: dir,
    env: { ...process.env, FRONTENDOPS_DEBUG: '', ...env, FRONTENDOPS_TEST_LOADED_MODULES: record },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const files = [...new Set((await readFile(record, 'utf8')).split('\n').filter(Boolean))];
  const packages = new Set<string>();
  for (const file of files.filter((f) => f.includes('/dist/bundle/'))) {
    for (const [, name] of (await readFile(file, 'utf8')).matchAll(
      /^\/\/ (?:\.\.\/)*node_modules\/((?:@[^/\n]+\/)?[^/\n]+)\//gm,
    )) {
      if (name) packages.add(name);
    }
  }
  return { code, stderr, files, packages };
}

describe('each command loads only what it uses', () => {
  it('--help loads no AWS SDK, MCP SDK, zod or yaml', async () => {
    const run = await packagesLoadedBy(['--help']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.files.some((f) => f.endsWith('/dist/bundle/main.js'))).toBe(true);
    expect(run.packages).toContain('commander');
    expect(
      [...run.packages].filter((p) => /^@aws-sdk\/|^@smithy\/|^@modelcontextprotocol\/|^zod$|^yaml$/.test(p)),
    ).toEqual([]);
  });

  it('mcp infra starts without the CloudFront client; a deploy loads it', async () => {
    const server = await packagesLoadedBy(['mcp', 'infra']);
    expect(server.code, server.stderr).toBe(0);
    expect(server.packages).toContain('@modelcontextprotocol/server');
    expect(server.packages).not.toContain('@aws-sdk/client-cloudfront');

    const outputs = await t.writeOutputs({ cdn: true });
    const deploy = await packagesLoadedBy(
      ['deploy', '--stack', outputs, '--commit', COMMIT, '--yes', '--no-tag', '--json'],
      { ...t.cliEnv(), AWS_REGION: 'us-east-1' },
    );
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.packages).toContain('@aws-sdk/client-s3');
    expect(deploy.packages).toContain('@aws-sdk/client-cloudfront');
    // The yaml package reads a pulumi-cli stack's project file only: an outputs file's stack loads none.
    expect(deploy.packages).not.toContain('yaml');
    expect(t.cdn.createRequests().length).toBeGreaterThan(0);
    // node:http comes through require() (scripts/build.js, httpThroughRequire): as an ES module, Node
    // 22 and 24 read every export of it, loading their fetch implementation for nothing.
    expect(deploy.files).toContain('node:https');
    expect(deploy.files).not.toContain('node:http');
  });
});
