/**
 * A role's S3 scope (src/access.ts) as the S3 proxy enforces it (test/support/s3-proxy.ts): the
 * action each request needs, as IAM names them for S3, held against the scope's grants.
 * - GET or HEAD of an object: read (GetObject); of a bucket: list (ListBucket);
 * - PUT, multipart upload requests: write (PutObject); a server-side copy also reads its source;
 * - DELETE: delete (DeleteObject); DeleteObjects: delete of every key its body names.
 * Under a create-only prefix (the scope's `createOnly`, IAM Denies) a write needs an If-None-Match
 * header and a delete is refused. S3 checks DeleteObjects key by key and reports refused keys in its
 * answer; here the whole request is refused, which the tool never sends for such keys.
 */
import type { RoleScope, S3Action, S3Bucket } from '../../src/access.ts';
import type { ScopedRequest } from './s3-proxy.ts';

export type BucketNames = Record<S3Bucket, string>;

export function scopeCheck(scope: RoleScope, names: BucketNames): (request: ScopedRequest) => boolean {
  const roles = (bucket: string) => (Object.keys(names) as S3Bucket[]).filter((b) => names[b] === bucket);
  const may = (action: S3Action, bucket: string, key: string) =>
    scope.objects.some(
      (g) => roles(bucket).includes(g.bucket) && key.startsWith(g.prefix) && g.actions.includes(action),
    );
  const createOnly = (bucket: string, key: string) =>
    scope.createOnly.some((c) => roles(bucket).includes(c.bucket) && key.startsWith(c.prefix));
  return (request) => {
    const { method, bucket, key, query } = request;
    if (key === '') {
      if (method === 'POST' && query.has('delete')) {
        const keys = [...request.body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) =>
          decodeXml(m[1] ?? ''),
        );
        return keys.every((k) => may('delete', bucket, k) && !createOnly(bucket, k));
      }
      return (method === 'GET' || method === 'HEAD') && roles(bucket).some((b) => scope.lists.includes(b));
    }
    if (method === 'GET' || method === 'HEAD') return may('read', bucket, key);
    if (method === 'DELETE') return may('delete', bucket, key) && !createOnly(bucket, key);
    if (method === 'PUT' || method === 'POST') {
      const source = request.headers['x-amz-copy-source'];
      if (typeof source === 'string') {
        const [sourceBucket = '', ...rest] = decodeURIComponent(source.replace(/^\//, '')).split('/');
        if (!may('read', sourceBucket, rest.join('/').split('?')[0] ?? '')) return false;
      }
      // A copy can carry no If-None-Match that S3 accepts (501), so none lands under a create-only prefix.
      if (createOnly(bucket, key) && (typeof source === 'string' || !request.headers['if-none-match']))
        return false;
      return may('write', bucket, key);
    }
    return false;
  };
}

const decodeXml = (text: string) =>
  text.replace(/&lt;|&gt;|&quot;|&apos;|&amp;/g, (e) =>
    e === '&lt;' ? '<' : e === '&gt;' ? '>' : e === '&quot;' ? '"' : e === '&apos;' ? "'" : '&',
  );
