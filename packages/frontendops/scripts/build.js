#!/usr/bin/env node
/**
 * Builds the published tool: TypeScript → dist/ (tsc, incremental), the CloudFront Function source
 * (plain JS, deployed as it is) beside its module, and the console's React UI → dist/console-ui
 * (Vite), the latter only when its sources are newer than the last build. Run by `npm ci` (the
 * workspace root's prepare), `npm pack` (prepack: a tarball ships the build, never this script),
 * `npm start` and `npm test`, so an edit never runs as yesterday's code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const uiSources = join(root, 'src/console/ui');
const uiOut = join(root, 'dist/console-ui');

const tsc = findUp(root, 'node_modules/typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

// tsc compiles TypeScript only; the function is exported as frontendops/cloudfront-function.js.
// Copied only when it changed: a build (npm pack's, in a test) must not rewrite what a running test reads.
await mkdir(join(root, 'dist/atomic'), { recursive: true });
const functionSource = await readFile(join(root, 'src/atomic/viewer-request.js'));
const functionBuilt = await readFile(join(root, 'dist/atomic/viewer-request.js')).catch(() => null);
if (!functionBuilt?.equals(functionSource)) {
  const aside = join(root, `dist/atomic/viewer-request.js.${process.pid}`);
  await writeFile(aside, functionSource);
  await rename(aside, join(root, 'dist/atomic/viewer-request.js'));
}

if (
  (await modifiedAt(join(uiOut, 'index.html'))) <
  (await newest(uiSources, join(root, 'src/console/types.ts')))
) {
  const [{ build }, { default: react }] = await Promise.all([import('vite'), import('@vitejs/plugin-react')]);
  // Built aside and renamed into place: a console being served never sees a half-written directory.
  const aside = `${uiOut}.building-${process.pid}`;
  await build({
    root: uiSources,
    configFile: false,
    envDir: false,
    base: '/',
    logLevel: 'warn',
    plugins: [react()],
    build: { outDir: aside, emptyOutDir: true, sourcemap: false, assetsDir: 'assets' },
  });
  await rm(uiOut, { recursive: true, force: true });
  await rename(aside, uiOut);
}

async function newest(dir, ...extra) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = [...entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)), ...extra];
  return Math.max(0, ...(await Promise.all(files.map(modifiedAt))));
}

async function modifiedAt(file) {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

/** typescript/bin/tsc, looked up the way Node resolves packages (its package exports do not list it). */
function findUp(dir, relative) {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, relative))) return join(at, relative);
    if (dirname(at) === at) throw new Error(`Cannot find ${relative} above ${dir}: run npm ci first.`);
  }
}
