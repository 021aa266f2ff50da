/**
 * Checks for text that ends up as git arguments or GitHub URL segments. Both backends call these
 * before doing anything, so a value like "--upload-pack=…" or "../../etc" is refused as BAD_INPUT
 * and nothing runs.
 */
import { COMMIT_REF } from '../engine/ids.ts';
import { badInput } from '../errors.ts';

// Letters, digits and the punctuation real refs use (feature/x, v1.2.3, HEAD~2, main^, a@{1}).
const REF = /^[A-Za-z0-9][A-Za-z0-9._/~^@{}+-]*$/;
// git check-ref-format's rules that matter here, for one path component-free tag name.
const TAG = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function assertRef(ref: string): void {
  if (ref.length > 200 || !REF.test(ref) || ref.includes('..') || ref.endsWith('.lock')) {
    throw badInput(
      `Invalid git ref "${ref}": expected a branch, tag or commit sha such as "main" or "3f2c1a9" ` +
        '(letters, digits, . _ / - ~ ^; not starting with "-"). Pass a ref that exists in the repository.',
    );
  }
}

/**
 * A ref that reads as a commit sha ("3f2c1a9") must be answered by a commit that begins with it. git
 * takes a branch or tag of that name before an abbreviated sha (so does the GitHub API), and anyone
 * who can push can make one: "deploy 3f2c1a9" would otherwise be answered with whatever commit that
 * tag points at. Refused (BAD_INPUT), saying what to pass instead.
 */
export function assertNotShadowed(ref: string, found: string): void {
  if (!COMMIT_REF.test(ref) || found.startsWith(ref)) return;
  throw badInput(
    `"${ref}" reads as a commit sha, but the repository has a branch or tag of that name, on commit ${found.slice(0, 7)}: it is not taken for commit ${ref}. Nothing was done. Pass the commit's full sha, or name the ref with its kind (tags/${ref} or heads/${ref}).`,
  );
}

export function assertCommitSha(sha: string): void {
  // The contract's rule (SHA-1 or SHA-256 git, lower-case), so a commit every other tool took is tagged too.
  if (!COMMIT_REF.test(sha)) {
    throw badInput(
      `Invalid commit "${sha.slice(0, 80)}": expected a commit sha of 7 to 64 lower-case hex digits. ` +
        'Use the sha returned by latest_commit or get_commit.',
    );
  }
}

export function assertTagName(name: string): void {
  if (name.length > 200 || !TAG.test(name) || name.includes('..') || name.endsWith('.lock')) {
    throw badInput(
      `Invalid tag name "${name}": expected letters, digits, ".", "_" or "-", not starting with "-" or ".".`,
    );
  }
}

/** A prefix tags are listed by (GitHost listTags): none (""), or the start of a tag name. */
export function assertTagPrefix(prefix: string): void {
  if (prefix !== '') assertTagName(prefix);
}

/** A tag message: any text but NUL, which git stores as the end of the message and so would cut it short. */
export function assertTagMessage(message: string): void {
  if (message.includes('\0')) {
    throw badInput('Invalid tag message: it contains a NUL character, which git cannot store. Remove it.');
  }
}

/**
 * A tag request (GitHost createTag) as every backend takes it: a tag name, a commit sha and a message
 * git can store. Said once for the local git and GitHub backends.
 */
export function assertTagRequest(tag: { name: string; sha: string; message: string }): void {
  assertTagName(tag.name);
  assertCommitSha(tag.sha);
  assertTagMessage(tag.message);
}

/** A path inside the repository, relative, without "..", e.g. "apps/sophia-dashboard". "." is the root. */
export function assertRepoPath(path: string): void {
  const segments = path.split('/');
  const bad =
    path.length === 0 ||
    path.length > 500 ||
    path.startsWith('/') ||
    path.startsWith('-') ||
    !/^[\w.@+/ -]+$/.test(path) ||
    segments.some((s) => s === '..');
  if (bad) {
    throw badInput(
      `Invalid repository path "${path}": expected a relative directory or file inside the repository ` +
        'such as "apps/sophia-dashboard" (no leading "/" or "-", no "..", no wildcards).',
    );
  }
}
