/**
 * The checksum S3 computes for a server-side copy, which s3rver does not: a CopyObject sent with
 * `x-amz-checksum-algorithm: SHA256` answers, as S3 documents it, with `<ChecksumSHA256>` (the
 * base64 SHA-256 of the object copied) in its CopyObjectResult. FrontendOps asks for it on every
 * copy from the artifacts bucket and holds it against the manifest, so a published file replaced
 * afterwards is never deployed unnoticed (deploy/artifact-copy.ts). Other algorithms are answered
 * 501 NotImplemented (FrontendOps asks for none).
 *
 * The digest is made of the copied object's file as s3rver left it, before the response ends: the
 * per-key queue (s3-server-atomic.ts serializePerKey) holds every other request on that key until
 * then, so it is the digest of what the copy wrote.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { answerError } from './s3-server-guard.ts';

/** Where s3rver keeps an object's content. */
export interface ChecksumStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
}

type Serve = (req: IncomingMessage, res: ServerResponse) => unknown;

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
    const end = res.end.bind(res) as (body?: unknown) => ServerResponse;
    res.end = ((body?: unknown) => {
      const xml = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : null;
      if (res.statusCode !== 200 || xml === null || !xml.includes('</CopyObjectResult>')) return end(body);
      sha256Base64(path).then(
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
    return serve(req, res);
  };
}

async function sha256Base64(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('base64');
}
