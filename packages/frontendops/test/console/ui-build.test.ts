/**
 * The console's UI is a production build, whoever runs scripts/build.js. The test run's global setup
 * runs it with vitest's NODE_ENV=test, and Vite takes process.env.NODE_ENV before its mode: the UI
 * was a React development build (three times the size, React's development warnings), and since the
 * build is incremental, `npm pack` afterwards kept it and shipped it. What this test reads is the UI
 * the test run's build left in dist/console-ui, the one a pack would ship.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const UI = fileURLToPath(new URL('../../dist/console-ui', import.meta.url));

describe('the built console UI', () => {
  it('is a production build: no React development code in its scripts', async () => {
    const html = await readFile(join(UI, 'index.html'), 'utf8');
    const scripts = (await readdir(join(UI, 'assets'))).filter((name) => name.endsWith('.js'));
    // The page loads the scripts read here.
    expect(scripts.some((name) => html.includes(`/assets/${name}`))).toBe(true);
    for (const name of scripts) {
      const code = await readFile(join(UI, 'assets', name), 'utf8');
      // What only development builds hold: React's dev-only messages, JSX compiled for development
      // (each element carrying the builder's absolute source path), NODE_ENV left to be read.
      const development = [
        'Download the React DevTools',
        'jsxDEV',
        'lineNumber:',
        'process.env.NODE_ENV',
      ].filter((marker) => code.includes(marker));
      expect(development, `${name} (${code.length} characters)`).toEqual([]);
    }
  });
});
