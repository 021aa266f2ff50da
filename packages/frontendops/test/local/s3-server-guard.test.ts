/**
 * Who the embedded S3 server lets in: only requests addressed to a loopback host and signed (SigV4)
 * with the local environment's key. s3rver alone takes anonymous requests and any SigV4 signature,
 * so anyone able to reach the port — another user of the machine, a web page through DNS rebinding —
 * could read the state bucket and write the site. Each attack is tried over the wire; what is
 * refused must also have written nothing, which a signed read afterwards checks.
 */
import { request as httpRequest } from 'node:http';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const SITE = 'site-hosting';
const STATE = 'site-state';
const SECRET_STATE = '{"deployRoleSecret":"do-not-leak"}';

let s3: TestS3;
let client: S3Client;
const clients: S3Client[] = [];

beforeAll(async () => {
  s3 = await startTestS3([SITE, STATE]);
  client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials, maxAttempts: 1 });
  clients.push(client);
  await s3.store(STATE).put('.frontendops/state/prod/live.json', SECRET_STATE);
  await s3.store(SITE).put('index.html', '<!doctype html><title>site</title>');
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await s3.stop();
});

/** A client of the real SDK with other credentials (one attempt: a refusal is not retried). */
function clientWith(credentials: { accessKeyId: string; secretAccessKey: string }, skewMs = 0) {
  const other = createS3Client({ endpoint: s3.endpoint, credentials, maxAttempts: 1 });
  if (skewMs) other.config.systemClockOffset = skewMs;
  clients.push(other);
  return other;
}

/** The object as the correctly signed client sees it, or null. */
async function signedRead(bucket: string, key: string): Promise<string | null> {
  const object = await s3.store(bucket).get(key);
  return object === null ? null : object.body.toString();
}

/** What the SDK reports for a refused request: S3's error code and the HTTP status. */
async function refusal(send: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  const error = (await send.then(
    () => {
      throw new Error('the request was accepted');
    },
    (e: unknown) => e,
  )) as { name: string; $metadata?: { httpStatusCode?: number } };
  return { code: error.name, status: error.$metadata?.httpStatusCode };
}

interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Sends a request as written (path and Host verbatim) to the server's port. */
function raw(request: RawRequest): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(s3.endpoint);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: hostname, port, method: request.method, path: request.path, headers: request.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(request.body);
  });
}

/** A request signed with the environment's real key by the SDK's own signer, for a Host of our choice. */
async function signedRaw(input: {
  method: string;
  path: string;
  host: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}): Promise<RawRequest> {
  const signer = new SignatureV4({
    credentials: s3.credentials,
    region: 'us-east-1',
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
  });
  const signed = await signer.sign({
    method: input.method,
    protocol: 'http:',
    hostname: input.host,
    path: input.path,
    query: input.query ?? {},
    headers: { host: input.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...input.headers },
    ...(input.body === undefined ? {} : { body: input.body }),
  });
  const search = new URLSearchParams(input.query ?? {}).toString();
  return {
    method: input.method,
    path: search ? `${input.path}?${search}` : input.path,
    headers: signed.headers,
    ...(input.body === undefined ? {} : { body: input.body }),
  };
}

const hostOf = (endpoint: string) => new URL(endpoint).host;
const codeOf = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

describe('the embedded S3 server refuses what is not signed with the environment key', () => {
  it('refuses an anonymous PUT, which writes nothing', async () => {
    const response = await fetch(`${s3.endpoint}/${SITE}/index.html`, {
      method: 'PUT',
      body: '<!doctype html><title>defaced</title>',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toMatch(/application\/xml/);
    const xml = await response.text();
    expect(codeOf(xml)).toBe('AccessDenied');
    expect(xml).toMatch(/Signature Version 4/);
    expect(await signedRead(SITE, 'index.html')).toBe('<!doctype html><title>site</title>');

    const created = await fetch(`${s3.endpoint}/${SITE}/planted.js`, { method: 'PUT', body: 'alert(1)' });
    expect(created.status).toBe(403);
    expect(await signedRead(SITE, 'planted.js')).toBeNull();
  });

  it('refuses anonymous reads, lists and deletes of the state bucket', async () => {
    const object = await fetch(`${s3.endpoint}/${STATE}/.frontendops/state/prod/live.json`);
    expect(object.status).toBe(403);
    expect(await object.text()).not.toContain('do-not-leak');
    const list = await fetch(`${s3.endpoint}/${STATE}?list-type=2`);
    expect(list.status).toBe(403);
    expect(await list.text()).not.toContain('live.json');
    const removed = await fetch(`${s3.endpoint}/${STATE}/.frontendops/state/prod/live.json`, {
      method: 'DELETE',
    });
    expect(removed.status).toBe(403);
    expect(await signedRead(STATE, '.frontendops/state/prod/live.json')).toBe(SECRET_STATE);
  });

  it('refuses a request signed with another secret for the same access key id', async () => {
    const forger = clientWith({ accessKeyId: s3.credentials.accessKeyId, secretAccessKey: 'guessed-secret' });
    expect(
      await refusal(forger.send(new PutObjectCommand({ Bucket: SITE, Key: 'forged.txt', Body: 'forged' }))),
    ).toEqual({ code: 'SignatureDoesNotMatch', status: 403 });
    expect(await signedRead(SITE, 'forged.txt')).toBeNull();
    expect(
      await refusal(
        forger.send(new GetObjectCommand({ Bucket: STATE, Key: '.frontendops/state/prod/live.json' })),
      ),
    ).toEqual({ code: 'SignatureDoesNotMatch', status: 403 });
  });

  it('refuses an access key id it does not know', async () => {
    const stranger = clientWith({
      accessKeyId: 'AKIDSOMEONEELSE',
      secretAccessKey: s3.credentials.secretAccessKey,
    });
    expect(
      await refusal(stranger.send(new PutObjectCommand({ Bucket: SITE, Key: 'stranger.txt', Body: 'x' }))),
    ).toEqual({ code: 'InvalidAccessKeyId', status: 403 });
    expect(await signedRead(SITE, 'stranger.txt')).toBeNull();
  });

  it('refuses a correctly signed request dated more than 15 minutes off', async () => {
    const late = clientWith(s3.credentials, -16 * 60_000);
    expect(
      await refusal(late.send(new PutObjectCommand({ Bucket: SITE, Key: 'late.txt', Body: 'late' }))),
    ).toEqual({ code: 'RequestTimeTooSkewed', status: 403 });
    const early = clientWith(s3.credentials, 16 * 60_000);
    expect(
      await refusal(early.send(new PutObjectCommand({ Bucket: SITE, Key: 'late.txt', Body: 'early' }))),
    ).toEqual({ code: 'RequestTimeTooSkewed', status: 403 });
    expect(await signedRead(SITE, 'late.txt')).toBeNull();
    // Within the 15 minutes a clock may be off, as S3 allows.
    const drifting = clientWith(s3.credentials, 10 * 60_000);
    await drifting.send(new PutObjectCommand({ Bucket: SITE, Key: 'late.txt', Body: 'drift' }));
    expect(await signedRead(SITE, 'late.txt')).toBe('drift');
  });

  it('refuses a signed request replayed on another key, or with an unsigned x-amz header added', async () => {
    const host = hostOf(s3.endpoint);
    const signed = await signedRaw({ method: 'PUT', path: `/${SITE}/allowed.txt`, host, body: 'ok' });
    const moved = await raw({ ...signed, path: `/${SITE}/index.html`, body: 'replayed' });
    expect([moved.status, codeOf(moved.body)]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await signedRead(SITE, 'index.html')).toBe('<!doctype html><title>site</title>');

    const copied = await raw({
      ...signed,
      headers: { ...signed.headers, 'x-amz-copy-source': `/${STATE}/.frontendops/state/prod/live.json` },
    });
    expect([copied.status, codeOf(copied.body)]).toEqual([403, 'AccessDenied']);
    expect(await signedRead(SITE, 'allowed.txt')).toBeNull();

    expect((await raw(signed)).status).toBe(200);
    expect(await signedRead(SITE, 'allowed.txt')).toBe('ok');
  });

  it('refuses presigned (query-string) authentication, which nothing here uses', async () => {
    const signer = new SignatureV4({
      credentials: s3.credentials,
      region: 'us-east-1',
      service: 's3',
      sha256: Sha256,
      uriEscapePath: false,
    });
    const host = hostOf(s3.endpoint);
    const presigned = await signer.presign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: host,
        path: `/${STATE}/.frontendops/state/prod/live.json`,
        query: {},
        headers: { host },
      },
      { expiresIn: 300 },
    );
    const search = new URLSearchParams(presigned.query as Record<string, string>).toString();
    const response = await fetch(`${s3.endpoint}${presigned.path}?${search}`);
    expect(response.status).toBe(403);
    const xml = await response.text();
    expect(codeOf(xml)).toBe('AccessDenied');
    expect(xml).toMatch(/presigned URL/);
    expect(xml).not.toContain('do-not-leak');
  });
});

describe('the embedded S3 server answers only requests addressed to a loopback host', () => {
  it('refuses a correctly signed request whose Host is another name (DNS rebinding)', async () => {
    const port = new URL(s3.endpoint).port;
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.nip.io:${port}`]) {
      const write = await raw(
        await signedRaw({ method: 'PUT', path: `/${SITE}/rebound.txt`, host, body: 'x' }),
      );
      expect([host, write.status, codeOf(write.body)]).toEqual([host, 403, 'AccessDenied']);
      const read = await raw(
        await signedRaw({ method: 'GET', path: `/${STATE}/.frontendops/state/prod/live.json`, host }),
      );
      expect([host, read.status]).toEqual([host, 403]);
      expect(read.body).not.toContain('do-not-leak');
    }
    expect(await signedRead(SITE, 'rebound.txt')).toBeNull();
  });

  it('accepts 127.0.0.1, localhost and [::1] with any port', async () => {
    const port = new URL(s3.endpoint).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
      const read = await raw(await signedRaw({ method: 'GET', path: `/${SITE}/index.html`, host }));
      expect([host, read.status]).toEqual([host, 200]);
    }
  });
});

describe('the embedded S3 server keeps every key inside its bucket', () => {
  it('refuses a signed request whose key has a "." or ".." segment', async () => {
    const host = hostOf(s3.endpoint);
    for (const path of [
      `/${SITE}/../${STATE}/.frontendops/state/prod/live.json`,
      `/${SITE}/%2e%2e/${STATE}/.frontendops/state/prod/live.json`,
      `/${SITE}/..%2f${STATE}/.frontendops/state/prod/live.json`,
      `/${SITE}/./index.html`,
    ]) {
      const read = await raw(await signedRaw({ method: 'GET', path, host }));
      expect([path, read.status, codeOf(read.body)]).toEqual([path, 400, 'InvalidURI']);
      expect(read.body).not.toContain('do-not-leak');
    }
    const write = await raw(
      await signedRaw({ method: 'PUT', path: `/${SITE}/../${STATE}/planted.json`, host, body: 'x' }),
    );
    expect(write.status).toBe(400);
    expect(await signedRead(STATE, 'planted.json')).toBeNull();
  });

  it('refuses a key with a name longer than a file name may be here, saying so (not "try again")', async () => {
    const name = `${'日'.repeat(81)}.html`; // 248 bytes: a file system takes 255, less s3rver's suffixes
    const refused = await client
      .send(new PutObjectCommand({ Bucket: SITE, Key: `pages/${name}`, Body: 'x' }))
      .catch(
        (error: unknown) => error as { name: string; message: string; $metadata: { httpStatusCode: number } },
      );
    expect(refused).toMatchObject({ name: 'KeyTooLongError', $metadata: { httpStatusCode: 400 } });
    expect((refused as Error).message).toMatch(
      /keeps each object as a file, and the name .* is 248 bytes in UTF-8, more than the 200/,
    );
    expect((refused as Error).message).not.toMatch(/try again/i);
    expect((await s3.store(SITE).list('pages/')).map((o) => o.key)).toEqual([]);
    // Read, such a key is one the server does not hold, as S3 answers it.
    const read = await client
      .send(new GetObjectCommand({ Bucket: SITE, Key: `pages/${name}` }))
      .catch((error: unknown) => error as { name: string; $metadata: { httpStatusCode: number } });
    expect(read).toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    // A name that fits is kept as before.
    const fits = `${'日'.repeat(60)}.html`;
    await client.send(new PutObjectCommand({ Bucket: SITE, Key: `pages/${fits}`, Body: 'ok' }));
    expect(await signedRead(SITE, `pages/${fits}`)).toBe('ok');
  });
});

describe('the embedded S3 server serves a correctly signed client of the real SDK', () => {
  it('puts, heads, gets, lists, copies and deletes', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: SITE, Key: 'sdk/a b.txt', Body: 'hello', ContentType: 'text/plain' }),
    );
    const head = await client.send(new HeadObjectCommand({ Bucket: SITE, Key: 'sdk/a b.txt' }));
    expect([head.ContentLength, head.ContentType]).toEqual([5, 'text/plain']);
    const got = await client.send(new GetObjectCommand({ Bucket: SITE, Key: 'sdk/a b.txt' }));
    expect(await got.Body?.transformToString()).toBe('hello');
    // Keys and queries with characters the signature encodes (s3rver cannot copy a key with "+").
    await client.send(new PutObjectCommand({ Bucket: SITE, Key: 'sdk/x+y=z&ü.txt', Body: 'plus' }));
    const odd = await client.send(new ListObjectsV2Command({ Bucket: SITE, Prefix: 'sdk/x+y=z&' }));
    expect(odd.Contents?.map((o) => o.Key)).toEqual(['sdk/x+y=z&ü.txt']);
    await client.send(new DeleteObjectCommand({ Bucket: SITE, Key: 'sdk/x+y=z&ü.txt' }));
    await client.send(
      new CopyObjectCommand({ Bucket: STATE, Key: 'sdk/copy.txt', CopySource: `${SITE}/sdk/a%20b.txt` }),
    );
    expect(await signedRead(STATE, 'sdk/copy.txt')).toBe('hello');
    const listed = await client.send(new ListObjectsV2Command({ Bucket: SITE, Prefix: 'sdk/', MaxKeys: 10 }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['sdk/a b.txt']);
    await client.send(new DeleteObjectCommand({ Bucket: SITE, Key: 'sdk/a b.txt' }));
    const deleted = await client.send(
      new DeleteObjectsCommand({ Bucket: STATE, Delete: { Objects: [{ Key: 'sdk/copy.txt' }] } }),
    );
    expect(deleted.Deleted?.map((d) => d.Key)).toEqual(['sdk/copy.txt']);
    expect(await signedRead(SITE, 'sdk/a b.txt')).toBeNull();
    expect(await signedRead(STATE, 'sdk/copy.txt')).toBeNull();
  });

  it('uploads in parts', async () => {
    // Under a prefix of its own: the case above lists everything under sdk/.
    const Key = 'parts/big.bin';
    const first = Buffer.alloc(5 * 1024 * 1024, 'a');
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: SITE, Key }));
    const parts = [];
    for (const [index, body] of [first, Buffer.from('tail')].entries()) {
      const { ETag } = await client.send(
        new UploadPartCommand({
          Bucket: SITE,
          Key,
          UploadId,
          PartNumber: index + 1,
          Body: body,
        }),
      );
      parts.push({ ETag, PartNumber: index + 1 });
    }
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: SITE,
        Key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const head = await client.send(new HeadObjectCommand({ Bucket: SITE, Key }));
    expect(head.ContentLength).toBe(first.length + 4);
  });

  it('records what it refused with the status it answered', async () => {
    await fetch(`${s3.endpoint}/${SITE}/recorded.txt`, { method: 'PUT', body: 'x' });
    await s3.settle();
    expect(s3.requests.filter((r) => r.key === 'recorded.txt').map((r) => [r.method, r.status])).toEqual([
      ['PUT', 403],
    ]);
  });
});
