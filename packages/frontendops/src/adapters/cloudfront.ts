/**
 * Cdn over Amazon CloudFront through AWS SDK v3 (CreateInvalidation). One call is one invalidation
 * batch: plan batches with planInvalidationBatches() first. Works against any endpoint speaking the
 * CloudFront REST API (the local edge, the test double) through `endpoint`.
 *
 * Retries: 5xx and throttling are retried by the SDK's standard strategy with our backoff (retry.ts).
 * TooManyInvalidationsInProgress is not a transient fault but a queue (3,000 paths / 15 wildcards in
 * progress per distribution, each taking minutes), so it is waited out here with exponential backoff,
 * up to maxWaitMs. Credentials come from the standard SDK chain unless given.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { z } from 'zod';
import { badInput, FrontendOpsError } from '../errors.ts';
import type { Cdn, InvalidationRequest, InvalidationResult } from '../ports.ts';
import { type HttpOptions, requestHandler } from './http.ts';
import { retryStrategy } from './retry.ts';

export interface CloudFrontCdnOptions {
  distributionId: string;
  /** CloudFront is global; the SDK signs for us-east-1 unless told otherwise. */
  region?: string;
  /** Base URL of a CloudFront-API-compatible endpoint (local edge, test double). */
  endpoint?: string;
  credentials?: AwsCredentialIdentity;
  /** Injected so tests do not really wait. */
  sleep?: (ms: number) => Promise<void>;
  /** Longest total wait for in-progress invalidations to drain (default 15 minutes). */
  maxWaitMs?: number;
  /** SDK attempts per request for 5xx and throttling (default 5). */
  maxAttempts?: number;
  /** Silence after which an attempt ends (adapters/http.ts; default 60 s). */
  idleTimeoutMs?: HttpOptions['idleTimeoutMs'];
}

/** First wait after TooManyInvalidationsInProgress; doubles up to MAX_SINGLE_WAIT_MS. */
export const FIRST_WAIT_MS = 5_000;
export const MAX_SINGLE_WAIT_MS = 60_000;
const DEFAULT_MAX_WAIT_MS = 15 * 60_000;
const MAX_PATHS = 3000;
const MAX_WILDCARDS = 15;

const requestSchema = z.object({
  callerReference: z.string().min(1, 'callerReference must not be empty'),
  paths: z
    .array(z.string().startsWith('/', 'every path must start with "/"'))
    .min(1, 'at least one path is needed')
    .max(MAX_PATHS, `at most ${MAX_PATHS} paths fit in one invalidation`)
    .refine((paths) => paths.filter((p) => p.endsWith('*')).length <= MAX_WILDCARDS, {
      message: `at most ${MAX_WILDCARDS} wildcard paths can be in progress, so one batch holds at most ${MAX_WILDCARDS}`,
    }),
});

export function createCloudFrontCdn(options: CloudFrontCdnOptions): Cdn {
  if (!options.distributionId) {
    throw badInput('No CloudFront distribution id was given; expected the stack output distributionId.');
  }
  const client = new CloudFrontClient({
    region: options.region ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    retryStrategy: retryStrategy(options.maxAttempts ?? 5),
    requestHandler: requestHandler(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
  });
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;

  return {
    async invalidate(request: InvalidationRequest): Promise<InvalidationResult> {
      const { paths, callerReference } = parseRequest(request);
      const command = new CreateInvalidationCommand({
        DistributionId: options.distributionId,
        InvalidationBatch: {
          CallerReference: callerReference,
          Paths: { Quantity: paths.length, Items: paths },
        },
      });
      let waited = 0;
      let nextWait = FIRST_WAIT_MS;
      for (;;) {
        try {
          const out = await client.send(command);
          if (!out.Invalidation?.Id) {
            throw new FrontendOpsError(
              'UPSTREAM',
              'CloudFront answered CreateInvalidation without an invalidation id.',
            );
          }
          return { id: out.Invalidation.Id, status: out.Invalidation.Status ?? 'InProgress' };
        } catch (error) {
          const wait = Math.min(nextWait, maxWaitMs - waited);
          if (errorCode(error) !== 'TooManyInvalidationsInProgress' || wait <= 0) {
            throw toFrontendOpsError(error, { callerReference, paths: paths.length, waited });
          }
          await sleep(wait);
          waited += wait;
          nextWait = Math.min(nextWait * 2, MAX_SINGLE_WAIT_MS);
        }
      }
    },
  };
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

function parseRequest(request: InvalidationRequest): { paths: string[]; callerReference: string } {
  const parsed = requestSchema.safeParse(request);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => issue.message).join('; ');
  throw badInput(
    `The invalidation request is not valid: ${problems}. Plan the paths with planInvalidationBatches() ` +
      'and send each batch with its own callerReference.',
  );
}

const errorCode = (error: unknown): string | undefined =>
  error instanceof Error ? ((error as { Code?: string }).Code ?? error.name) : undefined;

function toFrontendOpsError(
  error: unknown,
  context: { callerReference: string; paths: number; waited: number },
): FrontendOpsError {
  if (error instanceof FrontendOpsError) return error;
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const details = { callerReference: context.callerReference, cloudFrontCode: code };
  const wrap = (kind: FrontendOpsError['code'], text: string) =>
    new FrontendOpsError(kind, text, { cause: error, details });
  if (code === 'TooManyInvalidationsInProgress') {
    return wrap(
      'UPSTREAM',
      `CloudFront still had too many invalidations in progress after waiting ${Math.round(context.waited / 1000)} s ` +
        `(it allows ${MAX_PATHS} paths and ${MAX_WILDCARDS} wildcard paths in progress per distribution), so the ` +
        `invalidation "${context.callerReference}" of ${context.paths} paths was not created. Wait for the running ` +
        'invalidations to complete, then run the same deploy again: it reuses the same CallerReference.',
    );
  }
  if (
    code === 'InvalidationBatchAlreadyExists' ||
    (code === 'InvalidArgument' && /caller reference/i.test(message))
  ) {
    return wrap(
      'CONFLICT',
      `CallerReference "${context.callerReference}" was already used for an invalidation with different paths. ` +
        'A CallerReference names exactly one batch: derive a new one (e.g. from a new deploy id) for different paths.',
    );
  }
  if (code === 'NoSuchDistribution') {
    return wrap(
      'NOT_FOUND',
      'The CloudFront distribution named by the stack does not exist. Check its distributionId output.',
    );
  }
  if (code === 'InvalidArgument' || code === 'BatchTooLarge' || code === 'InconsistentQuantities') {
    return wrap('BAD_INPUT', `CloudFront refused the invalidation batch (${code}): ${message}`);
  }
  if (code === 'AccessDenied') {
    return wrap(
      'UPSTREAM',
      'CloudFront denied CreateInvalidation (AccessDenied): give the credentials from the AWS SDK chain the ' +
        'cloudfront:CreateInvalidation permission on this distribution.',
    );
  }
  return wrap('UPSTREAM', `CloudFront CreateInvalidation failed${code ? ` (${code})` : ''}: ${message}`);
}
