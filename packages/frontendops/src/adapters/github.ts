/**
 * GitHost backed by the GitHub REST API through Octokit. Reads: list commits with a path filter and
 * get a commit. Tags: create the annotated tag object, then its ref (422 "Reference already exists"
 * → CONFLICT); list the refs, then read the tag objects by oid a hundred to a GraphQL request (with
 * a token), else one REST request each. The token stays inside this adapter; nothing it returns or
 * throws contains it.
 */
import { Octokit } from '@octokit/rest';
import pMap from 'p-map';
import { COMMIT_REF, FULL_COMMIT } from '../engine/ids.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
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

export interface GitHubHostOptions {
  owner: string;
  repo: string;
  /** GITHUB_TOKEN; optional for reading public repositories. */
  token?: string;
  /** API root, default https://api.github.com (GitHub Enterprise: https://host/api/v3). */
  baseUrl?: string;
  /** Branch `latestCommit` searches when no ref is given; default: the repository's default branch. */
  defaultBranch?: string;
  /** The clock a rate-limit error counts the wait from (tests fix it). */
  now?: () => Date;
  /** How many tag objects the host keeps read; default TAG_OBJECTS_KEPT (tests bound it lower). */
  tagObjectsKept?: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * Annotated tag objects read at once through REST when listing tags without a token (a project with
 * a deploy a day has hundreds of deploy tags, and `audit verify --github` and every history view read
 * them all). GitHub allows 100 concurrent requests per user; reads cost one point of its 900 a minute
 * per endpoint.
 */
export const TAG_READS_AT_ONCE = 8;

/**
 * Tag objects one GraphQL request reads (with a token; GitHub's GraphQL API answers no anonymous
 * call). Each is a `Repository.object(oid:)` lookup, no connection, so a request costs one point of
 * the 5,000 an hour, as one REST request would for one tag. One request at a time: GitHub asks for
 * a client's requests in series, and counts concurrent ones against its secondary limits.
 */
export const TAG_OBJECTS_PER_QUERY = 100;
const QUERIES_AT_ONCE = 1;

/**
 * Tag objects a host keeps read, the least recently used let go first: a long-running one (the
 * console, the MCP git server) lives for weeks, and anyone who can push can push tags. Well above
 * what a repository's deploy tags come to (a deploy a day for ten years is 3,650), so listing them
 * all again reads only the refs; a kept tag is a few hundred bytes, a few MB in all.
 */
export const TAG_OBJECTS_KEPT = 10_000;

/** Commits a compare answer holds at most (GitHub's largest page). */
const COMPARE_PAGE = 250;

export function createGitHubHost(options: GitHubHostOptions): GitHost {
  const { owner, repo } = options;
  if (!NAME.test(owner) || !NAME.test(repo)) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `Invalid GitHub repository "${owner}/${repo}": expected owner/name such as "acme/dashboard".`,
    );
  }
  const octokit = new Octokit({
    ...(options.token ? { auth: options.token } : {}),
    ...(options.baseUrl ? { baseUrl: options.baseUrl.replace(/\/+$/, '') } : {}),
    userAgent: 'frontendops',
    // Octokit logs 404s as warnings by default; absence is a normal answer here.
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  const where = `GitHub ${owner}/${repo}`;
  const now = options.now ?? (() => new Date());
  const upstream = (what: string, error: unknown) => upstreamError(what, error, now());
  // A tag object never changes (its sha names its content): a long-lived host (the console, the MCP
  // git server) reads each once, keeping the TAG_OBJECTS_KEPT used last (a Map keeps the order they
  // were set in: one used is set again, last). A failed read is forgotten, so the next listing tries
  // it again.
  const kept = options.tagObjectsKept ?? TAG_OBJECTS_KEPT;
  const tagObjects = new Map<string, Promise<TagObject>>();
  const recall = (tagSha: string) => {
    const read = tagObjects.get(tagSha);
    if (read) {
      tagObjects.delete(tagSha);
      tagObjects.set(tagSha, read);
    }
    return read;
  };
  const remember = (tagSha: string, read: Promise<TagObject>) => {
    tagObjects.set(tagSha, read);
    for (const oldest of tagObjects.keys()) {
      if (tagObjects.size <= kept) break;
      tagObjects.delete(oldest);
    }
    read.catch(() => {
      if (tagObjects.get(tagSha) === read) tagObjects.delete(tagSha);
    });
    return read;
  };
  const getTagObject = (tagSha: string) =>
    octokit.rest.git.getTag({ owner, repo, tag_sha: tagSha }).then(({ data }) => ({
      sha: data.object.sha,
      message: data.message.trimEnd(),
      ...tagDate(data.tagger?.date),
    }));
  const readTagObject = (tagSha: string) => recall(tagSha) ?? remember(tagSha, getTagObject(tagSha));

  // Each tag object asked for, as kept or read now: those this host has not kept, a hundred to a
  // GraphQL request, each remembered as soon as it is asked for (a listing beside this one waits for
  // the same answer). One the answer does not hold is read through REST, whose 404 names it. The
  // reads are returned, not looked up again: a listing of more than the host keeps reads each once.
  const queryTagObjects = async (tagShas: readonly string[]) => {
    const reads = new Map<string, Promise<TagObject>>();
    const unread: string[] = [];
    // Those kept are used first, so that those read now let go of others.
    for (const sha of new Set(tagShas)) {
      const read = recall(sha);
      if (read) reads.set(sha, read);
      else if (FULL_COMMIT.test(sha)) unread.push(sha);
    }
    const answers = new Map<
      string,
      { resolve(tag: Promise<TagObject>): void; reject(error: unknown): void }
    >();
    for (const sha of unread) {
      reads.set(
        sha,
        remember(sha, new Promise<TagObject>((resolve, reject) => answers.set(sha, { resolve, reject }))),
      );
    }
    const batches = Array.from({ length: Math.ceil(unread.length / TAG_OBJECTS_PER_QUERY) }, (_, i) =>
      unread.slice(i * TAG_OBJECTS_PER_QUERY, (i + 1) * TAG_OBJECTS_PER_QUERY),
    );
    let failed: FrontendOpsError | null = null;
    await pMap(
      batches,
      async (batch) => {
        let found: Record<string, GraphqlTagObject | null> | null;
        try {
          // Past a failure (a rate limit, most likely), the batches left are not sent.
          if (failed) throw failed;
          ({ repository: found } = await octokit.graphql<{
            repository: Record<string, GraphqlTagObject | null> | null;
          }>(tagObjectsQuery(batch.length), {
            owner,
            name: repo,
            ...Object.fromEntries(batch.map((sha, i) => [`t${i}`, sha])),
          }));
        } catch (error) {
          failed ??= isFrontendOpsError(error) ? error : upstream('read tag objects', error);
          for (const sha of batch) answers.get(sha)?.reject(failed);
          throw failed;
        }
        batch.forEach((sha, i) => {
          const tag = found?.[`t${i}`];
          answers.get(sha)?.resolve(
            tag?.target?.oid
              ? Promise.resolve({
                  sha: tag.target.oid,
                  message: (tag.message ?? '').trimEnd(),
                  ...tagDate(tag.tagger?.date),
                })
              : getTagObject(sha),
          );
        });
      },
      { concurrency: QUERIES_AT_ONCE, stopOnError: false },
    ).catch(() => {
      // Every batch settles its tags (none is left waiting); the first failure is the answer.
      throw failed;
    });
    return reads;
  };

  // Tags as listTags and readTag answer them, from their refs: a lightweight one is its commit; an
  // annotated one's tag object is read (queryTagObjects with a token, else one REST request each).
  const tagsOf = async (
    refs: ReadonlyArray<{ name: string; ref: { object: { sha: string; type: string } } }>,
  ): Promise<TagInfo[]> => {
    const queried = options.token
      ? await queryTagObjects(refs.flatMap(({ ref }) => (ref.object.type === 'tag' ? [ref.object.sha] : [])))
      : null;
    return pMap(
      refs,
      async ({ name, ref }): Promise<TagInfo> => {
        if (ref.object.type !== 'tag') return { name, sha: ref.object.sha, message: '' };
        try {
          return { name, ...(await (queried?.get(ref.object.sha) ?? readTagObject(ref.object.sha))) };
        } catch (error) {
          // A GraphQL read that failed has said so already (a rate limit, and when it lifts).
          if (isFrontendOpsError(error)) throw error;
          throw upstream(`read tag ${name}`, error);
        }
      },
      { concurrency: TAG_READS_AT_ONCE },
    );
  };

  // Whether a ref of this full name exists ("Get a reference": that name only, 404 for none).
  const refHeld = async (full: string) => {
    try {
      const { data } = await octokit.rest.git.getRef({ owner, repo, ref: full.slice('refs/'.length) });
      return !Array.isArray(data) && data.ref === full;
    } catch (error) {
      // 409: an empty repository holds no ref.
      if (statusOf(error) === 404 || statusOf(error) === 409) return false;
      throw upstream(`read ref ${full}`, error);
    }
  };
  // A ref given by name is held to assertOneRef before anything is read with it: an abbreviated
  // sha through getCommit (its commit tells whether a ref shadows it), a name by its refs. A full
  // sha is always the commit: no request.
  const oneRef = async (ref: string | undefined) => {
    if (ref === undefined || FULL_COMMIT.test(ref)) return;
    if (COMMIT_REF.test(ref)) await host.getCommit(ref);
    else await assertOneRef(ref, undefined, refHeld);
  };

  const host: GitHost = {
    async latestCommit(path, ref) {
      assertRepoPath(path);
      const sha = ref ?? options.defaultBranch;
      if (sha !== undefined) assertRef(sha);
      await oneRef(sha);
      try {
        const { data } = await octokit.rest.repos.listCommits({
          owner,
          repo,
          path,
          per_page: 1,
          ...(sha !== undefined ? { sha } : {}),
        });
        const first = data[0];
        return first ? toCommitInfo(first) : null;
      } catch (error) {
        if (statusOf(error) === 404) {
          throw new FrontendOpsError(
            'NOT_FOUND',
            `${where} has no ref "${sha ?? '(default branch)'}", or the repository is not visible with the ` +
              'configured token. Check the ref and GITHUB_TOKEN.',
          );
        }
        if (statusOf(error) === 409) return null; // empty repository: no commit touches anything
        throw upstream('list commits', error);
      }
    },

    async getCommit(ref) {
      assertRef(ref);
      let data: GitHubCommit;
      try {
        ({ data } = await octokit.rest.repos.getCommit({ owner, repo, ref }));
      } catch (error) {
        // GitHub answers an unknown sha with 422 "No commit found for SHA", an unknown name with 404.
        if (statusOf(error) === 404 || statusOf(error) === 422) return null;
        throw upstream('get commit', error);
      }
      await assertOneRef(ref, data.sha, refHeld);
      return toCommitInfo(data);
    },

    async commitsBetween(base, head, path, limit = 20) {
      assertRef(base);
      assertRef(head);
      assertRepoPath(path);
      await Promise.all([oneRef(base), oneRef(head)]);
      // The range from the compare API (base...head: what head has that base does not), the path
      // filter from the commits API (the newest 100 commits of the path up to head): their overlap.
      let range: GitHubCommit[];
      let cut = false;
      const compare = (page?: number) =>
        octokit.rest.repos.compareCommitsWithBasehead({
          owner,
          repo,
          basehead: `${base}...${head}`,
          per_page: COMPARE_PAGE,
          ...(page ? { page } : {}),
        });
      try {
        const { data } = await compare();
        range = data.commits;
        // The API answers a range oldest first, COMPARE_PAGE commits a page. The newest are the ones
        // that go live, and anyone who can push can pile commits before them: the last two pages
        // are read too, and a range longer than what was read is said to be cut short.
        if (data.total_commits > range.length) {
          const last = Math.ceil(data.total_commits / COMPARE_PAGE);
          const pages = await Promise.all(
            [last - 1, last].filter((page) => page > 1).map((page) => compare(page)),
          );
          range = [...range, ...pages.flatMap((page) => page.data.commits)];
          cut = data.total_commits > range.length;
        }
      } catch (error) {
        if (statusOf(error) === 404) {
          throw new FrontendOpsError(
            'NOT_FOUND',
            `${where} cannot compare ${base} with ${head}: one of them is unknown, or the repository is not visible with the configured token.`,
          );
        }
        throw upstream('compare commits', error);
      }
      if (range.length === 0) return { commits: [], truncated: false };
      let touching: Set<string>;
      try {
        const { data } = await octokit.rest.repos.listCommits({
          owner,
          repo,
          sha: head,
          path,
          per_page: 100,
        });
        touching = new Set(data.map((c) => c.sha));
      } catch (error) {
        throw upstream('list commits', error);
      }
      const found = range
        .filter((c) => touching.has(c.sha))
        .reverse()
        .map(toCommitInfo);
      return { commits: found.slice(0, limit), truncated: found.length > limit || cut };
    },

    async createTag({ name, sha, message }) {
      assertTagRequest({ name, sha, message });
      // The git database API wants a full sha; resolve a short one through the commits API first.
      const target = FULL_COMMIT.test(sha) ? sha : (await host.getCommit(sha))?.sha;
      if (!target) throw untaggedCommit(sha, where);
      let tagObject: { sha: string; tagger?: { date?: string } };
      try {
        const { data } = await octokit.rest.git.createTag({
          owner,
          repo,
          tag: name,
          message,
          object: target,
          type: 'commit',
        });
        tagObject = data;
      } catch (error) {
        if (statusOf(error) === 422 || statusOf(error) === 404) {
          throw untaggedCommit(sha, where);
        }
        throw upstream('create tag object', error);
      }
      try {
        await octokit.rest.git.createRef({ owner, repo, ref: `refs/tags/${name}`, sha: tagObject.sha });
      } catch (error) {
        if (statusOf(error) === 422 && /already exists/i.test(messageOf(error))) {
          throw tagTaken(name, where);
        }
        throw upstream('create tag ref', error);
      }
      // As listTags will list it: git keeps no trailing whitespace, dates as toISOString writes them.
      return {
        name,
        sha: target,
        message: message.trimEnd(),
        ...tagDate(tagObject.tagger?.date),
      };
    },

    async readTag(name) {
      assertTagName(name);
      let ref: { ref: string; object: { sha: string; type: string } };
      try {
        // "Get a reference": this name only (404 for none), where matching-refs answers every
        // ref that starts with it.
        ({ data: ref } = await octokit.rest.git.getRef({ owner, repo, ref: `tags/${name}` }));
      } catch (error) {
        if (statusOf(error) === 404) return null;
        throw upstream(`read tag ${name}`, error);
      }
      if (ref.ref !== `refs/tags/${name}`) return null;
      return (await tagsOf([{ name, ref }]))[0] ?? null;
    },

    async listTags(prefix) {
      assertTagPrefix(prefix);
      let refs: Array<{ ref: string; object: { sha: string; type: string } }>;
      try {
        ({ data: refs } = await octokit.rest.git.listMatchingRefs({ owner, repo, ref: `tags/${prefix}` }));
      } catch (error) {
        throw upstream('list tags', error);
      }
      return tagsOf(
        refs.flatMap((ref) => {
          const name = ref.ref.replace(/^refs\/tags\//, '');
          return name.startsWith(prefix) ? [{ name, ref }] : [];
        }),
      );
    },
  };
  return host;
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

interface TagObject {
  /** The commit the tag points at. */
  sha: string;
  message: string;
  date?: string;
}

interface GraphqlTagObject {
  oid: string;
  message?: string | null;
  tagger?: { date?: string | null } | null;
  target?: { oid: string } | null;
}

/** `count` tag objects by oid ($t0…), in one query: each a Repository.object lookup. */
function tagObjectsQuery(count: number): string {
  const ids = Array.from({ length: count }, (_, i) => `t${i}`);
  return `query TagObjects($owner: String!, $name: String!, ${ids.map((id) => `$${id}: GitObjectID!`).join(', ')}) {
  repository(owner: $owner, name: $name) {
${ids.map((id) => `    ${id}: object(oid: $${id}) { ...tagObject }`).join('\n')}
  }
}
fragment tagObject on GitObject { oid ... on Tag { message tagger { date } target { oid } } }`;
}

interface GitHubCommit {
  sha: string;
  commit: { message: string; author: { name?: string; date?: string } | null };
}

function toCommitInfo(data: GitHubCommit): CommitInfo {
  return {
    sha: data.sha,
    shortSha: data.sha.slice(0, 7),
    message: data.commit.message.trim(),
    author: data.commit.author?.name ?? '',
    date: isoDate(data.commit.author?.date),
  };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown })?.status;
  return typeof status === 'number' ? status : undefined;
}

function messageOf(error: unknown): string {
  const data = (error as { response?: { data?: { message?: unknown } } })?.response?.data;
  if (typeof data?.message === 'string') return data.message;
  // A GraphQL answer's errors (Octokit's GraphqlResponseError).
  const first = graphqlErrorsOf(error)[0]?.message;
  return typeof first === 'string' ? first : '';
}

function graphqlErrorsOf(error: unknown): Array<{ type?: unknown; message?: unknown }> {
  const errors = (error as { errors?: unknown })?.errors;
  return Array.isArray(errors) ? errors : [];
}

// GitHub's own message (e.g. "Bad credentials") is safe to show; the request URL and headers are not repeated.
function upstreamError(what: string, error: unknown, now: Date): FrontendOpsError {
  const status = statusOf(error);
  const said = messageOf(error);
  const detail = status ? `HTTP ${status}${said ? `: ${said}` : ''}` : said;
  const answer = `GitHub ${what} failed${detail ? ` (${detail})` : ''}`;
  const limit = rateLimitOf(error, now);
  if (limit) {
    const minutes = Math.max(1, Math.ceil((limit.until.getTime() - now.getTime()) / 60_000));
    // Said in whole seconds, as GitHub's own times are: the next one, never a moment too early.
    const until = new Date(Math.ceil(limit.until.getTime() / 1000) * 1000);
    return new FrontendOpsError(
      'UPSTREAM',
      `${answer}: ${limit.secondary ? "GitHub's secondary rate limit (too many requests at once or too fast) stopped it" : "the token's rate limit is used up"}. Try again after ${until.toISOString().replace('.000Z', 'Z')} (in ${minutes} minute${minutes === 1 ? '' : 's'}).`,
      { cause: error, details: { retryAt: until.toISOString() } },
    );
  }
  const hint =
    status === 401 || status === 403
      ? ' Check that GITHUB_TOKEN is set and may read and write contents.'
      : '';
  return new FrontendOpsError('UPSTREAM', `${answer}.${hint}`, { cause: error });
}

/**
 * When GitHub's answer is a rate limit (403 or 429, as its REST docs describe them), and when it
 * lifts: after `retry-after` seconds when it says so; at `x-ratelimit-reset` when the token's
 * requests are used up (`x-ratelimit-remaining: 0`); else a minute at least (a secondary limit).
 */
function rateLimitOf(error: unknown, now: Date): { until: Date; secondary: boolean } | null {
  const status = statusOf(error);
  const secondary = /secondary rate limit/i.test(messageOf(error));
  // GitHub's GraphQL API answers a used-up limit with 200 and an error of type RATE_LIMITED, and a
  // secondary one with 200 (or 403) and an error that says so.
  const graphqlLimited = graphqlErrorsOf(error).some(
    (e) => e.type === 'RATE_LIMITED' || /secondary rate limit/i.test(String(e.message)),
  );
  if (status !== 403 && status !== 429 && !graphqlLimited) return null;
  const headers =
    (error as { response?: { headers?: Record<string, unknown> } })?.response?.headers ??
    (error as { headers?: Record<string, unknown> })?.headers ??
    {};
  const header = (name: string) => {
    const value = headers[name];
    return typeof value === 'string' || typeof value === 'number' ? Number(value) : Number.NaN;
  };
  const retryAfter = header('retry-after');
  const usedUp = header('x-ratelimit-remaining') === 0;
  if (Number.isFinite(retryAfter) && retryAfter >= 0) {
    return { until: new Date(now.getTime() + retryAfter * 1000), secondary: !usedUp };
  }
  if (usedUp && Number.isFinite(header('x-ratelimit-reset'))) {
    return { until: new Date(header('x-ratelimit-reset') * 1000), secondary: false };
  }
  if (secondary || status === 429) return { until: new Date(now.getTime() + 60_000), secondary: true };
  return null;
}
