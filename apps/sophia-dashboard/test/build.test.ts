// @vitest-environment node
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './build-app.ts';

const COMMIT = '9f8e7d6c5b4a39281706f5e4d3c2b1a098765432';
let workDir: string;
let outDir: string;
let result: { files: number };

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'dashboard-build-'));
  outDir = join(workDir, 'dist');
  result = await buildApp(outDir, COMMIT);
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe("vite build (the app's own config)", () => {
  it('writes index.html whose asset references are content-hashed files that exist', async () => {
    const html = await readFile(join(outDir, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(refs.some((r) => r.endsWith('.js'))).toBe(true);
    expect(refs.some((r) => r.endsWith('.css'))).toBe(true);
    for (const ref of refs) {
      expect(ref).toMatch(/^assets\/[\w.-]+-[\w-]{8}\.(js|css)$/);
      expect(existsSync(join(outDir, ref)), ref).toBe(true);
    }
    expect(html).toContain('href="/favicon.svg"');
  });

  it('splits each route into its own lazy chunk', async () => {
    const assets = await readdir(join(outDir, 'assets'));
    for (const page of ['OverviewPage', 'AccountsPage', 'QualityPage']) {
      expect(
        assets.some((name) => new RegExp(`^${page}-[\\w-]{8}\\.js$`).test(name)),
        page,
      ).toBe(true);
    }
    const html = await readFile(join(outDir, 'index.html'), 'utf8');
    // Lazy chunks are not loaded by the HTML up front: that is what makes them lazy.
    expect(html).not.toMatch(/OverviewPage|AccountsPage|QualityPage/);
  });

  it('compiles the commit into the bundle and copies the public files', async () => {
    const assets = await readdir(join(outDir, 'assets'));
    const js = await Promise.all(
      assets.filter((a) => a.endsWith('.js')).map((a) => readFile(join(outDir, 'assets', a), 'utf8')),
    );
    expect(js.some((text) => text.includes(COMMIT))).toBe(true);
    expect(js.some((text) => text.includes('__SOPHIA_COMMIT__'))).toBe(false);
    expect(await readFile(join(outDir, 'robots.txt'), 'utf8')).toContain('User-agent');
    expect(existsSync(join(outDir, 'favicon.svg'))).toBe(true);
    const all = await readdir(outDir, { recursive: true, withFileTypes: true });
    expect(result).toEqual({ files: all.filter((e) => e.isFile()).length });
    expect(all.some((e) => e.name.endsWith('.map'))).toBe(false);
  });

  it('refuses a commit that could not be a build label, building nothing', async () => {
    const target = join(workDir, 'refused');
    await expect(buildApp(target, 'x"; alert(1); "')).rejects.toThrow(/Not a commit or build label/);
    expect(existsSync(target)).toBe(false);
  });
});
