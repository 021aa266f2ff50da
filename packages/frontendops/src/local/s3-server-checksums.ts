/**
 * The checksum S3 computes for a server-side copy, which s3rver does not: a CopyObject sent with
 * `x-amz-checksum-algorithm: SHA256` answers, as S3 documents it, with `<ChecksumSHA256>` (the
 * base64 SHA-256 of the object copied) in its CopyObjectResult. FrontendOps asks for it on every
 * copy from the artifacts bucket and holds it against the manifest, so a published file replaced
 * afterwards is never deployed unnoticed (deploy/artifact-copy.ts). Other algorithms are answered
 * 501 NotImplemented (FrontendOps asks for none).
 *
 * The digest is of the copied object's file as s3rver left it, before the response ends: the
 * per-key queue (s3-server-atomic.ts serializePerKey) holds every other request on that key until
 * then, so it is the digest of what the copy wrote. Reading every copy again cost a deploy of 800
 * files about half a second here (S3 does it on its own machines), so the digest a PutObject made of
 * the source while streaming it in (s3-server-atomic.ts) is used instead when the source file is
 * provably the one it wrote: the same inode, size and mtime before and after the copy (a write
 * renames a new file into place; a copy onto it changes its mtime). Otherwise the copy is read.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { answerError } from './s3-server-guard.ts';

/** Where s3rver keeps an object's content. */
export interface ChecksumStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
}

type Serve = (req: IncomingMessage, res: ServerResponse) => unknown;

interface FileVersion {
  ino: number;
  size: number;
  mtimeMs: number;
}

/** The SHA-256 (base64) of each object file this process wrote, by path, with the file's version then. */
const written = new Map<string, FileVersion & { sha256: string }>();

/** Called by the PutObject that wrote `path`, with the digest it made while streaming the content in. */
export function rememberWrittenDigest(path: string, version: FileVersion, sha256: string): void {
  written.set(path, { ino: version.ino, size: version.size, mtimeMs: version.mtimeMs, sha256 });
}

export function answerCopyChecksums(store: ChecksumStore, serve: Serve): Serve {
  return (req, res) => {
    const algorithm = req.headers['x-amz-checksum-algorithm'];
    if (req.method !== 'PUT' || req.headers['x-amz-copy-source'] === undefined || algorithm === undefined) {
      return serve(req, res);
    }
    if (String(algorithm).toUpperCase() !== 'SHA256') {
      return answerError(res, {
        code: 'NotImplemented',
        message: `This server computes SHA256 checksums of copies only, not ${String(algorithm).slice(0, 20)}`,
      });
    }
    const [, bucket = '', ...rest] = new URL(req.url ?? '/', 'http://local').pathname.split('/');
    const path = store.getResourcePath(
      decodeURIComponent(bucket),
      decodeURIComponent(rest.join('/')),
      'object',
    );
    const source = sourcePath(store, req.headers['x-amz-copy-source']);
    const before = versionOf(source);
    const end = res.end.bind(res) as (body?: unknown) => ServerResponse;
    res.end = ((body?: unknown) => {
      const xml = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : null;
      if (res.statusCode !== 200 || xml === null || !xml.includes('</CopyObjectResult>')) return end(body);
      copiedDigest(path, source, before).then(
        (digest) => {
          const answered = xml.replace(
            '</CopyObjectResult>',
            `<ChecksumSHA256>${digest}</ChecksumSHA256><ChecksumType>FULL_OBJECT</ChecksumType></CopyObjectResult>`,
          );
          if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(answered));
          end(answered);
        },
        () => end(body),
      );
      return res;
    }) as typeof res.end;
    // The source's version is taken before the copy reads it.
    void before.then(() => serve(req, res));
  };
}

/** The source file's path from x-amz-copy-source (as the guard hands it on: encodeURI of "bucket/key"). */
function sourcePath(store: ChecksumStore, header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  try {
    const decoded = decodeURI(header.split('?')[0] ?? '').replace(/^\//, '');
    const slash = decoded.indexOf('/');
    if (slash <= 0) return null;
    return store.getResourcePath(decoded.slice(0, slash), decoded.slice(slash + 1), 'object');
  } catch {
    return null;
  }
}

/** The file's version, or null when it cannot be read (never a rejection). */
const versionOf = (path: string | null): Promise<FileVersion | null> =>
  path === null
    ? Promise.resolve(null)
    : stat(path).then(
        (s) => ({ ino: s.ino, size: s.size, mtimeMs: s.mtimeMs }),
        () => null,
      );

const sameVersion = (a: FileVersion | null | undefined, b: FileVersion | null | undefined) =>
  !!a && !!b && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

/** The digest of what the copy wrote: its source's, when provably unchanged since it was written; else read. */
async function copiedDigest(
  path: string,
  source: string | null,
  before: Promise<FileVersion | null>,
): Promise<string> {
  const known = source === null ? undefined : written.get(source);
  if (known) {
    const [then, now] = await Promise.all([before, versionOf(source)]);
    if (sameVersion(then, now) && sameVersion(known, now)) return known.sha256;
  }
  return sha256Base64(path);
}

async function sha256Base64(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('base64');
}
