import { type CfEvent, eventFromHttp, loadEdgeFunction } from 'frontendops/edge-function';
import { describe, expect, it } from 'vitest';
import { VIEWER_REQUEST_CODE } from '../spa-rewrite.ts';

// Runs the deployed function source as CloudFront would (the tool's cloudfront-js-2.0 sandbox): a
// viewer-request event in, the request CloudFront sends to S3 out. What the SPA rewrite proved
// still holds, before the first atomic release (no pointer: the bucket root) and after it.
const fn = loadEdgeFunction(VIEWER_REQUEST_CODE);
const NO_POINTER = new Map<string, string>();
const LIVE = new Map([['frontendops-release', '{"live":"a1b2c3d-0123456789","spa":true}']]);

const rewrite = (uri: string, entries: ReadonlyMap<string, string> = NO_POINTER): string | number => {
  const event: CfEvent = eventFromHttp(
    { method: 'GET', url: uri, headers: {} },
    { id: 'E1', domainName: 'd.example' },
  );
  const result = fn.run(event, { kvs: { entries } });
  if (result.kind === 'error') throw new Error(result.error);
  return result.kind === 'request' ? result.request.uri : result.response.statusCode;
};

describe('viewer-request function: the SPA rewrite', () => {
  it('sends extension-less app routes to the app’s index.html', () => {
    for (const route of ['/', '/accounts', '/accounts/', '/reports/2026/q3']) {
      expect(rewrite(route)).toBe('/index.html');
      expect(rewrite(route, LIVE)).toBe('/_releases/a1b2c3d-0123456789/index.html');
    }
  });

  it('passes every path with a file extension through, so a missing asset is never answered with HTML', () => {
    for (const uri of [
      '/assets/index-DC110Kee.js',
      '/assets/gone-00000000.js',
      '/favicon.svg',
      '/robots.txt',
    ]) {
      expect(rewrite(uri)).toBe(uri);
    }
    // With a release live, hashed assets stay where they are; other files are the release's own.
    expect(rewrite('/assets/gone-00000000.js', LIVE)).toBe('/assets/gone-00000000.js');
    expect(rewrite('/robots.txt', LIVE)).toBe('/_releases/a1b2c3d-0123456789/robots.txt');
    // A dot in a directory name does not make a file.
    expect(rewrite('/v1.2/overview')).toBe('/index.html');
  });

  it('keeps viewers out of other releases and deploy state', () => {
    expect(rewrite('/_releases/other/index.html', LIVE)).toBe(404);
    expect(rewrite('/.frontendops/state/live.json')).toBe(404);
  });

  it('is a cloudfront-js-2.0 function within the 10 KB quota, reading its KeyValueStore', () => {
    expect(fn.size).toBeLessThanOrEqual(10 * 1024);
    expect(VIEWER_REQUEST_CODE).toMatch(/^import cf from 'cloudfront';$/m);
    expect(VIEWER_REQUEST_CODE).toMatch(/^async function handler\(event\) \{$/m);
  });
});
