/**
 * Where in S3 each of the two CI roles of a stack reads and writes, by bucket and key prefix:
 * - the deployer (deploys, rollbacks, atomic switches, pins, approvals) reads the artifacts, owns the
 *   hosting bucket and the stack's state prefix;
 * - the publisher (CI publishing a build on every push to the branch) writes this app's artifacts and
 *   appends its entry to the publish log, a chain of its own, nothing more: a build job runs
 *   third-party build tooling, and a state prefix it could write would let it forge the live
 *   pointer, records, pins, crash-recovery records (which the next deploy acts on) or delete a
 *   "used" approval marker; and a deploy chain it could append to would let it add an entry past the
 *   head (every later deploy refused as TAMPERED) or move the head.
 * What either role can never do is rewrite what was recorded: it may create audit entries, "used"
 * approval markers and (the publisher) published artifacts, but not replace or delete them, so a
 * leaked CI credential cannot rewrite the chain's history, replay an approval or swap the files of a
 * build already published (which a later rollback would serve).
 * s3PolicyStatements turns a scope into IAM statements: infra/ builds the roles' policies with it, and
 * the tests hold the tool to those same statements through an S3 proxy that evaluates them and
 * refuses everything else with AccessDenied, as S3 does: a key outside them is a command that fails
 * on AWS. No I/O (`frontendops/access`).
 */
import {
  APPROVALS_USED,
  AUDIT,
  AUDIT_ENTRIES,
  AUDIT_HEAD,
  CONDITIONAL_WRITE_PROBES,
  ENVIRONMENT_MARKER,
  HOSTING_OWN,
  LOCKS,
  PUBLISH_LOG,
} from './state/names.ts';

export type S3Bucket = 'artifacts' | 'hosting' | 'state';
export type S3Action = 'read' | 'write' | 'delete';

export interface S3Grant {
  bucket: S3Bucket;
  /** Key prefix; "" is the whole bucket. */
  prefix: string;
  actions: readonly S3Action[];
}

export interface RoleScope {
  objects: readonly S3Grant[];
  /**
   * Buckets the role may list. S3 answers a read of a missing key with 404 only to a caller that may
   * list the bucket, else 403; "absent" is how a free lock, a new artifact or a first deploy shows.
   * Listing shows key names, never contents.
   */
  lists: readonly S3Bucket[];
  /**
   * Where objects may be created but never replaced or deleted, whatever `objects` grants: a write
   * must carry If-None-Match: * (which S3 refuses with 412 when the key exists), a delete is refused.
   * In IAM: a Deny of s3:PutObject where the s3:if-none-match condition key is absent, and of
   * s3:DeleteObject. The tool writes these keys only that way where the endpoint honours conditional
   * writes, as S3 does.
   */
  createOnly: readonly { bucket: S3Bucket; prefix: string }[];
}

/**
 * Where in the hosting bucket FrontendOps keeps its own objects (the environment marker, which names
 * where the state lives): no viewer may read them, so the CDN's read of the bucket excludes them.
 */
export const UNSERVED_PREFIX = HOSTING_OWN;

/**
 * The security headers the site's distribution adds to every response from its cache or origin,
 * each over the object's own (infra/'s response headers policy; the local edge sends the same).
 * React sets inline style attributes (chart legend), hence 'unsafe-inline' for styles only.
 */
export const SITE_SECURITY_HEADERS = {
  hstsMaxAgeSec: 63_072_000, // two years, as hstspreload.org asks
  hstsIncludeSubdomains: true,
  hstsPreload: true,
  frameOption: 'DENY',
  referrerPolicy: 'strict-origin-when-cross-origin',
  contentSecurityPolicy:
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
} as const;

/** SITE_SECURITY_HEADERS as CloudFront writes them into a response. */
export function siteSecurityHeaderLines(): Record<string, string> {
  const h = SITE_SECURITY_HEADERS;
  return {
    'strict-transport-security': `max-age=${h.hstsMaxAgeSec}${h.hstsIncludeSubdomains ? '; includeSubDomains' : ''}${h.hstsPreload ? '; preload' : ''}`,
    'x-content-type-options': 'nosniff',
    'x-frame-options': h.frameOption,
    'referrer-policy': h.referrerPolicy,
    'content-security-policy': h.contentSecurityPolicy,
  };
}

/** Under a stack's state prefix: where a process writes the object that tells whether the endpoint honours conditional writes. */
export { CONDITIONAL_WRITE_PROBES };

export function deployerScope(statePrefix: string): RoleScope {
  return {
    objects: [
      { bucket: 'artifacts', prefix: '', actions: ['read'] },
      { bucket: 'hosting', prefix: '', actions: ['read', 'write', 'delete'] },
      { bucket: 'state', prefix: statePrefix, actions: ['read', 'write', 'delete'] },
    ],
    lists: ['artifacts', 'hosting', 'state'],
    createOnly: [
      { bucket: 'state', prefix: `${statePrefix}${AUDIT_ENTRIES}` },
      { bucket: 'state', prefix: `${statePrefix}${PUBLISH_LOG}${AUDIT_ENTRIES}` },
      { bucket: 'state', prefix: `${statePrefix}${APPROVALS_USED}` },
    ],
  };
}

export function publisherScope(app: string, statePrefix: string): RoleScope {
  return {
    objects: [
      // Read: publishing a commit already published is checked, not overwritten.
      { bucket: 'artifacts', prefix: `${app}/`, actions: ['read', 'write'] },
      // Which environment the stack's hosting bucket is, and so where its state lives.
      { bucket: 'hosting', prefix: ENVIRONMENT_MARKER, actions: ['read'] },
      // Its entry in the publish log: read the log, write the entry (create-only, below), move the
      // head; nothing else under the log's audit/ (which verify would report as written around it).
      { bucket: 'state', prefix: `${statePrefix}${PUBLISH_LOG}${AUDIT}`, actions: ['read'] },
      { bucket: 'state', prefix: `${statePrefix}${PUBLISH_LOG}${AUDIT_ENTRIES}`, actions: ['write'] },
      { bucket: 'state', prefix: `${statePrefix}${PUBLISH_LOG}${AUDIT_HEAD}`, actions: ['write'] },
      // A commit's publish lock (where the endpoint honours conditional writes, the lock is an object).
      { bucket: 'state', prefix: `${statePrefix}${LOCKS}publish-`, actions: ['read', 'write', 'delete'] },
      // The object that tells whether the endpoint honours conditional writes (kept, never deleted).
      { bucket: 'state', prefix: `${statePrefix}${CONDITIONAL_WRITE_PROBES}`, actions: ['write'] },
    ],
    lists: ['artifacts', 'hosting', 'state'],
    // A published build is what a later deploy or rollback copies to the site: never swapped.
    createOnly: [
      { bucket: 'artifacts', prefix: `${app}/` },
      { bucket: 'state', prefix: `${statePrefix}${PUBLISH_LOG}${AUDIT_ENTRIES}` },
    ],
  };
}

/** One statement of an IAM policy, as the JSON document holds it. */
export interface IamStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string;
  Condition?: Record<string, Record<string, string>>;
}

const OBJECT_ACTIONS: Record<S3Action, string> = {
  read: 's3:GetObject',
  write: 's3:PutObject',
  delete: 's3:DeleteObject',
};

/**
 * A role's S3 scope as IAM policy statements, given each bucket's ARN: the one translation, used by
 * infra/ for the roles it creates, by anyone writing the roles' policies elsewhere, and by the tests'
 * S3 proxy, which evaluates these very statements against every request.
 * - each grant: an Allow of its actions on `<bucket ARN>/<prefix>*`;
 * - each listable bucket: an Allow of s3:ListBucket on the bucket;
 * - each create-only prefix: two Denies, which outweigh every Allow: s3:PutObject where the
 *   s3:if-none-match condition key is absent (with the header, S3 creates the object only if the key
 *   is absent, else answers 412; a copy or a multipart upload's start cannot carry it), and
 *   s3:DeleteObject.
 * `sid` prefixes each statement id (statement ids are letters and digits).
 */
export function s3PolicyStatements(
  sid: string,
  scope: RoleScope,
  bucketArns: Readonly<Record<S3Bucket, string>>,
): IamStatement[] {
  const title = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
  return [
    ...scope.objects.map(
      (grant, i): IamStatement => ({
        Sid: `${sid}${title(grant.bucket)}Objects${i}`,
        Effect: 'Allow',
        Action: grant.actions.map((action) => OBJECT_ACTIONS[action]),
        Resource: `${bucketArns[grant.bucket]}/${grant.prefix}*`,
      }),
    ),
    ...scope.lists.map(
      (bucket): IamStatement => ({
        Sid: `${sid}List${title(bucket)}`,
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: bucketArns[bucket],
      }),
    ),
    ...scope.createOnly.flatMap((where, i): IamStatement[] => {
      const resource = `${bucketArns[where.bucket]}/${where.prefix}*`;
      return [
        {
          Sid: `${sid}CreateOnly${i}`,
          Effect: 'Deny',
          Action: ['s3:PutObject'],
          Resource: resource,
          Condition: { Null: { 's3:if-none-match': 'true' } },
        },
        { Sid: `${sid}NeverDelete${i}`, Effect: 'Deny', Action: ['s3:DeleteObject'], Resource: resource },
      ];
    }),
  ];
}
