import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { SPA_REWRITE_CODE } from '../spa-rewrite.ts';

// Runs the function source as CloudFront would: a viewer-request event in, the request out.
const rewrite = (uri: string): string => {
  const event = { version: '1.0', context: { eventType: 'viewer-request' }, request: { method: 'GET', uri } };
  const result = runInNewContext(`${SPA_REWRITE_CODE}\nhandler(event);`, { event }) as { uri: string };
  return result.uri;
};

describe('SPA rewrite function', () => {
  it('sends extension-less app routes to /index.html', () => {
    expect(rewrite('/')).toBe('/index.html');
    expect(rewrite('/accounts')).toBe('/index.html');
    expect(rewrite('/accounts/')).toBe('/index.html');
    expect(rewrite('/reports/2026/q3')).toBe('/index.html');
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
    // A dot in a directory name does not make a file.
    expect(rewrite('/v1.2/overview')).toBe('/index.html');
  });

  it('uses only syntax the cloudfront-js runtime accepts (no arrow functions, let/const or modules)', () => {
    expect(SPA_REWRITE_CODE).toMatch(/^function handler\(event\) \{/);
    expect(SPA_REWRITE_CODE).not.toMatch(/=>|\blet\b|\bconst\b|\bimport\b|\bexport\b/);
  });
});
