/**
 * ObjectStore over the S3 protocol through AWS SDK v3: AWS itself, or any S3-compatible endpoint
 * (MinIO, R2, the embedded local server) addressed path-style. Credentials come only from the
 * standard SDK chain (env, profiles, roles) unless the caller passes them (the local environment).
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { keyBytesProblem, shortened } from '../engine/manifest.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { ObjectHead, ObjectMeta, ObjectStore, ObjectSummary, StoredObject } from '../ports.ts';
import { CONDITIONAL_WRITE_PROBES, HOSTING_OWN } from '../state/names.ts';
import { type HttpOptions, requestHandler } from './http.ts';
import { retryStrategy } from './retry.ts';

export interface S3ClientOptions {
  endpoint?: string;
  region?: string;
  credentials?: AwsCredentialIdentity;
  /** Attempts per request, retried with jittered backoff on 5xx, resets and throttling (adapters/retry.ts). */
  maxAttempts?: number;
  /** Silence after which an attempt ends (adapters/http.ts; default 60 s). */
  idleTimeoutMs?: HttpOptions['idleTimeoutMs'];
}

export interface S3StoreOptions extends S3ClientOptions {
  bucket: string;
  /** Share one client (and its sockets) between the stores of one endpoint. */
  client?: S3Client;
  /** Reads of a body cut off mid-stream (default 4). */
  readAttempts?: number;
  /**
   * Where supportsConditionalWrites writes its probe object: a prefix the caller's role may write
   * (default: CONDITIONAL_WRITE_PROBES under HOSTING_OWN, `.frontendops/probe/`; a site probes under
   * its state prefix, src/access.ts).
   */
  probePrefix?: string;
  /**
   * Another store on the same endpoint to ask instead of probing: whether a server honours
   * If-None-Match is a property of the endpoint, not of a bucket.
   */
  conditionalWritesOf?: ObjectStore;
}

const DELETE_BATCH = 1000; // DeleteObjects takes at most 1,000 keys
const BODY_ATTEMPTS = 4;

/**
 * A write whose condition (If-None-Match, If-Match) the store refused: another writer changed the
 * object first. The key stays out of the message (a state key holds the stack's state prefix, which
 * reaches no MCP client); it is in the details, for the log.
 */
export const lostConditionalWrite = (key: string, cause?: unknown, left = 'overwritten') =>
  new FrontendOpsError(
    'PRECONDITION_FAILED',
    `A conditional write lost a race: another writer changed the object first. It was not ${left}.`,
    { ...(cause === undefined ? {} : { cause }), details: { key } },
  );

export function createS3Client(options: S3ClientOptions = {}): S3Client {
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    retryStrategy: retryStrategy(options.maxAttempts ?? 5),
    // S3-compatible servers differ in their support for the SDK's default flexible checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: requestHandler({
      maxSockets: 64,
      ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    }),
  });
}

export function createS3Store(options: S3StoreOptions): ObjectStore {
  const { bucket } = options;
  const client = options.client ?? createS3Client(options);
  let conditionalProbe: Promise<boolean> | undefined;

  const store: ObjectStore = {
    bucket,

    async get(key) {
      try {
        const { out, body } = await readWhole(client, bucket, key, options.readAttempts ?? BODY_ATTEMPTS);
        return {
          body,
          etag: out.ETag ?? '',
          size: body.length,
          metadata: out.Metadata ?? {},
          ...optionalMeta(out.ContentType, out.CacheControl),
        } satisfies StoredObject;
      } catch (error) {
        if (isMissing(error)) return null;
        throw upstream('read', bucket, key, error);
      }
    },

    async head(key) {
      try {
        const out = await client.send(
          new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }),
        );
        const sha256 = hexOfChecksum(out.ChecksumSHA256);
        return {
          etag: out.ETag ?? '',
          size: out.ContentLength ?? 0,
          metadata: out.Metadata ?? {},
          ...optionalMeta(out.ContentType, out.CacheControl),
          ...(out.ContentEncoding ? { contentEncoding: out.ContentEncoding } : {}),
          ...(sha256 ? { sha256 } : {}),
        } satisfies ObjectHead;
      } catch (error) {
        if (isMissing(error)) return null;
        throw upstream('inspect', bucket, key, error);
      }
    },

    async put(key, body, meta = {}, condition = {}) {
      refuseLongKey(key);
      try {
        const out = await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: typeof body === 'string' ? Buffer.from(body) : body,
            ...headers(meta),
            ...(condition.ifNoneMatch ? { IfNoneMatch: condition.ifNoneMatch } : {}),
            ...(condition.ifMatch ? { IfMatch: condition.ifMatch } : {}),
          }),
        );
        return { etag: out.ETag ?? '' };
      } catch (error) {
        // A write over a version (If-Match) finds no object once another writer deleted it: S3
        // answers 404 NoSuchKey, and the condition failed as surely as with 412.
        if (isPreconditionFailure(error) || (condition.ifMatch && isMissing(error))) {
          throw lostConditionalWrite(key, error);
        }
        throw upstream('write', bucket, key, error);
      }
    },

    async copyFrom(source, key, meta) {
      refuseLongKey(key);
      try {
        // S3 computes the SHA-256 of what it copied: the caller holds it against what it expects.
        const out = await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: key,
            CopySource: `${source.bucket}/${encodeKey(source.key)}`,
            MetadataDirective: 'REPLACE',
            ChecksumAlgorithm: 'SHA256',
            ...headers(meta),
          }),
        );
        return { sha256: hexOfChecksum(out.CopyObjectResult?.ChecksumSHA256) };
      } catch (error) {
        throw upstream('copy', bucket, key, error);
      }
    },

    async list(prefix = '', { limit, startAfter } = {}) {
      const found: ObjectSummary[] = [];
      let token: string | undefined;
      try {
        do {
          const out = await client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              ContinuationToken: token,
              ...(token === undefined && startAfter !== undefined ? { StartAfter: startAfter } : {}),
              ...(limit !== undefined ? { MaxKeys: Math.min(1000, limit - found.length) } : {}),
            }),
          );
          for (const item of out.Contents ?? []) {
            if (item.Key !== undefined)
              found.push({ key: item.Key, size: item.Size ?? 0, etag: item.ETag ?? '' });
          }
          token =
            out.IsTruncated && (limit === undefined || found.length < limit)
              ? out.NextContinuationToken
              : undefined;
        } while (token);
      } catch (error) {
        throw upstream('list', bucket, prefix, error);
      }
      return found;
    },

    async delete(keys) {
      for (let i = 0; i < keys.length; i += DELETE_BATCH) {
        const batch = keys.slice(i, i + DELETE_BATCH);
        try {
          const out = await client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
            }),
          );
          const failed = out.Errors ?? [];
          if (failed.length > 0) {
            const first = failed[0];
            throw new FrontendOpsError(
              'UPSTREAM',
              `Could not delete ${failed.length} object(s) (first: ${first?.Key}: ${first?.Code}).`,
            );
          }
        } catch (error) {
          if (error instanceof FrontendOpsError) throw error;
          throw upstream('delete', bucket, `${batch.length} keys`, error);
        }
      }
    },

    async deleteIf(key, etag) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }));
      } catch (error) {
        // S3 answers 404 NoSuchKey to a conditional delete of a key no object has: gone already.
        if (isMissing(error)) return;
        // An S3-compatible server that takes conditions on PutObject but none on DeleteObject (501, as
        // LocalStack answered before it took them): a plain delete, as before conditional deletes and
        // as where the condition is ignored (MinIO), rather than no unpin at all there.
        if (statusOf(error) === 501) return store.delete([key]);
        if (isPreconditionFailure(error)) throw lostConditionalWrite(key, error, 'deleted');
        throw upstream('delete', bucket, key, error);
      }
    },

    supportsConditionalWrites() {
      if (options.conditionalWritesOf) return options.conditionalWritesOf.supportsConditionalWrites();
      conditionalProbe ??= probeConditionalWrites(
        store,
        options.probePrefix ?? `${HOSTING_OWN}${CONDITIONAL_WRITE_PROBES}`,
      );
      return conditionalProbe;
    },
  };
  return store;
}

/**
 * The SDK retries a request until its response headers arrive; a body cut off mid-stream (a reset
 * connection, or a server replacing the object non-atomically) would surface as "aborted". Small
 * state objects are read whole, so such a read is simply tried again.
 */
async function readWhole(client: S3Client, bucket: string, key: string, attempts: number) {
  for (let attempt = 1; ; attempt++) {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    try {
      return { out, body: Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array()) };
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
    }
  }
}

/** The probe object's name under the probe prefix: one per endpoint and prefix, kept. */
const CONDITIONAL_WRITE_PROBE = 'conditional-writes';

/**
 * Whether the endpoint honours If-None-Match: *, asked by creating a probe object that is kept. Once
 * it exists, a server that honours the condition refuses the create (412, or 409 for a create still
 * under way): one request per process, every process after the first, and nothing to delete. A
 * server that ignores the condition accepts the write, and so does the first ask of all (the object
 * did not exist yet), so an accepted create is asked again. (A probe of a fresh key written twice,
 * then deleted, took three requests one after another before the first lock of every command.)
 */
async function probeConditionalWrites(store: ObjectStore, prefix: string): Promise<boolean> {
  for (let ask = 0; ask < 2; ask++) {
    try {
      await store.put(`${prefix}${CONDITIONAL_WRITE_PROBE}`, 'probe', {}, { ifNoneMatch: '*' });
    } catch (error) {
      if (isFrontendOpsError(error, 'PRECONDITION_FAILED')) return true;
      throw error;
    }
  }
  return false;
}

/**
 * The last guard: S3 refuses a key over 1,024 bytes of UTF-8, an S3-compatible server may not (the
 * embedded one stores it), so every write is checked here too, whatever formed the key. The key is
 * not quoted whole: it may hold a state prefix, which must not reach an agent (the README's "Secure" promise).
 */
function refuseLongKey(key: string): void {
  const problem = keyBytesProblem(key);
  if (!problem) return;
  throw badInput(
    `An object key ending in "${shortened(key.slice(key.lastIndexOf('/') + 1), 60)}" is ${problem}. Nothing was written. ` +
      'It was made from a name FrontendOps was given (a file path, an app name, a state prefix): shorten that name.',
  );
}

function headers(meta: ObjectMeta) {
  return {
    ...(meta.contentType ? { ContentType: meta.contentType } : {}),
    ...(meta.cacheControl ? { CacheControl: meta.cacheControl } : {}),
    ...(meta.metadata ? { Metadata: meta.metadata } : {}),
  };
}

function optionalMeta(contentType: string | undefined, cacheControl: string | undefined): ObjectMeta {
  return {
    ...(contentType ? { contentType } : {}),
    ...(cacheControl ? { cacheControl } : {}),
  };
}

/**
 * A full-object SHA-256 checksum (base64, as S3 answers it) in hex; null when there is none, or
 * when it is a multipart upload's checksum of its parts ("…-3"), which is no digest of the content.
 */
function hexOfChecksum(checksum: string | undefined): string | null {
  if (!checksum || checksum.includes('-')) return null;
  const bytes = Buffer.from(checksum, 'base64');
  return bytes.length === 32 ? bytes.toString('hex') : null;
}

/** CopySource must be URL-encoded, with the key's slashes kept. */
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

const statusOf = (error: unknown) =>
  error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;

/** A bucket that does not exist answers 404 too: that is a wrong bucket name, never a missing object. */
const isNoSuchBucket = (error: unknown) =>
  error instanceof S3ServiceException && error.name === 'NoSuchBucket';

const isMissing = (error: unknown) =>
  !isNoSuchBucket(error) &&
  (statusOf(error) === 404 ||
    (error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound')));

const isPreconditionFailure = (error: unknown) => statusOf(error) === 412 || statusOf(error) === 409;

function upstream(action: string, bucket: string, key: string, error: unknown): FrontendOpsError {
  // Read as "nothing deployed yet" or "no build published", it sent people looking in the wrong place.
  // (UPSTREAM: S3's answer, which an MCP client gets only as its error's name.)
  if (isNoSuchBucket(error)) {
    return new FrontendOpsError(
      'UPSTREAM',
      `The bucket ${bucket} does not exist (NoSuchBucket), so S3 could not ${action}${key ? ` ${key}` : ''} in it. Nothing was changed. Check the stack's outputs (artifactsBucket, hostingBucket, stateBucket) and its region and endpoint: they name a bucket this account does not have.`,
      { cause: error, details: { bucket, key, status: statusOf(error) } },
    );
  }
  const reason =
    error instanceof Error && error.name === 'CredentialsProviderError'
      ? // The SDK's own words list its providers; what a person needs is where to put credentials.
        'no AWS credentials were found (CredentialsProviderError). Give them the AWS way: AWS_PROFILE ' +
        'naming a profile (after `aws sso login` for SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; ' +
        'in CI, the role the job assumes'
      : error instanceof Error
        ? `${error.name}: ${error.message}`
        : String(error);
  return new FrontendOpsError('UPSTREAM', `S3 could not ${action} ${key} in bucket ${bucket} (${reason}).`, {
    cause: error,
    details: { bucket, key, status: statusOf(error) },
  });
}
