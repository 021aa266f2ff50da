import { describe, expect, it } from 'vitest';
import { contentTypeFor } from '../../src/deploy/scan.ts';
import { cacheControlFor, groupOf, isContentHashed } from '../../src/engine/cache-policy.ts';

describe('cache policy', () => {
  it.each([
    ['/assets/index-BxY3kq9Z.js', true],
    ['/assets/index-B2xTq_9c.css', true],
    ['/assets/vendor96-uxhjdk__.js', true], // a Vite hash of lower-case letters only, under assets/
    ['/assets/OverviewPage-a1b2c3d4.js.map', true],
    ['/static/js/main.8f3a2c1b.js', true],
    ['/my-component.js', false], // a word, not a hash
    ['/favicon.ico', false],
    ['/robots.txt', false],
    ['/index.html', false],
    ['/assets/logo.svg', false],
  ])('%s is content-hashed: %s', (path, hashed) => {
    expect(isContentHashed(path)).toBe(hashed);
  });

  it('gives each kind of file its Cache-Control and write group', () => {
    expect(cacheControlFor('/assets/index-BxY3kq9Z.js')).toBe('public, max-age=31536000, immutable');
    expect(cacheControlFor('/index.html')).toBe('no-cache');
    expect(cacheControlFor('/about/index.html')).toBe('no-cache');
    expect(cacheControlFor('/manifest.webmanifest')).toBe('no-cache');
    expect(cacheControlFor('/sw.js')).toBe('no-cache');
    expect(cacheControlFor('/favicon.ico')).toBe('public, max-age=300');
    expect(groupOf('/assets/index-BxY3kq9Z.js')).toBe('asset');
    expect(groupOf('/favicon.ico')).toBe('other');
    expect(groupOf('/index.html')).toBe('html');
  });

  it('sets an explicit Content-Type from the MIME database, with a charset for text', () => {
    expect(contentTypeFor('/index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeFor('/assets/a-BxY3kq9Z.js')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('/assets/a-BxY3kq9Z.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeFor('/logo.svg')).toBe('image/svg+xml; charset=utf-8');
    expect(contentTypeFor('/data.json')).toBe('application/json; charset=utf-8');
    expect(contentTypeFor('/manifest.webmanifest')).toBe('application/manifest+json; charset=utf-8');
    expect(contentTypeFor('/font.woff2')).toBe('font/woff2');
    expect(contentTypeFor('/photo.png')).toBe('image/png');
    expect(contentTypeFor('/LICENSE')).toBe('application/octet-stream');
  });
});
