/**
 * GitHost backed by a local repository through the real `git` binary. Every call is an execFile with
 * an argument vector (never a shell), refs and paths are validated first, and `--end-of-options` /
 * `--literal-pathspecs` keep user text from being read as options or globs.
 */

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { COMMIT_REF } from '../engine/ids.ts';
import { FrontendOpsError } from '../errors.ts';
import { isoDate, tagDate } from '../git/dates.ts';
import { tagTaken, untaggedCommit } from '../git/host-refusals.ts';
import {
  assertOneRef,
  assertRef,
  assertRepoPath,
  assertTagName,
  assertTagPrefix,
  assertTagRequest,
} from '../git/validate.ts';
import type { CommitInfo, GitHost, TagInfo } from '../ports.ts';

const run = promisify(execFile);
/** How this backend's refusals name its repository. */
const HERE = 'this repository';

// Fields are separated by NUL, and each record of a listing (tags, commits) starts with a random
// boundary chosen per listing: a tag or commit message is anyone's text (it may hold RS, NUL or a
// copy of a record), and cannot guess it.
const COMMIT_FORMAT = '%H%x00%h%x00%an%x00%aI%x00%B';
const newBoundary = () => `frontendops-${randomBytes(16).toString('hex')}`;
const tagFormat = (boundary: string) =>
  `${boundary}%00%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objectname)%00%(creatordate:iso-strict)%00%(contents)`;

export interface LocalGitOptions {
  repoDir: string;
}

export function createLocalGit(options: LocalGitOptions): GitHost {
  const git = (args: string[]) => runGit(options.repoDir, args);

  const resolveCommit = async (ref: string): Promise<string | null> => {
    // Not --quiet: git tells a name two refs hold (a tag pushed named like a branch, which it takes
    // first) only in a warning.
    const result = await git([
      '-c',
      'core.warnAmbiguousRefs=true',
      'rev-parse',
      '--verify',
      '--end-of-options',
      `${ref}^{commit}`,
    ]);
    if (result.code !== 0) return null;
    const sha = result.stdout.trim();
    // git says when a name is more than one ref's: the refs are looked up only then, or for a
    // sha-like name the commit found does not begin with.
    if (/is ambiguous/.test(result.stderr) || (COMMIT_REF.test(ref) && !sha.startsWith(ref))) {
      await assertOneRef(
        ref,
        sha,
        async (full) => (await git(['show-ref', '--verify', '--quiet', full])).code === 0,
      );
    }
    return sha;
  };

  return {
    async latestCommit(path, ref = 'HEAD') {
      assertRepoPath(path);
      assertRef(ref);
      const sha = await resolveCommit(ref);
      if (!sha) throw unknownRef(ref);
      const out = await gitOk(git, ['log', '-1', `--format=${COMMIT_FORMAT}`, sha, '--', path]);
      return out.trim() ? parseCommit(out) : null;
    },

    async getCommit(ref) {
      assertRef(ref);
      const sha = await resolveCommit(ref);
      if (!sha) return null;
      return parseCommit(await gitOk(git, ['log', '-1', `--format=${COMMIT_FORMAT}`, sha]));
    },

    async commitsBetween(base, head, path, limit = 20) {
      assertRef(base);
      assertRef(head);
      assertRepoPath(path);
      const [from, to] = await Promise.all([resolveCommit(base), resolveCommit(head)]);
      if (!from) throw unknownRef(base);
      if (!to) throw unknownRef(head);
      // Each record starts with a boundary chosen per listing: a commit message is anyone's text.
      const boundary = newBoundary();
      const out = await gitOk(git, [
        'log',
        `--max-count=${limit + 1}`,
        `--format=${boundary}%x00${COMMIT_FORMAT}`,
        `${from}..${to}`,
        '--',
        path,
      ]);
      const commits = out.split(`${boundary}\0`).slice(1).map(parseCommit);
      return { commits: commits.slice(0, limit), truncated: commits.length > limit };
    },

    async createTag({ name, sha, message }) {
      assertTagRequest({ name, sha, message });
      const target = await resolveCommit(sha);
      if (!target) throw untaggedCommit(sha, HERE);
      // Verbatim: git's default cleanup would drop lines starting with "#" and collapse blank lines.
      const text = message.endsWith('\n') ? message : `${message}\n`;
      const created = await git([
        'tag',
        '--annotate',
        '--cleanup=verbatim',
        `--message=${text}`,
        '--',
        name,
        target,
      ]);
      if (created.code !== 0) {
        // "cannot lock ref": another process is creating the same tag right now — same outcome.
        if (/already exists|cannot lock ref/.test(created.stderr)) {
          throw tagTaken(name, HERE);
        }
        throw upstream('git tag', created.stderr);
      }
      const tag = (await listTagsIn(git)).find((t) => t.name === name);
      if (!tag) throw upstream('git tag', `tag ${name} was not found after creating it`);
      return tag;
    },

    async listTags(prefix) {
      assertTagPrefix(prefix);
      // In any case (ports.ts): a tag "DASHBOARD-DEPLOY-…" takes "dashboard-deploy-…" where the
      // file system folds case. A prefix is letters, digits, ".", "_" and "-" (assertTagPrefix).
      const starts = new RegExp(`^${prefix.replaceAll('.', '\\.')}`, 'iu');
      return (await listTagsIn(git)).filter((t) => starts.test(t.name));
    },

    async readTag(name) {
      assertTagName(name);
      return (await listTagsIn(git, name)).find((t) => t.name === name) ?? null;
    },
  };
}

/** createLocalGit after checking that `repoDir` is a git work tree, so a wrong --repo fails at start-up. */
export async function openLocalGit(options: LocalGitOptions): Promise<GitHost> {
  const probe = await runGit(options.repoDir, ['rev-parse', '--is-inside-work-tree']).catch(() => null);
  if (probe?.code !== 0 || probe.stdout.trim() !== 'true') {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `${options.repoDir} is not a git repository. Pass --repo <dir> pointing at a clone, or --github <owner/repo>.`,
    );
  }
  return createLocalGit(options);
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function runGit(cwd: string, args: string[]): Promise<GitResult> {
  try {
    const { stdout, stderr } = await run('git', ['--literal-pathspecs', ...args], {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      // Replace refs (refs/replace/*) would let anyone who can push, once fetched, have another
      // commit's subject, author and paths answered for a commit: a sha names its own object here.
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', GIT_NO_REPLACE_OBJECTS: '1' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string; message: string };
    if (typeof e.code !== 'number') {
      throw new FrontendOpsError(
        'UPSTREAM',
        `Could not run git in ${cwd}: ${e.message}. Check that git is installed and the directory exists.`,
        { cause: error },
      );
    }
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function gitOk(git: (args: string[]) => Promise<GitResult>, args: string[]): Promise<string> {
  const result = await git(args);
  if (result.code !== 0) throw upstream(`git ${args[0]}`, result.stderr);
  return result.stdout;
}

/**
 * Every tag, or (`name`) the tags its pattern matches: the one of that name and any pushed below it
 * (`<name>/…`, since a tag name may hold "/"), which the callers' exact-name lookup leaves out.
 */
async function listTagsIn(git: (args: string[]) => Promise<GitResult>, name?: string): Promise<TagInfo[]> {
  const boundary = newBoundary();
  const out = await gitOk(git, [
    'for-each-ref',
    `--format=${tagFormat(boundary)}`,
    `refs/tags/${name ?? ''}`,
  ]);
  return out
    .split(`${boundary}\0`)
    .slice(1)
    .map((record) => {
      // The name, type and ids cannot hold NUL (git refuses control characters in ref names); the
      // message is last, so whatever it holds stays in it.
      const [name = '', type, object = '', peeled = '', date = '', ...contents] = record.split('\0');
      const annotated = type === 'tag';
      return {
        name,
        sha: annotated ? peeled : object,
        message: annotated ? contents.join('\0').trimEnd() : '',
        ...tagDate(date),
      };
    });
}

function parseCommit(out: string): CommitInfo {
  const [sha = '', shortSha = '', author = '', date = '', ...rest] = out.split('\0');
  return { sha, shortSha, author, date: isoDate(date), message: rest.join('\0').trim() };
}

const unknownRef = (ref: string) =>
  new FrontendOpsError(
    'NOT_FOUND',
    `Unknown ref "${ref}": no branch, tag or commit has that name. Pass an existing branch, tag or sha.`,
  );

const upstream = (what: string, stderr: string) =>
  new FrontendOpsError('UPSTREAM', `${what} failed: ${stderr.trim() || 'no error output'}`);
