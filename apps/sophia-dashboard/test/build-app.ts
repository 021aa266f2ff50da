/** Builds this app the way `npm run build` does (its own vite.config.ts), into another directory. */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export const APP_ROOT = fileURLToPath(new URL('..', import.meta.url));

export async function buildApp(outDir: string, commit: string): Promise<{ files: number }> {
  const previous = process.env.FRONTENDOPS_COMMIT;
  process.env.FRONTENDOPS_COMMIT = commit;
  try {
    await build({
      configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
      logLevel: 'silent',
      build: { outDir, emptyOutDir: true },
    });
  } finally {
    if (previous === undefined) delete process.env.FRONTENDOPS_COMMIT;
    else process.env.FRONTENDOPS_COMMIT = previous;
  }
  const entries = await readdir(outDir, { recursive: true, withFileTypes: true });
  return { files: entries.filter((e) => e.isFile()).length };
}
