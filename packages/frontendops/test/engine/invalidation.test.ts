import { describe, expect, it } from 'vitest';
import {
  CLOUDFRONT_INVALIDATION_LIMITS,
  invalidationCallerReference,
  matchesInvalidationPath,
  planInvalidationBatches,
} from '../../src/engine/invalidation.ts';
import { isFrontendOpsError } from '../../src/errors.ts';

const range = (count: number, make: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => make(i));
const pad = (i: number) => String(i).padStart(5, '0');

function expectBadInput(run: () => unknown, messagePart: RegExp) {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(isFrontendOpsError(caught, 'BAD_INPUT')).toBe(true);
  expect((caught as Error).message).toMatch(messagePart);
}

describe('planInvalidationBatches: dedupe and order', () => {
  it('returns no batch for no paths', () => {
    expect(planInvalidationBatches([])).toEqual([]);
  });

  it('deduplicates and sorts deterministically, whatever the input order', () => {
    const paths = ['/index.html', '/favicon.ico', '/', '/index.html', '/about/index.html'];
    const expected = [['/', '/about/index.html', '/favicon.ico', '/index.html']];
    expect(planInvalidationBatches(paths)).toEqual(expected);
    expect(planInvalidationBatches([...paths].reverse())).toEqual(expected);
  });

  it('drops paths that a wildcard of the input already covers, keeping unrelated ones', () => {
    const plan = planInvalidationBatches([
      '/docs/a.html',
      '/docs/*',
      '/docs/',
      '/docs-old.html',
      '/img/x*',
      '/img/xy.png',
    ]);
    expect(plan).toEqual([['/docs-old.html', '/docs/*', '/img/x*']]);
  });

  it('keeps "/" and "/index.html" apart: they are different cache keys', () => {
    expect(planInvalidationBatches(['/index.html', '/'])).toEqual([['/', '/index.html']]);
  });
});

describe('planInvalidationBatches: collapse to wildcards', () => {
  it('collapses a directory when its paths reach the threshold, not before', () => {
    const nineteen = range(19, (i) => `/locales/${pad(i)}.json`);
    expect(planInvalidationBatches(nineteen)).toEqual([nineteen]);
    const twenty = range(20, (i) => `/locales/${pad(i)}.json`);
    expect(planInvalidationBatches([...twenty, '/index.html'])).toEqual([['/index.html', '/locales/*']]);
  });

  it('honours a custom threshold', () => {
    const paths = ['/a/1.html', '/a/2.html', '/a/3.html', '/b/1.html'];
    expect(planInvalidationBatches(paths, { collapseThreshold: 3 })).toEqual([['/a/*', '/b/1.html']]);
  });

  it('collapses bottom-up: a collapsed subdirectory counts as one path in its parent', () => {
    const deep = range(25, (i) => `/docs/api/${pad(i)}.html`);
    const plan = planInvalidationBatches([...deep, '/docs/intro.html', '/docs/faq.html']);
    expect(plan).toEqual([['/docs/api/*', '/docs/faq.html', '/docs/intro.html']]);
  });

  it('collapses a parent whose subdirectories together reach the threshold', () => {
    const paths = range(24, (i) => `/help/s${i % 8}/${pad(i)}.html`);
    expect(planInvalidationBatches(paths)).toEqual([['/help/*']]);
  });

  it('never collapses the root into "/*" just for reaching the threshold', () => {
    const topLevel = range(50, (i) => `/page-${pad(i)}.html`);
    const plan = planInvalidationBatches(topLevel);
    expect(plan).toEqual([topLevel]);
  });

  it('collapses to "/*" when the paths would otherwise need more than one batch', () => {
    const topLevel = range(3001, (i) => `/page-${pad(i)}.html`);
    expect(planInvalidationBatches(topLevel)).toEqual([['/*']]);
    const sixteenDirs = range(
      16 * 20,
      (i) => `/d${String(Math.floor(i / 20)).padStart(2, '0')}/${pad(i)}.html`,
    );
    expect(planInvalidationBatches(sixteenDirs)).toEqual([['/*']]);
  });

  it('keeps fifteen collapsed directories in one batch (the wildcard limit is inclusive)', () => {
    const fifteenDirs = range(
      15 * 20,
      (i) => `/d${String(Math.floor(i / 20)).padStart(2, '0')}/${pad(i)}.html`,
    );
    const plan = planInvalidationBatches(fifteenDirs);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toEqual(range(15, (d) => `/d${String(d).padStart(2, '0')}/*`));
  });

  it('does not collapse at all with collapseThreshold Infinity', () => {
    const paths = range(40, (i) => `/locales/${pad(i)}.json`);
    expect(planInvalidationBatches(paths, { collapseThreshold: Number.POSITIVE_INFINITY })).toEqual([paths]);
  });
});

describe('planInvalidationBatches: batching within CloudFront limits', () => {
  it('uses the CloudFront limits by default', () => {
    expect(CLOUDFRONT_INVALIDATION_LIMITS).toEqual({
      maxPathsPerBatch: 3000,
      maxWildcardsPerBatch: 15,
      collapseThreshold: 20,
    });
  });

  it('splits 7,000 exact paths into batches of 3,000, 3,000 and 1,000 in sorted order', () => {
    const paths = range(7000, (i) => `/p${pad(i)}/index.html`);
    const plan = planInvalidationBatches([...paths].reverse(), {
      collapseThreshold: Number.POSITIVE_INFINITY,
    });
    expect(plan.map((batch) => batch.length)).toEqual([3000, 3000, 1000]);
    expect(plan.flat()).toEqual(paths);
  });

  it('starts a new batch when the wildcard limit is reached', () => {
    const wildcards = range(20, (i) => `/w${pad(i)}/*`);
    const plan = planInvalidationBatches([...wildcards, '/zz.html'], {
      collapseThreshold: Number.POSITIVE_INFINITY,
    });
    expect(plan).toEqual([wildcards.slice(0, 15), [...wildcards.slice(15), '/zz.html']]);
  });

  it('respects custom limits', () => {
    const plan = planInvalidationBatches(['/a', '/b', '/c', '/d', '/e'], {
      maxPathsPerBatch: 2,
      collapseThreshold: Number.POSITIVE_INFINITY,
    });
    expect(plan).toEqual([['/a', '/b'], ['/c', '/d'], ['/e']]);
  });
});

describe('planInvalidationBatches: encoding and validation', () => {
  it('percent-encodes what a browser encodes in a path, and non-ASCII as UTF-8', () => {
    expect(planInvalidationBatches(['/img/a b.png', '/café.html', '/q?.html', '/100%.html'])).toEqual([
      ['/100%25.html', '/caf%C3%A9.html', '/img/a%20b.png', '/q%3F.html'],
    ]);
  });

  it('refuses a path without a leading slash, saying what is expected', () => {
    expectBadInput(() => planInvalidationBatches(['index.html']), /"index\.html".*starting with "\/"/);
    expectBadInput(() => planInvalidationBatches(['']), /starting with "\/"/);
    expectBadInput(() => planInvalidationBatches([42 as unknown as string]), /not a site path/);
  });

  it('refuses control characters', () => {
    expectBadInput(() => planInvalidationBatches(['/a\nb.html']), /control character/);
    expectBadInput(() => planInvalidationBatches(['/a\u0000.html']), /control character/);
    expectBadInput(() => planInvalidationBatches(['/a\u007f.html']), /control character/);
  });

  it('covers a path holding "*" before its end (a file name) by the wildcard ending at that "*"', () => {
    // CloudFront takes "*" only last; refused, a build with such a file failed after it went live.
    expect(planInvalidationBatches(['/assets/*.js', '/b*c*.html', '/b*d.html', '/x.html'])).toEqual([
      ['/assets/*', '/b*', '/x.html'],
    ]);
  });

  it('refuses a lone surrogate', () => {
    expectBadInput(() => planInvalidationBatches(['/bad\uD800.html']), /not valid Unicode/);
  });

  it('refuses nonsensical limits', () => {
    expectBadInput(() => planInvalidationBatches(['/a'], { maxPathsPerBatch: 0 }), /maxPathsPerBatch is 0/);
    expectBadInput(
      () => planInvalidationBatches(['/a'], { maxWildcardsPerBatch: 1.5 }),
      /maxWildcardsPerBatch/,
    );
    expectBadInput(
      () => planInvalidationBatches(['/a'], { collapseThreshold: -1 }),
      /collapseThreshold is -1/,
    );
  });
});

describe('matchesInvalidationPath', () => {
  it('matches exact paths exactly and wildcards by prefix', () => {
    expect(matchesInvalidationPath('/index.html', '/index.html')).toBe(true);
    expect(matchesInvalidationPath('/index.html', '/')).toBe(false);
    expect(matchesInvalidationPath('/assets/*', '/assets/a/b.js')).toBe(true);
    expect(matchesInvalidationPath('/assets/*', '/assets-old/a.js')).toBe(false);
    expect(matchesInvalidationPath('/*', '/')).toBe(true);
    expect(matchesInvalidationPath('/img/x*', '/img/xy.png')).toBe(true);
  });
});

describe('invalidationCallerReference', () => {
  it('is stable for the same deploy and batch, and differs for other paths or another deploy', () => {
    const ref = invalidationCallerReference('d-20261125-1', ['/', '/index.html']);
    expect(ref).toMatch(/^d-20261125-1-[0-9a-f]{16}$/);
    expect(invalidationCallerReference('d-20261125-1', ['/', '/index.html'])).toBe(ref);
    expect(invalidationCallerReference('d-20261125-1', ['/index.html'])).not.toBe(ref);
    expect(invalidationCallerReference('d-20261125-2', ['/', '/index.html'])).not.toBe(ref);
  });

  it('refuses an empty deploy id', () => {
    expectBadInput(() => invalidationCallerReference(' ', ['/a']), /deploy id/);
  });
});
