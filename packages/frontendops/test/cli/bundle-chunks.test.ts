/**
 * A CLI that is running while the tool is rebuilt (a console started by `npm start`, then `npm test`
 * in another terminal) loads each command's chunk when that command first runs. A rebuild used to
 * delete every chunk the new build did not write, so that console's next preview failed with
 * ERR_MODULE_NOT_FOUND. Older chunks are now kept for a day after they went out of use
 * (scripts/retire-chunks.js), and kept out of a packed tarball.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { retireOldChunks, STALE_CHUNK_KEPT_MS } from '../../scripts/retire-chunks.js';

const run = promisify(execFile);
const BUNDLE = fileURLToPath(new URL('../../dist/bundle', import.meta.url));
const HOUR = 60 * 60 * 1000;

let dir: string;
/** Each case's own project (a package.json's directory) and its dist/bundle: see beforeEach. */
let project: string;
let bundle: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-chunks-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const files = async () => (await readdir(bundle)).sort();
const ignored = async () =>
  (await readFile(join(bundle, '.npmignore'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));

describe('chunks of an older build', () => {
  const t0 = Date.parse('2026-12-03T10:00:00Z');
  const keep = new Set(['main.js', 'chunk-NEW.js']);
  /** A bundle holding this build's files (`keep`), an older build's chunks, and another build's file being written. */
  const rebuilt = async () => {
    for (const name of ['main.js', 'chunk-NEW.js', 'chunk-OLD.js', 'preview-OLD.js', 'main.js.4242']) {
      await writeFile(join(bundle, name), `// ${name}\n`);
    }
  };
  beforeEach(async () => {
    project = await mkdtemp(join(dir, 'project-'));
    bundle = join(project, 'dist', 'bundle');
    await mkdir(bundle, { recursive: true });
  });

  it('are kept for a day after they went out of use, then deleted; this build’s files are never touched', async () => {
    await rebuilt();
    expect(await retireOldChunks(bundle, keep, t0)).toEqual({
      kept: ['chunk-OLD.js', 'preview-OLD.js'],
      deleted: [],
    });
    expect(await ignored()).toEqual(['.stale-chunks.json', 'chunk-OLD.js', 'preview-OLD.js']);

    // Rebuilt all day long: the day counts from when they went out of use, not from the last build.
    expect((await retireOldChunks(bundle, keep, t0 + 23 * HOUR)).deleted).toEqual([]);
    await writeFile(join(bundle, 'chunk-LATER.js'), '// went out of use later\n');
    expect(await retireOldChunks(bundle, keep, t0 + STALE_CHUNK_KEPT_MS)).toEqual({
      kept: ['chunk-LATER.js'],
      deleted: ['chunk-OLD.js', 'preview-OLD.js'],
    });
    // Another build's file being written (name.<pid>) is left alone.
    expect(await files()).toEqual([
      '.npmignore',
      '.stale-chunks.json',
      'chunk-LATER.js',
      'chunk-NEW.js',
      'main.js',
      'main.js.4242',
    ]);
    expect(await ignored()).toEqual(['.stale-chunks.json', 'chunk-LATER.js']);
  });

  it('an unreadable ledger, or a time in it from the future, counts as going out of use now', async () => {
    await writeFile(join(bundle, 'chunk-LATER.js'), '// still here\n');
    await writeFile(join(bundle, '.stale-chunks.json'), '{"chunk-LATER.js": ');
    expect((await retireOldChunks(bundle, keep, t0)).kept).toEqual(['chunk-LATER.js']);
    await writeFile(
      join(bundle, '.stale-chunks.json'),
      JSON.stringify({ 'chunk-LATER.js': t0 + 1000 * HOUR }),
    );
    expect((await retireOldChunks(bundle, keep, t0 + HOUR)).kept).toEqual(['chunk-LATER.js']);
    expect(JSON.parse(await readFile(join(bundle, '.stale-chunks.json'), 'utf8'))).toEqual({
      'chunk-LATER.js': t0 + HOUR,
    });
  });

  it('npm leaves them and their ledger out of a packed tarball', async () => {
    await rebuilt();
    expect((await retireOldChunks(bundle, keep, t0)).kept).toEqual(['chunk-OLD.js', 'preview-OLD.js']);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'chunks-probe', version: '1.0.0', files: ['dist'] }),
    );
    await rm(join(bundle, 'main.js.4242'));
    // Not this test run's npm settings (a nested npm would read the workspace's).
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !/^npm_|^INIT_CWD$/i.test(key)),
    );
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: project,
      env,
    });
    const packed = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map(
      (f) => f.path,
    );
    expect(packed?.sort()).toEqual(['dist/bundle/chunk-NEW.js', 'dist/bundle/main.js', 'package.json']);
  });
});

describe('the built CLI (this run’s build)', () => {
  it('keeps out of the tarball no chunk that its own files import', async () => {
    const stale = new Set(
      (await readFile(join(BUNDLE, '.npmignore'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#')),
    );
    const current = (await readdir(BUNDLE)).filter((name) => name.endsWith('.js') && !stale.has(name));
    expect(current).toContain('main.js');
    for (const name of current) {
      const code = await readFile(join(BUNDLE, name), 'utf8');
      const imported = [...code.matchAll(/["']\.\/([\w.-]+\.js)["']/g)].map((m) => m[1] as string);
      expect(
        imported.filter((file) => stale.has(file)),
        name,
      ).toEqual([]);
    }
  });
});
