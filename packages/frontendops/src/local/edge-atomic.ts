/**
 * The local edge's atomic-release mode: a CloudFront KeyValueStore (its data-plane API served on its
 * own endpoint, so the production adapter writes to it unchanged) and the viewer-request function,
 * run in the sandbox on every site request against the store as the edge sees it, which is each
 * write only `propagationMs` after it was made, as CloudFront edges see updates within seconds.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { readViewerRequestFunction } from '../atomic/function-code.ts';
import {
  type EdgeFunction,
  type EdgeFunctionStats,
  type FunctionRun,
  loadEdgeFunction,
  viewerRequestRunner,
} from './edge-function.ts';

export type { EdgeFunctionStats };

import { type RunningServer, readBodyBytes, startHttpServer } from './edge-http.ts';
import { createKeyValueStoreApi } from './edge-kvs-api.ts';
import { createEmulatedKeyValueStore } from './edge-kvs-store.ts';
import type { SigningCredentials } from './sigv4a-verify.ts';

/** How long the edge's clock may show one instant, in real time, before it is taken for a stopped one. */
const STUCK_CLOCK_MS = 100;

export const LOCAL_KVS_ARN = 'arn:aws:cloudfront::000000000000:key-value-store/frontendops-local-releases';

export interface LocalEdgeAtomicOptions {
  /** The emulated store's ARN (default: LOCAL_KVS_ARN). Its account id prefixes the API's host. */
  kvsArn?: string;
  /** Access keys allowed to call the KeyValueStore API (SigV4A); default: the local environment's. */
  /** The keys the KeyValueStore API accepts (the local environment's own). */
  credentials: readonly SigningCredentials[];
  /** A write reaches the edge's function this long after it was made (default 0; CloudFront: seconds). */
  propagationMs?: number;
  /** The function's source (default: the bundled viewer-request.js). */
  functionCode?: string;
  /** Wall-clock budget of one function run (default 1,000 ms). */
  functionBudgetMs?: number;
  /** Port of the KeyValueStore API endpoint (default 0: one the OS picks). */
  kvsPort?: number;
  /** Keys the store starts with (e.g. the preview secret). */
  initialKeys?: Readonly<Record<string, string>>;
}

export interface EdgeAtomic {
  /** Endpoint for the KeyValueStore adapter: http://localhost:<port> (the SDK prepends the account id). */
  kvsEndpoint: string;
  kvsArn: string;
  /** The store's ETag as the API answers it. */
  currentEtag(): string;
  /** The ETag of the version the edge's function sees now. */
  visibleEtag(): string;
  /** Resolves once the edge sees the version `etag` (or a later one); waits out the propagation delay. */
  whenVisible(etag: string): Promise<void>;
  viewerRequest(request: IncomingMessage, host: string): FunctionRun;
  stats(): EdgeFunctionStats;
  close(): Promise<void>;
}

export async function startEdgeAtomic(
  options: LocalEdgeAtomicOptions,
  edge: { host: string; distributionId: string; now: () => number },
): Promise<EdgeAtomic> {
  const propagationMs = options.propagationMs ?? 0;
  const code = options.functionCode ?? (await readViewerRequestFunction());
  const fn: EdgeFunction = loadEdgeFunction(code, {
    name: 'the viewer-request function',
    ...(options.functionBudgetMs ? { budgetMs: options.functionBudgetMs } : {}),
  });
  const store = createEmulatedKeyValueStore({
    arn: options.kvsArn ?? LOCAL_KVS_ARN,
    now: edge.now,
    ...(options.initialKeys ? { initial: options.initialKeys } : {}),
  });
  const api = createKeyValueStoreApi({
    stores: [store],
    credentials: options.credentials,
    now: edge.now,
  });
  const server: RunningServer = await startHttpServer(
    async (request, response) => {
      const answer = api.handle({
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
        body: await readBodyBytes(request),
      });
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    },
    { host: edge.host, port: options.kvsPort ?? 0 },
  );
  const runner = viewerRequestRunner(fn, edge.distributionId);
  const port = new URL(server.url).port;

  return {
    // "<account>.127.0.0.1" is no valid host; "<account>.localhost" is loopback.
    kvsEndpoint: isIP(edge.host) !== 0 || edge.host === 'localhost' ? `http://localhost:${port}` : server.url,
    kvsArn: store.arn,
    currentEtag: () => store.current().etag,
    visibleEtag: () => store.visible(edge.now(), propagationMs).etag,
    async whenVisible(etag) {
      // Real time spent waiting while the edge's clock showed the same instant. A real clock moves
      // within a few milliseconds (a 1 ms timer can fire before Date.now() ticks); an injected clock
      // nobody advances never does, and waiting on it would never end.
      let stuckMs = 0;
      for (;;) {
        const at = edge.now();
        const committedAt = store.committedAt(etag);
        // Unknown: older than the version the edge sees, so long visible.
        if (committedAt === undefined || committedAt + propagationMs <= at) return;
        const began = performance.now();
        await delay(committedAt + propagationMs - at);
        if (edge.now() !== at) {
          stuckMs = 0;
          continue;
        }
        stuckMs += performance.now() - began;
        if (stuckMs >= STUCK_CLOCK_MS) {
          throw new Error(
            'The edge’s clock did not move: with an injected clock, advance it instead of waiting.',
          );
        }
      }
    },
    viewerRequest: (request, host) => {
      const at = edge.now();
      return runner.run(request, host, store.visible(at, propagationMs), at);
    },
    stats: runner.stats,
    close: () => server.close(),
  };
}
