import { CloudFrontClient, GetInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { XMLParser } from 'fast-xml-parser';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CloudFrontCdnOptions,
  createCloudFrontCdn,
  FIRST_WAIT_MS,
} from '../../src/adapters/cloudfront.ts';
import { planInvalidationBatches } from '../../src/engine/invalidation.ts';
import { type FrontendOpsError, isFrontendOpsError } from '../../src/errors.ts';
import {
  type CloudFrontDouble,
  type CloudFrontDoubleOptions,
  startCloudFrontDouble,
} from '../support/cloudfront-double.ts';

const credentials = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' };
const xml = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false });

let double: CloudFrontDouble | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

async function setUp(
  doubleOptions: CloudFrontDoubleOptions = {},
  cdnOptions: Partial<CloudFrontCdnOptions> = {},
) {
  double = await startCloudFrontDouble(doubleOptions);
  const sleeps: number[] = [];
  const cdn = createCloudFrontCdn({
    distributionId: double.distributionId,
    endpoint: double.endpoint,
    credentials,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...cdnOptions,
  });
  return { double, cdn, sleeps };
}

const range = (count: number, make: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => make(i));

async function caught(promise: Promise<unknown>): Promise<FrontendOpsError> {
  try {
    await promise;
  } catch (error) {
    return error as FrontendOpsError;
  }
  throw new Error('expected the promise to reject');
}

describe('CloudFront adapter against the CloudFront double (real AWS SDK, real HTTP)', () => {
  it('sends CreateInvalidation as the API reference documents and returns the invalidation', async () => {
    const { double, cdn } = await setUp();
    const result = await cdn.invalidate({ paths: ['/index.html', '/'], callerReference: 'deploy-abc-0' });

    const [request] = double.createRequests();
    expect(request?.path).toBe(`/2020-05-31/distribution/${double.distributionId}/invalidation`);
    expect(String(request?.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST\//);
    const body = xml.parse(request?.body ?? '');
    expect(body.InvalidationBatch.CallerReference).toBe('deploy-abc-0');
    expect(body.InvalidationBatch.Paths.Quantity).toBe('2');
    expect(body.InvalidationBatch.Paths.Items.Path).toEqual(['/index.html', '/']);

    const [created] = double.invalidations();
    expect(result).toEqual({ id: created?.id, status: 'Completed' });
  });

  it('answers GetInvalidation in the documented shape (read back through the SDK)', async () => {
    const { double, cdn } = await setUp();
    const { id } = await cdn.invalidate({ paths: ['/a.html'], callerReference: 'ref-get' });
    const client = new CloudFrontClient({ region: 'us-east-1', endpoint: double.endpoint, credentials });
    const out = await client.send(
      new GetInvalidationCommand({ DistributionId: double.distributionId, Id: id }),
    );
    expect(out.Invalidation?.Id).toBe(id);
    expect(out.Invalidation?.Status).toBe('Completed');
    expect(out.Invalidation?.CreateTime).toBeInstanceOf(Date);
    expect(out.Invalidation?.InvalidationBatch).toEqual({
      CallerReference: 'ref-get',
      Paths: { Quantity: 1, Items: ['/a.html'] },
    });
    client.destroy();
  });

  it('sends 7,000 exact paths as three batches within the 3,000-path limit', async () => {
    const { double, cdn } = await setUp();
    const paths = range(7000, (i) => `/p${String(i).padStart(5, '0')}/index.html`);
    const batches = planInvalidationBatches(paths, { collapseThreshold: Number.POSITIVE_INFINITY });
    const results = [];
    for (const [i, batch] of batches.entries()) {
      results.push(await cdn.invalidate({ paths: batch, callerReference: `deploy-7k-${i}` }));
    }
    const sent = double.createRequests().map((r) => xml.parse(r.body).InvalidationBatch);
    expect(sent.map((b) => b.Paths.Quantity)).toEqual(['3000', '3000', '1000']);
    expect(sent.map((b) => b.CallerReference)).toEqual(['deploy-7k-0', 'deploy-7k-1', 'deploy-7k-2']);
    expect(new Set(results.map((r) => r.id)).size).toBe(3);
    expect(double.invalidations().flatMap((inv) => inv.paths)).toEqual(paths);
  });

  it('sends a collapsed wildcard, and "/*" when exact paths would need several batches', async () => {
    const { double, cdn } = await setUp();
    const locales = range(30, (i) => `/locales/${i}.json`);
    const [batch] = planInvalidationBatches([...locales, '/index.html']);
    await cdn.invalidate({ paths: batch ?? [], callerReference: 'collapse-0' });
    const bigPlan = planInvalidationBatches(range(7000, (i) => `/p${i}.html`));
    await cdn.invalidate({ paths: bigPlan[0] ?? [], callerReference: 'collapse-1' });
    expect(double.invalidations().map((inv) => inv.paths)).toEqual([['/index.html', '/locales/*'], ['/*']]);
  });

  it('returns the same invalidation when a batch is sent again with its CallerReference, creating nothing', async () => {
    const { double, cdn } = await setUp({ completion: 'manual' });
    const request = { paths: ['/index.html', '/robots.txt'], callerReference: 'deploy-retry-0' };
    const first = await cdn.invalidate(request);
    const again = await cdn.invalidate({ ...request, paths: ['/robots.txt', '/index.html'] });
    expect(again).toEqual(first);
    expect(first.status).toBe('InProgress');
    expect(double.createRequests()).toHaveLength(2);
    expect(double.invalidations()).toHaveLength(1);
  });

  it('waits out TooManyInvalidationsInProgress with exponential backoff, then succeeds', async () => {
    const { double, cdn, sleeps } = await setUp();
    double.failNext(3, 'TooManyInvalidationsInProgress');
    const result = await cdn.invalidate({ paths: ['/index.html'], callerReference: 'busy-0' });
    expect(sleeps).toEqual([FIRST_WAIT_MS, FIRST_WAIT_MS * 2, FIRST_WAIT_MS * 4]);
    expect(double.createRequests().map((r) => r.status)).toEqual([400, 400, 400, 201]);
    expect(result.id).toBe(double.invalidations()[0]?.id);
  });

  it('gives up after maxWaitMs with a clear UPSTREAM error, having created nothing', async () => {
    const { double, cdn, sleeps } = await setUp({}, { maxWaitMs: 20_000 });
    double.failNext(100, 'TooManyInvalidationsInProgress');
    const error = await caught(cdn.invalidate({ paths: ['/index.html'], callerReference: 'busy-1' }));
    expect(isFrontendOpsError(error, 'UPSTREAM')).toBe(true);
    expect(error.message).toMatch(/too many invalidations in progress after waiting 20 s/);
    expect(error.message).toMatch(/run the same deploy again/);
    expect(sleeps).toEqual([5_000, 10_000, 5_000]);
    expect(double.invalidations()).toHaveLength(0);
  });

  it('queues behind the real in-progress limits: 3,000 paths, then 15 wildcards', async () => {
    const { double, cdn, sleeps } = await setUp({ completion: 'manual' });
    const sleepingCdn = createCloudFrontCdn({
      distributionId: double.distributionId,
      endpoint: double.endpoint,
      credentials,
      sleep: async (ms) => {
        sleeps.push(ms);
        double.complete(); // the running invalidations finish while we wait
      },
    });
    await cdn.invalidate({ paths: range(3000, (i) => `/f${i}.html`), callerReference: 'limit-0' });
    await sleepingCdn.invalidate({ paths: ['/one-more.html'], callerReference: 'limit-1' });
    expect(sleeps).toEqual([FIRST_WAIT_MS]);

    await cdn.invalidate({ paths: range(15, (i) => `/d${i}/*`), callerReference: 'limit-2' });
    await sleepingCdn.invalidate({ paths: ['/d99/*'], callerReference: 'limit-3' });
    expect(sleeps).toEqual([FIRST_WAIT_MS, FIRST_WAIT_MS]);
    expect(double.createRequests().map((r) => r.status)).toEqual([201, 400, 201, 201, 400, 201]);
  });

  it('reports a reused CallerReference with different paths as CONFLICT (documented 409 and observed 400)', async () => {
    for (const reusedReferenceError of ['InvalidationBatchAlreadyExists', 'InvalidArgument'] as const) {
      const { double, cdn } = await setUp({ reusedReferenceError });
      await cdn.invalidate({ paths: ['/a.html'], callerReference: 'deploy-x-0' });
      const error = await caught(cdn.invalidate({ paths: ['/b.html'], callerReference: 'deploy-x-0' }));
      expect(isFrontendOpsError(error, 'CONFLICT')).toBe(true);
      expect(error.message).toMatch(/"deploy-x-0" was already used/);
      expect(double.createRequests().map((r) => r.status)).toEqual([
        201,
        reusedReferenceError === 'InvalidArgument' ? 400 : 409,
      ]);
      await double.close();
    }
  });

  it('lets the SDK retry 5xx and throttling without the backoff for in-progress limits', async () => {
    const { double, cdn, sleeps } = await setUp();
    double.failNext(1, 'InternalError');
    double.failNext(1, 'Throttling');
    await cdn.invalidate({ paths: ['/index.html'], callerReference: 'flaky-0' });
    expect(double.createRequests().map((r) => r.status)).toEqual([500, 400, 201]);
    expect(sleeps).toEqual([]);
  });

  it('fails with UPSTREAM when 5xx persists beyond maxAttempts', async () => {
    const { double, cdn } = await setUp({}, { maxAttempts: 2 });
    double.failNext(5, 'InternalError');
    const error = await caught(cdn.invalidate({ paths: ['/index.html'], callerReference: 'down-0' }));
    expect(isFrontendOpsError(error, 'UPSTREAM')).toBe(true);
    expect(error.message).toMatch(/InternalError/);
    expect(double.createRequests()).toHaveLength(2);
  });

  it('reports an unknown distribution as NOT_FOUND', async () => {
    const { double } = await setUp();
    const cdn = createCloudFrontCdn({
      distributionId: 'ENOSUCHDIST',
      endpoint: double.endpoint,
      credentials,
    });
    const error = await caught(cdn.invalidate({ paths: ['/a.html'], callerReference: 'nd-0' }));
    expect(isFrontendOpsError(error, 'NOT_FOUND')).toBe(true);
    expect(double.requests.map((r) => r.status)).toEqual([404]);
  });

  it('refuses bad requests before sending anything', async () => {
    const { double, cdn } = await setUp();
    const bad = [
      { paths: [], callerReference: 'r' },
      { paths: ['index.html'], callerReference: 'r' },
      { paths: ['/a'], callerReference: '' },
      { paths: range(3001, (i) => `/${i}`), callerReference: 'r' },
      { paths: range(16, (i) => `/${i}/*`), callerReference: 'r' },
    ];
    for (const request of bad) {
      const error = await caught(cdn.invalidate(request));
      expect(isFrontendOpsError(error, 'BAD_INPUT')).toBe(true);
      expect(error.message).toMatch(/planInvalidationBatches/);
    }
    expect(() => createCloudFrontCdn({ distributionId: '' })).toThrow(/distributionId/);
    expect(double.requests).toHaveLength(0);
  });
});

describe('CloudFront double answers malformed requests as CloudFront does', () => {
  const post = (d: CloudFrontDouble, body: string) =>
    fetch(`${d.endpoint}/2020-05-31/distribution/${d.distributionId}/invalidation`, { method: 'POST', body });
  const errorCodeOf = async (response: Response) => xml.parse(await response.text()).ErrorResponse.Error.Code;
  const batch = (quantity: number, paths: string[]) =>
    `<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">` +
    `<CallerReference>raw</CallerReference><Paths><Quantity>${quantity}</Quantity><Items>` +
    `${paths.map((p) => `<Path>${p}</Path>`).join('')}</Items></Paths></InvalidationBatch>`;

  it('InconsistentQuantities, MissingBody, InvalidArgument, BatchTooLarge, NoSuchInvalidation', async () => {
    double = await startCloudFrontDouble();
    const inconsistent = await post(double, batch(2, ['/a']));
    expect([inconsistent.status, await errorCodeOf(inconsistent)]).toEqual([400, 'InconsistentQuantities']);
    const missing = await post(double, '');
    expect([missing.status, await errorCodeOf(missing)]).toEqual([400, 'MissingBody']);
    const invalid = await post(double, batch(1, ['no-slash']));
    expect([invalid.status, await errorCodeOf(invalid)]).toEqual([400, 'InvalidArgument']);
    const tooLarge = await post(
      double,
      batch(
        3001,
        range(3001, (i) => `/${i}`),
      ),
    );
    expect([tooLarge.status, await errorCodeOf(tooLarge)]).toEqual([413, 'BatchTooLarge']);
    const unknown = await fetch(
      `${double.endpoint}/2020-05-31/distribution/${double.distributionId}/invalidation/INOPE`,
    );
    expect([unknown.status, await errorCodeOf(unknown)]).toEqual([404, 'NoSuchInvalidation']);
    const created = await post(double, batch(1, ['/ok.html']));
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toMatch(
      /\/2020-05-31\/distribution\/E2QWRUHAPOMQZL\/invalidation\/I\w+$/,
    );
    expect(double.invalidations()).toHaveLength(1);
  });
});
