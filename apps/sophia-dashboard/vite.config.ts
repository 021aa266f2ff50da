/**
 * The Sophia Dashboard's build. `vite build` writes dist/ with Vite's default
 * `assets/<name>-<hash>.<ext>` names, which the deploy's cache policy keys on; no source maps (a
 * deploy publishes only what users load). The commit the build belongs to is compiled in and shown
 * in the footer: FRONTENDOPS_COMMIT (what `frontendops dev` sets), GITHUB_SHA (CI), else the newest
 * commit touching this directory, else "development".
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  envDir: false,
  plugins: [react()],
  define: { __SOPHIA_COMMIT__: JSON.stringify(buildCommit()) },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, assetsDir: 'assets' },
  test: {
    name: 'dashboard',
    environment: 'jsdom',
    setupFiles: ['src/test-setup.ts'],
    include: ['src/**/*.test.{ts,tsx}', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

function buildCommit(): string {
  const given = process.env.FRONTENDOPS_COMMIT || process.env.GITHUB_SHA;
  if (given) {
    if (!/^[\w.-]{1,64}$/.test(given)) throw new Error(`Not a commit or build label: ${given.slice(0, 80)}`);
    return given;
  }
  if (process.env.VITEST) return '0123456789abcdef0123456789abcdef01234567';
  try {
    const sha = execFileSync('git', ['log', '-1', '--format=%H', '--', '.'], { cwd: root, encoding: 'utf8' });
    return sha.trim() || 'development';
  } catch {
    return 'development';
  }
}
