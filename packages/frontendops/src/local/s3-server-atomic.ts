/**
 * Makes the embedded s3rver as atomic per object as S3 is. s3rver answers a PUT before its file is
 * fully written, and a GET reads an object's metadata (Content-Length) and its file separately, so a
 * read racing a write can get a short body. S3 never shows a half-written object. Two fixes:
 * - putObject writes to a temporary file, waits for it to be flushed and renames it into place;
 * - requests on one key (GET, HEAD, PUT, DELETE) run one at a time, from arrival to response end.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { rememberWrittenDigest } from './s3-server-checksums.ts';

interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: {
    bucket: string;
    key: string;
    content: Buffer | Readable;
    metadata: unknown;
  }): Promise<{ size: number; md5: string }>;
}

let temporaries = 0;

export function makePutObjectAtomic(store: FilesystemStore): void {
  store.putObject = async function putObject(object) {
    const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    const temporary = `${objectPath}.${process.pid}-${temporaries++}.tmp`;
    const md5 = createHash('md5');
    const sha256 = createHash('sha256');
    let size = 0;
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    await pipeline(
      source,
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          md5.update(chunk);
          sha256.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      }),
      createWriteStream(temporary),
    );
    await rename(temporary, objectPath);
    // What a copy of it answers as its checksum, while the file stays this one (s3-server-checksums.ts).
    rememberWrittenDigest(objectPath, await stat(objectPath), sha256.digest('base64'));
    const digest = md5.digest('hex');
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };
}

/** Runs `serve` for requests on one object key one at a time; other requests run at once. */
export function serializePerKey(serve: (req: IncomingMessage, res: ServerResponse) => void) {
  const tails = new Map<string, Promise<void>>();
  return (req: IncomingMessage, res: ServerResponse) => {
    const key = objectKeyOf(req);
    if (key === null) return serve(req, res);
    const previous = tails.get(key) ?? Promise.resolve();
    const done = new Promise<void>((resolve) => res.once('close', () => resolve()));
    const tail = previous.then(() => done);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    void previous.then(() => serve(req, res));
  };
}

/** "bucket/key" of a path-style object request, or null for bucket-level requests (list, multi-delete). */
function objectKeyOf(req: IncomingMessage): string | null {
  if (!['GET', 'HEAD', 'PUT', 'DELETE'].includes(req.method ?? '')) return null;
  const path = new URL(req.url ?? '/', 'http://local').pathname;
  const [, bucket = '', ...rest] = path.split('/');
  const key = rest.join('/');
  return bucket && key ? `${bucket}/${key}` : null;
}
