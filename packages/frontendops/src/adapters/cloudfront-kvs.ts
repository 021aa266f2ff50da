/**
 * ReleaseStore over a CloudFront KeyValueStore through the AWS SDK v3 client
 * (@aws-sdk/client-cloudfront-keyvaluestore): the release pointer is one key, written with PutKey
 * and If-Match = the store's ETag, so a switch that raced another one fails instead of losing it.
 *
 * The KeyValueStore API is global and signed with SigV4A (ECDSA P-256, region set "*"). The SDK
 * signs it with the CRT or, as here, with the pure-JS @aws-sdk/signature-v4a, registered by the
 * import below: nothing native, nothing downloaded, the same offline and in CI.
 *
 * The service is addressed as <account id>.cloudfront-kvs.global.api.aws; a custom endpoint (the
 * client's `endpoint`, or AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE read by the SDK) gets the account
 * id put in front of its host the same way, so a local endpoint must be a name with subdomains:
 * http://localhost:<port>. "<anything>.localhost" is loopback (RFC 6761); glibc does not resolve it,
 * so this adapter's HTTP agent does. Credentials come from the standard SDK chain unless given.
 */
import '@aws-sdk/signature-v4a';
import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import {
  CloudFrontKeyValueStoreClient,
  DescribeKeyValueStoreCommand,
  GetKeyCommand,
  PutKeyCommand,
  UpdateKeysCommand,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { newPreviewSecret } from '../atomic/preview-token.ts';
import {
  AUDIT_HEAD_KEY,
  decodeReleasePointer,
  ENVIRONMENT_KEY,
  encodeReleasePointer,
  PREVIEW_SECRET_KEY,
  RELEASE_KEY,
} from '../atomic/release-pointer.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { ReleasePointer, ReleasePointerRead, ReleaseStore } from '../ports.ts';
import { type HttpOptions, requestHandler } from './http.ts';
import { retryStrategy } from './retry.ts';

export interface CloudFrontReleaseStoreOptions {
  /** The stack output releaseStoreArn: arn:aws:cloudfront::<account>:key-value-store/<id> */
  kvsArn: string;
  /** A KeyValueStore-API-compatible endpoint (the local edge's kvsEndpoint), e.g. http://localhost:4599 */
  endpoint?: string;
  credentials?: AwsCredentialIdentity;
  /** SDK attempts per request for 5xx and throttling (default 5). */
  maxAttempts?: number;
  /** Silence after which an attempt ends (adapters/http.ts; default 60 s). */
  idleTimeoutMs?: HttpOptions['idleTimeoutMs'];
  /** Makes the preview secret when the store has none (default: 256 random bits). */
  newSecret?: () => string;
  /**
   * The environment whose releases this store switches (stacks/open.ts releaseStoreOwner), kept under
   * ENVIRONMENT_KEY: a store that names another is refused by read and write; one that names none is
   * claimed by the first switch, if it holds no pointer or one `owns` says the stack's own state
   * records (a store switched before stores named their environment; any other stack is refused).
   * Without it (an operator's own reads), the key is not looked at.
   */
  owner?: { value: string; stack: string; owns: (served: ReleasePointer) => Promise<boolean> };
}

const ARN = /^arn:aws[\w-]*:cloudfront::\d{12}:key-value-store\/[\w-]+$/;
const PERMISSIONS =
  'cloudfront-keyvaluestore:DescribeKeyValueStore, GetKey, PutKey and UpdateKeys on this store';

export function createCloudFrontReleaseStore(options: CloudFrontReleaseStoreOptions): ReleaseStore {
  if (!ARN.test(options.kvsArn)) {
    throw badInput(
      `"${options.kvsArn}" is not a KeyValueStore ARN (arn:aws:cloudfront::<account>:key-value-store/<id>); ` +
        'expected the stack output releaseStoreArn.',
    );
  }
  const client = new CloudFrontKeyValueStoreClient({
    // The API is global; the SDK wants a region for its configuration only (signing uses "*").
    region: 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    retryStrategy: retryStrategy(options.maxAttempts ?? 5),
    requestHandler: requestHandler({
      lookup: loopbackSubdomains,
      ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    }),
  });
  const KvsARN = options.kvsArn;
  const newSecret = options.newSecret ?? newPreviewSecret;

  async function etag(): Promise<string> {
    const out = await call('read', () => client.send(new DescribeKeyValueStoreCommand({ KvsARN })));
    if (!out.ETag) throw new FrontendOpsError('UPSTREAM', 'DescribeKeyValueStore answered without an ETag.');
    return out.ETag;
  }

  /** The value of a key, or null when the store has no such key. */
  async function getKey(key: string): Promise<string | null> {
    try {
      const out = await client.send(new GetKeyCommand({ KvsARN, Key: key }));
      return out.Value ?? null;
    } catch (error) {
      if (codeOf(error) === 'ResourceNotFoundException') return null;
      throw toFrontendOpsError(error, 'read', KvsARN);
    }
  }

  async function put(key: string, value: string, ifEtag: string): Promise<{ etag: string }> {
    const out = await call('write', () =>
      client.send(new PutKeyCommand({ KvsARN, Key: key, Value: value, IfMatch: ifEtag })),
    );
    if (!out.ETag) throw new FrontendOpsError('UPSTREAM', 'PutKey answered without the store’s new ETag.');
    return { etag: out.ETag };
  }

  /** Several keys in one conditional request, all or nothing. */
  async function updateKeys(Puts: Array<{ Key: string; Value: string }>, ifEtag: string) {
    const out = await call('write', () =>
      client.send(new UpdateKeysCommand({ KvsARN, IfMatch: ifEtag, Puts })),
    );
    if (!out.ETag)
      throw new FrontendOpsError('UPSTREAM', 'UpdateKeys answered without the store’s new ETag.');
    return { etag: out.ETag };
  }

  const { owner } = options;
  /** Whether this store was read naming `owner` (then a switch need not name it again). */
  let claimed = false;
  /** Whether this store was read naming no environment, and may be named `owner`'s (claimable). */
  let unnamed = false;
  /** Refuses a store that names another environment; whether it names `owner`. */
  async function ownedHere(): Promise<boolean> {
    if (!owner) return false;
    const named = await getKey(ENVIRONMENT_KEY);
    if (named === null) return false;
    if (named === owner.value) return true;
    throw new FrontendOpsError(
      'CONFLICT',
      `The release store of ${owner.stack} (its releaseStoreArn output) switches another environment's releases: its key ${ENVIRONMENT_KEY} names a hosting bucket other than ${owner.stack}'s. Nothing was changed. ` +
        `A stack's outputs name its own KeyValueStore; the configuration or an outputs file (frontendops.config.json, a change to the repository) may have pointed this one at another environment's, whose live release it would switch under this stack's history and protection. ` +
        `Point the stack at its own store. If the store is ${owner.stack}'s and its hosting bucket was replaced, delete the key ${ENVIRONMENT_KEY} from it: the next switch names the new one.`,
    );
  }

  /**
   * Refuses to name an unnamed store `owner`'s where it holds a pointer whose live release is not the
   * one `owner`'s own state records: it was switched before stores named their environment, by
   * whichever stack's outputs named it, and the first stack to switch it must not be another one.
   */
  async function claimable(served: ReleasePointer | string | null, version: string): Promise<void> {
    if (!owner || served === null || (typeof served !== 'string' && (await owner.owns(served)))) return;
    const live = typeof served === 'string' ? served : served.live;
    throw new FrontendOpsError(
      'CONFLICT',
      `The release store of ${owner.stack} (its releaseStoreArn output) names no environment yet (its key ${ENVIRONMENT_KEY}: stores switched before FrontendOps kept it), and ${owner.stack}'s state does not record its live release ${live} as switched on this store, so it may be another environment's. Nothing was changed. ` +
        `A stack's outputs name its own KeyValueStore; the configuration or an outputs file may have pointed this one at another environment's. ` +
        `Point the stack at its own store. If the store is ${owner.stack}'s (its pointer was changed outside FrontendOps), name it by hand: ` +
        `aws cloudfront-keyvaluestore put-key --kvs-arn ${KvsARN} --key ${ENVIRONMENT_KEY} --value '${owner.value}' --if-match ${version}`,
    );
  }

  /**
   * Writes `keys` over `ifEtag` (one PutKey, or one UpdateKeys for several: all or nothing) in a
   * store named this environment's; in one no switch named yet (an
   * unnamed store is named only where its pointer was held to this stack's state, claimable: by the
   * read `ifEtag` came from, or here, where a pointer changed since then fails the write), names it
   * in the same conditional write: a store another stack claimed after `ifEtag` was read fails it
   * (PRECONDITION_FAILED).
   */
  async function putNaming(
    keys: Array<{ Key: string; Value: string }>,
    ifEtag: string,
  ): Promise<{ etag: string }> {
    if (!owner || claimed || (await ownedHere())) {
      const [one] = keys;
      return keys.length === 1 && one ? put(one.Key, one.Value, ifEtag) : updateKeys(keys, ifEtag);
    }
    if (!unnamed) {
      const current = await getKey(RELEASE_KEY);
      await claimable(current === null ? null : (decodeReleasePointer(current) ?? current), ifEtag);
    }
    const written = await updateKeys([...keys, { Key: ENVIRONMENT_KEY, Value: owner.value }], ifEtag);
    claimed = true;
    return written;
  }

  function call<T>(operation: 'read' | 'write', send: () => Promise<T>): Promise<T> {
    return send().catch((error: unknown) => {
      throw toFrontendOpsError(error, operation, KvsARN);
    });
  }

  return {
    async read(): Promise<ReleasePointerRead> {
      // ETag first, then the key: a write in between makes the ETag older than the value, so a
      // write based on this read fails (safe); the other order could overwrite a pointer unseen.
      const version = await etag();
      const [text, auditHead, ownership] = await Promise.all([
        getKey(RELEASE_KEY),
        getKey(AUDIT_HEAD_KEY),
        ownedHere().then(
          (owned) => ({ owned }),
          (error: unknown) => ({ error }),
        ),
      ]);
      const value = text === null ? null : decodeReleasePointer(text);
      // A store refused as another environment's still serves what it holds: the refusal carries it
      // (servedDespiteOwner), for the readers that hold what is served to the chain.
      const refused = (error: unknown): unknown =>
        isFrontendOpsError(error, 'CONFLICT') && (text === null || value)
          ? new FrontendOpsError('CONFLICT', error.message, {
              details: { ...error.details, served: { value, etag: version } },
            })
          : error;
      if ('error' in ownership) throw refused(ownership.error);
      const { owned } = ownership;
      claimed = owned;
      unnamed = false;
      if (text === null) {
        unnamed = !owned;
        return { value: null, etag: version, auditHead };
      }
      if (value && !owned) {
        await claimable(value, version).catch((error: unknown) => {
          throw refused(error);
        });
        unnamed = true;
      }
      if (!value) {
        throw new FrontendOpsError(
          'UPSTREAM',
          `The KeyValueStore key ${RELEASE_KEY} does not hold a valid release pointer, so edges serve the bucket ` +
            `root. Write a valid pointer ({"live":"<release id>"}) with If-Match ${version}.`,
          { details: { etag: version } },
        );
      }
      return { value, etag: version, auditHead };
    },

    // An anchor written before the stack's first switch names the store as that switch would:
    // else an adoption or approval use made then would be anchored by nothing. The switch then
    // finds the store named, writes its pointer alone, and holds the chain to the anchor.
    anchorAuditHead: (head: string, ifEtag: string) =>
      putNaming([{ Key: AUDIT_HEAD_KEY, Value: head }], ifEtag),

    async write(value: ReleasePointer, ifEtag: string, auditHead?: string) {
      // The chain's head goes with the pointer in one UpdateKeys (all or nothing): no request more.
      return putNaming(
        [
          { Key: RELEASE_KEY, Value: encodeReleasePointer(value) },
          ...(auditHead === undefined ? [] : [{ Key: AUDIT_HEAD_KEY, Value: auditHead }]),
        ],
        ifEtag,
      );
    },

    async previewSecret() {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        // ETag before the key, as in read(): if another deploy creates the secret in between, this
        // ETag is stale and the write below fails instead of replacing the secret it handed out.
        const version = await etag();
        const existing = await getKey(PREVIEW_SECRET_KEY);
        if (existing) return existing;
        const secret = newSecret();
        try {
          await put(PREVIEW_SECRET_KEY, secret, version);
          return secret;
        } catch (error) {
          // Another writer changed the store first (perhaps creating the secret): look again.
          if (!(error instanceof FrontendOpsError && error.code === 'PRECONDITION_FAILED')) throw error;
        }
      }
      throw new FrontendOpsError(
        'UPSTREAM',
        'Could not create the preview secret: the KeyValueStore kept changing. Try again.',
      );
    },
  };
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

/** Resolves "<sub>.localhost" as "localhost" (loopback, RFC 6761); every other name as usual. */
const loopbackSubdomains: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname.endsWith('.localhost') ? 'localhost' : hostname, options, callback);
};

const codeOf = (error: unknown): string | undefined =>
  error instanceof Error ? ((error as { Code?: string }).Code ?? error.name) : undefined;

function toFrontendOpsError(error: unknown, operation: 'read' | 'write', arn: string): FrontendOpsError {
  if (error instanceof FrontendOpsError) return error;
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const wrap = (kind: FrontendOpsError['code'], text: string) =>
    new FrontendOpsError(kind, text, { cause: error, details: { keyValueStoreCode: code } });
  switch (code) {
    case 'ConflictException':
      return wrap(
        'PRECONDITION_FAILED',
        'The release store changed after it was read (its ETag is no longer the one named): another switch ' +
          'came first. Read the pointer again and decide on the new value.',
      );
    case 'ResourceNotFoundException':
      return wrap(
        'NOT_FOUND',
        `The KeyValueStore ${arn} does not exist. Check the stack output releaseStoreArn.`,
      );
    case 'ValidationException':
      return wrap(
        'BAD_INPUT',
        `The KeyValueStore refused the ${operation} (ValidationException): ${message}`,
      );
    case 'AccessDeniedException':
      return wrap(
        'UPSTREAM',
        `The KeyValueStore denied the ${operation} (AccessDenied): give the credentials from the AWS SDK chain ${PERMISSIONS}.`,
      );
    case 'InvalidClientTokenId':
    case 'SignatureDoesNotMatch':
    case 'IncompleteSignature':
    case 'MissingAuthenticationToken':
    case 'RequestExpired':
      return wrap(
        'UPSTREAM',
        `The KeyValueStore API refused the credentials (${code}): ${message} It takes SigV4A; temporary ` +
          'credentials need a version-2 session token (a regional STS endpoint).',
      );
    default:
      // A read changes nothing: what to do is to reach the store again (a write's callers say what it left).
      return wrap(
        'UPSTREAM',
        `KeyValueStore ${operation} failed${code ? ` (${code})` : ''}: ${message}${operation === 'read' ? `${/[.!?]$/.test(message) ? '' : '.'} Check that this machine reaches the KeyValueStore API, then try again.` : ''}`,
      );
  }
}
