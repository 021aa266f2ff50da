/**
 * Another team adopts FrontendOps: the tarball `npm pack` makes (what a publish would ship) is
 * installed with npm into a fresh git repository holding a plain static site — another app name,
 * another path, no build step, nothing of this workspace on its module path — and every command runs
 * through that repository's node_modules/.bin/frontendops in a process of its own, as its people
 * would run it. So the package's files, bin, exports, dependencies and engines are what is tested,
 * not this checkout. Packed and installed once for the file (the install is most of its time).
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, type Transport } from '@modelcontextprotocol/client';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli.ts';
import { runTracked, spawnTracked } from '../support/processes.ts';

const run = promisify(execFile);
const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Brochure Team',
  GIT_AUTHOR_EMAIL: 'web@brochure.invalid',
  GIT_COMMITTER_NAME: 'Brochure Team',
  GIT_COMMITTER_EMAIL: 'web@brochure.invalid',
};
const HASHED_ASSET = 'assets/app-3f2c1a9b.js';

let tmp: string;
let site: string;
let tarball: string;
let bin: string;
const timings: string[] = [];

/**
 * The environment of a person in the other repository: nothing of this test run's npm (a nested npm
 * would read its workspace settings), no FrontendOps settings (no model: the runbook plans), no NODE_PATH.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|FRONTENDOPS_|NODE_PATH$|INIT_CWD$)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...GIT_IDENTITY, FRONTENDOPS_ACTOR: 'brochure-team', ...extra };
}

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  timings.push(`${what} ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** Runs the installed CLI in the site's repository; a failure shows what it printed. */
async function frontendops(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const result = await runTracked(bin, args, { cwd: site, env: userEnv() });
  expect(result.code, `frontendops ${args.join(' ')}\n${result.stderr}\n${result.stdout}`).toBe(0);
  return result;
}

async function git(args: string[]): Promise<string> {
  return (await run('git', args, { cwd: site, env: userEnv() })).stdout.trim();
}

async function commitAll(message: string): Promise<string> {
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', message]);
  return git(['rev-parse', 'HEAD']);
}

async function fetchText(url: string): Promise<{ status: number; body: string; cacheControl: string }> {
  const response = await fetch(url);
  return {
    status: response.status,
    body: await response.text(),
    cacheControl: response.headers.get('cache-control') ?? '',
  };
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-adoption-'));
  // prepack builds the tool first (tsc, the console UI): the tarball holds what dist/ holds then.
  const packed = await timed('npm pack', () =>
    runTracked('npm', ['pack', '--pack-destination', tmp], { cwd: PACKAGE_DIR, env: userEnv() }),
  );
  expect(packed.code, packed.stdout + packed.stderr).toBe(0);
  const tgz = (await readdir(tmp)).find((name) => name.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack left no tarball in ${tmp}: ${packed.stderr}`);
  tarball = join(tmp, tgz);

  site = join(tmp, 'brochure');
  await mkdir(join(site, 'public', 'assets'), { recursive: true });
  await writeFile(
    join(site, 'public', 'index.html'),
    '<!doctype html>\n<html><head><title>Brochure</title><link rel="stylesheet" href="/styles.css">' +
      `<script type="module" src="/${HASHED_ASSET}"></script></head>\n<body><h1>Brochure</h1></body></html>\n`,
  );
  await writeFile(join(site, 'public', 'styles.css'), 'h1 { color: navy; }\n');
  await writeFile(join(site, 'public', HASHED_ASSET), 'document.title += " ready";\n');
  await writeFile(join(site, 'package.json'), `${JSON.stringify({ name: 'brochure', private: true })}\n`);
  await writeFile(join(site, '.gitignore'), 'node_modules\n.frontendops\n');
  await writeFile(
    join(site, 'frontendops.config.json'),
    `${JSON.stringify({ app: 'brochure', appPath: 'public', build: { output: '.' } }, null, 2)}\n`,
  );
  await git(['init', '-q']);
  await commitAll('The brochure site');

  // As the README's Install says: the tarball kept in the repository (vendor/), so another clone's
  // `npm ci` finds it. npm resolves the dependencies the package declares from its cache when it has
  // them (this workspace's `npm ci` filled it), else from the registry.
  await mkdir(join(site, 'vendor'));
  await copyFile(tarball, join(site, 'vendor', basename(tarball)));
  const installed = await timed('npm install', () =>
    runTracked(
      'npm',
      ['install', '-D', '--no-audit', '--no-fund', '--prefer-offline', `./vendor/${basename(tarball)}`],
      { cwd: site, env: userEnv() },
    ),
  );
  expect(installed.code, installed.stdout + installed.stderr).toBe(0);
  // What npm records is the path in the repository, not where the tarball was packed.
  const manifest = JSON.parse(await readFile(join(site, 'package.json'), 'utf8'));
  expect(manifest.devDependencies.frontendops).toBe(`file:vendor/${basename(tarball)}`);
  bin = join(site, 'node_modules', '.bin', 'frontendops');
}, 300_000);

afterAll(async () => {
  if (timings.length > 0) console.info(`adoption: ${timings.join(', ')}`);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the packed tool installed into another repository', () => {
  it('ships the built tool and nothing else: bin, dist, package.json and the docs', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout
      .split('\n')
      .filter(Boolean)
      .map((entry) => entry.replace(/^package\//, ''));
    const unexpected = files.filter(
      (file) =>
        !/^(package\.json|README\.md|LICENSE|docs\/[a-z-]+\.md|bin\/frontendops\.js|dist\/.+)$/.test(file),
    );
    expect(unexpected).toEqual([]);
    expect(files.filter((file) => file.endsWith('.tsbuildinfo'))).toEqual([]);
    // The CLI runs one bundle (chunks loaded per command), with the licences of the code it holds.
    expect(files).toContain('dist/bundle/main.js');
    expect(files).toContain('dist/bundle/s3-server-child.js');
    expect(files).toContain('dist/bundle/THIRD-PARTY-LICENSES.txt');
    expect(files).toContain('dist/index.d.ts');
    // The console's UI is prebuilt: nothing is compiled where the tool runs.
    expect(files).toContain('dist/console-ui/index.html');
    // What a user reads on the registry and must keep with a copy: the repository's README and LICENSE,
    // and the documents the README links to.
    expect(files).toContain('README.md');
    expect(files).toContain('LICENSE');
    expect(files).toContain('docs/security.md');

    const manifest = JSON.parse(
      await readFile(join(site, 'node_modules', 'frontendops', 'package.json'), 'utf8'),
    ) as {
      dependencies: Record<string, string>;
      scripts?: Record<string, string>;
    };
    const buildTools = ['vite', '@vitejs/plugin-react', 'react', 'react-dom', 'typescript', 'tsx', 'vitest'];
    expect(Object.keys(manifest.dependencies).filter((name) => buildTools.includes(name))).toEqual([]);
    // Nothing runs at install time (a prepare script would look for the sources it does not ship).
    const installScripts = ['preinstall', 'install', 'postinstall', 'prepare'];
    expect(Object.keys(manifest.scripts ?? {}).filter((name) => installScripts.includes(name))).toEqual([]);
  });

  it('claims only Node versions every installed dependency supports', async () => {
    const { engines } = JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const lowest = semver.minVersion(engines.node)?.version as string;
    expect(lowest, `engines.node ${engines.node}`).toBeDefined();
    const required = await dependencyEngines(join(site, 'node_modules'));
    // The lowest version claimed, and each LTS line the README names.
    for (const version of [lowest, '22.0.0', '24.0.0']) {
      expect(semver.satisfies(version, engines.node), `${version} in ${engines.node}`).toBe(true);
      const unmet = required
        .filter(({ range }) => !semver.satisfies(version, range))
        .map(({ name, range }) => `${name} needs node ${range}`);
      expect(unmet, `Node ${version}`).toEqual([]);
    }
  });

  it('resolves every export of the installed package, from the other repository', async () => {
    const script = `
      import { existsSync } from 'node:fs';
      import { createRequire } from 'node:module';
      import { fileURLToPath } from 'node:url';
      const expected = {
        frontendops: ['runCli', 'processIo', 'loadConfig', 'openSite', 'publishBuild', 'deployArtifact', 'rollbackRelease', 'startLocalEnvironment', 'FrontendOpsError'],
        'frontendops/engine': ['planDeploy', 'deployIdFor', 'planInvalidationBatches', 'cacheControlFor'],
        'frontendops/mcp': ['createInfraServer', 'createGitServer', 'createStackOpener', 'selectGitHost', 'serveStdio', 'serveHttp'],
        'frontendops/agent': ['runAgentRequest', 'parseRequest', 'defaultMcpConfig', 'connectAgentClients'],
        'frontendops/edge-function': ['loadEdgeFunction'],
      };
      const report = {};
      for (const [specifier, names] of Object.entries(expected)) {
        const module = await import(specifier);
        report[specifier] = {
          file: fileURLToPath(import.meta.resolve(specifier)),
          missing: names.filter((name) => typeof module[name] !== 'function'),
        };
      }
      // A CloudFront Function (it imports the runtime's 'cloudfront' module): resolved, never run here.
      const fn = fileURLToPath(import.meta.resolve('frontendops/cloudfront-function.js'));
      report['frontendops/cloudfront-function.js'] = { file: fn, missing: existsSync(fn) ? [] : ['the file'] };
      report.version = createRequire(import.meta.url)('frontendops/package.json').version;
      console.log(JSON.stringify(report));
    `;
    const { code, stdout, stderr } = await runTracked(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: site, env: userEnv() },
    );
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as Record<string, { file: string; missing: string[] }> & {
      version: string;
    };
    const installedAt = join(site, 'node_modules', 'frontendops');
    for (const specifier of [
      'frontendops',
      'frontendops/engine',
      'frontendops/mcp',
      'frontendops/agent',
      'frontendops/edge-function',
      'frontendops/cloudfront-function.js',
    ]) {
      const entry = report[specifier];
      expect(entry?.missing, specifier).toEqual([]);
      expect(entry?.file.startsWith(installedAt), `${specifier} → ${entry?.file}`).toBe(true);
    }
    const { version } = JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8'));
    expect(report.version).toBe(version);

    // Each export's declared types exist, and a TypeScript program of the other repository compiles against them.
    await writeFile(
      join(site, 'uses-frontendops.ts'),
      [
        "import { loadConfig, type Config } from 'frontendops';",
        "import { planDeploy } from 'frontendops/engine';",
        "import { createInfraServer, createGitServer } from 'frontendops/mcp';",
        "import { runAgentRequest, type AgentResult } from 'frontendops/agent';",
        "import { loadEdgeFunction } from 'frontendops/edge-function';",
        'export const used: unknown[] = [loadConfig, planDeploy, createInfraServer, createGitServer, runAgentRequest, loadEdgeFunction];',
        'export type Used = [Config, AgentResult];',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(site, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2023',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['uses-frontendops.ts'],
      }),
    );
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = await runTracked(process.execPath, [tsc, '-p', site], { cwd: site, env: userEnv() });
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
  });

  it('runs the local environment and every command on the plain site: dev, publish, deploy, rollback, status, agent', {
    timeout: 240_000,
  }, async () => {
    // `npx frontendops` (as the README says) is the installed one: --no forbids fetching it.
    const npx = await runTracked('npx', ['--no', '--', 'frontendops', '--version'], {
      cwd: site,
      env: userEnv(),
    });
    expect(npx.code, npx.stderr).toBe(0);
    expect(npx.stdout.trim()).toBe(
      JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8')).version,
    );

    // `dev --once`: the embedded environment builds (here: takes public/ as it is), publishes and
    // deploys this repository's app through the agent, under its own name and path, then exits.
    const once = await timed('dev --once', () => frontendops(['dev', '--once']));
    expect(once.stderr).toMatch(/latest_commit \(path=public\)/);
    expect(once.stdout).toMatch(/SUCCEEDED/);
    expect(once.stdout).toMatch(/Deployed brochure [0-9a-f]{7}/);
    expect(once.stdout).not.toMatch(/sophia/i);
    expect(once.stdout).toMatch(/^brochure: http:\/\/127\.0\.0\.1:\d+$/m);
    const firstCommit = await git(['rev-parse', 'HEAD']);
    expect(await git(['tag', '--points-at', firstCommit])).not.toBe('');

    // `dev` keeps serving; the other commands, from a second terminal, find it without flags.
    const dev = spawnTracked(bin, ['dev'], {
      cwd: site,
      env: userEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    dev.stderr?.on('data', (chunk) => {
      err += chunk;
    });
    const exited = new Promise<number | null>((resolveExit) => dev.on('close', (code) => resolveExit(code)));
    try {
      await new Promise<void>((ready, fail) => {
        dev.stdout?.on('data', (chunk) => {
          out += chunk;
          if (out.includes('Serving until Ctrl-C')) ready();
        });
        dev.on('close', (code) => fail(new Error(`frontendops dev exited (${code}):\n${out}\n${err}`)));
      });
      const siteUrl = /^brochure: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1] as string;
      expect(siteUrl, out).toBeDefined();
      const served = (path: string) => fetchText(new URL(path, siteUrl).href);

      // The local edge serves the plain site, with the hashed asset cached for good. A switch reaches
      // the edge after its propagation delay (as on CloudFront): what visitors get next is polled.
      const home = await served('/');
      expect(home.status).toBe(200);
      expect(home.body).toContain('<h1>Brochure</h1>');
      await expect.poll(async () => (await served('/styles.css')).body).toContain('navy');
      const asset = await served(`/${HASHED_ASSET}`);
      expect(asset.status).toBe(200);
      expect(asset.cacheControl).toMatch(/immutable/);

      // The console beside it serves its prebuilt UI from the installed package.
      const consoleUrl = /FrontendOps console: (\S+)\?signin=/.exec(out)?.[1] as string;
      expect(consoleUrl, out).toBeDefined();
      const page = await fetchText(consoleUrl);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<div id="root">');

      // A new version: published, deployed, rolled back and deployed again by the agent.
      await writeFile(join(site, 'public', 'styles.css'), 'h1 { color: teal; }\n');
      const teal = await commitAll('Teal headings');
      const published = await frontendops(['publish', 'public', '--app', 'brochure', '--commit', teal]);
      expect(published.stdout).toMatch(new RegExp(`published brochure@${teal.slice(0, 7)}`));

      const deployed = await frontendops(['deploy', '--latest']);
      expect(deployed.stdout).toMatch(new RegExp(`deploy brochure@${teal.slice(0, 7)} → local: succeeded`));
      await expect.poll(async () => (await served('/styles.css')).body).toContain('teal');

      const status = JSON.parse((await frontendops(['status', '--json'])).stdout);
      expect(status).toMatchObject({ stack: 'local', live: { app: 'brochure', commit: teal } });
      expect(new URL(status.siteUrl).origin).toBe(new URL(siteUrl).origin);

      const rolledBack = await frontendops(['rollback']);
      expect(rolledBack.stdout).toMatch(
        new RegExp(`rollback brochure@${firstCommit.slice(0, 7)} → local: succeeded`),
      );
      await expect.poll(async () => (await served('/styles.css')).body).toContain('navy');

      // The rollback pinned the site: the agent promotes the latest build, which lifts the pin.
      const agent = await timed('agent', () => frontendops(['agent', 'Promote the latest brochure']));
      expect(agent.stderr).toMatch(/planner: runbook/);
      expect(agent.stdout).toMatch(/SUCCEEDED/);
      expect(agent.stdout).toMatch(new RegExp(`Promoted brochure.${teal.slice(0, 7)}`));
      await expect.poll(async () => (await served('/styles.css')).body).toContain('teal');

      // Another app named in the words: refused (exit 2), naming the one app this repository has.
      const otherApp = await runTracked(bin, ['agent', 'Deploy the latest sophia-dashboard', '--yes'], {
        cwd: site,
        env: userEnv(),
      });
      expect(otherApp.code, otherApp.stdout + otherApp.stderr).toBe(2);
      expect(otherApp.stdout).toMatch(
        /names "sophia-dashboard", but .* has one app: brochure\. Nothing was done\./,
      );
      // Its own app named as the dashboard's words name it: "update the brochure" is a deploy.
      const update = await runTracked(bin, ['agent', 'update the brochure', '--dry-run'], {
        cwd: site,
        env: userEnv(),
      });
      expect(update.code, update.stdout + update.stderr).toBe(0);
      expect(update.stdout + update.stderr).toMatch(/deploy the latest commit of the app/);

      // One deploy tag per change, in this repository: dev's, the deploy's, the rollback's, the agent's promote.
      const tags = (await git(['tag', '-l'])).split('\n').filter(Boolean);
      expect(tags).toHaveLength(4);
      const agentTag = /Tag: (\S+)\.$/m.exec(agent.stdout)?.[1] as string;
      expect(tags).toContain(agentTag);
      expect(await git(['rev-list', '-n', '1', agentTag])).toBe(teal);
      await frontendops(['audit', 'verify']);

      // The MCP servers as an MCP client starts them (the README's configuration): from another
      // directory, the repository named with -C, the local environment found there.
      const infra = await connectMcp(['-C', site, 'mcp', 'infra', '--stack', 'local']);
      const gitServer = await connectMcp(['-C', site, 'mcp', 'git']);
      try {
        const live = await infra.client.callTool({ name: 'get_status', arguments: {} });
        expect(live.isError, JSON.stringify(live.content)).toBeFalsy();
        expect(live.structuredContent).toMatchObject({
          stack: 'local',
          live: { app: 'brochure', commit: teal },
        });
        const latest = await gitServer.client.callTool({ name: 'latest_commit', arguments: {} });
        expect(latest.isError, JSON.stringify(latest.content)).toBeFalsy();
        expect(latest.structuredContent).toMatchObject({ path: 'public', commit: { sha: teal } });
      } finally {
        await infra.close();
        await gitServer.close();
      }
    } finally {
      dev.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(existsSync(join(site, '.frontendops', 'env.json'))).toBe(false);
  });
});

/**
 * An MCP client of `frontendops <args>` over stdio, started from the temporary directory (not the
 * site's) with spawnTracked: the SDK's own stdio transport would spawn it untracked.
 */
async function connectMcp(args: string[]): Promise<{ client: Client; close(): Promise<void> }> {
  const child = spawnTracked(bin, args, { cwd: tmp, env: userEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolveExit) => child.once('close', () => resolveExit()));
  const client = new Client({ name: 'adoption-test', version: '0.0.0' });
  try {
    await client.connect(stdioTransport(child));
  } catch (error) {
    throw new Error(
      `frontendops ${args.join(' ')} did not serve MCP: ${(error as Error).message}\n${stderr}`,
    );
  }
  return {
    client,
    async close() {
      await client.close();
      await exited;
    },
  };
}

/** Newline-delimited JSON-RPC over a child's stdin/stdout: what MCP's stdio transport is. */
function stdioTransport(child: ChildProcess): Transport {
  let buffered = '';
  const transport: Transport = {
    async start() {
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
          const line = buffered.slice(0, end).trim();
          buffered = buffered.slice(end + 1);
          if (line) transport.onmessage?.(JSON.parse(line));
        }
      });
      child.once('close', () => transport.onclose?.());
    },
    async send(message) {
      child.stdin?.write(`${JSON.stringify(message)}\n`);
    },
    async close() {
      child.stdin?.end();
    },
  };
  return transport;
}

/** Every installed package's engines.node (the package tree under node_modules, nested ones too). */
async function dependencyEngines(nodeModules: string): Promise<Array<{ name: string; range: string }>> {
  const found: Array<{ name: string; range: string }> = [];
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.name.startsWith('@')) {
        await visit(path);
        continue;
      }
      const manifest = await readFile(join(path, 'package.json'), 'utf8').catch(() => null);
      if (manifest) {
        const { name, version, engines } = JSON.parse(manifest) as {
          name: string;
          version: string;
          engines?: { node?: string };
        };
        if (engines?.node) found.push({ name: `${name}@${version}`, range: engines.node });
      }
      await visit(join(path, 'node_modules'));
    }
  };
  await visit(nodeModules);
  return found;
}
