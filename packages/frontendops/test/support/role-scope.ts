/**
 * IAM's verdict on S3 requests, for the S3 proxy (test/support/s3-proxy.ts): a role's policy
 * statements (src/access.ts's s3PolicyStatements, the ones infra/ attaches to the roles) evaluated
 * against each request as IAM does. An explicit Deny that matches refuses; else an Allow that matches
 * admits; else the request is refused (implicit deny). What each request is authorised as:
 * - GET or HEAD of an object: s3:GetObject on the object; of a bucket: s3:ListBucket on the bucket;
 * - PUT (a copy too) and multipart requests: s3:PutObject on the object, with the request's
 *   If-None-Match as the s3:if-none-match condition key; a copy also needs s3:GetObject on its source;
 * - DELETE: s3:DeleteObject; DeleteObjects: s3:DeleteObject on every key its body names. S3 checks
 *   those key by key and reports refused keys in its answer; here the whole request is refused,
 *   which the tool never sends for such keys.
 * Resource patterns take IAM's `*` and `?`. Of condition operators only `Null` is known: a statement
 * with another one throws, so a policy this double cannot judge never passes for one it did.
 */
import { type IamStatement, type RoleScope, type S3Bucket, s3PolicyStatements } from '../../src/access.ts';
import type { ScopedRequest } from './s3-proxy.ts';

export type BucketNames = Record<S3Bucket, string>;

/** The statements a role's policy holds for its scope, with these bucket names. */
export function roleStatements(scope: RoleScope, names: BucketNames): IamStatement[] {
  const arn = (bucket: S3Bucket) => `arn:aws:s3:::${names[bucket]}`;
  return s3PolicyStatements('Role', scope, {
    artifacts: arn('artifacts'),
    hosting: arn('hosting'),
    state: arn('state'),
  });
}

interface Authorisation {
  action: string;
  resource: string;
  /** Condition keys the request carries (a key that is absent is not here). */
  context: Record<string, string>;
}

export function policyCheck(statements: readonly IamStatement[]): (request: ScopedRequest) => boolean {
  const patterns = statements.map((statement) => ({ statement, resource: globToRegExp(statement.Resource) }));
  const applies = (statement: IamStatement, resource: RegExp, need: Authorisation) =>
    statement.Action.includes(need.action) &&
    resource.test(need.resource) &&
    conditionsHold(statement.Condition, need.context);
  const allowed = (need: Authorisation) =>
    !patterns.some((p) => p.statement.Effect === 'Deny' && applies(p.statement, p.resource, need)) &&
    patterns.some((p) => p.statement.Effect === 'Allow' && applies(p.statement, p.resource, need));
  return (request) => {
    const needs = authorisations(request);
    return needs.length > 0 && needs.every(allowed);
  };
}

function authorisations(request: ScopedRequest): Authorisation[] {
  const { method, bucket, key, query, headers } = request;
  const object = (b: string, k: string) => `arn:aws:s3:::${b}/${k}`;
  if (key === '') {
    if (method === 'POST' && query.has('delete')) {
      return [...request.body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => ({
        action: 's3:DeleteObject',
        resource: object(bucket, decodeXml(m[1] ?? '')),
        context: {},
      }));
    }
    if (method === 'GET' || method === 'HEAD') {
      return [{ action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}`, context: {} }];
    }
    return [];
  }
  if (method === 'GET' || method === 'HEAD')
    return [{ action: 's3:GetObject', resource: object(bucket, key), context: {} }];
  if (method === 'DELETE') return [{ action: 's3:DeleteObject', resource: object(bucket, key), context: {} }];
  if (method === 'PUT' || method === 'POST') {
    const ifNoneMatch = headers['if-none-match'];
    const needs: Authorisation[] = [
      {
        action: 's3:PutObject',
        resource: object(bucket, key),
        context: typeof ifNoneMatch === 'string' ? { 's3:if-none-match': ifNoneMatch } : {},
      },
    ];
    const source = headers['x-amz-copy-source'];
    if (typeof source === 'string') {
      const [sourceBucket = '', ...rest] = decodeURIComponent(source.replace(/^\//, '')).split('/');
      needs.push({
        action: 's3:GetObject',
        resource: object(sourceBucket, rest.join('/').split('?')[0] ?? ''),
        context: {},
      });
    }
    return needs;
  }
  return [];
}

function conditionsHold(condition: IamStatement['Condition'], context: Record<string, string>): boolean {
  for (const [operator, keys] of Object.entries(condition ?? {})) {
    if (operator !== 'Null')
      throw new Error(`The IAM test double does not know the condition operator ${operator}.`);
    for (const [name, value] of Object.entries(keys)) {
      // Null "true": the key is absent from the request; "false": it is present.
      if ((value === 'true') !== !(name in context)) return false;
    }
  }
  return true;
}

/** IAM's resource wildcards: `*` any run of characters, `?` one; everything else literal. */
function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

const decodeXml = (text: string) =>
  text.replace(/&lt;|&gt;|&quot;|&apos;|&amp;/g, (e) =>
    e === '&lt;' ? '<' : e === '&gt;' ? '>' : e === '&quot;' ? '"' : e === '&apos;' ? "'" : '&',
  );
