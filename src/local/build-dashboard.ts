/**
 * Builds the Sophia Dashboard (apps/sophia-dashboard) with Vite's JS API: what `npm start`, the
 * `build:dashboard` script and CI use. The commit is compiled into the bundle (shown in the footer),
 * so a served page says which release it came from.
 */
import { readdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build, type InlineConfig } from 'vite';
import { z } from 'zod';
import { badInput } from '../errors.ts';

/** The app's root, found from this file rather than the working directory. */
export const DASHBOARD_ROOT = fileURLToPath(new URL('../../apps/sophia-dashboard/', import.meta.url));

const optionsSchema = z.object({
  outDir: z.string().min(1),
  // A git commit, or a short build label for local builds; quotes and spaces have no place in it.
  commit: z.string().regex(/^[\w.-]{1,64}$/),
  logLevel: z.enum(['silent', 'info']).optional(),
});

export type BuildDashboardOptions = z.input<typeof optionsSchema>;

export async function buildDashboard(
  options: BuildDashboardOptions,
): Promise<{ outDir: string; files: number }> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw badInput(
      `buildDashboard got invalid options (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}). ` +
        'Expected { outDir: a directory path, commit: a git commit or build label of letters, digits, ".", "_" or "-" }. ' +
        'Pass e.g. { outDir: "dist", commit: "$(git rev-parse HEAD)" }.',
    );
  }
  const outDir = resolveDashboardOutDir(parsed.data.outDir);
  await build(
    createDashboardViteConfig({ outDir, commit: parsed.data.commit, logLevel: parsed.data.logLevel }),
  );
  return { outDir, files: await countFiles(outDir) };
}

/** The whole Vite config lives here (no vite.config file), so every build path is the same. */
export function createDashboardViteConfig(options: {
  outDir: string;
  commit: string;
  logLevel?: 'silent' | 'info' | undefined;
}): InlineConfig {
  return {
    root: DASHBOARD_ROOT,
    configFile: false,
    envDir: false,
    base: '/',
    logLevel: options.logLevel ?? 'silent',
    plugins: [react()],
    define: { __SOPHIA_COMMIT__: JSON.stringify(options.commit) },
    build: {
      outDir: options.outDir,
      emptyOutDir: true,
      // Source maps would publish the source next to the site; the deploy keeps only what users load.
      sourcemap: false,
      // Vite's default `assets/<name>-<hash>.js` naming is what the deploy's cache policy keys on.
      assetsDir: 'assets',
    },
  };
}

/**
 * The absolute output directory, refused (BAD_INPUT) when it is the app's sources or a directory
 * holding them: the build empties its output directory first.
 */
export function resolveDashboardOutDir(dir: string): string {
  const outDir = resolve(dir);
  const sources = [join(DASHBOARD_ROOT, 'src'), join(DASHBOARD_ROOT, 'public')];
  if (isWithin(DASHBOARD_ROOT, outDir) || sources.some((source) => isWithin(outDir, source))) {
    throw badInput(
      `buildDashboard was asked to write to ${outDir}, which holds the dashboard's own sources; the build empties ` +
        'its output directory first. Expected a separate directory such as apps/sophia-dashboard/dist or a temp dir. ' +
        'Pass another outDir.',
    );
  }
  return outDir;
}

/** Whether `path` is `parent` or lies below it. */
function isWithin(path: string, parent: string): boolean {
  const rel = relative(parent, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

async function countFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).length;
}

// `tsx src/local/build-dashboard.ts [outDir]` (the `build:dashboard` npm script); the commit comes from
// DASHBOARD_COMMIT, GITHUB_SHA (CI) or `git rev-parse HEAD`.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? join(DASHBOARD_ROOT, 'dist');
  const commit = process.env.DASHBOARD_COMMIT || process.env.GITHUB_SHA || (await readHeadCommit());
  const result = await buildDashboard({ outDir, commit, logLevel: 'info' });
  console.log(`Built the Sophia Dashboard for ${commit}: ${result.files} files in ${result.outDir}`);
}

async function readHeadCommit(): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolvePromise) => {
    execFile('git', ['rev-parse', 'HEAD'], { cwd: DASHBOARD_ROOT }, (error, stdout) => {
      // Outside a git checkout the build still works; the footer then says so.
      resolvePromise(error ? 'development' : stdout.trim());
    });
  });
}
