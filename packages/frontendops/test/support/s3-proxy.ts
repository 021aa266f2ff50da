/**
 * An HTTP proxy in front of the embedded S3 server, for what s3rver does not do:
 * - fault injection: answer the next N requests with S3's documented 503 SlowDown error;
 * - conditional writes as S3 documents them for PutObject: If-None-Match: * fails with 412 when the
 *   key exists (any other If-None-Match value is 501 NotImplemented), If-Match: <etag> fails with 412 when the current ETag differs (checked and written
 *   under a per-key mutex, so the check and the write are atomic as on S3).
 * - a hold: the next request a test names waits until the test releases it (a process stopped at an
 *   exact point of its work, with the other requests still served), or drops it unanswered (the
 *   process was killed before that request reached S3).
 * - a role's policy (test/support/role-scope.ts): a request IAM would refuse gets S3's 403
 *   AccessDenied and never reaches the server.
 * - with `conditionalDeletes: false`, an S3-compatible server that takes no condition on
 *   DeleteObject: one with If-Match gets 501 NotImplemented (as LocalStack answered before it took them).
 * Requests are forwarded byte for byte (their SigV4 signature stays valid). A proxy listening on
 * another address (`host`, not loopback) signs each request again for the upstream's own loopback
 * Host with the upstream client's key, as the embedded server answers loopback Hosts only.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

export interface S3Proxy {
  endpoint: string;
  /** The next `count` requests get 503 SlowDown. */
  failNext(count: number): void;
  /** The next `count` GET responses are cut off after half their body (a reset connection). */
  truncateNext(count: number): void;
  /** Requests that reached the proxy (method, path, status, copy source). */
  seen: Array<{ method: string; path: string; status: number; copySource?: string }>;
  /** A mark in `seen`: a case that reads what it sent slices from it, whatever ran before it. */
  mark(): number;
  /**
   * Holds the next request `match` accepts until release() forwards it or drop() ends its connection
   * unanswered, never reaching the server; `reached` resolves when it arrives.
   */
  hold(match: (request: HeldRequest) => boolean): {
    reached: Promise<void>;
    release(): void;
    drop(): void;
  };
  close(): Promise<void>;
}

export interface HeldRequest {
  method: string;
  /** Path-style: /<bucket>/<key>, decoded. */
  bucket: string;
  key: string;
  headers: IncomingHttpHeaders;
  /** Its query ("delete", "uploads", "list-type=2&prefix=…"). */
  query: URLSearchParams;
}

/** A request as a role's scope sees it: with its body. */
export interface ScopedRequest extends HeldRequest {
  body: Buffer;
}

/** S3's answer to a write condition it does not take (If-None-Match other than *, any on a copy). */
const NOT_IMPLEMENTED = s3Error(
  'NotImplemented',
  'A header you provided implies functionality that is not implemented',
);

export async function startS3Proxy(
  upstream: string,
  upstreamClient: S3Client,
  options: {
    conditional: boolean;
    conditionalDeletes?: false;
    host?: string;
    scope?: (request: ScopedRequest) => boolean;
  },
): Promise<S3Proxy> {
  const target = new URL(upstream);
  const seen: S3Proxy['seen'] = [];
  const locks = new Map<string, Promise<void>>();
  let failures = 0;
  let truncations = 0;
  const holds: Array<{
    match: (request: HeldRequest) => boolean;
    arrived: () => void;
    /** true: forward it; false: drop it. */
    released: Promise<boolean>;
  }> = [];

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const path = req.url ?? '/';
    const [, bucket = '', ...rest] = new URL(path, 'http://x').pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const held = {
      method: req.method ?? '',
      bucket: decodeURIComponent(bucket),
      key,
      headers: req.headers,
      query: new URL(path, 'http://x').searchParams,
    };
    const hold = holds.find((h) => h.match(held));
    if (hold) {
      holds.splice(holds.indexOf(hold), 1);
      hold.arrived();
      if (!(await hold.released)) {
        req.socket.destroy();
        return;
      }
    }
    const answer = (status: number, xml: string) => {
      seen.push({ method: req.method ?? '', path, status });
      res.writeHead(status, { 'content-type': 'application/xml' }).end(xml);
    };
    if (options.scope && !options.scope({ ...held, body })) {
      return answer(403, s3Error('AccessDenied', 'Access Denied'));
    }
    if (failures > 0) {
      failures--;
      return answer(503, s3Error('SlowDown', 'Please reduce your request rate.'));
    }
    if (options.conditionalDeletes === false && req.method === 'DELETE' && req.headers['if-match']) {
      return answer(501, NOT_IMPLEMENTED);
    }
    if (req.headers['x-amz-copy-source'] && (req.headers['if-none-match'] || req.headers['if-match'])) {
      // S3 takes no write condition on a copy.
      return answer(501, NOT_IMPLEMENTED);
    }
    const conditional =
      options.conditional &&
      req.method === 'PUT' &&
      !req.headers['x-amz-copy-source'] &&
      (req.headers['if-none-match'] || req.headers['if-match']);
    if (!conditional) return forward(req, body, res, path);
    await withLock(`${bucket}/${key}`, async () => {
      const current = await upstreamClient.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
        (head) => head.ETag ?? null,
        () => null,
      );
      const ifNoneMatch = req.headers['if-none-match'];
      const ifMatch = req.headers['if-match'];
      if (ifNoneMatch !== undefined && ifNoneMatch !== '*') {
        // PutObject takes If-None-Match: * only ("create if absent").
        answer(501, NOT_IMPLEMENTED);
        return;
      }
      if ((ifNoneMatch === '*' && current !== null) || (ifMatch !== undefined && ifMatch !== current)) {
        answer(
          412,
          s3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold'),
        );
        return;
      }
      await forward(req, body, res, path);
    });
  });

  const withLock = async (key: string, run: () => Promise<void>) => {
    const previous = locks.get(key) ?? Promise.resolve();
    const current = previous.then(run, run);
    locks.set(
      key,
      current.catch(() => undefined),
    );
    await current;
  };

  const resign = async (req: IncomingMessage, path: string): Promise<IncomingHttpHeaders> => {
    const signer = new SignatureV4({
      credentials: await upstreamClient.config.credentials(),
      region: 'us-east-1',
      service: 's3',
      sha256: Sha256,
      uriEscapePath: false,
    });
    const url = new URL(path, upstream);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || ['authorization', 'x-amz-date', 'host', 'connection'].includes(name))
        continue;
      headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    headers.host = target.host;
    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) query[name] = value;
    const signed = await signer.sign({
      method: req.method ?? 'GET',
      protocol: 'http:',
      hostname: target.hostname,
      port: Number(target.port),
      path: url.pathname,
      query,
      headers,
    });
    return signed.headers;
  };

  const forward = async (req: IncomingMessage, body: Buffer, res: ServerResponse, path: string) => {
    const headers = options.host ? await resign(req, path) : req.headers;
    return new Promise<void>((resolve) => {
      // Every header is kept, the conditions too: they are signed, and s3rver ignores them on a PUT.
      const upstreamRequest = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path, headers },
        (upstreamResponse) => {
          const copySource = req.headers['x-amz-copy-source'];
          seen.push({
            method: req.method ?? '',
            path,
            status: upstreamResponse.statusCode ?? 0,
            ...(typeof copySource === 'string' ? { copySource: decodeURIComponent(copySource) } : {}),
          });
          res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
          if (req.method === 'GET' && truncations > 0 && upstreamResponse.statusCode === 200) {
            truncations--;
            void readBody(upstreamResponse).then((full) => {
              res.write(full.subarray(0, Math.floor(full.length / 2)));
              res.socket?.destroy();
              resolve();
            });
            return;
          }
          upstreamResponse.pipe(res).on('finish', () => resolve());
        },
      );
      upstreamRequest.on('error', () => {
        res.writeHead(502).end();
        resolve();
      });
      upstreamRequest.end(body);
    });
  };

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const { port } = server.address() as AddressInfo;
  const releases: Array<(forward: boolean) => void> = [];
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    failNext: (count) => {
      failures = count;
    },
    truncateNext: (count) => {
      truncations = count;
    },
    seen,
    mark: () => seen.length,
    hold(match) {
      let arrived = () => {};
      let settle: (forward: boolean) => void = () => {};
      const reached = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const released = new Promise<boolean>((resolve) => {
        settle = resolve;
      });
      holds.push({ match, arrived, released });
      releases.push(settle);
      return { reached, release: () => settle(true), drop: () => settle(false) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const release of releases) release(true);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function s3Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`;
}

async function readBody(req: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
