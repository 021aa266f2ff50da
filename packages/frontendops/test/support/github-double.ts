/**
 * A local stand-in for the parts of GitHub's REST API the GitHub adapter uses, answering as the REST
 * reference documents them (status codes, JSON shapes, `{message, documentation_url, status}` error
 * bodies), backed by a real git repository (commits, tag objects via `git mktag`, refs via
 * `git update-ref`). It records every request so tests can assert what Octokit actually sent.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

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
   * "Rate limits for the REST API".
   */
  limitRate(limit: RateLimit | null): void;
  close(): Promise<void>;
}

export type RateLimit =
  | { kind: 'primary'; reset: Date; status?: 403 | 429 }
  | { kind: 'secondary'; retryAfterSeconds: number; status?: 403 | 429 };

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
      if (rateLimit) return rateLimited(res, rateLimit);
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
    send(res, 200, await Promise.all(shas.map(commitJson)));
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
      commits: await Promise.all(shown.map(commitJson)),
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
    send(res, 201, await tagJson(sha));
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

  async function matchingRefs(ref: string, res: ServerResponse) {
    const names = (await git(['for-each-ref', '--format=%(refname)'])).split('\n').filter(Boolean);
    const matching = names.filter((n) => n.startsWith(`refs/${ref}`));
    send(res, 200, await Promise.all(matching.map(refJson)));
  }

  async function getTagObject(sha: string, res: ServerResponse) {
    if (!/^[0-9a-f]{40}$/.test(sha) || (await tryGit(['cat-file', '-t', sha]))?.trim() !== 'tag') {
      return fail(res, 404, 'Not Found', `${DOCS}/git/tags#get-a-tag`);
    }
    send(res, 200, await tagJson(sha));
  }

  async function commitJson(sha: string) {
    const [tree = '', parents = '', an = '', ae = '', ad = '', cn = '', ce = '', cd = '', ...msg] = (
      await git(['show', '-s', '--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B', sha])
    ).split('\0');
    const repoApi = `${base}/repos/${options.owner}/${options.repo}`;
    return {
      sha,
      node_id: `C_${sha.slice(0, 12)}`,
      commit: {
        author: { name: an, email: ae, date: toGitHubDate(ad) },
        committer: { name: cn, email: ce, date: toGitHubDate(cd) },
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
  }

  async function tagJson(sha: string) {
    const raw = await git(['cat-file', 'tag', sha]);
    const [header = '', ...message] = raw.split('\n\n');
    const field = (name: string) => new RegExp(`^${name} (.*)$`, 'm').exec(header)?.[1] ?? '';
    const tagger = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(field('tagger'));
    const repoApi = `${base}/repos/${options.owner}/${options.repo}`;
    return {
      node_id: `TAG_${sha.slice(0, 12)}`,
      tag: field('tag'),
      sha,
      url: `${repoApi}/git/tags/${sha}`,
      message: message.join('\n\n'),
      tagger: {
        name: tagger?.[1] ?? '',
        email: tagger?.[2] ?? '',
        date: new Date(Number(tagger?.[3] ?? 0) * 1000).toISOString().replace('.000Z', 'Z'),
      },
      object: { type: field('type'), sha: field('object'), url: `${repoApi}/git/commits/${field('object')}` },
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
    const type = (await git(['cat-file', '-t', sha])).trim();
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

const RATE_LIMIT_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';

/** GitHub's answer to a request past a rate limit: its headers and body as the REST docs show them. */
function rateLimited(res: ServerResponse, limit: RateLimit) {
  const status = limit.status ?? 403;
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'x-ratelimit-limit': '5000',
    'x-ratelimit-resource': 'core',
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
  res.end(JSON.stringify({ message, documentation_url: RATE_LIMIT_DOCS, status: String(status) }));
}

function fail(res: ServerResponse, status: number, message: string, documentationUrl: string) {
  send(res, status, { message, documentation_url: documentationUrl, status: String(status) });
}

// GitHub writes timestamps as ISO 8601 without milliseconds, e.g. 2026-11-23T09:00:00Z.
const toGitHubDate = (iso: string) => new Date(iso).toISOString().replace('.000Z', 'Z');
