/**
 * Reads a build directory into manifest entries. Refuses, before anything is uploaded: a missing or
 * empty directory, no index.html, a symlink leaving the directory (or, named in a project, the
 * directory itself really outside its git repository), a name that is not valid UTF-8,
 * a key longer than S3 allows, an environment file (.env, .env.*: secrets, by convention). A git
 * repository's own files (.git), FrontendOps' local environment (.frontendops) and installed
 * packages (node_modules) are left out: they are never part of a site.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import mime from 'mime';
import pLimit from 'p-limit';
import { type CachePolicy, cacheControlFor, DEFAULT_CACHE_POLICY } from '../engine/cache-policy.ts';
import { sitePathProblem } from '../engine/manifest.ts';
import type { FileEntry } from '../engine/types.ts';
import { badInput } from '../errors.ts';
import { isInside } from '../inside.ts';
import { specialKind } from '../private-file.ts';

export interface ScannedFile extends FileEntry {
  /** Absolute path on disk (after resolving a symlink inside the directory). */
  source: string;
}

interface Found {
  sitePath: string;
  source: string;
  size: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Directories never published, at any depth: a repository's, FrontendOps' and npm's own. */
const LEFT_OUT = new Set(['.git', '.frontendops', 'node_modules']);
const HASH_CONCURRENCY = 16;
const STREAM_ABOVE = 1024 * 1024;

export async function scanBuildDirectory(
  dir: string,
  policy: CachePolicy = DEFAULT_CACHE_POLICY,
  /** The project `dir` was named in (where its configuration is): see repositoryLeft. */
  repository?: string,
): Promise<Map<string, ScannedFile>> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => null);
  if (!info?.isDirectory()) {
    throw badInput(
      `The build directory ${dir} does not exist or is not a directory. Build the app first, then pass the directory its build writes (e.g. dist).`,
    );
  }
  const realRoot = await realpath(root);
  const left = repository ? await repositoryLeft(root, realRoot, repository) : null;
  if (left !== null) {
    throw badInput(
      `The build directory ${dir} is in the repository ${left}, but it is a symlink, or under one, to ${realRoot}, outside it: whoever changes the repository's files would choose what is published. Nothing was uploaded. Build into a directory of the repository, or name the directory itself (${realRoot}) to publish it from there.`,
    );
  }
  const found: Found[] = [];
  await walk(realRoot, realRoot, '', found, new Set([realRoot]));
  if (found.length === 0) {
    throw badInput(
      `The build directory ${dir} is empty. Expected the output of a build (index.html and assets); run the build first.`,
    );
  }
  if (!found.some((f) => f.sitePath === '/index.html')) {
    throw badInput(
      `The build directory ${dir} has no index.html at its top level. Expected a built site; pass the build's output directory (e.g. dist/), not the project.`,
    );
  }
  // Several files hashed at once: one at a time, a 20,000-file build mostly waited on the disk.
  const limit = pLimit(HASH_CONCURRENCY);
  const sorted = found.sort((a, b) => a.sitePath.localeCompare(b.sitePath));
  const hashes = await Promise.all(sorted.map((file) => limit(() => hashFile(file.source, file.size))));
  const files = new Map<string, ScannedFile>();
  for (const [i, { sitePath, source }] of sorted.entries()) {
    const { sha256, size } = hashes[i] as { sha256: string; size: number };
    files.set(sitePath, {
      source,
      sha256,
      size,
      contentType: contentTypeFor(sitePath),
      cacheControl: cacheControlFor(sitePath, policy),
    });
  }
  return files;
}

/**
 * The repository a build directory named inside the project (`root`, as given) really leaves
 * (`realRoot`), if it does: a symlink committed as the build's output, or as a directory above it,
 * would publish wherever it points. The repository is the project's git work tree (in a monorepo, a
 * link to another of its directories stays in it), or the project itself outside git. A directory
 * named outside the project is published as it is: whoever ran the command named it.
 */
async function repositoryLeft(root: string, realRoot: string, project: string): Promise<string | null> {
  const inside = (path: string, base: string) => isInside(base, path);
  const repo = resolve(project);
  if (!inside(root, repo) || inside(realRoot, await realpath(repo).catch(() => repo))) return null;
  // Asked only here, of a directory leaving the project: git prints its top level's real path.
  const top = await promisify(execFile)('git', ['rev-parse', '--show-toplevel'], { cwd: repo }).then(
    ({ stdout }) => stdout.trim() || null,
    () => null,
  );
  if (top === null) return repo;
  return inside(realRoot, top) ? null : top;
}

export function contentTypeFor(sitePath: string): string {
  const type = mime.getType(sitePath) ?? 'application/octet-stream';
  const textual =
    type.startsWith('text/') ||
    /^application\/(javascript|json|manifest\+json|xml)$/.test(type) ||
    type === 'image/svg+xml';
  return textual ? `${type}; charset=utf-8` : type;
}

async function walk(realRoot: string, dir: string, prefix: string, found: Found[], ancestors: Set<string>) {
  const names = await readdir(dir, { encoding: 'buffer' });
  for (const raw of names) {
    let name: string;
    try {
      name = utf8.decode(raw);
    } catch {
      throw badInput(
        `The file name ${JSON.stringify(inBuild(`${prefix}/${raw.toString('latin1')}`))} in the build directory is not valid UTF-8. S3 keys must be UTF-8: rename the file.`,
      );
    }
    const sitePath = `${prefix}/${name}`;
    // A site kept at the top of its repository (appPath "." and no build) holds the repository's
    // own files: never part of the site. Its .git (a config can hold a token, its objects every past
    // version), FrontendOps' own .frontendops (the local environment's S3 key and preview secret),
    // and the installed packages (node_modules, left out as static hosts such as Firebase's do).
    if (LEFT_OUT.has(name)) continue;
    if (name === '.env' || name.startsWith('.env.')) {
      throw badInput(
        `The build directory holds ${inBuild(sitePath)}: an environment file (such files hold secrets), which would be served to anyone as part of the site. Pass the build's output directory (e.g. dist/), not the project, or remove it from the build.`,
      );
    }
    const problem = sitePathProblem(sitePath);
    if (problem)
      throw badInput(
        `The path ${inBuild(sitePath)} in the build directory cannot be published: ${problem}. Rename it or remove it from the build.`,
      );
    const full = join(dir, name);
    const entry = await lstat(full);
    let target = full;
    if (entry.isSymbolicLink()) {
      target = await realpath(full).catch(() => {
        throw badInput(
          `The symlink ${inBuild(sitePath)} in the build directory points to nothing. Remove it from the build.`,
        );
      });
      if (!isInside(realRoot, target)) {
        throw badInput(
          `The symlink ${inBuild(sitePath)} in the build directory points outside it (path traversal). Only files inside the build are published: copy the file in instead.`,
        );
      }
    }
    const kind = await stat(target);
    if (kind.isDirectory()) {
      const real = await realpath(target);
      if (ancestors.has(real)) {
        throw badInput(
          `The symlink ${inBuild(sitePath)} in the build directory loops back to a directory above it. Remove it from the build.`,
        );
      }
      await walk(realRoot, real, sitePath, found, new Set([...ancestors, real]));
    } else if (kind.isFile()) found.push({ sitePath, source: target, size: kind.size });
    else {
      // A named pipe, a socket or a device is no file of a site: reading one blocks or never ends.
      throw badInput(
        `The build directory holds ${inBuild(sitePath)}, which is ${specialKind(kind)}, not a file: only files and directories are published. Nothing was uploaded. Remove it from the build, or pass the build's output directory (e.g. dist/).`,
      );
    }
  }
}

/** A path of the site, as the build directory holds it: relative to it ("assets/app.js", not "/assets/app.js"). */
export const inBuild = (sitePath: string): string => sitePath.replace(/^\//, '');

/**
 * A file up to STREAM_ABOVE bytes is read whole: streamed, each small file would take a fresh
 * 64 KiB buffer, and at 20,000 files those keep the garbage collector busy for seconds.
 */
async function hashFile(path: string, statSize: number): Promise<{ sha256: string; size: number }> {
  if (statSize <= STREAM_ABOVE) {
    const body = await readFile(path);
    return { sha256: createHash('sha256').update(body).digest('hex'), size: body.length };
  }
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
