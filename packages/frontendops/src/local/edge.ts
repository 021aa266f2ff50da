/**
 * The local CDN edge of the embedded environment. It serves the hosting bucket and caches like a
 * CloudFront distribution (TTL from Cache-Control), so a deploy that forgets an invalidation shows
 * stale content here just as it would in production. Invalidations arrive through the CloudFront
 * REST API on `cdnEndpoint`, so the production CloudFront adapter is what talks to it; they
 * complete at once.
 *
 * Every site request first goes through the viewer-request function the stack's distribution runs
 * (the same file, in a sandbox), which answers it or rewrites its URI; the cache key and the origin key
 * are the rewritten URI, as at CloudFront, and the origin serves exactly that object. So "/" and a
 * client route get /index.html by the production rule, not by one of the edge's own. In place, the
 * function finds no releases to read (an empty KeyValueStore). With `atomic`, it is the distribution of
 * atomic releases: the function reads the KeyValueStore as this edge sees it, whose API is served on
 * `atomic.kvsEndpoint` for the production KeyValueStore adapter.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import { siteSecurityHeaderLines } from '../access.ts';
import { readViewerRequestFunction } from '../atomic/function-code.ts';
import type { ObjectStore } from '../ports.ts';
import {
  type EdgeAtomic,
  type EdgeFunctionStats,
  type LocalEdgeAtomicOptions,
  startEdgeAtomic,
} from './edge-atomic.ts';
import { type CachedResponse, cacheTtlSeconds, createEdgeCache, type TtlPolicy } from './edge-cache.ts';
import { createCloudFrontApi, errorResponse } from './edge-cloudfront-api.ts';
import { EMPTY_KVS, loadEdgeFunction, responseToHttp, viewerRequestRunner } from './edge-function.ts';
import { readBodyBytes, startHttpServer } from './edge-http.ts';
import { fetchExactFromOrigin, unsafePathReason } from './edge-origin.ts';
import { createSigV4Check, type SigV4Credentials } from './sigv4-check.ts';

export interface LocalEdgeOptions {
  origin: ObjectStore;
  distributionId: string;
  /**
   * The key its CloudFront API takes (the local environment's): a request not addressed to loopback
   * or not signed with it (SigV4, service "cloudfront") is refused, as the embedded S3 server refuses
   * one. Another user of the machine, or a web page, could otherwise flush the edge's cache.
   */
  apiCredentials: SigV4Credentials;
  host?: string;
  /** Port of the site (default 0: one the OS picks). */
  port?: number;
  /** Port of the CloudFront API endpoint (default 0). */
  cdnPort?: number;
  /** CloudFront MinTTL (default 0). */
  minTtlSeconds?: number;
  /** CloudFront DefaultTTL, for responses without max-age (default 86,400, as CachingOptimized). */
  defaultTtlSeconds?: number;
  now?: () => number;
  /** Atomic releases: a KeyValueStore and the viewer-request function in front of the cache. */
  atomic?: LocalEdgeAtomicOptions;
  /**
   * Where the detail of a failure goes (the origin's error, the function's): the server's side
   * only, since a viewer gets a generic message and a request id. Default: NODE_DEBUG=frontendops.
   */
  log?: (line: string) => void;
}

export interface EdgeInvalidationRecord {
  id: string;
  callerReference: string;
  paths: string[];
  createTime: string;
  /** Cached entries the invalidation dropped. */
  purged: number;
}

export interface LocalEdgeStats {
  hits: number;
  misses: number;
  invalidations: EdgeInvalidationRecord[];
  /** Paths currently held in the cache (fresh or not yet found expired). */
  cachedPaths: string[];
  /** Runs of the viewer-request function. */
  function: EdgeFunctionStats;
}

export interface LocalEdge {
  /** The site, e.g. http://127.0.0.1:49152 */
  url: string;
  /** Base URL to pass as the CloudFront adapter's endpoint. */
  cdnEndpoint: string;
  distributionId: string;
  /** The KeyValueStore of atomic releases (atomic mode only). */
  atomic?: Omit<EdgeAtomic, 'viewerRequest' | 'stats' | 'close'>;
  stats(): LocalEdgeStats;
  close(): Promise<void>;
}

const MAX_TTL_SECONDS = 31_536_000;
/** The HTTP status AWS answers a refused request with, by its code (403 otherwise). */
const REFUSAL_STATUS: Record<string, number> = {
  AuthorizationHeaderMalformed: 400,
  InvalidRequest: 400,
  InvalidURI: 400,
  InvalidArgument: 400,
  XAmzContentSHA256Mismatch: 400,
};
const debug = debuglog('frontendops');
const SECURITY_HEADER_LINES = siteSecurityHeaderLines();

export async function startLocalEdge(options: LocalEdgeOptions): Promise<LocalEdge> {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => debug('%s', line));
  const policy: TtlPolicy = {
    minTtlSeconds: options.minTtlSeconds ?? 0,
    defaultTtlSeconds: options.defaultTtlSeconds ?? 86_400,
    maxTtlSeconds: MAX_TTL_SECONDS,
  };
  const cache = createEdgeCache(now);
  const counters = { hits: 0, misses: 0 };
  const invalidations: EdgeInvalidationRecord[] = [];
  const api = createCloudFrontApi({
    distributionIds: [options.distributionId],
    completeImmediately: true,
    now,
    onCreated: (inv) =>
      invalidations.push({
        id: inv.id,
        callerReference: inv.callerReference,
        paths: [...inv.paths],
        createTime: inv.createTime.toISOString(),
        purged: cache.purge(inv.paths),
      }),
  });

  async function serveSite(request: IncomingMessage, response: ServerResponse) {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      response.end('Method not allowed: the edge serves GET and HEAD.\n');
      return;
    }
    // The path as it arrived: a dot segment or encoded slash must not be normalised away or decoded
    // into a key of another bucket, and is refused before the function, the cache or the origin.
    const target = request.url ?? '/';
    const unsafe = target.startsWith('/')
      ? unsafePathReason(target.split('?', 1)[0] ?? '/')
      : 'the request target must be a path starting with "/"';
    if (unsafe) {
      send(
        request,
        response,
        textResponse(400, `Bad request: ${unsafe}.\n`, now()),
        'Error from local-edge',
        now(),
      );
      return;
    }
    const run = front.viewerRequest(request, request.headers.host ?? host);
    if (run.kind === 'error') {
      // As CloudFront answers a function that throws or runs too long: 503, not cached; what
      // failed is for the server's log, not for the viewer.
      const id = requestId();
      log(`local edge: request ${id}: ${run.error}`);
      send(
        request,
        response,
        textResponse(503, `The CloudFront Function failed (request id ${id}).\n`, now(), id),
        'FunctionExecutionError from local-edge',
        now(),
      );
      return;
    }
    if (run.kind === 'response') {
      const generated = responseToHttp(run.response);
      response.writeHead(generated.status, {
        ...generated.headers,
        'x-cache': 'FunctionGeneratedResponse from local-edge',
        'content-length': String(generated.body.length),
      });
      response.end(request.method === 'HEAD' ? undefined : generated.body);
      return;
    }
    // CloudFront looks the cache up by the URI the function left (CachingOptimized: the query is
    // not part of the key).
    const pathname = run.request.uri;
    const cached = cache.get(pathname);
    if (cached) {
      counters.hits += 1;
      send(request, response, cached, `Hit from local-edge`, now());
      return;
    }
    counters.misses += 1;
    const fresh = await fetchResponse(pathname).catch((error: unknown) => {
      // As CloudFront answers when its origin fails: 502, not cached. The origin's error names its
      // bucket, endpoint and key; the viewer gets an id to find it in the server's log.
      const id = requestId();
      log(`local edge: request ${id}: the origin failed: ${(error as Error).message}`);
      return textResponse(
        502,
        `Bad gateway: The origin could not be reached (request id ${id}).\n`,
        now(),
        id,
      );
    });
    send(request, response, fresh, `Miss from local-edge`, now());
  }

  async function fetchResponse(pathname: string): Promise<CachedResponse> {
    const answer = await fetchExactFromOrigin(options.origin, pathname);
    const storedAt = now();
    if (answer.kind !== 'object') {
      const status = answer.kind === 'not-found' ? 404 : 400;
      const text =
        answer.kind === 'not-found' ? `Not found: ${pathname}\n` : `Bad request: ${answer.reason}\n`;
      // Errors are not cached, so a file that appears with the next deploy is served at once.
      return textResponse(status, text, storedAt);
    }
    const { object } = answer;
    const headers: Record<string, string> = {
      'content-type': object.contentType ?? 'application/octet-stream',
      ...(object.cacheControl ? { 'cache-control': object.cacheControl } : {}),
      ...(object.etag ? { etag: object.etag } : {}),
    };
    const ttl = cacheTtlSeconds(object.cacheControl, policy);
    const entry: CachedResponse = {
      status: 200,
      headers,
      body: object.body,
      etag: object.etag || undefined,
      storedAt,
      expiresAt: storedAt + ttl * 1000,
    };
    if (ttl > 0) cache.set(pathname, entry);
    return entry;
  }

  const atomic = options.atomic
    ? await startEdgeAtomic(options.atomic, { host, distributionId: options.distributionId, now })
    : undefined;
  // The function in front of every request: the atomic store's, or in place the same function
  // with no releases to read.
  const front: Pick<EdgeAtomic, 'viewerRequest' | 'stats'> =
    atomic ?? (await inPlaceFront(options.distributionId, now));
  const site = await startHttpServer(serveSite, { host, port: options.port ?? 0, log }).catch(
    async (error: unknown) => {
      await atomic?.close();
      throw error;
    },
  );
  const signed = createSigV4Check({
    credentials: options.apiCredentials,
    service: 'cloudfront',
    name: "the local edge's CloudFront API",
    // Signatures are dated by the clock of whoever signs (the SDK's, a real one), not by the edge's,
    // which a test may move for its cache.
  });
  const cdn = await startHttpServer(
    async (request, response) => {
      const body = await readBodyBytes(request);
      const refused = await signed({
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
        body,
      });
      const answer = refused
        ? errorResponse({ status: REFUSAL_STATUS[refused.code] ?? 403, ...refused })
        : api.handle({
            method: request.method ?? 'GET',
            url: request.url ?? '/',
            host: request.headers.host ?? host,
            body: body.toString('utf8'),
          });
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    },
    { host, port: options.cdnPort ?? 0, log },
  ).catch(async (error: unknown) => {
    await Promise.all([site.close(), atomic?.close()]);
    throw error;
  });

  return {
    url: site.url,
    cdnEndpoint: cdn.url,
    distributionId: options.distributionId,
    ...(atomic
      ? {
          atomic: {
            kvsEndpoint: atomic.kvsEndpoint,
            kvsArn: atomic.kvsArn,
            currentEtag: atomic.currentEtag,
            visibleEtag: atomic.visibleEtag,
            whenVisible: atomic.whenVisible,
          },
        }
      : {}),
    stats: () => ({
      ...counters,
      invalidations: invalidations.map((i) => ({ ...i })),
      cachedPaths: cache.keys(),
      function: front.stats(),
    }),
    close: async () => {
      await Promise.all([site.close(), cdn.close(), atomic?.close()]);
    },
  };
}

/** The viewer-request function of an in-place stack's distribution: no KeyValueStore to read. */
async function inPlaceFront(
  distributionId: string,
  now: () => number,
): Promise<Pick<EdgeAtomic, 'viewerRequest' | 'stats'>> {
  const runner = viewerRequestRunner(
    loadEdgeFunction(await readViewerRequestFunction(), { name: 'the viewer-request function' }),
    distributionId,
  );
  return { viewerRequest: (request, on) => runner.run(request, on, EMPTY_KVS, now()), stats: runner.stats };
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

/** A short id for one failed request: in the answer (and x-amz-cf-id, as CloudFront) and the log. */
const requestId = () => randomBytes(6).toString('hex');

function textResponse(status: number, text: string, at: number, id?: string): CachedResponse {
  return {
    status,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      ...(id ? { 'x-amz-cf-id': id } : {}),
    },
    body: Buffer.from(text),
    etag: undefined,
    storedAt: at,
    expiresAt: at,
  };
}

function send(
  request: IncomingMessage,
  response: ServerResponse,
  entry: CachedResponse,
  xCache: string,
  at: number,
) {
  // The distribution's response headers policy: on what the cache or the origin answers, over the
  // object's own headers (override), as CloudFront documents it.
  const headers: Record<string, string> = {
    ...entry.headers,
    ...SECURITY_HEADER_LINES,
    'x-cache': xCache,
    age: String(Math.max(0, Math.floor((at - entry.storedAt) / 1000))),
  };
  if (entry.status === 200 && entry.etag && matchesEtag(request.headers['if-none-match'], entry.etag)) {
    const { 'content-type': _type, ...notModified } = headers;
    response.writeHead(304, notModified);
    response.end();
    return;
  }
  response.writeHead(entry.status, { ...headers, 'content-length': String(entry.body.length) });
  response.end(request.method === 'HEAD' ? undefined : entry.body);
}

/** If-None-Match holds "*" or a list of entity tags; comparison is weak (W/ prefixes ignored). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const strip = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || strip(tag) === strip(etag));
}
