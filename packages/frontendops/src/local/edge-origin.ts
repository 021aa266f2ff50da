/**
 * How the local edge's origin answers: the object the path names (after the viewer-request function
 * mapped "/" and client routes to an index.html, as at CloudFront) and nothing else; a path that
 * would leave the hosting bucket is refused before it reaches it.
 */
import type { ObjectStore, StoredObject } from '../ports.ts';
import { HOSTING_OWN } from '../state/names.ts';

export type OriginAnswer =
  | { kind: 'object'; object: StoredObject; key: string }
  | { kind: 'not-found' }
  | { kind: 'bad-request'; reason: string };

/**
 * The object a path names and nothing else: how the origin answers once a viewer-request function
 * (atomic releases) has already mapped "/" and client routes to an index.html.
 */
export async function fetchExactFromOrigin(origin: ObjectStore, pathname: string): Promise<OriginAnswer> {
  const decoded = decodePath(pathname);
  if (typeof decoded !== 'string') return decoded;
  if (isUnserved(decoded)) return { kind: 'not-found' };
  const key = decoded.slice(1);
  const object = key === '' ? null : await origin.get(key);
  return object ? { kind: 'object', object, key } : { kind: 'not-found' };
}

/**
 * Why a request path must not reach the origin, or null. The origin is addressed path-style,
 * /<bucket>/<key>, so a key with a "." or ".." segment after percent-decoding names an object of
 * another bucket on the same server — the state bucket beside the hosting one; an encoded slash or
 * a backslash is a separator some layer on the way may yet honour. Checked on the path as it
 * arrived, before anything decodes or normalises it.
 */
export function unsafePathReason(pathname: string): string | null {
  if (/%2f|%5c/i.test(pathname) || pathname.includes('\\')) {
    return 'the path contains an encoded slash (%2F, %5C) or a backslash; ask for the file by its plain path';
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return 'the path is not valid percent-encoded UTF-8';
  }
  if (decoded.includes('\u0000')) return 'the path contains a NUL character';
  if (decoded.split('/').some((segment) => segment === '.' || segment === '..')) {
    return 'the path has a "." or ".." segment (plain or percent-encoded); ask for the file by its plain path';
  }
  return null;
}

function decodePath(pathname: string): string | { kind: 'bad-request'; reason: string } {
  // Again here: in atomic mode the path is the one the viewer-request function left.
  const unsafe = unsafePathReason(pathname);
  if (unsafe) return { kind: 'bad-request', reason: unsafe };
  return decodeURIComponent(pathname);
}

/**
 * FrontendOps' own objects in the hosting bucket (the environment marker) are never served: on AWS
 * the bucket policy denies CloudFront reading them (S3 answers it 403); here, a plain 404.
 */
const isUnserved = (decodedPath: string) => decodedPath.startsWith(`/${HOSTING_OWN}`);
