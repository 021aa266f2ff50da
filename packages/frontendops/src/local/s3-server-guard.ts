/**
 * Who the embedded S3 server lets in, checked in its own process in front of s3rver. s3rver serves
 * a request without an Authorization header as anonymous and takes any SigV4 signature whose access
 * key id it knows, so anyone able to open the port — another user of this machine, a web page
 * through DNS rebinding — could read the state bucket and rewrite the site. Here a request must
 * - be addressed to a loopback host (127.0.0.1, localhost or [::1]): a rebound DNS name is refused;
 * - carry an AWS Signature Version 4 Authorization header made with the environment's key: the
 *   signature is computed again by the SDK's own signer (@smithy/signature-v4) over the request as
 *   it arrived and compared in constant time; its date within 15 minutes of this clock; every
 *   x-amz-* header signed. The payload hash is the one x-amz-content-sha256 states (bodies stream to
 *   s3rver unhashed), so UNSIGNED-PAYLOAD and STREAMING-* payloads pass as S3 takes them;
 * - name no "." or ".." path segment, in its path or its copy source (x-amz-copy-source): s3rver
 *   keeps objects as files, and such a key names a file outside its bucket.
 * A request let in reaches s3rver with its copy source in the form s3rver reads: S3 takes the header
 * URL-encoded (encodeURIComponent, as the SDK and our adapter send it), s3rver decodes it with
 * decodeURI, which leaves %40, %3D, %2B, %26, %2C, %3B, %3A, %24 and %23 encoded — a copy of
 * logo@2x.png looked for logo%402x.png and failed with NoSuchKey. The header is decoded here and
 * re-encoded with encodeURI, which decodeURI undoes exactly (after the signature was checked over
 * the header as sent).
 * Nothing in this repository presigns URLs, so query-string authentication is refused. Refusals are
 * the XML errors S3 answers (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, …).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
// @ts-expect-error s3rver ships no types for its error model
import S3Error from 's3rver/lib/models/error.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** An S3 error code (its HTTP status follows from it), a message, and S3's detail elements. */
export interface S3Refusal {
  code: string;
  message: string;
  detail?: Record<string, string>;
}

export interface S3RequestLike {
  method: string;
  /** Path and query as on the request line. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** How far x-amz-date may be from the server's clock, as S3 allows. */
const MAX_SKEW_MS = 15 * 60_000;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const PAYLOAD_HASH = /^(?:[0-9a-f]{64}|UNSIGNED-PAYLOAD|STREAMING-[A-Z0-9-]+)$/;
const QUERY_AUTH = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-signature', 'signature', 'awsaccesskeyid'];
const REQUIRED_SIGNED = ['host', 'x-amz-date', 'x-amz-content-sha256'];

/** Host header values a loopback client sends: 127.0.0.1, localhost or [::1], any port, any case. */
export function isLoopbackHost(host: string | undefined): boolean {
  const name = /^(\[[^\]]*\]|[^:[\]]*)(?::\d{1,5})?$/.exec(host?.trim().toLowerCase() ?? '')?.[1];
  return name !== undefined && LOOPBACK_HOSTS.has(name);
}

/** The check of one request: null when it may reach s3rver, else why not. */
export function createS3RequestCheck(options: { credentials: S3Credentials; now?: () => number }) {
  const now = options.now ?? Date.now;
  const { credentials } = options;
  const signer = new SignatureV4({
    credentials,
    region: 'us-east-1',
    service: 's3',
    sha256: Sha256,
    // S3 signs the path as sent: neither normalised nor encoded again.
    uriEscapePath: false,
  });

  return async function check(request: S3RequestLike): Promise<S3Refusal | null> {
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    const host = header('host');
    if (!isLoopbackHost(host)) {
      return {
        code: 'AccessDenied',
        message: `The embedded S3 server answers only requests addressed to 127.0.0.1, localhost or [::1]; this one was addressed to "${host ?? ''}". Use the endpoint the local environment announces.`,
      };
    }
    const at = request.url.indexOf('?');
    const path = at === -1 ? request.url : request.url.slice(0, at);
    const query = parseQuery(at === -1 ? '' : request.url.slice(at + 1));
    if (query === null) return { code: 'InvalidURI', message: "Couldn't parse the specified URI." };
    if (Object.keys(query).some((name) => QUERY_AUTH.includes(name.toLowerCase()))) {
      return {
        code: 'AccessDenied',
        message:
          'The embedded S3 server does not take query-string (presigned URL) authentication: sign the request with an AWS Signature Version 4 Authorization header.',
      };
    }
    const authorization = header('authorization');
    if (authorization === undefined) {
      return {
        code: 'AccessDenied',
        message:
          'Access Denied: the embedded S3 server takes only requests signed (AWS Signature Version 4) with the key of its local environment; anonymous requests are refused.',
      };
    }
    const parsed = AUTHORIZATION.exec(authorization);
    if (!parsed) {
      return authorization.startsWith('AWS4-HMAC-SHA256 ')
        ? {
            code: 'AuthorizationHeaderMalformed',
            message:
              'The authorization header is malformed; it needs Credential=<key>/<date>/<region>/s3/aws4_request, SignedHeaders=… and Signature=<64 hex digits>.',
          }
        : {
            code: 'InvalidRequest',
            message:
              'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
          };
    }
    const [, accessKeyId = '', scopeDate = '', region = '', service = '', signedList = '', signature = ''] =
      parsed;
    if (accessKeyId !== credentials.accessKeyId) {
      return {
        code: 'InvalidAccessKeyId',
        message: 'The AWS Access Key Id you provided does not exist in our records.',
        detail: { AWSAccessKeyId: accessKeyId },
      };
    }
    if (service !== 's3') {
      return {
        code: 'AuthorizationHeaderMalformed',
        message: `The authorization header is malformed; incorrect service "${service}". This endpoint belongs to "s3".`,
      };
    }
    const amzDate = header('x-amz-date') ?? '';
    const signedAt = Date.parse(
      amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    if (!/^\d{8}T\d{6}Z$/.test(amzDate) || !Number.isFinite(signedAt)) {
      return {
        code: 'AccessDenied',
        message: 'AWS authentication requires a valid x-amz-date header (yyyyMMddTHHmmssZ).',
      };
    }
    if (!amzDate.startsWith(scopeDate)) {
      return {
        code: 'AuthorizationHeaderMalformed',
        message: `The authorization header is malformed; Invalid credential date "${scopeDate}". Date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
      };
    }
    const serverTime = now();
    if (Math.abs(serverTime - signedAt) > MAX_SKEW_MS) {
      return {
        code: 'RequestTimeTooSkewed',
        message: 'The difference between the request time and the current time is too large.',
        detail: {
          RequestTime: amzDate,
          ServerTime: new Date(serverTime).toISOString().replace(/\.\d+/, ''),
          MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
        },
      };
    }
    const payloadHash = header('x-amz-content-sha256');
    if (payloadHash === undefined) {
      return {
        code: 'InvalidRequest',
        message: 'Missing required header for this request: x-amz-content-sha256',
      };
    }
    if (!PAYLOAD_HASH.test(payloadHash)) {
      return {
        code: 'InvalidArgument',
        message:
          'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.',
      };
    }
    const signedHeaders = signedList.split(';');
    const unsigned = [
      ...REQUIRED_SIGNED,
      ...Object.keys(request.headers).filter((name) => name.startsWith('x-amz-')),
    ].filter((name) => !signedHeaders.includes(name));
    if (unsigned.length > 0) {
      return {
        code: 'AccessDenied',
        message: 'There were headers present in the request which were not signed',
        detail: { HeadersNotSigned: [...new Set(unsigned)].join(', ') },
      };
    }
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = header(name);
      if (value !== undefined) headers[name] = value;
    }
    const expected = await signer.sign(
      { method: request.method, protocol: 'http:', hostname: host ?? '', path, query, headers },
      {
        signingDate: new Date(signedAt),
        signingRegion: region,
        signingService: service,
        signableHeaders: new Set(signedHeaders),
      },
    );
    const computed = /Signature=([0-9a-f]{64})$/.exec(String(expected.headers.authorization))?.[1] ?? '';
    if (
      computed.length !== signature.length ||
      !timingSafeEqual(Buffer.from(computed, 'hex'), Buffer.from(signature, 'hex'))
    ) {
      return {
        code: 'SignatureDoesNotMatch',
        message:
          'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        detail: { AWSAccessKeyId: accessKeyId },
      };
    }
    let decodedPath: string;
    try {
      decodedPath = decodeURIComponent(path);
    } catch {
      return { code: 'InvalidURI', message: "Couldn't parse the specified URI." };
    }
    if (hasDotSegment(decodedPath)) {
      return {
        code: 'InvalidURI',
        message:
          'The embedded S3 server keeps objects as files: a bucket or key with a "." or ".." segment would name a file outside its bucket, so it is refused.',
      };
    }
    const copySource = header('x-amz-copy-source');
    if (copySource !== undefined) {
      const source = decodeCopySource(copySource);
      if (source === null) {
        return {
          code: 'InvalidArgument',
          message:
            'Invalid copy source encoding: x-amz-copy-source must be <bucket>/<key>, URL-encoded as UTF-8.',
          detail: { ArgumentName: 'x-amz-copy-source', ArgumentValue: copySource },
        };
      }
      if (hasDotSegment(source.path)) {
        return {
          code: 'InvalidURI',
          message:
            'The embedded S3 server keeps objects as files: a copy source with a "." or ".." segment would name a file outside its bucket, so it is refused.',
        };
      }
    }
    return null;
  };
}

const hasDotSegment = (path: string) =>
  path.split('/').some((segment) => segment === '.' || segment === '..');

/**
 * x-amz-copy-source as S3 reads it: "<bucket>/<key>" percent-decoded, then a query of its own
 * ("?versionId=…") kept as sent. Null when it is not valid percent-encoded UTF-8.
 */
function decodeCopySource(header: string): { path: string; query: string } | null {
  const at = header.indexOf('?');
  try {
    return {
      path: decodeURIComponent(at === -1 ? header : header.slice(0, at)),
      query: at === -1 ? '' : header.slice(at),
    };
  } catch {
    return null;
  }
}

/**
 * The copy source in the form s3rver reads it (its putObjectCopy calls decodeURI on the header):
 * decodeURI(encodeURI(key)) is the key, whatever characters it holds. A header the check would
 * refuse is returned as it is.
 */
export function copySourceForS3rver(header: string): string {
  const source = decodeCopySource(header);
  if (source === null) return header;
  try {
    return encodeURI(source.path) + source.query;
  } catch {
    return header;
  }
}

/** Wraps s3rver's handler: what the check refuses is answered with S3's XML error and never reaches it. */
export function guardS3Server(
  options: { credentials: S3Credentials; now?: () => number },
  serve: (req: IncomingMessage, res: ServerResponse) => unknown,
): (req: IncomingMessage, res: ServerResponse) => void {
  const check = createS3RequestCheck(options);
  return (req, res) => {
    check({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }).then(
      (refusal) => {
        if (refusal) return answerError(res, refusal);
        // Checked (and signed) as sent; s3rver gets the copy source in the form it decodes right.
        const copySource = req.headers['x-amz-copy-source'];
        if (typeof copySource === 'string')
          req.headers['x-amz-copy-source'] = copySourceForS3rver(copySource);
        return serve(req, res);
      },
      () =>
        answerError(res, {
          code: 'InternalError',
          message: 'We encountered an internal error. Please try again.',
        }),
    );
  };
}

/** Answers with S3's XML error for `refusal.code` (its status as S3 gives it). */
export function answerError(res: ServerResponse, refusal: S3Refusal): void {
  const error = new S3Error(refusal.code, refusal.message, refusal.detail ?? {}) as {
    status: number;
    toXML(): string;
  };
  const xml = error.toXML();
  res.writeHead(error.status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(xml),
  });
  res.end(xml);
}

/** The query as the signer takes it: names and values percent-decoded, repeated names as lists. */
function parseQuery(search: string): Record<string, string | string[]> | null {
  const query: Record<string, string | string[]> = Object.create(null);
  try {
    for (const part of search.split('&')) {
      if (part === '') continue;
      const equals = part.indexOf('=');
      const name = decodeURIComponent(equals === -1 ? part : part.slice(0, equals));
      const value = equals === -1 ? '' : decodeURIComponent(part.slice(equals + 1));
      const previous = query[name];
      query[name] = previous === undefined ? value : [...[previous].flat(), value];
    }
  } catch {
    return null;
  }
  return query;
}
