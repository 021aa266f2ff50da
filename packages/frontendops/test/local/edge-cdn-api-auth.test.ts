/**
 * The local edge's CloudFront API, attacked as the embedded S3 server is: by another user of this
 * machine, or a web page in the operator's browser (a simple cross-origin POST needs no preflight, and
 * DNS rebinding gives it a name of its own for 127.0.0.1). It takes only requests addressed to loopback
 * and signed (SigV4, "cloudfront") with the environment's key, whose body is the one signed; anything
 * else is refused as AWS refuses it, and creates nothing: no invalidation, no cache purged, nothing listed.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudFrontCdn } from '../../src/adapters/cloudfront.ts';
import { type LocalEdge, startLocalEdge } from '../../src/local/edge.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const DISTRIBUTION = 'E1ATTACKED';
const HOSTING = 'attacked-hosting';
const key = { accessKeyId: 'AKIDLOCALCDN', secretAccessKey: 'local-cdn-secret' };
const PATH = `/2020-05-31/distribution/${DISTRIBUTION}/invalidation`;
const batch = (reference: string, path = '/*') =>
  `<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Paths><Quantity>1</Quantity><Items><Path>${path}</Path></Items></Paths><CallerReference>${reference}</CallerReference></InvalidationBatch>`;

let s3: TestS3;
let edge: LocalEdge;

beforeAll(async () => {
  s3 = await startTestS3([HOSTING]);
  edge = await startLocalEdge({
    origin: s3.store(HOSTING),
    distributionId: DISTRIBUTION,
    apiCredentials: key,
  });
});
afterAll(async () => {
  await edge?.close();
  await s3?.stop();
});

/** A request exactly as written: method, path, headers and body. */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<{ status: number; body: string }> {
  const url = new URL(edge.cdnEndpoint);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Headers of a request signed as the SDK signs one (SigV4, us-east-1, cloudfront) with `credentials`. */
async function signed(
  body: string,
  options: { credentials?: typeof key; host?: string; service?: string } = {},
): Promise<Record<string, string>> {
  const host = options.host ?? new URL(edge.cdnEndpoint).host;
  const signer = new SignatureV4({
    credentials: options.credentials ?? key,
    region: 'us-east-1',
    service: options.service ?? 'cloudfront',
    sha256: Sha256,
  });
  const request = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: host,
    path: PATH,
    headers: {
      host,
      'content-type': 'application/xml',
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    },
    body,
  });
  return request.headers as Record<string, string>;
}

describe("the local edge's CloudFront API refuses what is not the environment's own", () => {
  it("a web page's simple POST (text/plain, no signature, another origin): 403, nothing created", async () => {
    const before = edge.stats().invalidations.length;
    const answer = await send(
      'POST',
      PATH,
      { 'content-type': 'text/plain', origin: 'http://evil.example', host: new URL(edge.cdnEndpoint).host },
      batch('evil-1'),
    );
    expect(answer.status).toBe(403);
    expect(answer.body).toMatch(/<Code>AccessDenied<\/Code>.*anonymous requests are refused/s);
    expect(edge.stats().invalidations.length).toBe(before);
  });

  it('a rebound name for 127.0.0.1, even signed with the key: 403, and no list of invalidations', async () => {
    const rebound = 'rebound.attacker.example';
    const listed = await send('GET', PATH, { host: rebound });
    expect(listed.status).toBe(403);
    expect(listed.body).not.toMatch(/CallerReference/);
    const body = batch('evil-2');
    const created = await send('POST', PATH, await signed(body, { host: rebound }), body);
    expect(created.status).toBe(403);
    expect(created.body).toMatch(/answers only requests addressed to 127\.0\.0\.1, localhost or \[::1\]/);
  });

  it('another key, another service, or a body other than the one signed: refused, nothing created', async () => {
    const before = edge.stats().invalidations.length;
    const body = batch('evil-3');
    const otherKey = await send(
      'POST',
      PATH,
      await signed(body, { credentials: { ...key, accessKeyId: 'AKIDOTHER' } }),
      body,
    );
    expect(otherKey.body).toMatch(/<Code>InvalidAccessKeyId<\/Code>/);
    const wrongSecret = await send(
      'POST',
      PATH,
      await signed(body, { credentials: { ...key, secretAccessKey: 'guess' } }),
      body,
    );
    expect(wrongSecret.body).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/);
    const s3Signed = await send('POST', PATH, await signed(body, { service: 's3' }), body);
    expect(s3Signed.body).toMatch(/incorrect service &quot;s3&quot;/);
    // A signed request replayed with other paths in its body (its header still states the old hash).
    const replayed = await send('POST', PATH, await signed(body), batch('evil-3', '/index.html'));
    expect(replayed.status).toBe(400);
    expect(replayed.body).toMatch(/<Code>XAmzContentSHA256Mismatch<\/Code>/);
    for (const answer of [otherKey, wrongSecret, s3Signed]) expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(edge.stats().invalidations.length).toBe(before);
  });

  it("the environment's own adapter, signed with its key, is served", async () => {
    const cdn = createCloudFrontCdn({
      distributionId: DISTRIBUTION,
      endpoint: edge.cdnEndpoint,
      credentials: key,
    });
    const before = edge.stats().invalidations.length;
    const made = await cdn.invalidate({ paths: ['/index.html'], callerReference: 'ours-1' });
    expect(made.id).toMatch(/^I/);
    expect(edge.stats().invalidations.length).toBe(before + 1);
  });
});
