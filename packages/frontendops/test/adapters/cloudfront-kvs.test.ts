/**
 * The release store (src/adapters/cloudfront-kvs.ts) through the real AWS SDK v3 KeyValueStore
 * client, signing with SigV4A in pure JS, against the KeyValueStore API emulator served on
 * 127.0.0.1: reads, conditional writes, a stale ETag refused, concurrent writers of whom exactly one
 * wins; and the emulator answering as the API reference documents, refusing unsigned requests.
 */
import { lookup } from 'node:dns';
import { Agent as HttpAgent } from 'node:http';
import {
  CloudFrontKeyValueStoreClient,
  DeleteKeyCommand,
  DescribeKeyValueStoreCommand,
  GetKeyCommand,
  ListKeysCommand,
  PutKeyCommand,
  UpdateKeysCommand,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCloudFrontReleaseStore } from '../../src/adapters/cloudfront-kvs.ts';
import {
  AUDIT_HEAD_KEY,
  ENVIRONMENT_KEY,
  PREVIEW_SECRET_KEY,
  RELEASE_KEY,
} from '../../src/atomic/release-pointer.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { ReleaseStore } from '../../src/ports.ts';
import { startTestKvsApi, TEST_KVS_CREDENTIALS, type TestKvsApi } from '../support/kvs-api.ts';

let kvs: TestKvsApi;
const clients: CloudFrontKeyValueStoreClient[] = [];

beforeEach(async () => {
  kvs = await startTestKvsApi();
});
afterEach(() => kvs.close());
afterAll(() => {
  for (const client of clients) client.destroy();
});

const releaseStore = (
  overrides: Partial<Parameters<typeof createCloudFrontReleaseStore>[0]> = {},
): ReleaseStore =>
  createCloudFrontReleaseStore({
    kvsArn: kvs.arn,
    endpoint: kvs.endpoint,
    credentials: TEST_KVS_CREDENTIALS,
    maxAttempts: 1,
    ...overrides,
  });

function sdk(): CloudFrontKeyValueStoreClient {
  const client = new CloudFrontKeyValueStoreClient({
    region: 'us-east-1',
    endpoint: kvs.endpoint,
    credentials: TEST_KVS_CREDENTIALS,
    maxAttempts: 1,
    // The SDK addresses <account>.localhost; the adapter's agent resolves it, this client connects by the
    // same rule through a custom lookup.
    requestHandler: {
      httpAgent: new HttpAgent({
        lookup: (host, options, callback) =>
          lookup(host.endsWith('.localhost') ? 'localhost' : host, options, callback),
      }),
    },
  });
  clients.push(client);
  return client;
}

const expectError = async (
  promise: Promise<unknown>,
  code: Parameters<typeof isFrontendOpsError>[1],
  message: RegExp,
) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isFrontendOpsError(error, code), String(error)).toBe(true);
  expect((error as Error).message).toMatch(message);
};

describe('release store over the real SDK, SigV4A, against the emulator', () => {
  it('reads nothing from a new store, then writes conditionally and reads back what it wrote', async () => {
    const store = releaseStore();
    const empty = await store.read();
    expect(empty.value).toBeNull();
    expect(empty.etag).toMatch(/^KV[0-9A-F]{13}$/);

    const written = await store.write({ live: 'a1b2c3d-0123456789' }, empty.etag);
    expect(written.etag).not.toBe(empty.etag);
    expect(await store.read()).toEqual({
      value: { live: 'a1b2c3d-0123456789' },
      etag: written.etag,
      auditHead: null,
    });

    const canary = await store.write(
      { live: 'a1b2c3d-0123456789', canary: 'e4f5a6b-9876543210', weight: 10 },
      written.etag,
    );
    expect((await store.read()).value).toEqual({
      live: 'a1b2c3d-0123456789',
      canary: 'e4f5a6b-9876543210',
      weight: 10,
    });
    expect(kvs.store.current().entries.get(RELEASE_KEY)).toBe(
      '{"live":"a1b2c3d-0123456789","canary":"e4f5a6b-9876543210","weight":10}',
    );
    expect(kvs.store.current().etag).toBe(canary.etag);
  });

  it('signs every request with SigV4A for cloudfront-keyvaluestore, region set "*", at <account>.localhost', async () => {
    const store = releaseStore();
    await store.write({ live: 'rel-a' }, (await store.read()).etag);
    // The read: the store's ETag, then the pointer and the audit head it anchors, side by side.
    expect(kvs.requests.map((r) => `${r.method} ${r.status}`)).toEqual([
      'GET 200',
      'GET 404',
      'GET 404',
      'PUT 200',
    ]);
    for (const request of kvs.requests) {
      expect(request.headers.authorization).toMatch(
        /^AWS4-ECDSA-P256-SHA256 Credential=AKIDKVSTEST0001\/\d{8}\/cloudfront-keyvaluestore\/aws4_request, SignedHeaders=[a-z0-9;-]*host;[a-z0-9;-]*x-amz-region-set[a-z0-9;-]*, Signature=[0-9a-f]+$/,
      );
      expect(request.headers['x-amz-region-set']).toBe('*');
      expect(request.headers.host).toMatch(/^123456789012\.localhost:\d+$/);
    }
    expect(kvs.requests[3]?.headers['if-match']).toMatch(/^KV/);
  });

  it('anchors an audit head in its own key over the ETag read, and reads it back beside the pointer', async () => {
    const store = releaseStore();
    const read = await store.read();
    const head = `7:sha256:${'a'.repeat(64)}`;
    const anchored = await store.anchorAuditHead(head, read.etag);
    expect(anchored?.etag).not.toBe(read.etag);
    expect(kvs.store.current().entries.get(AUDIT_HEAD_KEY)).toBe(head);
    expect((await store.read()).auditHead).toBe(head);
    // Over a stale ETag (the store changed since it was read) it writes nothing.
    await expectError(
      store.anchorAuditHead(`8:sha256:${'b'.repeat(64)}`, read.etag),
      'PRECONDITION_FAILED',
      /changed after it was read/,
    );
    expect(kvs.store.current().entries.get(AUDIT_HEAD_KEY)).toBe(head);
  });

  it("a switch carrying the chain's head writes both keys in its one request, or neither", async () => {
    const store = releaseStore();
    const read = await store.read();
    const head = `9:sha256:${'c'.repeat(64)}`;
    const sent = kvs.requests.length;
    const written = await store.write({ live: 'rel-next' }, read.etag, head);
    // One request (UpdateKeys, all or nothing), as a switch without it is one PutKey.
    expect(kvs.requests.length - sent).toBe(1);
    expect(kvs.store.current().entries.get(RELEASE_KEY)).toBe('{"live":"rel-next"}');
    expect(kvs.store.current().entries.get(AUDIT_HEAD_KEY)).toBe(head);
    expect(kvs.store.current().etag).toBe(written.etag);
    await expectError(
      store.write({ live: 'rel-other' }, read.etag, `10:sha256:${'d'.repeat(64)}`),
      'PRECONDITION_FAILED',
      /changed after it was read/,
    );
    expect(kvs.store.current().entries.get(RELEASE_KEY)).toBe('{"live":"rel-next"}');
    expect(kvs.store.current().entries.get(AUDIT_HEAD_KEY)).toBe(head);
  });

  it('names a store no switch named only for the stack whose state records its pointer', async () => {
    // A store switched before stores named their environment: a pointer, and no ENVIRONMENT_KEY.
    kvs.store.commit(kvs.store.current().etag, (draft) => draft.set(RELEASE_KEY, '{"live":"rel-prod"}'));
    const ownedBy = (stack: string, recorded: string | null) =>
      releaseStore({
        owner: {
          value: `{"v":1,"hostingBucket":"${stack}"}`,
          stack,
          owns: async (served) => served.live === recorded,
        },
      });
    const legacy = kvs.store.current();
    // Refused by its read, and by a write that read nothing first (the ETag from elsewhere).
    await expectError(ownedBy('qa', null).read(), 'CONFLICT', /names no environment yet/);
    await expectError(
      ownedBy('qa', 'rel-qa').write({ live: 'rel-qa' }, legacy.etag),
      'CONFLICT',
      /qa's state does not record its live release rel-prod as switched on this store[\s\S]*put-key --kvs-arn arn:\S+ --key frontendops-environment --value '\{"v":1,"hostingBucket":"qa"\}' --if-match KV/,
    );
    expect(kvs.store.current()).toEqual(legacy);
    // Its own stack: named with its next switch.
    const prod = ownedBy('prod', 'rel-prod');
    await prod.write({ live: 'rel-next' }, legacy.etag);
    expect(kvs.store.current().entries.get(ENVIRONMENT_KEY)).toBe('{"v":1,"hostingBucket":"prod"}');
    expect((await prod.read()).value).toEqual({ live: 'rel-next' });
  });

  it('refuses a write naming a stale ETag, and the pointer stays as it was', async () => {
    const store = releaseStore();
    const { etag } = await store.read();
    await store.write({ live: 'rel-a' }, etag);
    await expectError(
      store.write({ live: 'rel-b' }, etag),
      'PRECONDITION_FAILED',
      /changed after it was read/,
    );
    expect((await store.read()).value).toEqual({ live: 'rel-a' });
  });

  it('lets exactly one of many concurrent writers with the same ETag win', async () => {
    const reader = releaseStore();
    const writers = Array.from({ length: 8 }, () => releaseStore());
    const { etag } = await reader.read();
    const results = await Promise.allSettled(writers.map((w, i) => w.write({ live: `rel-${i}` }, etag)));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(isFrontendOpsError(r.reason, 'PRECONDITION_FAILED')).toBe(true);
    }
    expect((await reader.read()).value).toEqual({ live: `rel-${won[0]}` });
  });

  it('refuses an invalid pointer before sending anything', async () => {
    const store = releaseStore();
    const { etag } = await store.read();
    const sent = kvs.requests.length;
    await expectError(store.write({ live: '../x' }, etag), 'BAD_INPUT', /live: a release id is 1 to 64/);
    await expectError(store.write({ live: 'a', weight: 10 }, etag), 'BAD_INPUT', /a weight needs a canary/);
    await expectError(
      store.write({ live: 'a', canary: 'a', weight: 10 }, etag),
      'BAD_INPUT',
      /another release/,
    );
    await expectError(store.write({ live: 'a', canary: 'b', weight: 101 }, etag), 'BAD_INPUT', /weight/);
    expect(kvs.requests.length).toBe(sent);
  });

  it('creates the preview secret once, even when two deploys ask at the same time', async () => {
    const [a, b] = await Promise.all([releaseStore().previewSecret(), releaseStore().previewSecret()]);
    expect(a).toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(kvs.store.current().entries.get(PREVIEW_SECRET_KEY)).toBe(a);
    expect(await releaseStore().previewSecret()).toBe(a);
  });

  it('never replaces a preview secret another deploy created while it was creating one', async () => {
    // The adapter's requests: describe, get (missing), put. Another deploy's secret lands before each.
    for (let point = 0; point < 3; point += 1) {
      const raced = await startTestKvsApi({
        before: (index, store) => {
          if (index === point && !store.current().entries.has(PREVIEW_SECRET_KEY)) {
            store.commit(store.current().etag, (draft) =>
              draft.set(PREVIEW_SECRET_KEY, 'the-other-deploys-secret'),
            );
          }
        },
      });
      try {
        const secret = await createCloudFrontReleaseStore({
          kvsArn: raced.arn,
          endpoint: raced.endpoint,
          credentials: TEST_KVS_CREDENTIALS,
          maxAttempts: 1,
        }).previewSecret();
        expect([point, secret]).toEqual([point, 'the-other-deploys-secret']);
        expect(raced.store.current().entries.get(PREVIEW_SECRET_KEY)).toBe('the-other-deploys-secret');
      } finally {
        await raced.close();
      }
    }
  });

  it('says what is wrong: a corrupt pointer, a missing store, refused credentials, a bad ARN', async () => {
    kvs.store.commit(kvs.store.current().etag, (draft) => draft.set(RELEASE_KEY, 'live=a'));
    await expectError(
      releaseStore().read(),
      'UPSTREAM',
      /does not hold a valid release pointer.*If-Match KV/,
    );
    await expectError(
      releaseStore({ kvsArn: 'arn:aws:cloudfront::123456789012:key-value-store/other' }).read(),
      'NOT_FOUND',
      /does not exist\. Check the stack output releaseStoreArn/,
    );
    await expectError(
      releaseStore({ credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } }).read(),
      'UPSTREAM',
      /refused the credentials \(InvalidClientTokenId\)/,
    );
    await expectError(
      releaseStore({ credentials: { ...TEST_KVS_CREDENTIALS, secretAccessKey: 'wrong' } }).read(),
      'UPSTREAM',
      /refused the credentials \(SignatureDoesNotMatch\)/,
    );
    expect(() => releaseStore({ kvsArn: 'my-store' })).toThrow(/not a KeyValueStore ARN/);
  });

  it('takes its endpoint from AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE, the SDK’s standard variable', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE;
    process.env.AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE = kvs.endpoint;
    try {
      const store = createCloudFrontReleaseStore({
        kvsArn: kvs.arn,
        credentials: TEST_KVS_CREDENTIALS,
        maxAttempts: 1,
      });
      expect((await store.read()).value).toBeNull();
      expect(kvs.requests.length).toBeGreaterThan(0);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE;
      else process.env.AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE = saved;
    }
  });
});

describe('KeyValueStore API emulator, as the API reference documents it', () => {
  it('describes the store with its ETag, counts and status', async () => {
    const out = await sdk().send(new DescribeKeyValueStoreCommand({ KvsARN: kvs.arn }));
    expect(out).toMatchObject({
      ETag: kvs.store.current().etag,
      ItemCount: 0,
      TotalSizeInBytes: 0,
      KvsARN: kvs.arn,
      Status: 'READY',
    });
    expect(out.Created).toBeInstanceOf(Date);
  });

  it('puts, gets, lists page by page, updates all or nothing and deletes, each write with the current ETag', async () => {
    const client = sdk();
    let etag = kvs.store.current().etag;
    const put = await client.send(
      new PutKeyCommand({ KvsARN: kvs.arn, Key: 'k/ä b', Value: 'v1', IfMatch: etag }),
    );
    expect(put).toMatchObject({ ItemCount: 1, TotalSizeInBytes: Buffer.byteLength('k/ä bv1') });
    etag = put.ETag ?? '';
    expect(await client.send(new GetKeyCommand({ KvsARN: kvs.arn, Key: 'k/ä b' }))).toMatchObject({
      Key: 'k/ä b',
      Value: 'v1',
      ItemCount: 1,
    });

    const puts = Array.from({ length: 12 }, (_, i) => ({
      Key: `key-${String(i).padStart(2, '0')}`,
      Value: `${i}`,
    }));
    const update = await client.send(
      new UpdateKeysCommand({ KvsARN: kvs.arn, IfMatch: etag, Puts: puts, Deletes: [{ Key: 'k/ä b' }] }),
    );
    expect(update.ItemCount).toBe(12);
    etag = update.ETag ?? '';

    const first = await client.send(new ListKeysCommand({ KvsARN: kvs.arn, MaxResults: 5 }));
    expect(first.Items?.map((i) => i.Key)).toEqual(['key-00', 'key-01', 'key-02', 'key-03', 'key-04']);
    const all = [...(first.Items ?? [])];
    let token = first.NextToken;
    while (token) {
      const page = await client.send(
        new ListKeysCommand({ KvsARN: kvs.arn, MaxResults: 5, NextToken: token }),
      );
      all.push(...(page.Items ?? []));
      token = page.NextToken;
    }
    expect(all.map((i) => i.Key)).toEqual(puts.map((p) => p.Key));

    // One bad item fails the whole batch: nothing of it is applied.
    await expect(
      client.send(
        new UpdateKeysCommand({
          KvsARN: kvs.arn,
          IfMatch: etag,
          Puts: [{ Key: 'new', Value: 'x' }],
          Deletes: [{ Key: 'absent' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(kvs.store.current().entries.has('new')).toBe(false);

    const deleted = await client.send(
      new DeleteKeyCommand({ KvsARN: kvs.arn, Key: 'key-00', IfMatch: etag }),
    );
    expect(deleted.ItemCount).toBe(11);
  });

  it('answers the documented errors: 409 stale ETag, 404 missing key or store, 400 validation', async () => {
    const client = sdk();
    const etag = kvs.store.current().etag;
    await client.send(new PutKeyCommand({ KvsARN: kvs.arn, Key: 'a', Value: '1', IfMatch: etag }));
    const cases: [() => Promise<unknown>, string, number][] = [
      [
        () => client.send(new PutKeyCommand({ KvsARN: kvs.arn, Key: 'a', Value: '2', IfMatch: etag })),
        'ConflictException',
        409,
      ],
      [
        () => client.send(new GetKeyCommand({ KvsARN: kvs.arn, Key: 'missing' })),
        'ResourceNotFoundException',
        404,
      ],
      [
        () =>
          client.send(
            new DescribeKeyValueStoreCommand({
              KvsARN: 'arn:aws:cloudfront::123456789012:key-value-store/none',
            }),
          ),
        'ResourceNotFoundException',
        404,
      ],
      [
        () =>
          client.send(
            new PutKeyCommand({
              KvsARN: kvs.arn,
              Key: 'b',
              Value: '1',
              IfMatch: undefined as unknown as string,
            }),
          ),
        'ValidationException',
        400,
      ],
      [
        () =>
          client.send(
            new PutKeyCommand({
              KvsARN: kvs.arn,
              Key: 'b',
              Value: 'x'.repeat(1025),
              IfMatch: kvs.store.current().etag,
            }),
          ),
        'ValidationException',
        400,
      ],
      [
        () =>
          client.send(
            new PutKeyCommand({
              KvsARN: kvs.arn,
              Key: 'k'.repeat(513),
              Value: '1',
              IfMatch: kvs.store.current().etag,
            }),
          ),
        'ValidationException',
        400,
      ],
      [
        () =>
          client.send(
            new UpdateKeysCommand({
              KvsARN: kvs.arn,
              IfMatch: kvs.store.current().etag,
              Puts: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: '1' })),
            }),
          ),
        'ValidationException',
        400,
      ],
    ];
    for (const [send, name, status] of cases) {
      await expect(send()).rejects.toMatchObject({ name, $metadata: { httpStatusCode: status } });
    }
    expect(kvs.store.current().entries).toEqual(new Map([['a', '1']]));
  });

  it('refuses unsigned requests and requests signed with SigV4 instead of SigV4A', async () => {
    const url = `${kvs.endpoint.replace('localhost', '127.0.0.1')}/key-value-stores/${encodeURIComponent(kvs.arn)}`;
    const unsigned = await fetch(url);
    expect([unsigned.status, unsigned.headers.get('x-amzn-errortype')]).toEqual([
      403,
      'MissingAuthenticationToken',
    ]);
    const sigv4 = await fetch(url, {
      headers: {
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDKVSTEST0001/20261125/us-east-1/cloudfront-keyvaluestore/aws4_request, SignedHeaders=host, Signature=00',
      },
    });
    expect([sigv4.status, sigv4.headers.get('x-amzn-errortype')]).toEqual([400, 'IncompleteSignature']);
    expect(((await sigv4.json()) as { Message: string }).Message).toMatch(/Signature Version 4A/);
  });
});
