/**
 * Builds the console's UI (src/console/ui, React) with Vite's JS API into dist/console: what the
 * `build:console` npm script runs, and what the console server runs itself when no build is there.
 * The whole Vite config lives here (no vite.config file), as for the dashboard.
 */
import { access } from 'node:fs/promises';
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

/** The UI directory, built first when it holds no index.html. */
export async function ensureConsoleUi(
  dir: string,
  log: (line: string) => void = console.error,
): Promise<string> {
  if (await hasIndex(dir)) return dir;
  log(`The console UI is not built yet; building it into ${dir} (npm run build:console does the same)…`);
  await buildConsoleUi({ outDir: dir });
  return dir;
}

async function hasIndex(dir: string): Promise<boolean> {
  try {
    await access(join(dir, 'index.html'));
    return true;
  } catch {
    return false;
  }
}

// `tsx src/console/build-ui.ts [outDir]` — the `build:console` npm script.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = await buildConsoleUi({ outDir: process.argv[2] ?? DEFAULT_CONSOLE_DIST, logLevel: 'info' });
  console.log(`Built the FrontendOps console UI into ${outDir}`);
}
