/**
 * A local stand-in for the CloudFront API (unreachable from this machine): CreateInvalidation and
 * GetInvalidation over HTTP on 127.0.0.1, answering as the API reference documents (the protocol
 * lives in src/local/edge-cloudfront-api.ts, shared with the local edge). It records every request
 * and can be scripted: failures for the next N CreateInvalidation calls, invalidations that stay
 * InProgress until the test completes them, CloudFront's in-progress limits.
 */
import {
  type ApiError,
  type CloudFrontApiOptions,
  createCloudFrontApi,
  type EmulatedInvalidation,
} from '../../src/local/edge-cloudfront-api.ts';
import { readBody, startHttpServer } from '../../src/local/edge-http.ts';

export const DOUBLE_DISTRIBUTION_ID = 'E2QWRUHAPOMQZL';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}

export interface CloudFrontDoubleOptions {
  distributionIds?: string[];
  /** 'immediate' (default): Completed at once; 'manual': InProgress until complete(). */
  completion?: 'immediate' | 'manual';
  enforceInProgressLimits?: boolean;
  reusedReferenceError?: CloudFrontApiOptions['reusedReferenceError'];
}

export type ScriptedError = 'TooManyInvalidationsInProgress' | 'InternalError' | 'Throttling' | ApiError;

export interface CloudFrontDouble {
  /** Base URL to pass as the SDK endpoint. */
  endpoint: string;
  distributionId: string;
  requests: RecordedRequest[];
  /**
   * A mark in the request log: a case that counts what it sent passes it to createRequests, as the
   * S3 request log's mark() (local-s3.ts), and so counts from its own start whatever ran before it.
   */
  mark(): number;
  /** Recorded CreateInvalidation requests only: all of them, or those after `mark`. */
  createRequests(mark?: number): RecordedRequest[];
  invalidations(): EmulatedInvalidation[];
  complete(id?: string): void;
  /** The next `count` CreateInvalidation calls (valid ones) answer `error`. */
  failNext(count: number, error: ScriptedError): void;
  close(): Promise<void>;
}

export async function startCloudFrontDouble(
  options: CloudFrontDoubleOptions = {},
): Promise<CloudFrontDouble> {
  const distributionIds = options.distributionIds ?? [DOUBLE_DISTRIBUTION_ID];
  const requests: RecordedRequest[] = [];
  const script: ApiError[] = [];
  let closing: Promise<void> | undefined;
  const api = createCloudFrontApi({
    distributionIds,
    completeImmediately: options.completion !== 'manual',
    enforceInProgressLimits: options.enforceInProgressLimits ?? true,
    ...(options.reusedReferenceError ? { reusedReferenceError: options.reusedReferenceError } : {}),
    intercept: () => script.shift(),
  });
  const server = await startHttpServer(
    async (request, response) => {
      const body = await readBody(request);
      const answer = api.handle({
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        host: request.headers.host ?? '127.0.0.1',
        body,
      });
      requests.push({
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers: { ...request.headers },
        body,
        status: answer.status,
      });
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    },
    { host: '127.0.0.1', port: 0 },
  );
  return {
    endpoint: server.url,
    distributionId: distributionIds[0] ?? DOUBLE_DISTRIBUTION_ID,
    requests,
    mark: () => requests.length,
    createRequests: (mark = 0) =>
      requests.slice(mark).filter((r) => r.method === 'POST' && r.path.endsWith('/invalidation')),
    invalidations: () => api.invalidations(),
    complete: (id) => api.complete(id),
    failNext(count, error) {
      for (let i = 0; i < count; i += 1) script.push(toApiError(error));
    },
    close() {
      closing ??= server.close();
      return closing;
    },
  };
}

function toApiError(error: ScriptedError): ApiError {
  if (typeof error === 'object') return error;
  if (error === 'InternalError') {
    return {
      status: 500,
      code: 'InternalError',
      message: 'We encountered an internal error. Please try again.',
    };
  }
  if (error === 'Throttling') return { status: 400, code: 'Throttling', message: 'Rate exceeded' };
  return {
    status: 400,
    code: 'TooManyInvalidationsInProgress',
    message:
      'You have exceeded the maximum number of allowable InProgress invalidation batch requests, or invalidation objects.',
  };
}
