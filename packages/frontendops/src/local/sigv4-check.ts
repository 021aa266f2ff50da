/**
 * Who an endpoint of the embedded environment lets in (the S3 server, the CDN's CloudFront API):
 * anyone able to open a loopback port — another user of this machine, a web page through DNS
 * rebinding or a simple cross-origin POST — could otherwise use it. A request must
 * - be addressed to a loopback host (127.0.0.1, localhost or [::1]): a rebound DNS name is refused;
 * - carry an AWS Signature Version 4 Authorization header for this endpoint's service, made with the
 *   environment's key: the signature is computed again by the SDK's own signer (@smithy/signature-v4)
 *   over the request as it arrived and compared in constant time; its date within 15 minutes of this
 *   clock; every x-amz-* header signed;
 * - where the whole body is at hand (the CloudFront API), have the body x-amz-content-sha256 states.
 *   Where bodies stream (S3), the stated hash is what is signed, and UNSIGNED-PAYLOAD and STREAMING-*
 *   payloads pass as S3 takes them.
 * Nothing here presigns URLs, so query-string authentication is refused. Refusals are AWS error codes
 * (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, …), which each endpoint answers in its own
 * format.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** An AWS error code, a message, and the detail elements the service adds. */
export interface SigV4Refusal {
  code: string;
  message: string;
  detail?: Record<string, string>;
}

export interface SignedRequestLike {
  method: string;
  /** Path and query as on the request line. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The whole body, where the endpoint reads it before answering: held to the stated hash. */
  body?: Buffer;
}

export interface SigV4CheckOptions {
  credentials: SigV4Credentials;
  /** The service the signature is for: "s3", "cloudfront". */
  service: string;
  /** The endpoint in a refusal's words, e.g. "the embedded S3 server". */
  name: string;
  now?: () => number;
}

/** How far x-amz-date may be from the server's clock, as AWS allows. */
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

/** The check of one request: null when it may go on, else why not. */
export function createSigV4Check(options: SigV4CheckOptions) {
  const now = options.now ?? Date.now;
  const { credentials, service, name } = options;
  const Name = name.charAt(0).toUpperCase() + name.slice(1);
  const signer = new SignatureV4({
    credentials,
    region: 'us-east-1',
    service,
    sha256: Sha256,
    // S3 signs the path as sent; other services sign it encoded once more, as the SDK does.
    uriEscapePath: service !== 's3',
  });

  return async function check(request: SignedRequestLike): Promise<SigV4Refusal | null> {
    const header = (key: string) => {
      const value = request.headers[key];
      return Array.isArray(value) ? value.join(',') : value;
    };
    const host = header('host');
    if (!isLoopbackHost(host)) {
      return {
        code: 'AccessDenied',
        message: `${Name} answers only requests addressed to 127.0.0.1, localhost or [::1]; this one was addressed to "${host ?? ''}". Use the endpoint the local environment announces.`,
      };
    }
    const at = request.url.indexOf('?');
    const path = at === -1 ? request.url : request.url.slice(0, at);
    const query = parseQuery(at === -1 ? '' : request.url.slice(at + 1));
    if (query === null) return { code: 'InvalidURI', message: "Couldn't parse the specified URI." };
    if (Object.keys(query).some((key) => QUERY_AUTH.includes(key.toLowerCase()))) {
      return {
        code: 'AccessDenied',
        message: `${Name} does not take query-string (presigned URL) authentication: sign the request with an AWS Signature Version 4 Authorization header.`,
      };
    }
    const authorization = header('authorization');
    if (authorization === undefined) {
      return {
        code: 'AccessDenied',
        message: `Access Denied: ${name} takes only requests signed (AWS Signature Version 4) with the key of its local environment; anonymous requests are refused.`,
      };
    }
    const parsed = AUTHORIZATION.exec(authorization);
    if (!parsed) {
      return authorization.startsWith('AWS4-HMAC-SHA256 ')
        ? {
            code: 'AuthorizationHeaderMalformed',
            message: `The authorization header is malformed; it needs Credential=<key>/<date>/<region>/${service}/aws4_request, SignedHeaders=… and Signature=<64 hex digits>.`,
          }
        : {
            code: 'InvalidRequest',
            message:
              'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
          };
    }
    const [, accessKeyId = '', scopeDate = '', region = '', signedFor = '', signedList = '', signature = ''] =
      parsed;
    if (accessKeyId !== credentials.accessKeyId) {
      return {
        code: 'InvalidAccessKeyId',
        message: 'The AWS Access Key Id you provided does not exist in our records.',
        detail: { AWSAccessKeyId: accessKeyId },
      };
    }
    if (signedFor !== service) {
      return {
        code: 'AuthorizationHeaderMalformed',
        message: `The authorization header is malformed; incorrect service "${signedFor}". This endpoint belongs to "${service}".`,
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
    if (request.body && createHash('sha256').update(request.body).digest('hex') !== payloadHash) {
      return {
        code: 'XAmzContentSHA256Mismatch',
        message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
      };
    }
    const signedHeaders = signedList.split(';');
    const unsigned = [
      ...REQUIRED_SIGNED,
      ...Object.keys(request.headers).filter((key) => key.startsWith('x-amz-')),
    ].filter((key) => !signedHeaders.includes(key));
    if (unsigned.length > 0) {
      return {
        code: 'AccessDenied',
        message: 'There were headers present in the request which were not signed',
        detail: { HeadersNotSigned: [...new Set(unsigned)].join(', ') },
      };
    }
    const headers: Record<string, string> = {};
    for (const key of signedHeaders) {
      const value = header(key);
      if (value !== undefined) headers[key] = value;
    }
    const expected = await signer.sign(
      { method: request.method, protocol: 'http:', hostname: host ?? '', path, query, headers },
      {
        signingDate: new Date(signedAt),
        signingRegion: region,
        signingService: signedFor,
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
    return null;
  };
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
