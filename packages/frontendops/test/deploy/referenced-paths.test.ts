/** Which files the atomic verification fetches: those the page references, resolved as a browser does. */
import { describe, expect, it } from 'vitest';
import { referencedPaths } from '../../src/deploy/atomic-verify.ts';

describe('referencedPaths', () => {
  it('takes the files the page loads, absolute and relative, resolved against "/"', () => {
    const html = [
      '<link rel="stylesheet" href="style.css">',
      '<img src="img/logo.svg">',
      '<script src="./js/app-1a2B3c4D.js"></script>',
      '<script type="module" src="/assets/index-9f8E7d6C.js"></script>',
      '<link href="/assets/index-9f8E7d6C.js">',
      '<img src="chart.png?v=2">',
    ].join('\n');
    expect(referencedPaths(html)).toEqual([
      '/style.css',
      '/img/logo.svg',
      '/js/app-1a2B3c4D.js',
      '/assets/index-9f8E7d6C.js',
      '/chart.png?v=2',
    ]);
  });

  it('leaves out links to pages, other origins, fragments and other schemes', () => {
    const html = [
      '<a href="../about/">About</a>',
      '<a href="/pricing">Pricing</a>',
      '<script src="//cdn.example.com/x.js"></script>',
      '<a href="https://example.com/">x</a>',
      '<a href="#top">top</a>',
      '<a href="mailto:ops@example.com">mail</a>',
      '<img src="data:image/png;base64,AAAA">',
      '<a href="">here</a>',
    ].join('\n');
    expect(referencedPaths(html)).toEqual([]);
  });
});
