/**
 * scripts/build.js bundles the CLI with esbuild (1.5 s of CPU) only when something the last bundle
 * read changed, or a file it wrote is gone: every test run, `npm start` and `npm pack` runs the build.
 * The rule (scripts/up-to-date.js) on files of its own here, with times set, not waited for; and the
 * stamp the test run's own build left.
 */
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentBundle, writeBundleStamp } from '../../scripts/up-to-date.js';

const PACKAGE = fileURLToPath(new URL('../..', import.meta.url));
const T0 = Date.parse('2026-12-01T10:00:00Z');

let dir: string;
let stamp: string;
let outdir: string;
let lock: string;

/** Writes `file` last modified at `time`. */
async function fileAt(file: string, time: number, text = `// ${file}\n`) {
  await writeFile(file, text);
  await utimes(file, new Date(time), new Date(time));
}

const current = () => currentBundle(stamp, { root: dir, outdir, alsoInputs: [join(dir, 'src'), lock] });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-bundle-current-'));
  stamp = join(dir, 'dist', '.bundle-inputs.json');
  outdir = join(dir, 'dist', 'bundle');
  lock = join(dir, 'lock.json');
  await mkdir(join(dir, 'src', 'cli'), { recursive: true });
  await mkdir(join(dir, 'node_modules', 'dep'), { recursive: true });
  await mkdir(outdir, { recursive: true });
  await fileAt(join(dir, 'src', 'cli', 'main.ts'), T0 - 5000);
  await fileAt(join(dir, 'node_modules', 'dep', 'index.js'), T0 - 5000);
  await fileAt(lock, T0 - 5000);
  for (const sub of ['src/cli', 'src', 'node_modules/dep'])
    await utimes(join(dir, sub), new Date(T0 - 5000), new Date(T0 - 5000));
  await fileAt(join(outdir, 'main.js'), T0 + 1000);
  await fileAt(join(outdir, 'chunk-A.js'), T0 + 1000);
  await stampAgain();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The stamp of a bundle that started reading at T0 (and read what the files are now). */
const stampAgain = () =>
  writeBundleStamp(stamp, {
    root: dir,
    alsoInputs: [join(dir, 'src'), lock],
    metafile: {
      inputs: {
        'src/cli/main.ts': {},
        'node_modules/dep/index.js': {},
        // A plugin's namespace: no file (scripts/build.js, zodWithoutLocales).
        'zod-without-locales:zod-locales': {},
      },
    },
    files: ['main.js', 'chunk-A.js'],
    startedAt: T0,
  });

describe('the CLI bundle', () => {
  it('is current when nothing it read is newer than its stamp, and each file it wrote is there', async () => {
    expect(await current()).toEqual(['chunk-A.js', 'main.js']);
  });

  it('is bundled again with no stamp, or one that is not what the build writes', async () => {
    await writeFile(stamp, '{"inputs": ');
    expect(await current()).toBeNull();
    await rm(stamp);
    expect(await current()).toBeNull();
  });

  it('is bundled again when a source or a dependency it read changed, even while it was bundling', async () => {
    // Saved after the bundle started reading: that bundle may hold the file as it was before.
    await utimes(join(dir, 'node_modules', 'dep', 'index.js'), new Date(T0), new Date(T0));
    expect(await current()).toBeNull();
  });

  it('is bundled again when a file is added where the sources are, or the installed packages changed', async () => {
    await fileAt(join(dir, 'src', 'cli', 'new-command.ts'), T0 - 5000);
    await utimes(join(dir, 'src', 'cli'), new Date(T0 + 10), new Date(T0 + 10));
    expect(await current()).toBeNull();
    await rm(join(dir, 'src', 'cli', 'new-command.ts'));
    expect(await current()).not.toBeNull();
    await utimes(lock, new Date(T0 + 60_000), new Date(T0 + 60_000));
    expect(await current()).toBeNull();
  });

  it('is bundled again when a source it read goes back to an older time (cp -p, rsync -a, a clock behind)', async () => {
    // Another version of the file, with the time of where it was copied from: older than the stamp.
    await fileAt(join(dir, 'src', 'cli', 'main.ts'), T0 - 60_000, '// main.ts as it was last week\n');
    expect(await current()).toBeNull();
  });

  it('is bundled again when a file under src is removed and its directory keeps its time (rsync -a)', async () => {
    await fileAt(join(dir, 'src', 'cli', 'old-command.ts'), T0 - 5000);
    await utimes(join(dir, 'src', 'cli'), new Date(T0 - 5000), new Date(T0 - 5000));
    await stampAgain();
    expect(await current()).not.toBeNull();
    await rm(join(dir, 'src', 'cli', 'old-command.ts'));
    await utimes(join(dir, 'src', 'cli'), new Date(T0 - 5000), new Date(T0 - 5000));
    expect(await current()).toBeNull();
  });

  it('is bundled again when an input it read, or a file it wrote, is gone', async () => {
    await rm(join(outdir, 'chunk-A.js'));
    expect(await current()).toBeNull();
    await fileAt(join(outdir, 'chunk-A.js'), T0 + 1000);
    expect(await current()).not.toBeNull();
    await rm(join(dir, 'node_modules', 'dep', 'index.js'));
    expect(await current()).toBeNull();
  });

  it('the test run’s build left its stamp: the files it wrote and what it read, its configuration too', async () => {
    const { inputs, files, seen } = JSON.parse(
      await readFile(join(PACKAGE, 'dist', '.bundle-inputs.json'), 'utf8'),
    );
    expect(files).toEqual(expect.arrayContaining(['main.js', 's3-server-child.js']));
    expect(inputs).toContain('src/cli/main.ts');
    // esbuild reads the TypeScript configuration (class fields, imports kept) without naming it.
    expect(Object.keys(seen)).toEqual(expect.arrayContaining(['tsconfig.json', '../../tsconfig.base.json']));
    expect(inputs.some((file: string) => file.includes('node_modules/@aws-sdk/client-s3/'))).toBe(true);
  });

  it('the console UI’s build left its stamp too, with what it imports from outside its sources', async () => {
    // Its pages say words the CLI says too (read/pin-words.ts, …): a change there is a change of the UI.
    const { inputs, files } = JSON.parse(
      await readFile(join(PACKAGE, 'dist', '.console-ui-inputs.json'), 'utf8'),
    );
    expect(files).toContain('index.html');
    expect(inputs).toEqual(expect.arrayContaining(['src/read/pin-words.ts', 'src/engine/text.ts']));
  });

  it('tsc’s run left its stamp: each source and configuration file, as it was', async () => {
    // Run again unless each is as recorded (a file copied back with an older time is not).
    const { files, seen } = JSON.parse(await readFile(join(PACKAGE, 'dist', '.tsc-inputs.json'), 'utf8'));
    expect(files).toEqual(['.tsbuildinfo']);
    expect(Object.keys(seen)).toEqual(
      expect.arrayContaining(['src/cli/main.ts', 'tsconfig.build.json', '../../tsconfig.base.json']),
    );
  });
});
