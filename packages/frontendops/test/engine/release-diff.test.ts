/** What is in a release: files grouped and split into added / changed / removed; the CDN refresh in words. */
import { describe, expect, it } from 'vitest';
import { describeFiles, describeInvalidation, diffManifests } from '../../src/engine/release-diff.ts';
import type { Manifest } from '../../src/engine/types.ts';

const entry = (sha256: string) => ({ sha256, size: 1, contentType: 'text/plain', cacheControl: 'no-cache' });
const manifest = (files: Record<string, string>): Manifest => ({
  app: 'sophia-dashboard',
  commit: 'a'.repeat(40),
  createdAt: '2026-12-01T00:00:00.000Z',
  files: Object.fromEntries(Object.entries(files).map(([p, s]) => [p, entry(s)])),
});

describe('diffManifests', () => {
  it('groups by how the deploy writes them and splits added, changed and removed', () => {
    const live = manifest({
      '/index.html': '1',
      '/assets/index-AbCd1234.js': '1',
      '/assets/old-Zz9Yy8Xx.css': '1',
      '/robots.txt': '1',
      '/favicon.ico': '1',
    });
    const next = manifest({
      '/index.html': '2',
      '/assets/index-EfGh5678.js': '2',
      '/robots.txt': '1',
      '/favicon.ico': '2',
      '/about/index.html': '1',
    });
    expect(diffManifests(live, next)).toEqual({
      html: { added: ['/about/index.html'], changed: ['/index.html'], removed: [] },
      asset: {
        added: ['/assets/index-EfGh5678.js'],
        changed: [],
        removed: ['/assets/index-AbCd1234.js', '/assets/old-Zz9Yy8Xx.css'],
      },
      other: { added: [], changed: ['/favicon.ico'], removed: [] },
    });
  });

  it('counts every file as added before the first deploy', () => {
    const files = diffManifests(null, manifest({ '/index.html': '1', '/assets/a-AbCd1234.js': '1' }));
    expect(files.html.added).toEqual(['/index.html']);
    expect(files.asset.added).toEqual(['/assets/a-AbCd1234.js']);
  });

  it('describes each group in one line', () => {
    expect(
      describeFiles({
        html: { added: 0, changed: 1, removed: 0 },
        asset: { added: 2, changed: 0, removed: 2 },
        other: { added: 0, changed: 0, removed: 0 },
      }),
    ).toEqual(['HTML: 1 changed', 'hashed assets: 2 added, 2 removed', 'other files: no change']);
  });
});

describe('describeInvalidation', () => {
  it('names the paths the CDN refreshes and why hashed assets need none', () => {
    expect(describeInvalidation(['/', '/index.html'])).toBe(
      'The CDN refreshes 2 paths (/, /index.html) so visitors get the new copies at once; new hashed assets have new names and need no refresh.',
    );
    expect(describeInvalidation(['/1', '/2', '/3', '/4', '/5', '/6', '/7', '/8'])).toMatch(
      /\(\/1, \/2, \/3, \/4, \/5, \/6 and 2 more\)/,
    );
    expect(describeInvalidation([])).toMatch(/^No CDN refresh is needed/);
  });
});
