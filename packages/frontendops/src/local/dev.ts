/**
 * The embedded local environment (`npm start` = `frontendops dev`): an S3-protocol server holding
 * the artifacts and hosting buckets under .frontendops/, a CDN edge serving the hosting bucket, and
 * the stack `local` pointing at them; then the app is built, published and deployed — from a clean
 * working tree only: uncommitted changes of the app are never published as its commit. No cloud
 * account, no model, no network.
 *
 * The edge runs atomic releases, as the Pulumi program's distribution does: the viewer-request
 * function in its sandbox, a KeyValueStore (its API on its own endpoint, named in env.json and in
 * the `local` stack's outputs), and a propagation delay (FRONTENDOPS_EDGE_PROPAGATION_MS, default
 * 200 ms). The store lives in memory: at start it is set from the state, the source of truth —
 * the live release (and canary) the state names, when its files are in place — and the preview
 * secret and the site's port are kept in .frontendops/ so that preview links survive a restart
 * (while no other program has taken the port: then the site moves to a free one, and says so).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createS3Client, createS3Store } from '../adapters/s3.ts';
import { newPreviewSecret } from '../atomic/preview-token.ts';
import { encodeReleasePointer, PREVIEW_SECRET_KEY, RELEASE_KEY } from '../atomic/release-pointer.ts';
import { type Config, defaultConfig } from '../config.ts';
import { publishBuild, readManifest, someFiles, uncommittedAppFiles } from '../deploy/publish.ts';
import { releaseIdFor } from '../engine/atomic-plan.ts';
import { FULL_COMMIT } from '../engine/ids.ts';
import { defaultStatePrefix } from '../engine/target.ts';
import { touching } from '../engine/text.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { LOCAL_DISTRIBUTION_ID, LOCAL_STACK } from '../stacks/local.ts';
import {
  createLocalCredentials,
  findLocalEnv,
  LOCAL_DIR,
  type LocalEnv,
  localEnvFile,
  writeLocalEnv,
} from '../stacks/local-env-file.ts';
import { openSite } from '../stacks/open.ts';
import { createAtomicRecords } from '../state/atomic.ts';
import { type PinRecord, readPin } from '../state/pin.ts';
import type { RequestInfo } from '../state/records.ts';
import { createStateRecords } from '../state/records.ts';
import { startLocalEdge } from './edge.ts';
import { startLocalS3 } from './s3-server.ts';

export { LOCAL_DISTRIBUTION_ID };
/** How long the local edge takes to see a release switch, unless FRONTENDOPS_EDGE_PROPAGATION_MS says. */
export const DEFAULT_PROPAGATION_MS = 200;
export const PROPAGATION_ENV = 'FRONTENDOPS_EDGE_PROPAGATION_MS';

export interface LocalEnvironment {
  env: LocalEnv;
  /** The stack name to open it by: always `local`. */
  stack: string;
  /**
   * The build start-up publishes: the newest commit touching the app; `published`: uploaded now;
   * `ready`: a build of that commit is published (false only when the working tree has uncommitted
   * changes of the app and the commit was never published: nothing was built or published).
   */
  published: { app: string; commit: string; published: boolean; ready: boolean };
  /**
   * The app's files that are not the commit's (uncommitted changes, untracked files git does not
   * ignore): a build of them is never published as that commit. Empty when the tree is clean.
   */
  uncommitted: string[];
  /** The stack's pin, when start-up found one (a rollback pins): a deploy of another release is refused. */
  pin: PinRecord | null;
  close(): Promise<void>;
}

export interface StartLocalOptions {
  /** The repository the app lives in (default: the working directory). */
  cwd?: string;
  /** Which app, where it lives and how it is built (default: the defaults). */
  config?: Config;
  /** Who started it (recorded with the publish). */
  actor?: string;
  /** The edge sees a release switch this long after it (default: $FRONTENDOPS_EDGE_PROPAGATION_MS, else 200 ms). */
  propagationMs?: number;
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
  // The commit to deploy first: a repository it cannot work in is refused before anything is made
  // here (no .frontendops/, no server started).
  const appDir = resolve(cwd, config.appPath);
  const commit = await latestCommitOf(appDir, config.appPath);
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
    const propagationMs = options.propagationMs ?? propagationFromEnv();
    const initialKeys = {
      [PREVIEW_SECRET_KEY]: await previewSecretIn(dataDir),
      ...(await releasePointerFromState(client, buckets.artifacts, config.spa ?? false)),
    };
    const startEdge = (port: number) =>
      startLocalEdge({
        origin: createS3Store({ bucket: buckets.hosting, client }),
        distributionId: LOCAL_DISTRIBUTION_ID,
        apiCredentials: credentials,
        log,
        port,
        atomic: { credentials: [credentials], propagationMs, initialKeys },
      });
    // The site's port of the last run, so links handed out then (preview links) still open.
    const edge = await onKeptPort(dataDir, SITE_PORT, startEdge, log);
    closers.push(() => edge.close());
    log(`embedded S3 server on ${s3.endpoint}; CDN edge on ${edge.url} (atomic releases)`);

    const env: LocalEnv = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      s3Endpoint: s3.endpoint,
      credentials,
      buckets,
      distributionId: LOCAL_DISTRIBUTION_ID,
      edgeUrl: edge.url,
      cdnEndpoint: edge.cdnEndpoint,
      ...(edge.atomic
        ? { releaseStore: { arn: edge.atomic.kvsArn, endpoint: edge.atomic.kvsEndpoint, propagationMs } }
        : {}),
      dataDir,
    };
    await writeLocalEnv(cwd, env);
    closers.push(() => rm(localEnvFile(cwd), { force: true }));

    const site = await openSite(LOCAL_STACK, config, cwd, { onNotice: () => undefined });
    closers.push(async () => site.close());
    // A damaged pin is for the deploy to report (TAMPERED), not a reason not to start.
    const pin = await readPin(site).catch(() => null);
    // Edits not committed are not the commit's build: published as its sha they would keep the
    // commit's own build out for good (artifacts are immutable). Never built or published here.
    const uncommitted =
      (await uncommittedAppFiles({
        root: cwd,
        appPath: config.appPath,
        commit,
        build: config.build,
        anyCommit: true,
      })) ?? [];
    const short = commit.slice(0, 7);
    const ready = (await readManifest(site.artifacts, app, commit)) !== null;
    if (uncommitted.length > 0) {
      log(
        `note: ${config.appPath} has uncommitted changes (${someFiles(uncommitted)}): dev does not build or publish them as ${app}@${short}, ` +
          `since they are not that commit's build and a published build is immutable. ${ready ? `It deploys the build published for ${short}, without them.` : `No build of ${short} is published, so nothing is deployed.`} ` +
          'To see them here, commit them and start dev again (or stash them, `git stash -u`, to deploy the commit as it is).',
      );
    }
    const started = (published: boolean, isReady: boolean): LocalEnvironment => ({
      env,
      stack: LOCAL_STACK,
      published: { app, commit, published, ready: isReady },
      uncommitted,
      pin,
      close,
    });
    // A published artifact never changes (a different build of its commit is refused): no need to build it again.
    if (ready) {
      log(`${app}@${short} already published; not building it again`);
      return started(false, true);
    }
    if (uncommitted.length > 0) return started(false, false);
    const outDir = await buildApp(appDir, config, commit, log);
    const request: RequestInfo = {
      text: `publish ${app}@${commit.slice(0, 7)} (frontendops dev)`,
      actor: options.actor ?? 'frontendops dev',
      planner: 'cli',
      at: new Date().toISOString(),
    };
    let published = false;
    try {
      published = (await publishBuild(site, { dir: outDir, app, commit, repository: cwd }, request))
        .published;
    } catch (error) {
      // A working tree with uncommitted changes builds differently from the published commit.
      if (!isFrontendOpsError(error, 'CONFLICT')) throw error;
      log(
        `note: ${app}@${commit.slice(0, 7)} was published earlier with other content (uncommitted changes?); keeping that artifact`,
      );
    }
    log(published ? `published ${app}@${short}` : `${app}@${short} already published`);
    return started(published, true);
  } catch (error) {
    await close();
    throw error;
  }
}

function propagationFromEnv(): number {
  const text = process.env[PROPAGATION_ENV];
  if (text === undefined || text === '') return DEFAULT_PROPAGATION_MS;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 0 || ms > 60_000) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `${PROPAGATION_ENV} is the local edge's propagation delay in milliseconds (0 to 60000), not "${text}".`,
    );
  }
  return ms;
}

/** A server of `dev` whose port is kept between runs: the file it is kept in, and what it is called. */
export interface KeptPort {
  file: string;
  /** "site", "console": in "the site's port of the last run". */
  name: string;
  /** The links that stop opening when it moves, said after "links to port N". */
  links?: string;
}

/** The site's port, kept beside the preview secret. */
const SITE_PORT: KeptPort = { file: 'site-port', name: 'site', links: ' (preview links among them)' };
/** The console's port, kept the same way: its address stays what the browser has open or bookmarked. */
export const CONSOLE_PORT: KeptPort = { file: 'console-port', name: 'console' };

/**
 * Starts a server of `dev` on the port it had in the last run (kept in `dataDir`), so addresses
 * handed out then still open; when another program holds that port now, on any free one, said so.
 * The port it got is kept for the next run.
 */
export async function onKeptPort<T extends { url: string }>(
  dataDir: string,
  kept: KeptPort,
  start: (port: number) => Promise<T>,
  log: (line: string) => void,
): Promise<T> {
  const file = join(dataDir, kept.file);
  const text = (await readFile(file, 'utf8').catch(() => '')).trim();
  const number = /^\d{1,5}$/.test(text) ? Number(text) : 0;
  const last = number >= 1024 && number <= 65535 ? number : null;
  const server = await start(last ?? 0).catch(async (error: unknown) => {
    if (last === null || !isFrontendOpsError(error, 'BAD_INPUT')) throw error;
    const moved = await start(0);
    log(
      `the ${kept.name}'s port of the last run (${last}) is in use: the ${kept.name} is on ${moved.url} now, and links to port ${last}${kept.links ?? ''} no longer open`,
    );
    return moved;
  });
  await writeFile(file, `${new URL(server.url).port}\n`);
  return server;
}

/** The preview links' secret, kept beside the data (owner-only) so links survive a restart. */
async function previewSecretIn(dataDir: string): Promise<string> {
  const file = join(dataDir, 'preview-secret');
  const kept = await readFile(file, 'utf8').catch(() => '');
  if (kept.trim().length >= 32) return kept.trim();
  const secret = newPreviewSecret();
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * The release pointer the state names, for the in-memory store at start: the live release (and the
 * canary) when their files are in place (their release index exists); nothing otherwise — an
 * in-place layout from before atomic releases is then served from the bucket root, as the release
 * router does without a pointer, until the next deploy moves it to a release prefix.
 */
async function releasePointerFromState(
  client: ReturnType<typeof createS3Client>,
  stateBucket: string,
  spa: boolean,
): Promise<Record<string, string>> {
  const state = createS3Store({ bucket: stateBucket, client });
  const prefix = defaultStatePrefix(LOCAL_STACK);
  const atomic = createAtomicRecords(state, prefix);
  const [pointer, atomicState] = await Promise.all([
    createStateRecords(state, prefix).readPointer(),
    atomic.readState(),
  ]);
  if (!pointer) return {};
  const live = releaseIdFor(pointer.value);
  if (!(await atomic.readReleaseIndex(live))) return {};
  const canary = atomicState.canary;
  const canaryInPlace = canary ? await atomic.readReleaseIndex(canary.releaseId) : null;
  return {
    [RELEASE_KEY]: encodeReleasePointer({
      live,
      ...(canary && canaryInPlace ? { canary: canary.releaseId, weight: canary.weight } : {}),
      ...(spa ? { spa: true } : {}),
    }),
  };
}

/**
 * The commit the app's build belongs to: the newest commit touching its directory, as the git
 * server reports it.
 */
async function latestCommitOf(appDir: string, appPath: string): Promise<string> {
  const git = (args: string[]) =>
    promisify(execFile)('git', args, { cwd: appDir }).then(
      ({ stdout }) => stdout.trim(),
      () => null,
    );
  const where = `"appPath" (${appPath}) in frontendops.config.json`;
  if (!(await stat(appDir).catch(() => null))?.isDirectory()) {
    throw badInput(
      `The app's directory ${appPath} does not exist in this repository (${appDir}). Set "appPath" in frontendops.config.json to the app's directory, relative to the repository's top.`,
    );
  }
  const sha = await git(['log', '-1', '--format=%H', '--', '.']);
  if (sha && FULL_COMMIT.test(sha)) return sha;
  throw badInput(
    (await git(['rev-parse', '--is-inside-work-tree'])) === 'true'
      ? `No commit${touching(appPath)} is in the repository yet: the local environment deploys its newest commit. Commit the app first, or check ${where}.`
      : `${appDir} is not in a git checkout: the local environment deploys the newest commit${touching(appPath)}. Run it in a clone of the repository.`,
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
  if (!command) return builtSite(output, config);
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
  return builtSite(output, config);
}

/** The site `dev` publishes: "build.output" of the configuration, which must name a directory. */
async function builtSite(output: string, config: Config): Promise<string> {
  if ((await stat(output).catch(() => null))?.isDirectory()) return output;
  const given = `"build.output" (${config.build?.output ?? '.'}, relative to "appPath" ${config.appPath}) in frontendops.config.json`;
  throw badInput(
    config.build?.command
      ? `The build ran, but ${output}, the site ${given} names, is not a directory. Set "build.output" to the directory the build writes.`
      : `${output}, the site ${given} names, is not a directory. Without "build.command" the site is published as it is: set "build.output" to the directory holding its index.html, or "build.command" to build it.`,
  );
}
