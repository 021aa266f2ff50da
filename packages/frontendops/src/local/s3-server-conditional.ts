/**
 * Conditional writes, as S3 documents them for PutObject, which s3rver ignores:
 * - `If-None-Match: *` writes only when no object has the key, else 412 PreconditionFailed (any other
 *   If-None-Match value is 501 NotImplemented: PutObject takes `*` only);
 * - `If-Match: <etag>` writes only when the object's ETag is that one: 412 PreconditionFailed when it
 *   differs, 404 NoSuchKey when there is no object;
 * - a write condition on a copy is 501 NotImplemented (FrontendOps sends none);
 * - `If-Match: <etag>` on DeleteObject deletes only that version, as for PutObject: 412
 *   PreconditionFailed when the ETag differs, 404 NoSuchKey when there is no object (`*`: any).
 * The check and the write are one step because requests on one key are served one at a time
 * (s3-server-atomic.ts serializePerKey), as S3 makes them atomic. With them the deploy lock and the
 * live pointer of the local environment work as on S3: two processes serialise through the bucket,
 * whatever host name or lock directory each uses (a file lock only meets the one of the same name).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerError } from './s3-server-guard.ts';

/** s3rver's metadata read: it throws when no object has the key. */
export interface ConditionalStore {
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
}

type Serve = (req: IncomingMessage, res: ServerResponse) => unknown;

export function honourConditionalWrites(store: ConditionalStore, serve: Serve): Serve {
  return (req, res) => {
    const ifNoneMatch = header(req, 'if-none-match');
    const ifMatch = header(req, 'if-match');
    const conditionalDelete = req.method === 'DELETE' && ifMatch !== undefined;
    if (!conditionalDelete && (req.method !== 'PUT' || (ifNoneMatch === undefined && ifMatch === undefined)))
      return serve(req, res);
    const url = new URL(req.url ?? '/', 'http://local');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    if (conditionalDelete) {
      // DeleteBucket takes no If-Match: served as it comes.
      if (key === '') return serve(req, res);
      return deleteIfMatch(store, res, { bucket: decodeURIComponent(bucket), key, ifMatch }, () =>
        serve(req, res),
      );
    }
    // An UploadPart takes no condition: S3 ignores none it is sent, and FrontendOps sends none.
    if (url.searchParams.has('uploadId')) return serve(req, res);
    if (
      req.headers['x-amz-copy-source'] !== undefined ||
      (ifNoneMatch !== undefined && ifNoneMatch !== '*')
    ) {
      return answerError(res, {
        code: 'NotImplemented',
        message: 'A header you provided implies functionality that is not implemented',
      });
    }
    return store.getMetadata(decodeURIComponent(bucket), key).then(
      (metadata) => {
        if (ifNoneMatch !== undefined || (ifMatch !== undefined && unquoted(ifMatch) !== etagOf(metadata))) {
          return preconditionFailed(res, ifNoneMatch !== undefined ? 'If-None-Match' : 'If-Match');
        }
        return serve(req, res);
      },
      () => (ifMatch === undefined ? serve(req, res) : noSuchKey(res, key)),
    );
  };
}

/** A DeleteObject with `If-Match`: deletes only the version it names (`*`: any), else answers as S3 does. */
function deleteIfMatch(
  store: ConditionalStore,
  res: ServerResponse,
  { bucket, key, ifMatch }: { bucket: string; key: string; ifMatch: string },
  serve: () => unknown,
): Promise<unknown> {
  return store.getMetadata(bucket, key).then(
    (metadata) =>
      ifMatch.trim() === '*' || unquoted(ifMatch) === etagOf(metadata)
        ? serve()
        : preconditionFailed(res, 'If-Match'),
    () => noSuchKey(res, key),
  );
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/** ETags compare without their quotes (a client may send either form). */
const unquoted = (etag: string | null) =>
  etag
    ?.trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1') ?? null;

const etagOf = (metadata: Record<string, unknown>) =>
  unquoted(typeof metadata.etag === 'string' ? metadata.etag : null);

const noSuchKey = (res: ServerResponse, key: string) =>
  answerError(res, { code: 'NoSuchKey', message: 'The specified key does not exist.', detail: { Key: key } });

const preconditionFailed = (res: ServerResponse, condition: string) =>
  answerError(res, {
    code: 'PreconditionFailed',
    message: 'At least one of the pre-conditions you specified did not hold',
    detail: { Condition: condition },
  });
