/**
 * The invalidation part of the CloudFront REST API (version 2020-05-31), as the API reference
 * documents it: CreateInvalidation and GetInvalidation, XML bodies, XML ErrorResponse errors.
 * Served by the local edge (so the production CloudFront adapter runs against it unchanged) and by
 * the CloudFront test double. HTTP-free: a request in, a response out.
 */
import { randomUUID } from 'node:crypto';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

export const CLOUDFRONT_API_VERSION = '2020-05-31';
const NAMESPACE = `http://cloudfront.amazonaws.com/doc/${CLOUDFRONT_API_VERSION}/`;
/** CloudFront's in-progress maximums: exact paths and wildcard paths are counted separately. */
const MAX_IN_PROGRESS_PATHS = 3000;
const MAX_IN_PROGRESS_WILDCARDS = 15;

export interface EmulatedInvalidation {
  id: string;
  distributionId: string;
  callerReference: string;
  paths: string[];
  status: 'InProgress' | 'Completed';
  createTime: Date;
}

export interface ApiRequest {
  method: string;
  /** Path and query, as on the request line. */
  url: string;
  /** Host header, for the Location of a created invalidation. */
  host: string;
  body: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** An error CloudFront documents, answered as its XML ErrorResponse. */
export interface ApiError {
  status: number;
  code: string;
  message: string;
}

export interface CloudFrontApiOptions {
  distributionIds: readonly string[];
  /** true: an invalidation is Completed at once (the local edge); false: InProgress until complete(). */
  completeImmediately: boolean;
  /** Refuse with TooManyInvalidationsInProgress beyond 3,000 paths / 15 wildcards in progress. */
  enforceInProgressLimits?: boolean;
  /**
   * Reused CallerReference with different paths. The reference's InvalidationBatch page documents
   * InvalidationBatchAlreadyExists (409, as CloudFront's other *AlreadyExists errors); users report
   * the live service answering InvalidArgument (400) "Your request contains a caller reference that
   * was used for a previous invalidation batch…". Default: the documented one.
   */
  reusedReferenceError?: 'InvalidationBatchAlreadyExists' | 'InvalidArgument';
  /** Runs after validation, before anything is created: return an error to answer it instead. */
  intercept?: (batch: {
    distributionId: string;
    callerReference: string;
    paths: string[];
  }) => ApiError | undefined;
  /** Called once per newly created invalidation (not for an idempotent repeat). */
  onCreated?: (invalidation: EmulatedInvalidation) => void;
  now?: () => number;
}

export interface CloudFrontApi {
  handle(request: ApiRequest): ApiResponse;
  invalidations(): EmulatedInvalidation[];
  /** Marks in-progress invalidations Completed (all, or the one with this id). */
  complete(id?: string): void;
}

export function createCloudFrontApi(options: CloudFrontApiOptions): CloudFrontApi {
  const distributions = new Set(options.distributionIds);
  const created: EmulatedInvalidation[] = [];
  const now = options.now ?? Date.now;
  let sequence = 0;

  function createInvalidation(distributionId: string, body: string, host: string): ApiResponse {
    const batch = parseInvalidationBatch(body);
    if ('code' in batch) return errorResponse(batch);
    const refusal = options.intercept?.({ distributionId, ...batch });
    if (refusal) return errorResponse(refusal);
    const existing = created.find(
      (inv) => inv.distributionId === distributionId && inv.callerReference === batch.callerReference,
    );
    if (existing) {
      if (sameItems(existing.paths, batch.paths)) return invalidationResponse(201, existing, host);
      return errorResponse(reusedReference(options.reusedReferenceError ?? 'InvalidationBatchAlreadyExists'));
    }
    if (options.enforceInProgressLimits !== false) {
      const overLimit = checkInProgressLimits(created, distributionId, batch.paths);
      if (overLimit) return errorResponse(overLimit);
    }
    sequence += 1;
    const invalidation: EmulatedInvalidation = {
      id: `I${sequence.toString(36).toUpperCase().padStart(13, '0')}`,
      distributionId,
      callerReference: batch.callerReference,
      paths: batch.paths,
      status: options.completeImmediately ? 'Completed' : 'InProgress',
      createTime: new Date(now()),
    };
    created.push(invalidation);
    options.onCreated?.(invalidation);
    return invalidationResponse(201, invalidation, host);
  }

  function getInvalidation(distributionId: string, id: string, host: string): ApiResponse {
    const found = created.find((inv) => inv.distributionId === distributionId && inv.id === id);
    if (!found)
      return errorResponse({
        status: 404,
        code: 'NoSuchInvalidation',
        message: 'The specified invalidation does not exist.',
      });
    return invalidationResponse(200, found, host);
  }

  return {
    handle(request) {
      const path = request.url.split('?')[0] ?? '';
      const match = /^\/2020-05-31\/distribution\/([^/]+)\/invalidation(?:\/([^/]+))?$/.exec(path);
      if (!match?.[1]) {
        return errorResponse({
          status: 404,
          code: 'NotFound',
          message: `No CloudFront operation at ${request.method} ${path}.`,
        });
      }
      const distributionId = decodeURIComponent(match[1]);
      if (!distributions.has(distributionId)) {
        return errorResponse({
          status: 404,
          code: 'NoSuchDistribution',
          message: 'The specified distribution does not exist.',
        });
      }
      if (request.method === 'POST' && !match[2])
        return createInvalidation(distributionId, request.body, request.host);
      if (request.method === 'GET' && match[2]) {
        return getInvalidation(distributionId, decodeURIComponent(match[2]), request.host);
      }
      return errorResponse({
        status: 405,
        code: 'MethodNotAllowed',
        message: `${request.method} is not supported here.`,
      });
    },
    invalidations: () => created.map((inv) => ({ ...inv, paths: [...inv.paths] })),
    complete(id) {
      for (const inv of created) if (id === undefined || inv.id === id) inv.status = 'Completed';
    },
  };
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (_name, jpath) => jpath === 'InvalidationBatch.Paths.Items.Path',
});
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_' });

const invalidArgument = (message: string): ApiError => ({ status: 400, code: 'InvalidArgument', message });

function parseInvalidationBatch(body: string): { callerReference: string; paths: string[] } | ApiError {
  if (body.trim() === '') {
    return {
      status: 400,
      code: 'MissingBody',
      message:
        'This operation requires a body. Ensure that the body is present and the Content-Type header is set.',
    };
  }
  let document: unknown;
  try {
    document = parser.parse(body, true);
  } catch (error) {
    return invalidArgument(`The XML you provided was not well-formed: ${(error as Error).message}`);
  }
  const batch = (document as { InvalidationBatch?: unknown }).InvalidationBatch as
    | { CallerReference?: unknown; Paths?: { Quantity?: unknown; Items?: { Path?: unknown[] } | '' } }
    | undefined;
  if (!batch || typeof batch !== 'object')
    return invalidArgument('The request body must be an InvalidationBatch.');
  const callerReference = batch.CallerReference;
  if (typeof callerReference !== 'string' || callerReference === '') {
    return invalidArgument('The InvalidationBatch must contain a non-empty CallerReference.');
  }
  const quantity = Number(batch.Paths?.Quantity);
  const items = typeof batch.Paths?.Items === 'object' ? (batch.Paths.Items.Path ?? []) : [];
  const paths = items.map((item) => (typeof item === 'string' ? item : ''));
  if (!Number.isInteger(quantity) || quantity !== paths.length) {
    return {
      status: 400,
      code: 'InconsistentQuantities',
      message: "The value of Quantity and the size of Items don't match.",
    };
  }
  if (quantity === 0) return invalidArgument('Your request must contain at least one invalidation path.');
  if (paths.length > MAX_IN_PROGRESS_PATHS) {
    return { status: 413, code: 'BatchTooLarge', message: 'Invalidation batch specified is too large.' };
  }
  if (paths.some((path) => !path.startsWith('/') || path.slice(0, -1).includes('*'))) {
    return invalidArgument('Your request contains one or more invalid invalidation paths.');
  }
  return { callerReference, paths };
}

function checkInProgressLimits(
  existing: readonly EmulatedInvalidation[],
  distributionId: string,
  paths: readonly string[],
): ApiError | undefined {
  const inProgress = existing
    .filter((inv) => inv.distributionId === distributionId && inv.status === 'InProgress')
    .flatMap((inv) => inv.paths);
  const wildcards = (list: readonly string[]) => list.filter((path) => path.endsWith('*')).length;
  const tooManyPaths =
    inProgress.length - wildcards(inProgress) + paths.length - wildcards(paths) > MAX_IN_PROGRESS_PATHS;
  const tooManyWildcards = wildcards(inProgress) + wildcards(paths) > MAX_IN_PROGRESS_WILDCARDS;
  if (!tooManyPaths && !tooManyWildcards) return undefined;
  return {
    status: 400,
    code: 'TooManyInvalidationsInProgress',
    message:
      'You have exceeded the maximum number of allowable InProgress invalidation batch requests, or invalidation objects.',
  };
}

function reusedReference(code: 'InvalidationBatchAlreadyExists' | 'InvalidArgument'): ApiError {
  if (code === 'InvalidArgument') {
    return invalidArgument(
      'Your request contains a caller reference that was used for a previous invalidation batch for the same distribution.',
    );
  }
  return {
    status: 409,
    code,
    message: 'The CallerReference was already used for an invalidation batch with different paths.',
  };
}

function sameItems(a: readonly string[], b: readonly string[]): boolean {
  const sortedB = [...b].sort();
  return a.length === b.length && [...a].sort().every((path, i) => path === sortedB[i]);
}

function invalidationResponse(status: number, inv: EmulatedInvalidation, host: string): ApiResponse {
  const xml = builder.build({
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    Invalidation: {
      '@_xmlns': NAMESPACE,
      Id: inv.id,
      Status: inv.status,
      CreateTime: inv.createTime.toISOString(),
      InvalidationBatch: {
        CallerReference: inv.callerReference,
        Paths: { Items: { Path: inv.paths }, Quantity: inv.paths.length },
      },
    },
  });
  const location = `http://${host}/${CLOUDFRONT_API_VERSION}/distribution/${inv.distributionId}/invalidation/${inv.id}`;
  return { status, headers: { ...xmlHeaders(), ...(status === 201 ? { location } : {}) }, body: xml };
}

/** CloudFront's XML ErrorResponse for `error` (e.g. a request the endpoint refuses before the API). */
export function errorResponse(error: ApiError): ApiResponse {
  const requestId = randomUUID();
  const xml = builder.build({
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    ErrorResponse: {
      '@_xmlns': NAMESPACE,
      Error: { Type: error.status >= 500 ? 'Receiver' : 'Sender', Code: error.code, Message: error.message },
      RequestId: requestId,
    },
  });
  return { status: error.status, headers: { ...xmlHeaders(), 'x-amz-request-id': requestId }, body: xml };
}

const xmlHeaders = () => ({ 'content-type': 'text/xml', 'x-amz-request-id': randomUUID() });
