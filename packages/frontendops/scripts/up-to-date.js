/**
 * What scripts/build.js skips when nothing it reads changed: a step's output is current when it is
 * newer than every input. Inputs are files, or directories taken with everything under them (the
 * directories too: a file added, removed or renamed changes its directory's time).
 *
 * The CLI bundle (esbuild, 1.5 s of CPU) records what it read in a stamp beside dist/: the files
 * esbuild's metafile names (ours and our dependencies'), and the files it wrote. Its time is when
 * that bundle started reading, so a file saved while it ran is newer than the stamp.
 */
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The newest modification time of `dir`, everything under it (directories too) and `extra` files. */
export async function newest(dir, ...extra) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const paths = [dir, ...entries.map((e) => join(e.parentPath, e.name)), ...extra];
  return Math.max(0, ...(await Promise.all(paths.map(modifiedAt))));
}

/** A file's modification time; 0 when there is none. */
export async function modifiedAt(file) {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Records a bundle that started reading at `startedAt`: the inputs esbuild's metafile names, kept
 * relative to `root` as esbuild gives them, so a copy of the package checks its own files (those of a
 * plugin's namespace, "name:path", are no files and are left out); and the names of the files it
 * wrote in its output directory.
 *
 * @param {string} stampFile
 * @param {{ metafile: { inputs: Record<string, unknown> }; files: string[]; startedAt: number }} bundle
 */
export async function writeBundleStamp(stampFile, { metafile, files, startedAt }) {
  const inputs = Object.keys(metafile.inputs).filter((key) => !/^[a-z][\w-]*:/i.test(key));
  await writeFile(stampFile, `${JSON.stringify({ inputs, files: [...files].sort() })}\n`);
  const at = new Date(startedAt);
  await utimes(stampFile, at, at);
}

/**
 * The files of the last bundle when it is current: its stamp is there, each file it wrote is in
 * `outdir`, and neither an input it recorded nor one of `alsoInputs` (files or directories: the
 * sources, the installed packages' lock file, the build scripts) is newer than the stamp, nor gone.
 * Otherwise null: bundle again.
 *
 * @param {string} stampFile
 * @param {{ root: string; outdir: string; alsoInputs: string[] }} options
 * @returns {Promise<string[] | null>}
 */
export async function currentBundle(stampFile, { root, outdir, alsoInputs }) {
  const stampedAt = await modifiedAt(stampFile);
  if (stampedAt === 0) return null;
  /** @type {{ inputs?: unknown; files?: unknown }} */
  let stamp;
  try {
    stamp = JSON.parse(await readFile(stampFile, 'utf8'));
  } catch {
    return null;
  }
  const { inputs, files } = stamp;
  if (!Array.isArray(inputs) || !Array.isArray(files) || files.length === 0) return null;
  const times = await Promise.all([
    ...inputs.map((file) => modifiedAt(resolve(root, String(file)))),
    ...alsoInputs.map(async (path) =>
      (await stat(path).catch(() => null))?.isDirectory() ? newest(path) : modifiedAt(path),
    ),
  ]);
  if (times.some((time) => time === 0 || time >= stampedAt)) return null;
  const present = await Promise.all(files.map((name) => modifiedAt(join(outdir, String(name)))));
  return present.every((time) => time > 0) ? files.map(String) : null;
}
