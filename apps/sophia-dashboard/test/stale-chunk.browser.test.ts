// @vitest-environment node
/**
 * Stale-chunk safety in a real browser (Debian's Chromium through playwright-core): a tab opened on
 * release A navigates after release B replaced A's assets. The failed lazy chunk must trigger
 * exactly one reload, which lands on release B; if B's chunk fails too, the page shows its error
 * notice instead of reloading again.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ROOT, buildApp } from './build-app.ts';

const CHROMIUM = '/usr/bin/chromium';
const COMMIT_A = 'aaaaaaa000000000000000000000000000000001';
const COMMIT_B = 'bbbbbbb000000000000000000000000000000002';

type Release = Map<string, Buffer>;

let workDir: string;
let releaseA: Release;
let releaseB: Release;
let site: ReturnType<typeof startSite> extends Promise<infer S> ? S : never;
let browser: Browser;

describe.skipIf(!existsSync(CHROMIUM))('the dashboard in Chromium across a release', () => {
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'dashboard-browser-'));
    await buildApp(join(workDir, 'a'), COMMIT_A);
    await buildApp(join(workDir, 'b'), COMMIT_B);
    releaseA = await readRelease(join(workDir, 'a'));
    releaseB = await readRelease(join(workDir, 'b'));
    site = await startSite(releaseA);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.server.close(resolve));
    await rm(workDir, { recursive: true, force: true });
  });

  it('serves release A with its commit in the footer', async () => {
    site.serve(releaseA);
    const page = await openPage('/');
    await page.getByTestId('kpi-conversations').waitFor();
    expect(await page.getByTestId('build-commit').getAttribute('title')).toBe(COMMIT_A);
    await page.screenshot({
      path: join(APP_ROOT, '../../test-artifacts/sophia-dashboard-overview.png'),
      fullPage: true,
    });
    await page.context().close();
  });

  it('reloads once onto the new release when an old lazy chunk is gone', async () => {
    const stale = [...releaseA.keys()].find((k) => k.startsWith('/assets/AccountsPage-')) as string;
    expect(releaseB.has(stale)).toBe(false); // the precondition: B's chunk has another name

    site.serve(releaseA);
    const page = await openPage('/');
    await page.getByTestId('kpi-conversations').waitFor();
    const loadsBefore = site.htmlLoads;

    site.serve(releaseB); // the deploy; A's assets are pruned
    await page.getByRole('link', { name: 'Accounts' }).click();

    await page.getByRole('table').waitFor();
    expect(await page.getByTestId('build-commit').getAttribute('title')).toBe(COMMIT_B);
    expect(new URL(page.url()).pathname).toBe('/accounts');
    expect(site.htmlLoads - loadsBefore).toBe(1); // exactly one reload
    expect(site.misses).toContain(stale);
    await page.context().close();
  });

  it('shows the error notice instead of reloading again when the new chunk fails too', async () => {
    site.serve(releaseA);
    const page = await openPage('/');
    await page.getByTestId('kpi-conversations').waitFor();
    const loadsBefore = site.htmlLoads;

    // A broken release: its Accounts chunk is missing as well.
    site.serve(new Map([...releaseB].filter(([key]) => !key.startsWith('/assets/AccountsPage-'))));
    await page.getByRole('link', { name: 'Accounts' }).click();

    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('This page could not be loaded');
    expect(site.htmlLoads - loadsBefore).toBe(1); // the one guarded reload, no loop
    await page.context().close();
  });
});

async function openPage(path: string): Promise<Page> {
  const context = await browser.newContext(); // a fresh session (sessionStorage) per test
  const page = await context.newPage();
  await page.goto(new URL(path, site.url).href);
  return page;
}

async function readRelease(dir: string): Promise<Release> {
  const files = await readdir(dir, { recursive: true, withFileTypes: true });
  const release: Release = new Map();
  for (const f of files.filter((e) => e.isFile())) {
    const full = join(f.parentPath, f.name);
    release.set(
      `/${full
        .slice(dir.length + 1)
        .split('\\')
        .join('/')}`,
      await readFile(full),
    );
  }
  return release;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain',
};

/** A static origin that answers like the production CDN: extension-less paths get index.html, a missing file is a 404. */
async function startSite(initial: Release) {
  let release = initial;
  const state = { htmlLoads: 0, misses: [] as string[] };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const key = extname(path) === '' ? '/index.html' : path;
    const body = release.get(key);
    if (!body) {
      state.misses.push(key);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    if (key === '/index.html') state.htmlLoads += 1;
    res.writeHead(200, {
      'content-type': TYPES[extname(key)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve: (next: Release) => {
      release = next;
    },
    get htmlLoads() {
      return state.htmlLoads;
    },
    get misses() {
      return state.misses;
    },
  };
}
