/**
 * The CloudFront KeyValueStore data-plane API (2022-07-26) as its API reference documents it:
 * DescribeKeyValueStore, GetKey, PutKey, DeleteKey, ListKeys and UpdateKeys over REST + JSON, an
 * ETag that versions the whole store, If-Match required on every write, and the documented errors
 * (ConflictException 409 for a stale ETag, ResourceNotFoundException 404, ValidationException 400,
 * ServiceQuotaExceededException 402), as `x-amzn-errortype` + {"Message"} the SDK parses. Requests
 * must carry a valid SigV4A signature of a known access key. Served by the local edge (so the
 * production adapter runs against it unchanged) and by tests. HTTP-free: a request in, a response out.
 */
import { randomUUID } from 'node:crypto';
import type { EmulatedKeyValueStore, KvsVersion } from './edge-kvs-store.ts';
import { storeSize } from './edge-kvs-store.ts';
import { createSigV4aVerifier, type SigningCredentials } from './sigv4a-verify.ts';

export const KVS_SIGNING_NAME = 'cloudfront-keyvaluestore';
/** Quotas on key value stores (CloudFront Developer Guide). */
export const KVS_LIMITS = {
  keyBytes: 512,
  keyLength: 1024,
  valueBytes: 1024,
  storeBytes: 5 * 1024 * 1024,
  keysPerUpdate: 50,
  listPage: 50,
  listDefault: 10,
} as const;

export interface KvsApiRequest {
  method: string;
  /** Path and query, as on the request line. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface KvsApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface KeyValueStoreApiOptions {
  stores: readonly EmulatedKeyValueStore[];
  /** Access keys whose SigV4A signatures are accepted. */
  credentials: readonly SigningCredentials[];
  now?: () => number;
  /** Called after each successful write with the store's new version. */
  onWrite?: (store: EmulatedKeyValueStore, version: KvsVersion) => void;
}

export interface KeyValueStoreApi {
  handle(request: KvsApiRequest): KvsApiResponse;
}

interface ApiError {
  status: number;
  code: string;
  message: string;
}

export function createKeyValueStoreApi(options: KeyValueStoreApiOptions): KeyValueStoreApi {
  const checkSignature = createSigV4aVerifier({
    credentials: options.credentials,
    service: KVS_SIGNING_NAME,
    ...(options.now ? { now: options.now } : {}),
  });

  function route(request: KvsApiRequest): KvsApiResponse {
    // Authentication comes first, as at AWS: an unsigned request learns nothing about the stores.
    const signed = checkSignature(request);
    if (!signed.ok) return error(signed);
    const [path = ''] = request.url.split('?');
    const parts = path.split('/');
    if (parts[0] !== '' || parts[1] !== 'key-value-stores' || !parts[2] || parts.length > 5) {
      return error(notFound(`No CloudFront KeyValueStore operation at ${request.method} ${path}.`));
    }
    const decoded = parts.slice(2).map(safeDecode);
    if (decoded.some((part) => part === undefined))
      return error(validation('The path is not valid percent-encoding.'));
    const [arn = '', keysSegment, key] = decoded as string[];
    if (keysSegment !== undefined && keysSegment !== 'keys') {
      return error(notFound(`No CloudFront KeyValueStore operation at ${request.method} ${path}.`));
    }
    const store = options.stores.find((s) => s.arn === arn);
    if (!store) return error(notFound(`Key value store ${arn} was not found.`));
    const method = request.method.toUpperCase();
    if (keysSegment === undefined && method === 'GET') return describe(store);
    if (keysSegment !== undefined && key === undefined) {
      if (method === 'GET') return listKeys(store, new URLSearchParams(request.url.split('?')[1] ?? ''));
      if (method === 'POST') return updateKeys(store, request);
    }
    if (key !== undefined) {
      if (method === 'GET') return getKey(store, key);
      if (method === 'PUT') return putKey(store, key, request);
      if (method === 'DELETE') return deleteKey(store, key, request);
    }
    return error({
      status: 405,
      code: 'MethodNotAllowed',
      message: `${request.method} is not supported at ${path}.`,
    });
  }

  function describe(store: EmulatedKeyValueStore): KvsApiResponse {
    const version = store.current();
    return json(
      200,
      {
        ...counts(version),
        KvsARN: store.arn,
        Created: Math.floor(store.created.getTime() / 1000),
        LastModified: Math.floor(version.committedAt / 1000),
        Status: 'READY',
      },
      version.etag,
    );
  }

  function getKey(store: EmulatedKeyValueStore, key: string): KvsApiResponse {
    const version = store.current();
    const value = version.entries.get(key);
    if (value === undefined) return error(notFound(`Key ${key} was not found.`));
    return json(200, { Key: key, Value: value, ...counts(version) });
  }

  function listKeys(store: EmulatedKeyValueStore, query: URLSearchParams): KvsApiResponse {
    const max = query.has('MaxResults') ? Number(query.get('MaxResults')) : KVS_LIMITS.listDefault;
    if (!Number.isInteger(max) || max < 1 || max > KVS_LIMITS.listPage) {
      return error(validation(`MaxResults must be an integer from 1 to ${KVS_LIMITS.listPage}.`));
    }
    const after = query.get('NextToken');
    const start = after === null ? undefined : safeToken(after);
    if (start === null) return error(validation('NextToken is not one this API returned.'));
    const keys = [...store.current().entries.keys()].sort().filter((k) => start === undefined || k > start);
    const page = keys.slice(0, max);
    const entries = store.current().entries;
    return json(200, {
      Items: page.map((k) => ({ Key: k, Value: entries.get(k) })),
      ...(keys.length > max && page.length > 0
        ? { NextToken: Buffer.from(page[page.length - 1] as string).toString('base64url') }
        : {}),
    });
  }

  function putKey(store: EmulatedKeyValueStore, key: string, request: KvsApiRequest): KvsApiResponse {
    const body = parseBody(request.body);
    if ('status' in body) return error(body);
    const value = (body as { Value?: unknown }).Value;
    if (typeof value !== 'string') return error(validation('Value is required and must be a string.'));
    return write(store, request, [{ key, value }], []);
  }

  function deleteKey(store: EmulatedKeyValueStore, key: string, request: KvsApiRequest): KvsApiResponse {
    return write(store, request, [], [key]);
  }

  function updateKeys(store: EmulatedKeyValueStore, request: KvsApiRequest): KvsApiResponse {
    const body = parseBody(request.body);
    if ('status' in body) return error(body);
    const { Puts = [], Deletes = [] } = body as { Puts?: unknown; Deletes?: unknown };
    if (!Array.isArray(Puts) || !Array.isArray(Deletes)) {
      return error(validation('Puts and Deletes must be lists.'));
    }
    const puts: { key: string; value: string }[] = [];
    for (const item of Puts as { Key?: unknown; Value?: unknown }[]) {
      if (typeof item?.Key !== 'string' || typeof item.Value !== 'string') {
        return error(validation('Each item of Puts needs a Key and a Value, both strings.'));
      }
      puts.push({ key: item.Key, value: item.Value });
    }
    const deletes: string[] = [];
    for (const item of Deletes as { Key?: unknown }[]) {
      if (typeof item?.Key !== 'string') return error(validation('Each item of Deletes needs a Key.'));
      deletes.push(item.Key);
    }
    if (puts.length + deletes.length === 0)
      return error(validation('UpdateKeys needs at least one put or delete.'));
    if (puts.length + deletes.length > KVS_LIMITS.keysPerUpdate) {
      return error(validation(`UpdateKeys takes at most ${KVS_LIMITS.keysPerUpdate} keys per request.`));
    }
    const all = [...puts.map((p) => p.key), ...deletes];
    if (new Set(all).size !== all.length)
      return error(validation('A key may appear only once per UpdateKeys request.'));
    return write(store, request, puts, deletes);
  }

  /** Every write: If-Match required and current, keys and values within quota, all or nothing. */
  function write(
    store: EmulatedKeyValueStore,
    request: KvsApiRequest,
    puts: readonly { key: string; value: string }[],
    deletes: readonly string[],
  ): KvsApiResponse {
    const ifMatch = request.headers['if-match'];
    if (typeof ifMatch !== 'string' || ifMatch === '') {
      return error(
        validation('IfMatch is required: pass the ETag from DescribeKeyValueStore or the last write.'),
      );
    }
    for (const key of [...puts.map((p) => p.key), ...deletes]) {
      const problem = keyProblem(key);
      if (problem) return error(validation(problem));
    }
    for (const { key, value } of puts) {
      if (Buffer.byteLength(value) > KVS_LIMITS.valueBytes) {
        return error(validation(`The value of ${key} is over ${KVS_LIMITS.valueBytes} bytes.`));
      }
    }
    const current = store.current();
    if (ifMatch !== current.etag) {
      return error({
        status: 409,
        code: 'ConflictException',
        message: `The key value store has changed: IfMatch ${ifMatch} is not its current ETag. Describe it again and retry.`,
      });
    }
    const missing = deletes.find((key) => !current.entries.has(key));
    if (missing !== undefined) return error(notFound(`Key ${missing} was not found.`));
    const next = new Map(current.entries);
    for (const { key, value } of puts) next.set(key, value);
    for (const key of deletes) next.delete(key);
    if (storeSize(next) > KVS_LIMITS.storeBytes) {
      return error({
        status: 402,
        code: 'ServiceQuotaExceededException',
        message: `A key value store holds at most ${KVS_LIMITS.storeBytes} bytes.`,
      });
    }
    const version = store.commit(ifMatch, (draft) => {
      draft.clear();
      for (const [key, value] of next) draft.set(key, value);
    });
    if (version === 'conflict') {
      return error({
        status: 409,
        code: 'ConflictException',
        message: 'The key value store has changed. Retry.',
      });
    }
    options.onWrite?.(store, version);
    return json(200, counts(version), version.etag);
  }

  return {
    handle(request) {
      try {
        return route(request);
      } catch (caught) {
        return error({ status: 500, code: 'InternalServerException', message: (caught as Error).message });
      }
    },
  };
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

const counts = (version: KvsVersion) => ({
  ItemCount: version.entries.size,
  TotalSizeInBytes: storeSize(version.entries),
});

function keyProblem(key: string): string | undefined {
  if (key.length < 1 || key.length > KVS_LIMITS.keyLength)
    return `A key has 1 to ${KVS_LIMITS.keyLength} characters.`;
  if (Buffer.byteLength(key) > KVS_LIMITS.keyBytes)
    return `The key ${key.slice(0, 40)}… is over ${KVS_LIMITS.keyBytes} bytes.`;
  return undefined;
}

function parseBody(body: Buffer): object | ApiError {
  try {
    const parsed = JSON.parse(body.toString('utf8') || '{}') as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed;
  } catch {
    // falls through
  }
  return validation('The request body must be a JSON object.');
}

function safeDecode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

function safeToken(token: string): string | null {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  return key !== '' && Buffer.from(key).toString('base64url') === token ? key : null;
}

const notFound = (message: string): ApiError => ({ status: 404, code: 'ResourceNotFoundException', message });
const validation = (message: string): ApiError => ({ status: 400, code: 'ValidationException', message });

function json(status: number, body: unknown, etag?: string): KvsApiResponse {
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-requestid': randomUUID(),
      ...(etag ? { etag } : {}),
    },
    body: JSON.stringify(body),
  };
}

function error(e: ApiError): KvsApiResponse {
  return {
    status: e.status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-requestid': randomUUID(),
      'x-amzn-errortype': e.code,
    },
    body: JSON.stringify({ Message: e.message }),
  };
}
