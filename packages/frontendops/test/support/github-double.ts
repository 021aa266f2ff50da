/**
 * A local stand-in for the parts of GitHub's REST API the GitHub adapter uses, answering as the REST
 * reference documents them (status codes, JSON shapes, `{message, documentation_url, status}` error
 * bodies), backed by a real git repository (commits, tag objects via `git mktag`, refs via
 * `git update-ref`). It records every request so tests can assert what Octokit actually sent.
 * GraphQL (POST /graphql) executes real queries against the part of GitHub's public schema the
 * adapter reads, its types declared as docs.github.com/graphql/reference declares them.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { buildSchema, GraphQLError, graphql } from 'graphql';

const run = promisify(execFile);

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

export interface DeploymentRecord {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  description: string | null;
  statuses: Array<{
    id: number;
    state: string;
    description: string;
    environment_url: string;
    log_url: string;
  }>;
}

export interface GitHubDouble {
  /** API root to give Octokit as baseUrl. */
  url: string;
  requests: RecordedRequest[];
  /** Deployments created through the API, with their statuses in order. */
  deployments: DeploymentRecord[];
  /**
   * Holds the answers to requests whose path matches until release(): how many wait now, and the
   * most that ever waited at once (what a client sends concurrently).
   */
  holdRequests(path: RegExp): { waiting(): number; peak(): number; release(): void };
  /**
   * Answers every request as GitHub does once a token's rate limit is used up, until called with
   * null: `primary` (403, x-ratelimit-remaining 0, x-ratelimit-reset its epoch second) or
   * `secondary` (403 with retry-after, its seconds), as docs.github.com documents them under
   * "Rate limits for the REST API". GraphQL answers past its primary limit with 200; past a secondary
   * limit with 200 or 403 ("Rate limits and query limits for the GraphQL API"): `status: 200` there.
   */
  limitRate(limit: RateLimit | null): void;
  /**
   * Answers every request whose path matches with GitHub's error body (`{message, documentation_url,
   * status}`) carrying `message`, until called with null: a reply whose words the server logs.
   */
  answerError(failure: { path: RegExp; status: number; message: string } | null): void;
  close(): Promise<void>;
}

export type RateLimit = (
  | { kind: 'primary'; reset: Date; status?: 403 | 429 }
  | { kind: 'secondary'; retryAfterSeconds: number; status?: 200 | 403 | 429 }
) & {
  /** Only requests to these paths (GitHub counts GraphQL and REST against limits of their own). */
  path?: RegExp;
};

export interface GitHubDoubleOptions {
  owner: string;
  repo: string;
  /** The git repository behind the API. */
  repoDir: string;
  /** When set, writes need it and any other presented token is "Bad credentials". */
  token?: string;
  /**
   * A second valid token without the `deployments` permission (a workflow's GITHUB_TOKEN without
   * `deployments: write`): it reads and tags, and deployments answer 403 as GitHub does.
   */
  tokenWithoutDeployments?: string;
}

const DOCS = 'https://docs.github.com/rest';
const TAGGER = { name: 'frontendops-bot', email: 'bot@example.test' };

export async function startGitHubDouble(options: GitHubDoubleOptions): Promise<GitHubDouble> {
  const requests: RecordedRequest[] = [];
  const holds: Array<{ path: RegExp; waiting: number; peak: number; released: Promise<void> }> = [];
  const deployments: DeploymentRecord[] = [];
  let rateLimit: RateLimit | null = null;
  let failure: { path: RegExp; status: number; message: string } | null = null;
  let base = '';
  const git = async (args: string[], input?: string) => {
    const child = run('git', args, { cwd: options.repoDir });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    return (await child).stdout;
  };
  const tryGit = async (args: string[], input?: string) => {
    try {
      return await git(args, input);
    } catch {
      return null;
    }
  };

  const server = createServer((req, res) => {
    void readBody(req).then(async (raw) => {
      const url = new URL(req.url ?? '/', 'http://double');
      const body = raw ? JSON.parse(raw) : undefined;
      const authorization = req.headers.authorization;
      requests.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body,
        authorization,
      });
      for (const hold of holds.filter((h) => h.path.test(url.pathname))) {
        hold.waiting += 1;
        hold.peak = Math.max(hold.peak, hold.waiting);
        await hold.released;
        hold.waiting -= 1;
      }
      if (rateLimit && (rateLimit.path?.test(url.pathname) ?? true))
        return rateLimited(res, rateLimit, url.pathname === '/graphql');
      if (failure?.path.test(url.pathname)) return fail(res, failure.status, failure.message, DOCS);
      try {
        await route(req.method ?? 'GET', url, body, authorization, res);
      } catch (error) {
        send(res, 500, { message: `double failed: ${(error as Error).message}` });
      }
    });
  });

  async function route(
    method: string,
    url: URL,
    body: unknown,
    auth: string | undefined,
    res: ServerResponse,
  ) {
    const presented = /^(?:token|bearer) (.+)$/i.exec(auth ?? '')?.[1];
    const limited = presented !== undefined && presented === options.tokenWithoutDeployments;
    if (options.token && presented !== undefined && presented !== options.token && !limited) {
      return fail(res, 401, 'Bad credentials', DOCS);
    }
    if (url.pathname === '/graphql' && method === 'POST') return graphqlAnswer(body, presented, res);
    const prefix = `/repos/${options.owner}/${options.repo}/`;
    if (!url.pathname.startsWith(prefix)) return fail(res, 404, 'Not Found', DOCS);
    const rest = url.pathname.slice(prefix.length);
    const write = method !== 'GET';
    if (write && options.token && presented === undefined)
      return fail(res, 401, 'Requires authentication', DOCS);

    if (method === 'GET' && rest === 'commits') return listCommits(url, res);
    if (method === 'GET' && rest.startsWith('compare/'))
      return compare(decodeURIComponent(rest.slice('compare/'.length)), url, res);
    if (method === 'GET' && rest.startsWith('commits/'))
      return getCommit(decodeURIComponent(rest.slice(8)), res);
    if (method === 'POST' && rest === 'git/tags')
      return createTagObject(body as Record<string, unknown>, res);
    if (method === 'POST' && rest === 'git/refs') return createRef(body as Record<string, unknown>, res);
    if (method === 'GET' && rest.startsWith('git/ref/'))
      return getRef(decodeURIComponent(rest.slice(8)), res);
    if (method === 'GET' && rest.startsWith('git/matching-refs/')) {
      return matchingRefs(decodeURIComponent(rest.slice('git/matching-refs/'.length)), res);
    }
    if (method === 'GET' && rest.startsWith('git/tags/'))
      return getTagObject(rest.slice('git/tags/'.length), res);
    if (limited && rest.startsWith('deployments')) {
      return fail(res, 403, 'Resource not accessible by integration', `${DOCS}/deployments/deployments`);
    }
    if (method === 'POST' && rest === 'deployments')
      return createDeployment(body as Record<string, unknown>, res);
    if (method === 'GET' && rest === 'deployments')
      return send(res, 200, deployments.map(deploymentJson).reverse());
    const statuses = /^deployments\/(\d+)\/statuses$/.exec(rest);
    if (statuses) {
      const deployment = deployments.find((d) => d.id === Number(statuses[1]));
      if (!deployment) return fail(res, 404, 'Not Found', `${DOCS}/deployments/statuses`);
      if (method === 'GET') return send(res, 200, [...deployment.statuses].reverse());
      if (method === 'POST') return createDeploymentStatus(deployment, body as Record<string, unknown>, res);
    }
    return fail(res, 404, 'Not Found', DOCS);
  }

  async function listCommits(url: URL, res: ServerResponse) {
    const sha = url.searchParams.get('sha') ?? 'HEAD';
    const path = url.searchParams.get('path');
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
    const start = await tryGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${sha}^{commit}`]);
    if (!start)
      return fail(res, 404, `No commit found for SHA: ${sha}`, `${DOCS}/commits/commits#list-commits`);
    const shas = (
      await git([
        '--literal-pathspecs',
        'log',
        `--max-count=${perPage}`,
        '--format=%H',
        start.trim(),
        ...(path ? ['--', path] : []),
      ])
    )
      .split('\n')
      .filter(Boolean);
    send(res, 200, await commitsJson(shas));
  }

  /** GET /repos/{owner}/{repo}/compare/{basehead}: what HEAD has that BASE does not, oldest first, paginated. */
  async function compare(basehead: string, url: URL, res: ServerResponse) {
    const docs = `${DOCS}/commits/commits#compare-two-commits`;
    const [baseRef, headRef, ...extra] = basehead.split('...');
    if (!baseRef || !headRef || extra.length > 0) return fail(res, 404, 'Not Found', docs);
    const resolve = async (ref: string) =>
      (await tryGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]))?.trim();
    const [from, to] = await Promise.all([resolve(baseRef), resolve(headRef)]);
    if (!from || !to) return fail(res, 404, `No common ancestor between ${baseRef} and ${headRef}.`, docs);
    const list = async (range: string) =>
      (await git(['rev-list', '--reverse', range])).split('\n').filter(Boolean);
    const ahead = await list(`${from}..${to}`);
    const behind = await list(`${to}..${from}`);
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 250), 250);
    const page = Math.max(Number(url.searchParams.get('page') ?? 1), 1);
    const shown = ahead.slice((page - 1) * perPage, page * perPage);
    const mergeBase = (await git(['merge-base', from, to])).trim();
    const repoPage = `https://github.com/${options.owner}/${options.repo}`;
    send(res, 200, {
      url: `${base}/repos/${options.owner}/${options.repo}/compare/${basehead}`,
      html_url: `${repoPage}/compare/${basehead}`,
      permalink_url: `${repoPage}/compare/${options.owner}:${from.slice(0, 7)}...${options.owner}:${to.slice(0, 7)}`,
      diff_url: `${repoPage}/compare/${basehead}.diff`,
      patch_url: `${repoPage}/compare/${basehead}.patch`,
      base_commit: await commitJson(from),
      merge_base_commit: await commitJson(mergeBase),
      status:
        ahead.length && behind.length
          ? 'diverged'
          : ahead.length
            ? 'ahead'
            : behind.length
              ? 'behind'
              : 'identical',
      ahead_by: ahead.length,
      behind_by: behind.length,
      total_commits: ahead.length,
      commits: await commitsJson(shown),
      files: [],
    });
  }

  /** POST /repos/{owner}/{repo}/deployments: 201 with the deployment; 422 when the ref is unknown. */
  async function createDeployment(input: Record<string, unknown>, res: ServerResponse) {
    const docs = `${DOCS}/deployments/deployments#create-a-deployment`;
    const ref = input?.ref;
    if (typeof ref !== 'string' || ref === '')
      return fail(res, 422, 'Invalid request.\n\n"ref" wasn\'t supplied.', docs);
    const sha = await tryGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
    if (!sha) return fail(res, 422, `No ref found for: ${ref}`, docs);
    const deployment: DeploymentRecord = {
      id: deployments.length + 1,
      sha: sha.trim(),
      ref,
      environment: typeof input.environment === 'string' ? input.environment : 'production',
      description: typeof input.description === 'string' ? input.description : null,
      statuses: [],
    };
    deployments.push(deployment);
    send(res, 201, deploymentJson(deployment));
  }

  /** POST /repos/{owner}/{repo}/deployments/{id}/statuses: 201 with the status; 422 for an unknown state. */
  function createDeploymentStatus(
    deployment: DeploymentRecord,
    input: Record<string, unknown>,
    res: ServerResponse,
  ) {
    const states = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'];
    if (typeof input?.state !== 'string' || !states.includes(input.state)) {
      return fail(res, 422, 'Validation Failed', `${DOCS}/deployments/statuses#create-a-deployment-status`);
    }
    const status = {
      id: deployment.statuses.length + 1,
      state: input.state,
      description: typeof input.description === 'string' ? input.description : '',
      environment_url: typeof input.environment_url === 'string' ? input.environment_url : '',
      log_url: typeof input.log_url === 'string' ? input.log_url : '',
    };
    deployment.statuses.push(status);
    const repoApi = `${base}/repos/${options.owner}/${options.repo}`;
    send(res, 201, {
      url: `${repoApi}/deployments/${deployment.id}/statuses/${status.id}`,
      node_id: `DES_${deployment.id}_${status.id}`,
      ...status,
      target_url: status.log_url,
      environment: deployment.environment,
      creator: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
      created_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      updated_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      deployment_url: `${repoApi}/deployments/${deployment.id}`,
      repository_url: repoApi,
    });
  }

  function deploymentJson(d: DeploymentRecord) {
    const repoApi = `${base}/repos/${options.owner}/${options.repo}`;
    return {
      url: `${repoApi}/deployments/${d.id}`,
      id: d.id,
      node_id: `DE_${d.id}`,
      sha: d.sha,
      ref: d.ref,
      task: 'deploy',
      payload: {},
      original_environment: d.environment,
      environment: d.environment,
      description: d.description,
      creator: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
      created_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      updated_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      statuses_url: `${repoApi}/deployments/${d.id}/statuses`,
      repository_url: repoApi,
      transient_environment: false,
      production_environment: false,
    };
  }

  async function getCommit(ref: string, res: ServerResponse) {
    const sha = await tryGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
    if (!sha)
      return fail(res, 422, `No commit found for SHA: ${ref}`, `${DOCS}/commits/commits#get-a-commit`);
    send(res, 200, {
      ...(await commitJson(sha.trim())),
      stats: { total: 0, additions: 0, deletions: 0 },
      files: [],
    });
  }

  async function createTagObject(input: Record<string, unknown>, res: ServerResponse) {
    const { tag, message, object, type } = input;
    const docs = `${DOCS}/git/tags#create-a-tag-object`;
    if (
      typeof tag !== 'string' ||
      typeof message !== 'string' ||
      typeof object !== 'string' ||
      type !== 'commit'
    ) {
      return fail(res, 422, 'Invalid request.', docs);
    }
    if (!/^[0-9a-f]{40}$/.test(object) || (await tryGit(['cat-file', '-t', object]))?.trim() !== 'commit') {
      return fail(res, 422, 'Object does not exist', docs);
    }
    const when = Math.floor(Date.now() / 1000);
    const content = `object ${object}\ntype commit\ntag ${tag}\ntagger ${TAGGER.name} <${TAGGER.email}> ${when} +0000\n\n${message}\n`;
    const sha = (await git(['mktag'], content)).trim();
    send(res, 201, tagJson(sha, await git(['cat-file', 'tag', sha])));
  }

  async function createRef(input: Record<string, unknown>, res: ServerResponse) {
    const { ref, sha } = input;
    const docs = `${DOCS}/git/refs#create-a-reference`;
    if (typeof ref !== 'string' || !ref.startsWith('refs/') || ref.split('/').length < 3) {
      return fail(res, 422, "Reference name must start with 'refs/' and have at least two slashes.", docs);
    }
    if (typeof sha !== 'string' || !(await tryGit(['cat-file', '-t', sha]))) {
      return fail(res, 422, 'Object does not exist', docs);
    }
    // An empty old value makes update-ref refuse when the ref exists, atomically.
    if ((await tryGit(['update-ref', ref, sha, ''])) === null)
      return fail(res, 422, 'Reference already exists', docs);
    send(res, 201, await refJson(ref));
  }

  /**
   * GET git/ref/<ref> ("Get a reference"): the one ref named refs/<ref>, exactly; 404 when there is
   * none, even where longer names start with it (unlike matching-refs).
   */
  async function getRef(ref: string, res: ServerResponse) {
    const line = (
      await git(['for-each-ref', '--format=%(refname)%00%(objectname)%00%(objecttype)', `refs/${ref}`])
    )
      .split('\n')
      .map((l) => l.split('\0') as [string, string, string])
      .find(([name]) => name === `refs/${ref}`);
    if (!line) return fail(res, 404, 'Not Found', `${DOCS}/git/refs#get-a-reference`);
    send(res, 200, refJsonOf(...line));
  }

  /** Every ref whose name starts with refs/<ref>, each with its object, from one `git for-each-ref`. */
  async function matchingRefs(ref: string, res: ServerResponse) {
    // One git process for every ref (a repository may hold thousands of tags), sorted by name.
    const refs = (await git(['for-each-ref', '--format=%(refname)%00%(objectname)%00%(objecttype)']))
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\0') as [string, string, string])
      .filter(([name]) => name.startsWith(`refs/${ref}`));
    send(
      res,
      200,
      refs.map(([name, sha, type]) => refJsonOf(name, sha, type)),
    );
  }

  /**
   * POST /graphql: 401 without a token (GitHub's GraphQL API answers no anonymous call), else 200
   * with `data` and any `errors`, as GitHub answers a query it can parse.
   */
  async function graphqlAnswer(body: unknown, presented: string | undefined, res: ServerResponse) {
    if (presented === undefined) {
      return fail(
        res,
        401,
        'This endpoint requires you to be authenticated.',
        'https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql',
      );
    }
    const { query, variables } = (body ?? {}) as { query?: unknown; variables?: Record<string, unknown> };
    if (typeof query !== 'string') {
      return send(res, 200, {
        errors: [{ message: 'A query attribute must be specified and must be a string.' }],
      });
    }
    const objects = gitObjectLoader();
    const repository = ({ owner, name }: { owner: string; name: string }) => {
      if (owner !== options.owner || name !== options.repo) {
        throw new GraphQLError(`Could not resolve to a Repository with the name '${owner}/${name}'.`, {
          extensions: { type: 'NOT_FOUND' },
        });
      }
      return { object: ({ oid }: { oid?: string }) => (oid ? objects(oid) : null) };
    };
    const result = await graphql({
      schema: GITHUB_SCHEMA,
      source: query,
      rootValue: { repository },
      ...(variables ? { variableValues: variables } : {}),
    });
    send(res, 200, {
      ...(result.data !== undefined ? { data: result.data } : {}),
      ...(result.errors
        ? {
            errors: result.errors.map((e) => ({
              ...(typeof e.extensions?.type === 'string' ? { type: e.extensions.type } : {}),
              ...(e.path ? { path: e.path } : {}),
              ...(e.locations ? { locations: e.locations } : {}),
              message: e.message,
            })),
          }
        : {}),
    });
  }

  /**
   * Git objects by oid as the GraphQL types show them, the lookups of one query read by one
   * `git cat-file --batch` (a query may name a hundred tags).
   */
  function gitObjectLoader() {
    let pending: Map<string, Array<(value: unknown) => void>> | null = null;
    return (oid: string) =>
      new Promise<unknown>((resolve, reject) => {
        if (!pending) {
          const batch = new Map<string, Array<(value: unknown) => void>>();
          pending = batch;
          setImmediate(() => {
            pending = null;
            readObjects([...batch.keys()]).then((found) => {
              for (const [key, waiting] of batch) for (const done of waiting) done(found.get(key) ?? null);
            }, reject);
          });
        }
        const waiting = pending.get(oid) ?? [];
        waiting.push(resolve);
        pending.set(oid, waiting);
      });
  }

  async function readObjects(oids: string[]): Promise<Map<string, unknown>> {
    const asked = oids.filter((oid) => /^[0-9a-f]{40}$/.test(oid));
    const child = execFile('git', ['cat-file', '--batch'], {
      cwd: options.repoDir,
      encoding: 'buffer',
      maxBuffer: 1 << 28,
    });
    const output = new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      child.stdout?.on('data', (c: Buffer) => chunks.push(c));
      child.on('error', reject);
      child.on('close', () => resolve(Buffer.concat(chunks)));
    });
    child.stdin?.end(asked.map((oid) => `${oid}\n`).join(''));
    const out = await output;
    const found = new Map<string, unknown>();
    let at = 0;
    for (const oid of asked) {
      const eol = out.indexOf(10, at);
      const [sha = '', type = '', size = ''] = out.subarray(at, eol).toString().split(' ');
      at = eol + 1;
      if (type === 'missing' || sha !== oid) continue;
      const content = out.subarray(at, at + Number(size)).toString('utf8');
      at += Number(size) + 1;
      found.set(oid, graphqlObject(oid, type, content));
    }
    return found;
  }

  function graphqlObject(oid: string, type: string, content: string) {
    const base = { oid, abbreviatedOid: oid.slice(0, 7) };
    if (type !== 'tag') return { __typename: GRAPHQL_TYPES[type] ?? 'Blob', ...base };
    const tag = parseTag(content);
    return {
      __typename: 'Tag',
      ...base,
      name: tag.name,
      message: tag.message,
      tagger: tag.tagger
        ? {
            name: tag.tagger.name,
            email: tag.tagger.email,
            date: gitTimestamp(tag.tagger.seconds, tag.tagger.offset),
          }
        : null,
      target: {
        __typename: GRAPHQL_TYPES[tag.type] ?? 'Blob',
        oid: tag.object,
        abbreviatedOid: tag.object.slice(0, 7),
      },
    };
  }

  async function getTagObject(sha: string, res: ServerResponse) {
    // `git cat-file tag` fails for any other object, or none.
    const raw = /^[0-9a-f]{40}$/.test(sha) ? await tryGit(['cat-file', 'tag', sha]) : null;
    if (raw === null) return fail(res, 404, 'Not Found', `${DOCS}/git/tags#get-a-tag`);
    send(res, 200, tagJson(sha, raw));
  }

  async function commitJson(sha: string) {
    const [json] = await commitsJson([sha]);
    return json;
  }

  /**
   * Commits as GitHub's API shows them, in the order given: one `git log` for them all (a page of a
   * compare holds up to 250; a process per commit made each page seconds long).
   */
  async function commitsJson(shas: readonly string[]) {
    if (shas.length === 0) return [];
    // Each record starts with a mark no commit message holds (it is made for this call).
    const mark = `\x01${randomBytes(16).toString('hex')}\x01`;
    const out = await git([
      'log',
      '--no-walk=unsorted',
      `--format=${mark}%H%x00%T%x00%P%x00%an%x00%ae%x00%at%x00%cn%x00%ce%x00%ct%x00%B`,
      ...shas,
      '--',
    ]);
    const records = new Map<string, string[]>();
    for (const record of out.split(mark).slice(1)) {
      const [sha = '', ...fields] = record.split('\0');
      records.set(sha, fields);
    }
    const repoApi = `${base}/repos/${options.owner}/${options.repo}`;
    return shas.map((sha) => {
      const fields = records.get(sha);
      if (!fields) throw new Error(`git log did not show ${sha}`);
      const [tree = '', parents = '', an = '', ae = '', ad = '', cn = '', ce = '', cd = '', ...msg] = fields;
      return {
        sha,
        node_id: `C_${sha.slice(0, 12)}`,
        commit: {
          author: { name: an, email: ae, date: gitHubTime(Number(ad)) },
          committer: { name: cn, email: ce, date: gitHubTime(Number(cd)) },
          message: msg.join('\0').replace(/\n+$/, ''),
          tree: { sha: tree, url: `${repoApi}/git/trees/${tree}` },
          url: `${repoApi}/git/commits/${sha}`,
          comment_count: 0,
          verification: {
            verified: false,
            reason: 'unsigned',
            signature: null,
            payload: null,
            verified_at: null,
          },
        },
        url: `${repoApi}/commits/${sha}`,
        html_url: `https://github.com/${options.owner}/${options.repo}/commit/${sha}`,
        comments_url: `${repoApi}/commits/${sha}/comments`,
        author: null,
        committer: null,
        parents: parents
          .split(' ')
          .filter(Boolean)
          .map((p) => ({
            sha: p,
            url: `${repoApi}/commits/${p}`,
            html_url: `https://github.com/${options.owner}/${options.repo}/commit/${p}`,
          })),
      };
    });
  }

  function tagJson(sha: string, raw: string) {
    const tag = parseTag(raw);
    const repoApi = `${base}/repos/${options.owner}/${options.repo}`;
    return {
      node_id: `TAG_${sha.slice(0, 12)}`,
      tag: tag.name,
      sha,
      url: `${repoApi}/git/tags/${sha}`,
      message: tag.message,
      tagger: {
        name: tag.tagger?.name ?? '',
        email: tag.tagger?.email ?? '',
        date: gitHubTime(tag.tagger?.seconds ?? 0),
      },
      object: { type: tag.type, sha: tag.object, url: `${repoApi}/git/commits/${tag.object}` },
      verification: {
        verified: false,
        reason: 'unsigned',
        signature: null,
        payload: null,
        verified_at: null,
      },
    };
  }

  async function refJson(ref: string) {
    const sha = (await git(['rev-parse', ref])).trim();
    return refJsonOf(ref, sha, (await git(['cat-file', '-t', sha])).trim());
  }

  function refJsonOf(ref: string, sha: string, type: string) {
    const repoApi = `${base}/repos/${options.owner}/${options.repo}`;
    return {
      ref,
      node_id: `REF_${Buffer.from(ref).toString('base64url')}`,
      url: `${repoApi}/git/${ref}`,
      object: { type, sha, url: `${repoApi}/git/${type === 'tag' ? 'tags' : 'commits'}/${sha}` },
    };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    deployments,
    holdRequests(path) {
      let release = () => {};
      const hold = { path, waiting: 0, peak: 0, released: new Promise<void>((r) => (release = r)) };
      holds.push(hold);
      return {
        waiting: () => hold.waiting,
        peak: () => hold.peak,
        release() {
          holds.splice(holds.indexOf(hold), 1);
          release();
        },
      };
    },
    answerError(answer) {
      failure = answer;
    },
    limitRate(limit) {
      rateLimit = limit;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/**
 * The part of GitHub's GraphQL schema the adapter reads: a repository's git objects by oid
 * (`Repository.object`), and of a tag its message, tagger and target. Fields, arguments and
 * nullability as GitHub declares them; the rest of the schema is left out, so a query for it fails
 * validation here as a misspelt one fails at GitHub.
 */
const GITHUB_SCHEMA = buildSchema(`
  scalar GitObjectID
  scalar GitTimestamp
  type Query {
    repository(owner: String!, name: String!, followRenames: Boolean = true): Repository
  }
  type Repository {
    object(expression: String, oid: GitObjectID): GitObject
  }
  interface GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
  }
  type Commit implements GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
  }
  type Tree implements GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
  }
  type Blob implements GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
  }
  type Tag implements GitObject {
    oid: GitObjectID!
    abbreviatedOid: String!
    name: String!
    message: String
    tagger: GitActor
    target: GitObject!
  }
  type GitActor {
    name: String
    email: String
    date: GitTimestamp
  }
`);

const GRAPHQL_TYPES: Record<string, string> = { commit: 'Commit', tree: 'Tree', blob: 'Blob', tag: 'Tag' };

/** A GitTimestamp: ISO 8601 in the tagger's own offset, not converted to UTC (e.g. 2026-11-25T13:00:00+01:00). */
/** An annotated tag object as `git cat-file tag` prints it: its header fields and its message. */
function parseTag(raw: string) {
  const [header = '', ...message] = raw.split('\n\n');
  const field = (name: string) => new RegExp(`^${name} (.*)$`, 'm').exec(header)?.[1] ?? '';
  const tagger = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(field('tagger'));
  return {
    name: field('tag'),
    type: field('type'),
    object: field('object'),
    message: message.join('\n\n'),
    tagger: tagger
      ? {
          name: tagger[1] ?? '',
          email: tagger[2] ?? '',
          seconds: Number(tagger[3]),
          offset: tagger[4] ?? '+0000',
        }
      : null,
  };
}

function gitTimestamp(epochSeconds: number, offset: string): string {
  const sign = offset.startsWith('-') ? -1 : 1;
  const minutes = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(3, 5)));
  const local = gitHubTime(epochSeconds + minutes * 60).replace(/Z$/, '');
  return `${local}${offset.slice(0, 3)}:${offset.slice(3, 5)}`;
}

const RATE_LIMIT_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';

/**
 * GitHub's answer to a request past a rate limit, headers and body as its docs show them; past its
 * primary limit, the GraphQL API answers 200 with an error of type RATE_LIMITED; past a secondary
 * one, 200 (asked with `status: 200`) with an error whose message says so, or 403.
 */
function rateLimited(res: ServerResponse, limit: RateLimit, graphqlCall: boolean) {
  if (limit.status === 200 && !graphqlCall) throw new Error('only GraphQL answers a rate limit with 200');
  const status = graphqlCall && limit.kind === 'primary' ? 200 : (limit.status ?? 403);
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'x-ratelimit-limit': '5000',
    'x-ratelimit-resource': graphqlCall ? 'graphql' : 'core',
  };
  let message: string;
  if (limit.kind === 'primary') {
    Object.assign(headers, {
      'x-ratelimit-remaining': '0',
      'x-ratelimit-used': '5000',
      'x-ratelimit-reset': String(Math.floor(limit.reset.getTime() / 1000)),
    });
    message = 'API rate limit exceeded for installation ID 4242.';
  } else {
    headers['retry-after'] = String(limit.retryAfterSeconds);
    message =
      'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.';
  }
  res.writeHead(status, headers);
  res.end(
    JSON.stringify(
      status === 200
        ? { errors: [limit.kind === 'primary' ? { type: 'RATE_LIMITED', message } : { message }] }
        : { message, documentation_url: RATE_LIMIT_DOCS, status: String(status) },
    ),
  );
}

function fail(res: ServerResponse, status: number, message: string, documentationUrl: string) {
  send(res, status, { message, documentation_url: documentationUrl, status: String(status) });
}

/**
 * A time as GitHub writes it: ISO 8601 in UTC without milliseconds, e.g. 2026-11-23T09:00:00Z. git
 * keeps any timestamp a pusher chose; a year past 9999 has no four-digit form, and GitHub documents
 * none: it is written with all its digits, as git and Ruby's Time#iso8601 write it
 * ("10000-01-01T00:00:00Z"), where toISOString writes "+010000-…".
 */
const gitHubTime = (epochSeconds: number) =>
  new Date(epochSeconds * 1000)
    .toISOString()
    .replace('.000Z', 'Z')
    .replace(/^\+0*(?=\d{5})/, '');
