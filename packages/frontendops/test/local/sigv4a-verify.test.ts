/**
 * The SigV4A check of the KeyValueStore emulator (src/local/sigv4a-verify.ts) against the SDK's own
 * pure-JS signer (@aws-sdk/signature-v4a): what it signs verifies; any change after signing, a
 * clock off by more than 15 minutes or another secret does not.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4a } from '@aws-sdk/signature-v4a';
import { describe, expect, it } from 'vitest';
import { createSigV4aVerifier, type SignedRequest } from '../../src/local/sigv4a-verify.ts';

const CREDENTIALS = { accessKeyId: 'AKIDSIGV4ATEST', secretAccessKey: 'sigv4a-test-secret' };
const SERVICE = 'cloudfront-keyvaluestore';

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Data) =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** The SDK's hash interface over node:crypto (HMAC when given a secret). */
class Sha256 {
  private readonly hash;
  constructor(secret?: Data) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Data) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
  reset() {}
}

async function signed(input: {
  method: string;
  path: string;
  query?: Record<string, string>;
  body?: string;
}) {
  const signer = new SignatureV4a({
    credentials: CREDENTIALS,
    region: '*',
    service: SERVICE,
    sha256: Sha256,
  });
  const request = await signer.sign(
    {
      method: input.method,
      protocol: 'http:',
      hostname: '123456789012.localhost',
      port: 4599,
      path: input.path,
      query: input.query ?? {},
      headers: {
        host: '123456789012.localhost:4599',
        ...(input.body ? { 'content-type': 'application/json', 'if-match': 'KV0AB12C3DEF456' } : {}),
      },
      body: input.body,
    },
    { signingRegion: '*' },
  );
  const query = Object.entries(input.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return {
    method: input.method,
    url: query ? `${input.path}?${query}` : input.path,
    headers: request.headers as Record<string, string>,
    body: Buffer.from(input.body ?? ''),
  } satisfies SignedRequest;
}

const verifier = (now = Date.now()) =>
  createSigV4aVerifier({ credentials: [CREDENTIALS], service: SERVICE, now: () => now });

describe('SigV4A verification', () => {
  it('accepts what the SDK signed: a path with encoded characters, a query, a JSON body', async () => {
    const put = await signed({
      method: 'PUT',
      path: '/key-value-stores/arn%3Aaws%3Acloudfront%3A%3A123456789012%3Akey-value-store%2Fabc/keys/k%2F%C3%A4%20b',
      body: '{"Value":"v"}',
    });
    expect(verifier()(put)).toEqual({ ok: true, accessKeyId: CREDENTIALS.accessKeyId });
    const list = await signed({
      method: 'GET',
      path: '/key-value-stores/x/keys',
      query: { MaxResults: '5', NextToken: 'a b/c=' },
    });
    expect(verifier()(list)).toEqual({ ok: true, accessKeyId: CREDENTIALS.accessKeyId });
  });

  it('refuses the request once anything signed changed: body, header, path, query', async () => {
    const base = await signed({
      method: 'PUT',
      path: '/key-value-stores/x/keys/k',
      query: { a: '1' },
      body: '{"Value":"v"}',
    });
    const changed: SignedRequest[] = [
      {
        ...base,
        body: Buffer.from('{"Value":"w"}'),
        headers: {
          ...base.headers,
          'x-amz-content-sha256': createHash('sha256').update('{"Value":"w"}').digest('hex'),
        },
      },
      { ...base, headers: { ...base.headers, 'if-match': 'KV0STALE000000' } },
      { ...base, url: base.url.replace('/keys/k', '/keys/j') },
      { ...base, url: base.url.replace('a=1', 'a=2') },
    ];
    for (const request of changed) {
      expect(verifier()(request)).toMatchObject({ ok: false, status: 403, code: 'SignatureDoesNotMatch' });
    }
    expect(verifier()({ ...base, body: Buffer.from('{"Value":"w"}') })).toMatchObject({
      ok: false,
      code: 'SignatureDoesNotMatch',
      message: expect.stringMatching(/x-amz-content-sha256/),
    });
  });

  it('refuses another secret, an unknown key, a stale clock and a malformed header', async () => {
    const request = await signed({ method: 'GET', path: '/key-value-stores/x' });
    expect(
      createSigV4aVerifier({ credentials: [{ ...CREDENTIALS, secretAccessKey: 'other' }], service: SERVICE })(
        request,
      ),
    ).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    expect(createSigV4aVerifier({ credentials: [], service: SERVICE })(request)).toMatchObject({
      ok: false,
      status: 403,
      code: 'InvalidClientTokenId',
    });
    expect(verifier(Date.now() + 16 * 60_000)(request)).toMatchObject({
      ok: false,
      status: 400,
      code: 'RequestExpired',
    });
    expect(createSigV4aVerifier({ credentials: [CREDENTIALS], service: 's3' })(request)).toMatchObject({
      ok: false,
      code: 'SignatureDoesNotMatch',
    });
    expect(
      verifier()({ ...request, headers: { ...request.headers, authorization: 'Bearer x' } }),
    ).toMatchObject({
      ok: false,
      code: 'IncompleteSignature',
    });
  });
});
