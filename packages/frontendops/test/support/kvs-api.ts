/**
 * The KeyValueStore API emulator (src/local/edge-kvs-api.ts) served over HTTP on 127.0.0.1 for one
 * test file, advertised as http://localhost:<port> (the SDK puts the account id in front of the
 * host). Records every request with the status it got.
 */

import { readBodyBytes, startHttpServer } from '../../src/local/edge-http.ts';
import { createKeyValueStoreApi } from '../../src/local/edge-kvs-api.ts';
import { createEmulatedKeyValueStore, type EmulatedKeyValueStore } from '../../src/local/edge-kvs-store.ts';
import type { SigningCredentials } from '../../src/local/sigv4a-verify.ts';

export const TEST_KVS_ARN =
  'arn:aws:cloudfront::123456789012:key-value-store/9b4f2a6e-3c1d-4e8f-a7b2-5d6c8e9f0a1b';
export const TEST_KVS_CREDENTIALS = {
  accessKeyId: 'AKIDKVSTEST0001',
  secretAccessKey: 'kvs-test-secret-key-0001',
};

export interface KvsRecord {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
}

export interface TestKvsApi {
  endpoint: string;
  arn: string;
  store: EmulatedKeyValueStore;
  requests: KvsRecord[];
  close(): Promise<void>;
}

export async function startTestKvsApi(
  options: {
    credentials?: SigningCredentials[];
    initial?: Record<string, string>;
    /** Runs before each request is handled (its index counts from 0): to race a client at an exact point. */
    before?: (index: number, store: EmulatedKeyValueStore) => void;
  } = {},
): Promise<TestKvsApi> {
  const store = createEmulatedKeyValueStore({
    arn: TEST_KVS_ARN,
    ...(options.initial ? { initial: options.initial } : {}),
  });
  const api = createKeyValueStoreApi({
    stores: [store],
    credentials: options.credentials ?? [TEST_KVS_CREDENTIALS],
  });
  const requests: KvsRecord[] = [];
  const server = await startHttpServer(
    async (request, response) => {
      const body = await readBodyBytes(request);
      options.before?.(requests.length, store);
      const answer = api.handle({
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
        body,
      });
      requests.push({
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers: { ...request.headers },
        status: answer.status,
      });
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    },
    { host: '127.0.0.1', port: 0 },
  );
  return {
    endpoint: server.url.replace('127.0.0.1', 'localhost'),
    arn: TEST_KVS_ARN,
    store,
    requests,
    close: () => server.close(),
  };
}
