/**
 * Who the embedded S3 server lets in, checked in its own process in front of s3rver. s3rver serves
 * a request without an Authorization header as anonymous and takes any SigV4 signature whose access
 * key id it knows, so anyone able to open the port — another user of this machine, a web page
 * through DNS rebinding — could read the state bucket and rewrite the site. Here a request must
 * - pass the embedded environment's check of its endpoints (sigv4-check.ts): addressed to a loopback
 *   host, signed for "s3" with the environment's key, no query-string authentication;
 * - name no "." or ".." path segment, in its path or its copy source (x-amz-copy-source): s3rver
 *   keeps objects as files, and such a key names a file outside its bucket;
 * - name no segment longer than a file name may be here, less the suffixes s3rver and our atomic
 *   writes add (KeyTooLongError, said so): the file system refused it deep inside s3rver, whose
 *   answer was an InternalError saying "please try again", after the files before it were written.
 *   A read of such a key is answered NoSuchKey: no object of that name can be here.
 * A request let in reaches s3rver with its copy source in the form s3rver reads: S3 takes the header
 * URL-encoded (encodeURIComponent, as the SDK and our adapter send it), s3rver decodes it with
 * decodeURI, which leaves %40, %3D, %2B, %26, %2C, %3B, %3A, %24 and %23 encoded — a copy of
 * logo@2x.png looked for logo%402x.png and failed with NoSuchKey. The header is decoded here and
 * re-encoded with encodeURI, which decodeURI undoes exactly (after the signature was checked over
 * the header as sent).
 * Refusals are the XML errors S3 answers (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, …).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
// @ts-expect-error s3rver ships no types for its error model
import S3Error from 's3rver/lib/models/error.js';
import {
  createSigV4Check,
  isLoopbackHost,
  type SignedRequestLike,
  type SigV4Credentials,
  type SigV4Refusal,
} from './sigv4-check.ts';

export type S3Credentials = SigV4Credentials;
/** An S3 error code (its HTTP status follows from it), a message, and S3's detail elements. */
export type S3Refusal = SigV4Refusal;
export type S3RequestLike = Omit<SignedRequestLike, 'body'>;
export { isLoopbackHost };

/** The check of one request: null when it may reach s3rver, else why not. */
export function createS3RequestCheck(options: { credentials: S3Credentials; now?: () => number }) {
  const signed = createSigV4Check({ ...options, service: 's3', name: 'the embedded S3 server' });

  return async function check(request: S3RequestLike): Promise<S3Refusal | null> {
    const refused = await signed(request);
    if (refused) return refused;
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    const at = request.url.indexOf('?');
    const path = at === -1 ? request.url : request.url.slice(0, at);
    let decodedPath: string;
    try {
      decodedPath = decodeURIComponent(path);
    } catch {
      return { code: 'InvalidURI', message: "Couldn't parse the specified URI." };
    }
    const long = longSegment(decodedPath);
    if (long !== null && isObjectRead(request.method, decodedPath)) {
      // No object of that name can be kept here, so none is: S3's answer for a key it does not hold
      // (the local edge then answers a visitor 404, as CloudFront does, not 502).
      return { code: 'NoSuchKey', message: 'The specified key does not exist.' };
    }
    if (long !== null) {
      return {
        code: 'KeyTooLongError',
        message: `The embedded S3 server keeps each object as a file, and the name "${long.slice(0, 60)}…" is ${Buffer.byteLength(long)} bytes in UTF-8, more than the ${MAX_SEGMENT_BYTES} a file or directory name may have here (S3 itself takes keys up to 1,024 bytes). Shorten that name.`,
      };
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

/**
 * The longest key segment kept as a file name: 255 bytes (ext4, APFS, NTFS) less s3rver's longest
 * suffix ("._S3rver_metadata.json") and the atomic writes' temporary one (".<pid>-<n>.tmp").
 */
export const MAX_SEGMENT_BYTES = 200;
const longSegment = (path: string): string | null =>
  path.split('/').find((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) ?? null;

/** A GET or HEAD of an object: /<bucket>/<key>. */
const isObjectRead = (method: string, path: string) =>
  (method === 'GET' || method === 'HEAD') && /^\/[^/]+\/./.test(path);

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
