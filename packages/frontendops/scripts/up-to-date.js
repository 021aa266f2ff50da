/**
 * What scripts/build.js skips when nothing it reads changed: tsc, the console UI (Vite) and the CLI
 * bundle (esbuild, 1.5 s of CPU) each record what they read in a stamp in dist/: the files their
 * tool named (ours and our dependencies') and every file under the directories they depend on, each
 * with its time and size, and the files they wrote. Its time is when that step started reading, so a
 * file saved while it ran is newer than the stamp; a file whose time or size is not the one recorded
 * (copied back with an older time) changed.
 */
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

/** A file's modification time; 0 when there is none. */
export async function modifiedAt(file) {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Each file's modification time and size, by its path relative to `root`: the files named, and every
 * file under the directories named (so a file added or removed changes the listing, whatever its
 * directory's time says). A file that is gone is [0, 0].
 *
 * @param {string} root
 * @param {string[]} paths
 * @returns {Promise<Record<string, [number, number]>>}
 */
async function filesAsTheyAre(root, paths) {
  const listed = await Promise.all(
    paths.map(async (path) => {
      const found = await stat(path).catch(() => null);
      if (!found?.isDirectory()) return [path];
      const entries = await readdir(path, { recursive: true, withFileTypes: true });
      return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name));
    }),
  );
  const files = [...new Set(listed.flat())].sort();
  const seen = await Promise.all(
    files.map(async (file) => {
      const found = await stat(file).catch(() => null);
      return [relative(root, file), found ? [found.mtimeMs, found.size] : [0, 0]];
    }),
  );
  return Object.fromEntries(seen);
}

/** The inputs esbuild's metafile names, as files under `root` (a plugin's namespace, "name:path", is none). */
const inputFiles = (root, inputs) =>
  inputs.filter((key) => !/^[a-z][\w-]*:/i.test(String(key))).map((key) => resolve(root, String(key)));

/**
 * Records a bundle that started reading at `startedAt`: the time and size of each file it read
 * (the inputs esbuild's metafile names, ours and our dependencies'; kept relative to `root`, so a
 * copy of the package checks its own files) and of each of `alsoInputs` (files, or directories with
 * every file under them); and the names of the files it wrote in its output directory.
 *
 * @param {string} stampFile
 * @param {{ root: string; alsoInputs: string[]; metafile: { inputs: Record<string, unknown> }; files: string[]; startedAt: number }} bundle
 */
export async function writeBundleStamp(stampFile, { root, alsoInputs, metafile, files, startedAt }) {
  const read = inputFiles(root, Object.keys(metafile.inputs));
  const seen = await filesAsTheyAre(root, [...read, ...alsoInputs]);
  const inputs = read.map((file) => relative(root, file));
  await writeFile(stampFile, `${JSON.stringify({ inputs, files: [...files].sort(), seen })}\n`);
  const at = new Date(startedAt);
  await utimes(stampFile, at, at);
}

/**
 * The files of the last bundle when it is current: its stamp is there, each file it wrote is in
 * `outdir`, and each input it recorded and each file of `alsoInputs` (files or directories: the
 * sources, the installed packages' lock file, the build scripts) is there with the time and size it
 * had then, that time older than the stamp (a file saved while it bundled is newer), and no file was
 * added. The same time, not only an older one: a file copied back with its old time (`cp -p`,
 * `rsync -a`, an archive) or saved by a clock behind this one is older than the stamp but not the
 * file that was read. Otherwise null: bundle again.
 *
 * @param {string} stampFile
 * @param {{ root: string; outdir: string; alsoInputs: string[] }} options
 * @returns {Promise<string[] | null>}
 */
export async function currentBundle(stampFile, { root, outdir, alsoInputs }) {
  const stampedAt = await modifiedAt(stampFile);
  if (stampedAt === 0) return null;
  /** @type {{ inputs?: unknown; files?: unknown; seen?: unknown }} */
  let stamp;
  try {
    stamp = JSON.parse(await readFile(stampFile, 'utf8'));
  } catch {
    return null;
  }
  const { inputs, files, seen } = stamp;
  if (!Array.isArray(inputs) || !Array.isArray(files) || files.length === 0) return null;
  if (typeof seen !== 'object' || seen === null) return null;
  const now = await filesAsTheyAre(root, [...inputFiles(root, inputs), ...alsoInputs]);
  const was = /** @type {Record<string, unknown>} */ (seen);
  const paths = Object.keys(now);
  if (paths.length !== Object.keys(was).length) return null;
  for (const path of paths) {
    const [time, size] = now[path] ?? [0, 0];
    const before = was[path];
    if (time === 0 || time >= stampedAt) return null;
    if (!Array.isArray(before) || before[0] !== time || before[1] !== size) return null;
  }
  const present = await Promise.all(files.map((name) => modifiedAt(join(outdir, String(name)))));
  return present.every((time) => time > 0) ? files.map(String) : null;
}
