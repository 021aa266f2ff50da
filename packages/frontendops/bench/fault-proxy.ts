/**
 * A fault-injecting HTTP proxy in front of the embedded S3 server. Each request that reaches it is
 * one attempt; a fraction `rate` of attempts fail, in equal shares of the chosen kinds (default all three):
 * - 500 InternalError (S3's documented body), not forwarded;
 * - 503 SlowDown (S3's throttling answer), not forwarded;
 * - a connection reset after the server did the work: forwarded, the answer dropped, the socket
 *   destroyed — the client cannot tell whether its request took effect.
 * Whether an attempt fails is a seeded pseudo-random function of (seed, method, URL, copy source,
 * how many times that request was seen before), not of arrival order: the same seed injects the
 * same faults into the same requests however concurrent requests interleave, so runs compare.
 *
 * It can also hold every attempt a fixed time before answering (setDelay): the round trip of an S3
 * endpoint that is not on this machine, which the sync section's --latency-ms uses.
 *
 * Attempts are grouped into requests by the SDK's `amz-sdk-invocation-id` header (one id per
 * operation, repeated on each retry), so retries per request are counted here, where they happen.
 * Requests are forwarded byte for byte (their SigV4 signature stays valid).
 */
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout } from 'node:timers/promises';

export type FaultKind = 'InternalError' | 'SlowDown' | 'reset';
export const FAULT_KINDS: readonly FaultKind[] = ['InternalError', 'SlowDown', 'reset'];

export interface FaultStats {
  /** Distinct operations (invocation ids). */
  requests: number;
  attempts: number;
  faults: Record<FaultKind, number>;
  /** Histogram: how many requests took n attempts. */
  attemptsPerRequest: Record<number, number>;
  /** Requests whose every attempt failed. */
  neverSucceeded: number;
}

export interface FaultProxy {
  endpoint: string;
  /** Fraction of attempts to fail from now on (0…1). */
  setRate(rate: number): void;
  /** Hold every attempt this long before answering or forwarding it: a round trip's latency. */
  setDelay(ms: number): void;
  /** Let the next `count` CopyObject attempts through, then fail every attempt. */
  failAllAfterCopies(count: number): void;
  /** Counters since the last reset. */
  stats(): FaultStats;
  reset(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(
  upstream: string,
  seed: number,
  kinds: readonly FaultKind[] = FAULT_KINDS,
): Promise<FaultProxy> {
  const target = new URL(upstream);
  let rate = 0;
  let delayMs = 0;
  let copiesUntilFailAll: number | null = null;
  let seen = new Map<string, number>();
  let invocations = new Map<string, { attempts: number; succeeded: boolean }>();
  let faults: Record<FaultKind, number> = { InternalError: 0, SlowDown: 0, reset: 0 };

  const draw = (req: IncomingMessage): number => {
    const identity = `${req.method} ${req.url} ${req.headers['x-amz-copy-source'] ?? ''}`;
    const nth = seen.get(identity) ?? 0;
    seen.set(identity, nth + 1);
    return createHash('sha256').update(`${seed}|${identity}|${nth}`).digest().readUInt32BE(0) / 2 ** 32;
  };

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (delayMs > 0) await setTimeout(delayMs);
    const id = String(req.headers['amz-sdk-invocation-id'] ?? `${req.method} ${req.url} ${Math.random()}`);
    const invocation = invocations.get(id) ?? { attempts: 0, succeeded: false };
    invocation.attempts++;
    invocations.set(id, invocation);
    const x = draw(req);
    const isCopy = req.method === 'PUT' && req.headers['x-amz-copy-source'] !== undefined;
    const failAll = copiesUntilFailAll !== null && copiesUntilFailAll <= 0;
    if (isCopy && copiesUntilFailAll !== null && copiesUntilFailAll > 0) copiesUntilFailAll--;
    const share = failAll ? x : x / rate; // uniform in [0, 1) for a failing attempt
    const kind = failAll || x < rate ? kinds[Math.floor(share * kinds.length) % kinds.length] : undefined;
    if (kind) faults[kind]++;
    if (kind === 'InternalError' || kind === 'SlowDown') {
      const [status, message] =
        kind === 'SlowDown'
          ? [503, 'Please reduce your request rate.']
          : [500, 'We encountered an internal error. Please try again.'];
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${kind}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`,
      );
      return;
    }
    const upstreamRequest = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (kind === 'reset') {
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
        const status = answer.statusCode ?? 502;
        if (status < 500) invocation.succeeded = true;
        res.writeHead(status, answer.headers);
        answer.pipe(res);
      },
    );
    upstreamRequest.on('error', () => res.writeHead(502).end());
    upstreamRequest.end(body);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setRate(value) {
      rate = value;
      copiesUntilFailAll = null;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    failAllAfterCopies(count) {
      copiesUntilFailAll = count;
    },
    stats() {
      const histogram: Record<number, number> = {};
      let attempts = 0;
      let neverSucceeded = 0;
      for (const { attempts: n, succeeded } of invocations.values()) {
        histogram[n] = (histogram[n] ?? 0) + 1;
        attempts += n;
        if (!succeeded) neverSucceeded++;
      }
      return {
        requests: invocations.size,
        attempts,
        faults: { ...faults },
        attemptsPerRequest: histogram,
        neverSucceeded,
      };
    },
    reset() {
      seen = new Map();
      invocations = new Map();
      faults = { InternalError: 0, SlowDown: 0, reset: 0 };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
