/**
 * Builds the console's UI (src/console/ui, React) with Vite's JS API into dist/console: what the
 * `build:console` npm script runs, and what the console server runs itself when no build is there.
 * The whole Vite config lives here (no vite.config file), as for the dashboard.
 */
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InlineConfig } from 'vite';

export const CONSOLE_UI_ROOT = fileURLToPath(new URL('./ui/', import.meta.url));
/** dist/console at the repository root. */
export const DEFAULT_CONSOLE_DIST = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export async function buildConsoleUi(options: {
  outDir: string;
  logLevel?: 'silent' | 'info';
}): Promise<string> {
  const outDir = resolve(options.outDir);
  // Loaded on demand: serving an existing build needs neither Vite nor the React plugin.
  const [{ build }, { default: react }] = await Promise.all([import('vite'), import('@vitejs/plugin-react')]);
  const config: InlineConfig = {
    root: CONSOLE_UI_ROOT,
    configFile: false,
    envDir: false,
    base: '/',
    logLevel: options.logLevel ?? 'silent',
    plugins: [react()],
    build: { outDir, emptyOutDir: true, sourcemap: false, assetsDir: 'assets' },
  };
  await build(config);
  return outDir;
}

/**
 * The UI directory, built first when it holds no index.html or is older than the UI's sources (so
 * a checkout that changed the UI never serves yesterday's page).
 */
export async function ensureConsoleUi(
  dir: string,
  log: (line: string) => void = console.error,
): Promise<string> {
  const built = await modifiedAt(join(dir, 'index.html'));
  if (built !== null && built >= (await newestSource())) return dir;
  log(
    `The console UI is ${built === null ? 'not built yet' : 'older than its sources'}; building it into ${dir} ` +
      '(npm run build:console does the same)…',
  );
  // Built aside and renamed into place, so a page being served (or a second process building at
  // the same time) never sees a half-written directory.
  const aside = `${dir.replace(/[/\\]+$/, '')}.building-${process.pid}-${Date.now()}`;
  await buildConsoleUi({ outDir: aside });
  await rm(dir, { recursive: true, force: true });
  try {
    await rename(aside, dir);
  } catch (error) {
    // Another process renamed its build in first: use that one.
    await rm(aside, { recursive: true, force: true });
    if ((await modifiedAt(join(dir, 'index.html'))) === null) throw error;
  }
  return dir;
}

async function newestSource(): Promise<number> {
  const entries = await readdir(CONSOLE_UI_ROOT, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  files.push(fileURLToPath(new URL('./types.ts', import.meta.url)));
  const times = await Promise.all(files.map(modifiedAt));
  return Math.max(0, ...times.map((t) => t ?? 0));
}

async function modifiedAt(file: string): Promise<number | null> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return null;
  }
}

// `tsx src/console/build-ui.ts [outDir]` — the `build:console` npm script.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = await buildConsoleUi({ outDir: process.argv[2] ?? DEFAULT_CONSOLE_DIST, logLevel: 'info' });
  console.log(`Built the FrontendOps console UI into ${outDir}`);
}
