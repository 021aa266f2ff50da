#!/usr/bin/env node
/**
 * Builds the published tool: TypeScript → dist/ (tsc, incremental: the library's modules and types),
 * the CLI as users run it → dist/bundle (esbuild, see bundleCli), the CloudFront Function source
 * (plain JS, deployed as it is) beside its modules, and the console's React UI → dist/console-ui
 * (Vite, always a production build), the latter only when its sources or this script are newer than
 * the last build. Run by `npm ci` (the
 * workspace root's prepare), `npm pack` (prepack: a tarball ships the build, never this script),
 * `npm start` and `npm test`, so an edit never runs as yesterday's code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { retireOldChunks } from './retire-chunks.js';
import { currentBundle, writeBundleStamp } from './up-to-date.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const uiSources = join(root, 'src/console/ui');
const uiOut = join(root, 'dist/console-ui');

// tsc's own incremental check costs 0.8 s (it loads the compiler and reads every file): skipped when
// nothing it reads changed since its last run (scripts/up-to-date.js, as the CLI bundle): each source
// (none added or removed), tsconfig and npm's record of what is installed is as the stamp recorded it,
// and none is newer.
const tsc = findUp(root, 'node_modules/typescript/bin/tsc');
// npm writes node_modules/.package-lock.json on every install; without it, what is installed is unknown.
const installed = findUp(root, 'node_modules/.package-lock.json', { optional: true });
// The TypeScript configuration, which esbuild reads too (class fields, imports kept, JSX) without
// naming it among the inputs of its metafile.
const tsconfigs = [join(root, 'tsconfig.json'), findUp(root, 'tsconfig.base.json')];
const tsStamp = join(root, 'dist/.tsc-inputs.json');
const tsInputs = [join(root, 'src'), ...tsconfigs, join(root, 'tsconfig.build.json'), installed];
const tsOut = { root, outdir: join(root, 'dist'), alsoInputs: tsInputs };
if (!(installed && (await currentBundle(tsStamp, tsOut)))) {
  const startedAt = Date.now();
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (installed) {
    const ran = { metafile: { inputs: {} }, files: ['.tsbuildinfo'], startedAt };
    await writeBundleStamp(tsStamp, { root, alsoInputs: tsInputs, ...ran });
  }
}

// tsc compiles TypeScript only; the function is exported as frontendops/cloudfront-function.js, and
// read beside the module that deploys it (dist/atomic for the library, dist/bundle for the CLI).
const functionSource = await readFile(join(root, 'src/atomic/viewer-request.js'));
await writeIfChanged(join(root, 'dist/atomic/viewer-request.js'), functionSource);
await writeIfChanged(join(root, 'dist/bundle/viewer-request.js'), functionSource);

await bundleCli();

// The package's README, LICENSE and the documents the README links to (docs/) are the repository's,
// said once there: copied in for `npm pack` (npm ships them from the package's top, so the README's
// links work in an installed copy too), and ignored by git here.
for (const name of ['README.md', 'LICENSE']) {
  const source = join(root, '..', '..', name);
  if (existsSync(source)) await writeIfChanged(join(root, name), await readFile(source));
}
const docs = join(root, '..', '..', 'docs');
if (existsSync(docs)) {
  const names = (await readdir(docs)).filter((n) => n.endsWith('.md'));
  await mkdir(join(root, 'docs'), { recursive: true });
  for (const name of names) await writeIfChanged(join(root, 'docs', name), await readFile(join(docs, name)));
  // A document the repository no longer has is not shipped from an earlier build.
  for (const name of await readdir(join(root, 'docs')))
    if (!names.includes(name)) await rm(join(root, 'docs', name), { force: true });
}

// Built again only when something the last build read changed (scripts/up-to-date.js, as the CLI
// bundle): its stamp lists the modules Vite read, ours (the words it shares with the CLI, from outside
// its sources) and React's; its sources (a file added), the installed packages and the build scripts
// count too: a UI built by an earlier version of this script (how it builds changed, e.g. a
// development build made before the mode was fixed) is built again, not kept for `npm pack`.
const uiStamp = join(root, 'dist/.console-ui-inputs.json');
const uiAlsoInputs = [
  uiSources,
  installed,
  fileURLToPath(import.meta.url),
  fileURLToPath(new URL('./up-to-date.js', import.meta.url)),
];
if (!(installed && (await currentBundle(uiStamp, { root, outdir: uiOut, alsoInputs: uiAlsoInputs })))) {
  const startedAt = Date.now();
  process.env.NODE_ENV = 'production';
  const [{ build }, { default: react }] = await Promise.all([import('vite'), import('@vitejs/plugin-react')]);
  // Built aside and renamed into place: a console being served never sees a half-written directory.
  const aside = `${uiOut}.building-${process.pid}`;
  const built = await build({
    root: uiSources,
    configFile: false,
    envDir: false,
    mode: 'production',
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
    base: '/',
    logLevel: 'warn',
    plugins: [react()],
    build: { outDir: aside, emptyOutDir: true, sourcemap: false, assetsDir: 'assets' },
  });
  await rm(uiOut, { recursive: true, force: true });
  await rename(aside, uiOut);
  if (installed) {
    const outputs = (Array.isArray(built) ? built : [built]).flatMap((b) => ('output' in b ? b.output : []));
    // Files Vite read (not its virtual modules, "\0…", nor a file's ids with a query, "…?commonjs-…").
    const read = outputs.flatMap((o) => (o.type === 'chunk' ? o.moduleIds : []));
    const inputs = read.filter((id) => isAbsolute(id) && !id.includes('?') && existsSync(id));
    await writeBundleStamp(uiStamp, {
      root,
      alsoInputs: uiAlsoInputs,
      metafile: { inputs: Object.fromEntries(inputs.map((id) => [relative(root, id), {}])) },
      files: outputs.map((o) => o.fileName),
      startedAt,
    });
  }
}

/**
 * The CLI (bin/frontendops.js) runs dist/bundle/main.js: our code and its dependencies in one ES
 * module, with each command's own code in a chunk loaded when that command runs. Loading the same
 * code as ~300 separate modules cost a command about 0.1 s of CPU before any work: resolving each
 * import and scanning each CommonJS module for its exports. The tsc output stays for the package's
 * library exports (frontendops/engine, /mcp, /agent), which resolve their dependencies normally.
 *
 * - Entry points sit one directory below dist/, as the tsc modules do, so what they locate from
 *   import.meta.url (../../package.json, ../../dist/console-ui, ./s3-server-child.js,
 *   ./viewer-request.js) is found the same way.
 * - A package's ES module build (its "module" field) comes before its CommonJS one ("main"). The AWS
 *   SDK ships both: its CommonJS files hold every command and schema of a client in one module that
 *   is compiled and run whole, while the ES modules let the bundle keep only what we call (`status`
 *   starts about a fifth faster).
 * - s3rver (the embedded S3 server, run in a child process) and open (it runs a script shipped in its
 *   own directory) stay ordinary dependencies.
 * - CommonJS dependencies bundled into an ES module still call require() for Node's built-ins: the
 *   banner gives the bundle a require of its own.
 * - The licences of the bundled packages go into dist/bundle/THIRD-PARTY-LICENSES.txt.
 * - Files are written only when their content changed, each by a rename: a build (npm pack's, in a
 *   test) never changes a file under a CLI that is running.
 */
async function bundleCli() {
  const outdir = join(root, 'dist/bundle');
  // Not bundled again when nothing the last bundle read changed (scripts/up-to-date.js): its stamp
  // lists what esbuild read; the sources (a file added), the TypeScript configuration, the installed
  // packages and the build scripts count too. Without npm's record of what is installed, always bundled.
  const stampFile = join(root, 'dist/.bundle-inputs.json');
  const alsoInputs = [
    join(root, 'src'),
    join(root, 'package.json'),
    ...tsconfigs,
    installed,
    fileURLToPath(import.meta.url),
    fileURLToPath(new URL('./retire-chunks.js', import.meta.url)),
    fileURLToPath(new URL('./up-to-date.js', import.meta.url)),
  ];
  const built = installed ? await currentBundle(stampFile, { root, outdir, alsoInputs }) : null;
  if (built) {
    await retireOldChunks(outdir, new Set(built));
    return;
  }
  const startedAt = Date.now();
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { main: 'src/cli/main.ts', 's3-server-child': 'src/local/s3-server-child.ts' },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    mainFields: ['module', 'main'],
    target: 'node20',
    external: ['s3rver', 'open'],
    banner: {
      js: "import { createRequire as __frontendopsRequire } from 'node:module'; const require = __frontendopsRequire(import.meta.url);",
    },
    legalComments: 'none',
    plugins: [zodWithoutLocales(), httpThroughRequire()],
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  const keep = new Set(['viewer-request.js', 'THIRD-PARTY-LICENSES.txt']);
  for (const file of result.outputFiles) {
    keep.add(basename(file.path));
    await writeIfChanged(file.path, Buffer.from(file.contents));
  }
  await writeIfChanged(join(outdir, 'THIRD-PARTY-LICENSES.txt'), await thirdPartyLicenses(result.metafile));
  await retireOldChunks(outdir, keep);
  if (installed) {
    await writeBundleStamp(stampFile, {
      root,
      alsoInputs,
      metafile: result.metafile,
      files: [...keep],
      startedAt,
    });
  }
}

/**
 * zod exports every locale's messages as z.locales and z.core.locales (40-odd languages, 360 KB of
 * the bundle, parsed by every command). Nothing here or in the bundled packages reads them; zod's
 * English messages come from its own module and stay. The namespaces are bundled empty.
 */
function zodWithoutLocales() {
  return {
    name: 'zod-without-locales',
    setup(build) {
      build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
        /[\\/]zod[\\/]v4[\\/](classic|core|mini)[\\/]/.test(args.importer)
          ? { path: 'zod-locales', namespace: 'zod-without-locales' }
          : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'zod-without-locales' }, () => ({ contents: 'export {};' }));
    },
  };
}

/**
 * node:http reached through require(), never through an ES import. On Node 22 and 24, an ES import of
 * node:http (ours, or the AWS SDK's) makes Node build the module's ES namespace, which reads every
 * export, lazy ones included: that loads Node's bundled fetch implementation (undici), about 50 ms of
 * start-up for every command that talks to S3, for nothing. require() returns the module object and
 * reads no export it does not use. Node 20 is the same either way.
 */
function httpThroughRequire() {
  return {
    name: 'http-through-require',
    setup(build) {
      // The module's own require('node:http') is left to esbuild: Node's built-in, external.
      build.onResolve({ filter: /^(node:)?http$/ }, (args) =>
        args.namespace === 'http-through-require'
          ? undefined
          : { path: 'node:http', namespace: 'http-through-require' },
      );
      build.onLoad({ filter: /.*/, namespace: 'http-through-require' }, () => ({
        contents: "module.exports = require('node:http');",
        loader: 'js',
      }));
    },
  };
}

/** Name, version, licence and licence text of every package whose code the bundle holds. */
async function thirdPartyLicenses(metafile) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) packages.set(join(root, match[1]), true);
  }
  const sections = [];
  for (const dir of [...packages.keys()].sort()) {
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    const licenceFile = (await readdir(dir)).find((name) => /^(licen[cs]e|copying)(\.|$)/i.test(name));
    const text = licenceFile
      ? (await readFile(join(dir, licenceFile), 'utf8')).trim()
      : '(no licence file shipped)';
    sections.push(`${manifest.name}@${manifest.version} (${manifest.license ?? 'see below'})\n\n${text}\n`);
  }
  return Buffer.from(
    `The FrontendOps CLI bundle (dist/bundle) contains code of these packages, under these licences.\n\n${sections.join(`\n${'-'.repeat(72)}\n\n`)}`,
  );
}

/** Writes by a rename, and only when the content differs: readers see the old file or the new one. */
async function writeIfChanged(file, content) {
  const existing = await readFile(file).catch(() => null);
  if (existing?.equals(content)) return;
  await mkdir(dirname(file), { recursive: true });
  const aside = `${file}.${process.pid}`;
  await writeFile(aside, content);
  await rename(aside, file);
}

/** typescript/bin/tsc, looked up the way Node resolves packages (its package exports do not list it). */
function findUp(dir, relative, { optional = false } = {}) {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, relative))) return join(at, relative);
    if (dirname(at) !== at) continue;
    if (optional) return null;
    throw new Error(`Cannot find ${relative} above ${dir}: run npm ci first.`);
  }
}
