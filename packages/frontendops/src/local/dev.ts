/**
 * The embedded local environment (`npm start` = `frontendops dev`): an S3-protocol server holding
 * the artifacts and hosting buckets under .frontendops/, a CDN edge serving the hosting bucket, and
 * the stack `local` pointing at them; then the app is built, published and deployed. No cloud
 * account, no model, no network.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createS3Client, createS3Store } from '../adapters/s3.ts';
import { type Config, defaultConfig } from '../config.ts';
import { publishBuild, readManifest } from '../deploy/publish.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { LOCAL_DISTRIBUTION_ID, LOCAL_STACK } from '../stacks/local.ts';
import { openSite } from '../stacks/open.ts';
import type { RequestInfo } from '../state/records.ts';
import { startLocalEdge } from './edge.ts';
import {
  createLocalCredentials,
  findLocalEnv,
  LOCAL_DIR,
  type LocalEnv,
  localEnvFile,
  writeLocalEnv,
} from './env-file.ts';
import { startLocalS3 } from './s3-server.ts';

export { LOCAL_DISTRIBUTION_ID };

export interface LocalEnvironment {
  env: LocalEnv;
  /** The stack name to open it by: always `local`. */
  stack: string;
  /** The build published by start-up: app and commit. */
  published: { app: string; commit: string; published: boolean };
  close(): Promise<void>;
}

export interface StartLocalOptions {
  /** The repository the app lives in (default: the working directory). */
  cwd?: string;
  /** Which app, where it lives and how it is built (default: the defaults). */
  config?: Config;
  /** Who started it (recorded with the publish). */
  actor?: string;
  log?: (line: string) => void;
}

export async function startLocalEnvironment(options: StartLocalOptions = {}): Promise<LocalEnvironment> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const log = options.log ?? (() => undefined);
  const config = options.config ?? defaultConfig();
  const { app } = config;
  const running = await findLocalEnv(cwd);
  if (running) {
    throw new FrontendOpsError(
      'CONFLICT',
      `A local environment is already running here (pid ${running.pid}, site ${running.edgeUrl}). Use it, or stop it with Ctrl-C first.`,
    );
  }
  const dataDir = join(cwd, LOCAL_DIR);
  // Owner-only: the buckets' files (state, approvals, audit) are readable here without the S3 key.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const credentials = createLocalCredentials();
    const buckets = { artifacts: `${app}-artifacts`, hosting: `${app}-hosting` };
    const s3 = await startLocalS3({
      directory: join(dataDir, 's3'),
      buckets: [buckets.artifacts, buckets.hosting],
      credentials,
    });
    closers.push(() => s3.close());
    const client = createS3Client({ endpoint: s3.endpoint, credentials });
    closers.push(async () => client.destroy());
    // The edge reaches the hosting bucket with the SDK, signed with the environment's key; what
    // fails there is logged here, in the terminal, not told to the browser.
    const edge = await startLocalEdge({
      origin: createS3Store({ bucket: buckets.hosting, client }),
      distributionId: LOCAL_DISTRIBUTION_ID,
      log,
    });
    closers.push(() => edge.close());
    log(`embedded S3 server on ${s3.endpoint}; CDN edge on ${edge.url}`);

    const env: LocalEnv = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      s3Endpoint: s3.endpoint,
      credentials,
      buckets,
      distributionId: LOCAL_DISTRIBUTION_ID,
      edgeUrl: edge.url,
      cdnEndpoint: edge.cdnEndpoint,
      dataDir,
    };
    await writeLocalEnv(cwd, env);
    closers.push(() => rm(localEnvFile(cwd), { force: true }));

    const appDir = resolve(cwd, config.appPath);
    const commit = await latestCommitOf(appDir, config.appPath);
    const site = await openSite(LOCAL_STACK, config, cwd, { onNotice: () => undefined });
    closers.push(async () => site.close());
    // A published artifact never changes (a different build of its commit is refused): no need to build it again.
    if (await readManifest(site.artifacts, app, commit)) {
      log(`${app}@${commit.slice(0, 7)} already published; not building it again`);
      return { env, stack: LOCAL_STACK, published: { app, commit, published: false }, close };
    }
    const outDir = await buildApp(appDir, config, commit, log);
    const request: RequestInfo = {
      text: `publish ${app}@${commit.slice(0, 7)} (frontendops dev)`,
      actor: options.actor ?? 'frontendops dev',
      planner: 'cli',
      at: new Date().toISOString(),
    };
    let published = false;
    try {
      published = (await publishBuild(site, { dir: outDir, app, commit }, request)).published;
    } catch (error) {
      // A working tree with uncommitted changes builds differently from the published commit.
      if (!isFrontendOpsError(error, 'CONFLICT')) throw error;
      log(
        `note: ${app}@${commit.slice(0, 7)} was published earlier with other content (uncommitted changes?); keeping that artifact`,
      );
    }
    log(
      published ? `published ${app}@${commit.slice(0, 7)}` : `${app}@${commit.slice(0, 7)} already published`,
    );
    return { env, stack: LOCAL_STACK, published: { app, commit, published }, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The commit the app's build belongs to: the newest commit touching its directory, as the git
 * server reports it.
 */
async function latestCommitOf(appDir: string, appPath: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('git', ['log', '-1', '--format=%H', '--', '.'], {
      cwd: appDir,
    });
    const sha = stdout.trim();
    if (/^[0-9a-f]{40}$/.test(sha)) return sha;
  } catch {
    // fall through
  }
  throw new FrontendOpsError(
    'BAD_INPUT',
    `The local environment deploys the newest commit touching ${appPath}, but it is not in a git checkout or no commit touches it. Run it in a clone, or set "appPath" in frontendops.config.json.`,
  );
}

/** Runs the configured build (an argument vector in the app's directory, no shell); returns the site. */
async function buildApp(
  appDir: string,
  config: Config,
  commit: string,
  log: (line: string) => void,
): Promise<string> {
  const output = resolve(appDir, config.build?.output ?? '.');
  const command = config.build?.command;
  if (!command) return output;
  const [file, ...args] = command as [string, ...string[]];
  log(`building ${config.app} at ${commit.slice(0, 7)}: ${command.join(' ')}`);
  try {
    await promisify(execFile)(file, args, {
      cwd: appDir,
      env: { ...process.env, FRONTENDOPS_COMMIT: commit },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new FrontendOpsError(
      'BAD_INPUT',
      `The build of ${config.app} (${command.join(' ')} in ${config.appPath}) failed: ${(e.stderr || e.message).trim().slice(-2000)}\nFix the build, or the "build" entry of frontendops.config.json.`,
    );
  }
  return output;
}
