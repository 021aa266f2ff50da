/**
 * publishArtifact: uploads a build as an immutable artifact, s3://<artifacts>/<app>/<commit>/,
 * files first and manifest.json last (the manifest's presence marks a complete artifact).
 * The same build again is a no-op; a different build for a published commit is refused.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pMap from 'p-map';
import type { Config } from '../config.ts';
import { APP_NAME, COMMIT_REF, FULL_COMMIT } from '../engine/ids.ts';
import {
  artifactDigest,
  artifactFileKey,
  artifactKeyProblem,
  artifactManifestKey,
  manifestProblem,
  shortened,
} from '../engine/manifest.ts';
import { escapeOnOneLine } from '../engine/text.ts';
import type { Manifest } from '../engine/types.ts';
import {
  badInput,
  FrontendOpsError,
  isFrontendOpsError,
  LETTING_THE_LOCK_GO,
  withCleanup,
} from '../errors.ts';
import type { GitHost, HeldLock, ObjectStore } from '../ports.ts';
import type { Site } from '../site.ts';
import {
  appendAudit,
  assertAuditWritable,
  heldForAppends,
  newestEntryWhere,
  publishRecorded,
  readNewestEntry,
} from '../state/audit.ts';
import { putJsonObject } from '../state/json-object.ts';
import { PUBLISH_LOG } from '../state/names.ts';
import type { RequestInfo } from '../state/records.ts';
import { inBuild, scanBuildDirectory } from './scan.ts';

export interface PublishInput {
  dir: string;
  /**
   * The repository `dir` was named in (the project root): a directory in it that is really outside
   * it (a symlink, its own or one above it) is refused (scanBuildDirectory).
   */
  repository?: string;
  app: string;
  commit: string;
  now?: () => Date;
  concurrency?: number;
  /** Called once the build was read and checked, before the bucket is looked at (publishBuild locks here). */
  beforeStore?: () => Promise<void>;
  /** Called once every file is uploaded, before the manifest that makes the build published (publishBuild records it here). */
  beforeManifest?: (result: PublishResult) => Promise<void>;
  /**
   * Another build of the commit found published (`found`: its artifact digest): the refusal's words,
   * where the caller knows more than the bucket says (publishBuild: what the publish log records).
   */
  alreadyPublished?: (found: string, digest: string) => Promise<string>;
}

export interface PublishResult {
  app: string;
  commit: string;
  artifactDigest: string;
  files: number;
  bytes: number;
  uploaded: number;
  /** false when this exact build was already published. */
  published: boolean;
}

export async function publishArtifact(artifacts: ObjectStore, input: PublishInput): Promise<PublishResult> {
  validateArtifactId(input.app, input.commit);
  const scanned = await scanBuildDirectory(input.dir, undefined, input.repository);
  for (const path of scanned.keys()) {
    const problem = artifactKeyProblem(input.app, input.commit, path);
    if (problem) {
      throw badInput(
        `The file ${shortened(inBuild(path))} in the build directory cannot be published as ${input.app}@${input.commit.slice(0, 7)}: ${problem}. ` +
          'Shorten its path (or the app name), or remove it from the build. Nothing was uploaded.',
      );
    }
  }
  const files: Manifest['files'] = {};
  for (const [path, { source: _source, ...entry }] of scanned) files[path] = entry;
  const manifest: Manifest = {
    app: input.app,
    commit: input.commit,
    createdAt: (input.now?.() ?? new Date()).toISOString(),
    files,
  };
  const digest = artifactDigest(manifest);
  const bytes = [...scanned.values()].reduce((sum, f) => sum + f.size, 0);
  const summary = {
    app: input.app,
    commit: input.commit,
    artifactDigest: digest,
    files: scanned.size,
    bytes,
  };

  await input.beforeStore?.();
  const existing = await readManifest(artifacts, input.app, input.commit);
  if (existing) {
    const found = artifactDigest(existing);
    if (found === digest) return { ...summary, uploaded: 0, published: false };
    throw new FrontendOpsError(
      'CONFLICT',
      (await input.alreadyPublished?.(found, digest)) ??
        `Commit ${input.commit} of ${input.app} is already published with different content (${found}, this build is ${digest}). ${IMMUTABLE}`,
    );
  }

  // Where the endpoint honours conditional writes, every object is created only if absent: the
  // publisher role may create under its app's prefix but never replace (src/access.ts), so a
  // published build cannot be swapped for another. A file already there is the upload of a publish
  // that stopped before its manifest: kept when its content is this build's, else refused.
  const conditional = (await artifacts.supportsConditionalWrites()) ? { ifNoneMatch: '*' as const } : {};
  let uploaded = 0;
  // Files are taken from the map as upload slots free up (not queued all at once), no result is
  // kept, and the first failure stops the queue: at 20,000 files the 20,000 queued uploads and their
  // results were what held publish's memory up (305 MB peak, now under 256 MB).
  await pMap(
    scanned,
    async ([path, file]) => {
      const key = artifactFileKey(input.app, input.commit, path);
      try {
        await artifacts.put(
          key,
          await readFile(file.source),
          {
            contentType: file.contentType,
            cacheControl: file.cacheControl,
            metadata: { sha256: file.sha256 },
          },
          conditional,
        );
        uploaded++;
      } catch (error) {
        if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
        await keepUploaded(artifacts, key, file.sha256, input, path);
      }
    },
    { concurrency: input.concurrency ?? 16 },
  );
  await input.beforeManifest?.({ ...summary, uploaded, published: true });
  await putJsonObject(artifacts, artifactManifestKey(input.app, input.commit), manifest, conditional);
  return { ...summary, uploaded, published: true };
}

/** A file found already uploaded: its content (not its metadata, which a writer chooses) must be this build's. */
async function keepUploaded(
  artifacts: ObjectStore,
  key: string,
  sha256: string,
  input: PublishInput,
  path: string,
): Promise<void> {
  const found = await artifacts.get(key);
  if (found && createHash('sha256').update(found.body).digest('hex') === sha256) return;
  throw new FrontendOpsError(
    'CONFLICT',
    `The file ${shortened(inBuild(path))} of ${input.app}@${input.commit.slice(0, 7)} is already in the artifacts bucket with other content, and the commit has no manifest: another build of this commit was partly published. Artifacts are never replaced: make the build reproducible and publish a new commit, or have an administrator of the artifacts bucket remove this commit's partial upload. The manifest was not written.`,
  );
}

/**
 * Publishes a build to the site's artifacts bucket and, when it was not published yet, records it in
 * the stack's publish log (the publisher's own chain: it never writes the deploy chain). Once
 * the build was read it holds the commit's publish lock: two publishes of one commit never
 * interleave their files (without conditional writes, both would pass the "already published?"
 * check), and where nothing can serialise writers the refusal comes before the first upload.
 */
export async function publishBuild(
  site: Site,
  input: PublishInput,
  request: RequestInfo,
): Promise<PublishResult> {
  const log = `${site.target.statePrefix}${PUBLISH_LOG}`;
  let lock: HeldLock | undefined;
  const beforeStore = async () => {
    // Held as a deploy holds its lock: the entry is appended from the head read just before it, and
    // its head move is settled before the lock goes.
    lock = heldForAppends(
      await site.locker.acquire(`publish-${input.app}-${input.commit}`, {
        label: `Publishing ${input.app}@${input.commit.slice(0, 7)}`,
        owner: `${request.actor} on ${hostname()} (pid ${process.pid})`,
        ttlMs: 120_000,
        waitMs: 120_000,
        onWait: (notice) => site.notify(notice),
      }),
      site.state,
      log,
    );
    // A log its append would refuse stops the publish here, before the first upload, rather than
    // after every file is uploaded (the entry comes before the manifest, below).
    await assertAuditWritable(site.state, log);
  };
  // The entry comes before the manifest, which is what makes a build published: a publish stopped
  // between the two is recorded, and publishing it again writes the manifest without recording it a
  // second time while that entry is still the log's newest. In the other order a stop there left the
  // build published and unrecorded for good (publishing again finds it published).
  const beforeManifest = async (result: PublishResult) => {
    const newest = await readNewestEntry(site.state, log);
    const already =
      newest?.type === 'publish' &&
      newest.data.app === result.app &&
      newest.data.commit === result.commit &&
      newest.data.artifactDigest === result.artifactDigest;
    if (!already)
      await appendAudit(
        site.state,
        log,
        site.locker,
        { type: 'publish', data: { ...result, stack: site.target.stack, request } },
        { overlap: true }, // the manifest goes out beside the head's move; settled before the lock goes
      );
  };
  // A build found already published with this content that the log never recorded (published
  // without it, or put in the artifacts bucket by someone else): recorded now, as the build this
  // publisher made of the commit, so that a deploy takes it (deploy/live.ts publishedBuild).
  const publish = async () => {
    const alreadyPublished = (found: string, digest: string) =>
      alreadyPublishedWords(site, log, input, found, digest);
    const result = await publishArtifact(site.artifacts, {
      ...input,
      beforeStore,
      beforeManifest,
      alreadyPublished,
    });
    const owner = {
      stack: site.target.stack,
      prefix: site.target.statePrefix,
      ...(site.historyNamed ? { also: site.historyNamed } : {}),
    };
    if (
      !result.published &&
      !(await publishRecorded(site.state, log, result.app, result.commit, owner)).recorded
    )
      await appendAudit(
        site.state,
        log,
        site.locker,
        { type: 'publish', data: { ...result, stack: site.target.stack, request } },
        { overlap: true },
      );
    return result;
  };
  return withCleanup(publish, async () => lock?.release(), LETTING_THE_LOCK_GO);
}

const IMMUTABLE =
  'Artifacts are immutable: builds must be reproducible, or publish the build of a new commit.';

/**
 * Why publishBuild's build of a commit is refused where another build of it is in the bucket, from
 * what the publish log records of the commit: who published that build (ask them), or that no log
 * records it, so it was written around `publish` (by whoever can write the artifacts bucket) and
 * blocks CI's build until an administrator of the bucket removes it.
 */
async function alreadyPublishedWords(
  site: Site,
  log: string,
  input: Pick<PublishInput, 'app' | 'commit'>,
  found: string,
  digest: string,
): Promise<string> {
  const entry = await newestEntryWhere(
    site.state,
    log,
    (e) => e.type === 'publish' && e.data.app === input.app && e.data.commit === input.commit,
  );
  const what = `Commit ${input.commit} of ${input.app}`;
  const differs = `with different content (${found}, this build is ${digest})`;
  const request = entry?.data.request as { actor?: unknown } | undefined;
  const who = escapeOnOneLine(String(request?.actor ?? 'someone')).slice(0, 64);
  const recorded =
    entry &&
    `${who} published ${entry.data.artifactDigest === found ? 'it' : `${String(entry.data.artifactDigest).slice(0, 80)}`} at ${entry.at} (entry ${entry.seq} of the publish log)`;
  if (entry?.data.artifactDigest === found)
    return `${what} is already published ${differs}: ${recorded}. ${IMMUTABLE}`;
  const why = entry
    ? `and the publish log records another build of it (${recorded}): the bucket's copy was written since, without \`frontendops publish\``
    : 'and no publish log records that build: it was written there without `frontendops publish`';
  return `${what} is already in the artifacts bucket ${differs}, ${why}, and no deploy takes it. Nothing was published. An administrator of the artifacts bucket finds who wrote ${input.app}/${input.commit}/ there (the bucket's access log, or CloudTrail's data events), removes it, and runs this publish again.`;
}

/**
 * The artifact's manifest, or null when the commit was never published. TAMPERED when what its key
 * holds is not a manifest publish writes (manifestProblem): not JSON, or of another shape.
 */
export async function readManifest(
  artifacts: ObjectStore,
  app: string,
  commit: string,
): Promise<Manifest | null> {
  const key = artifactManifestKey(app, commit);
  const object = await artifacts.get(key);
  if (!object) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(object.body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const problem = parsed === undefined ? 'it is not JSON' : manifestProblem(parsed);
  if (problem) {
    throw new FrontendOpsError(
      'TAMPERED',
      `The manifest of ${app}@${commit.slice(0, 7)} in the artifacts bucket (${key}) is not one \`frontendops publish\` writes: ${problem}. ` +
        'It was written there without FrontendOps, or damaged. Nothing was changed. An administrator of the artifacts bucket finds who wrote it (the bucket’s access log, or CloudTrail’s data events) and removes it; then publish that commit’s build again, or deploy another published commit.',
      { details: { object: key } },
    );
  }
  return parsed as Manifest;
}

/**
 * The full sha of a published commit named by a sha or its prefix (the short sha every screen shows).
 * With `git`, a short sha is the commit git resolves it to, whether or not a build of it is published
 * (BAD_INPUT when git knows no such commit): a build planted under a short key, or under another sha
 * that starts the same, is never taken for it. Without git (the infra server, the console), the one
 * published commit it starts: NOT_FOUND when none is, BAD_INPUT when it starts several.
 */
export async function resolvePublishedCommit(
  artifacts: ObjectStore,
  app: string,
  ref: string,
  git: GitHost | null = null,
): Promise<string> {
  validateArtifactId(app, ref);
  if (FULL_COMMIT.test(ref)) return ref;
  if (git) {
    const found = await git.getCommit(ref);
    // A sha, not a branch or tag that happens to look like one.
    if (found && FULL_COMMIT.test(found.sha) && found.sha.startsWith(ref)) return found.sha;
    throw badInput(
      `${ref} is not a commit the git repository knows: expected a short sha of one commit in it (a short sha is resolved by git, never by the builds in the artifacts bucket). Nothing was changed. Give more of the sha or all of it (git rev-parse ${ref}), or fetch the commit into this repository first.`,
    );
  }
  const commits = new Set(
    (await artifacts.list(`${app}/${ref}`))
      .map((o) => o.key.slice(app.length + 1).split('/')[0] ?? '')
      .filter((c) => COMMIT_REF.test(c) && c.startsWith(ref)),
  );
  const found = [...commits].sort();
  if (found.length === 1) return found[0] as string;
  if (found.length === 0) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      `No build of ${app} is published for a commit starting with ${ref}. Publish it first (frontendops publish <dir> --commit <sha>), or check the sha.`,
    );
  }
  // Each in full: a commit planted in the bucket may share any part of a published one's sha.
  const named = found.length > 5 ? [...found.slice(0, 5), `${found.length - 5} more`] : found;
  throw badInput(
    `${ref} is the start of ${found.length} published commits of ${app} (${named.join(', ')}); give more of the sha, or all of it.`,
  );
}

export function validateArtifactId(app: string, commit: string): void {
  if (!APP_NAME.test(app)) {
    throw badInput(
      `The app name "${app}" is not valid: expected lower-case letters, digits, ".", "_" or "-" (e.g. sophia-dashboard).`,
    );
  }
  if (!COMMIT_REF.test(commit)) {
    throw badInput(
      `The commit "${commit}" is not a commit sha: expected 7 to 64 lower-case hex characters (e.g. the output of git rev-parse HEAD).`,
    );
  }
}

export interface WorkingTreeInput {
  /** The project root, which appPath is relative to (a git repository, or in one). */
  root: string;
  /** The app's sources, relative to root (the configuration's appPath). */
  appPath: string;
  /** The commit the build is published as. */
  commit: string;
  /** The configuration's build: with a command, its output is made by it, not a source, and left out. */
  build?: Config['build'];
  /**
   * Compare even when the commit is not HEAD: `dev` publishes the newest commit touching appPath,
   * whose files under appPath are HEAD's.
   */
  anyCommit?: boolean;
}

/**
 * The app's files that differ in the working tree from the commit a build of it is published as:
 * tracked changes and untracked files git does not ignore, under appPath (`git status --porcelain --
 * <appPath>`); the tool's own `.frontendops/` and a build command's output are left out. Compared only
 * when the commit is the repository's HEAD (a build of this working tree, stamped with its sha):
 * null when there is nothing to compare — not in a git repository, or another commit (CI publishing
 * a checked-out commit, a build made elsewhere).
 */
export async function uncommittedAppFiles(input: WorkingTreeInput): Promise<string[] | null> {
  const git = (args: string[]) =>
    promisify(execFile)('git', args, { cwd: input.root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  let head: string;
  try {
    head = (await git(['rev-parse', '--verify', '--quiet', 'HEAD'])).stdout.trim();
  } catch {
    return null; // not a git repository (or git is not installed, or nothing is committed yet)
  }
  if (!input.anyCommit && head !== input.commit) return null;
  const output = input.build?.command ? join(input.appPath, input.build.output) : null;
  // Literal pathspecs: a path is a path, not a glob.
  const pathspec = [
    `:(literal)${input.appPath}`,
    ':(exclude,literal).frontendops',
    ...(output && output !== input.appPath && output !== '.' ? [`:(exclude,literal)${output}`] : []),
  ];
  let listed: string;
  try {
    // Reading only: no index refresh written behind the developer's back (--no-optional-locks).
    const status = ['--no-optional-locks', 'status', '--porcelain=v1', '-z', '--untracked-files=all'];
    listed = (await git([...status, '--', ...pathspec])).stdout;
  } catch (error) {
    throw new FrontendOpsError(
      'UPSTREAM',
      `Could not tell whether ${input.appPath} has uncommitted changes (git status failed: ${(error as Error).message.trim().slice(0, 300)}). Nothing was published.`,
    );
  }
  // "XY path\0", and a rename's or copy's original path as the next field.
  const fields = listed.split('\0');
  const files: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    if (field.length < 4) continue;
    files.push(field.slice(3));
    if (/^(?:[RC].|.[RC])/.test(field)) i++;
  }
  return files;
}

/**
 * Whether the git repository at `root` lacks `commit`: true when it is a repository and knows no
 * such commit (a typo, a sha from another repository, a shallow clone without it); false when it
 * has it, or `root` is no repository (a build published from elsewhere is not judged).
 */
export async function commitUnknownHere(root: string, commit: string): Promise<boolean> {
  const git = (args: string[]) => promisify(execFile)('git', args, { cwd: root, encoding: 'utf8' });
  try {
    await git(['rev-parse', '--verify', '--quiet', 'HEAD']);
  } catch {
    return false;
  }
  try {
    await git(['cat-file', '-e', `${commit}^{commit}`]);
    return false;
  } catch {
    return true;
  }
}

/** The first few of a list of files, for a message: "a, b, c and 4 more". */
export function someFiles(files: readonly string[], shown = 5): string {
  const named = files.slice(0, shown).map((file) => shortened(file));
  const rest = files.length - named.length;
  return rest > 0 ? `${named.join(', ')} and ${rest} more` : named.join(', ');
}

/** BAD_INPUT: a build of a working tree with uncommitted changes, to be published as HEAD. */
export function uncommittedError(input: {
  app: string;
  commit: string;
  appPath: string;
  files: readonly string[];
}) {
  const short = input.commit.slice(0, 7);
  return badInput(
    `${input.appPath} has uncommitted changes (${someFiles(input.files)}), so a build of it is not the build of ${input.app}@${short} (HEAD); ` +
      `a published build is immutable, and published as ${short} it would keep that commit's own build out for good. Nothing was published. ` +
      'Commit the changes (then publish the new commit), or stash them (`git stash -u`) and publish again.',
    { files: input.files.slice(0, 100) },
  );
}
