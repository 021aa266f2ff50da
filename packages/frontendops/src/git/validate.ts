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
 * The full refs git reads a ref's name as, in git's order (it takes the first that exists): "main"
 * is refs/main, refs/tags/main, refs/heads/main or refs/remotes/main, and anyone who can push can
 * make any of them. A suffix (main~2, main^, main@{1}) is no part of the name.
 */
function refsNamedBy(ref: string): string[] {
  const name = nameOf(ref);
  return ['%s', 'refs/%s', 'refs/tags/%s', 'refs/heads/%s', 'refs/remotes/%s']
    .map((rule) => rule.replace('%s', () => name))
    .filter((full) => full.startsWith('refs/'));
}

/** Whether a backend holds a ref of this full name ("refs/tags/main"). */
export type RefHeld = (full: string) => Promise<boolean>;

/**
 * What a ref, answered by commit `found` (undefined: not read), may name, said once for every
 * backend; `held` asks the backend which refs exist. Anyone who can push can make a ref that takes
 * a name from the one meant: git reads a name as a tag before a branch, and as either before an
 * abbreviated sha (GitHub's API documents no other order). Refused (BAD_INPUT), naming the refs in full, as nothing else can take:
 * - a name that reads as a commit sha ("3f2c1a9") answered by a commit that does not begin with it
 *   ("deploy 3f2c1a9" would be answered with whatever commit a tag of that name points at);
 * - a name more than one ref holds ("main", a branch and a pushed tag), unless it is the full name
 *   of the one git takes ("refs/heads/main").
 * HEAD (HEAD~1, …) is the checkout (the default branch), whatever refs say.
 */
export async function assertOneRef(ref: string, found: string | undefined, held: RefHeld): Promise<void> {
  if (nameOf(ref) === 'HEAD') return;
  const shadowing = COMMIT_REF.test(ref);
  if (shadowing && (found === undefined || found.startsWith(ref))) return;
  const candidates = refsNamedBy(ref);
  const exists = await Promise.all(candidates.map(held));
  const refs = candidates.filter((_, i) => exists[i]);
  if (shadowing) throw shadowedSha(ref, found ?? '', refs);
  const name = nameOf(ref);
  if (refs.length > 1 && refs[0] !== name) throw ambiguousRef(name, refs);
}

const nameOf = (ref: string) => ref.split(/[~^@:]/, 1)[0] ?? '';

const shadowedSha = (ref: string, found: string, refs: readonly string[]) =>
  badInput(
    `"${ref}" reads as a commit sha, but the repository has ${refs.length ? `a ref of that name (${refs.join(', ')})` : 'a branch or tag of that name'}, on commit ${found.slice(0, 7)}: it is not taken for commit ${ref}. Nothing was done. Pass the commit's full sha, as latest_commit or git log shows it${refs.length ? '; to mean the ref, name it in full, as listed' : ''}.`,
  );

const ambiguousRef = (name: string, refs: readonly string[]) =>
  badInput(
    `"${name}" names more than one ref here (${refs.join(', ') || 'a branch and a tag?'}), and anyone who can push can make one: it is not taken for any. Nothing was done. Name the one you mean in full, as listed (git takes a full name that exists before any ref a tag's name could make), or pass the commit's full sha.`,
  );

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
