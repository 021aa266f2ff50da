/**
 * Chunks of an older CLI build, which no CLI built now imports. A CLI started before a build may
 * still load one when it first runs a command (a console running while `npm test` rebuilds, then
 * asked for a preview: ERR_MODULE_NOT_FOUND if it was deleted), so a chunk is kept for a day after
 * it went out of use, then deleted. When each went out of use is kept in `.stale-chunks.json`
 * beside them; `.npmignore` there (npm reads it inside the directories package.json "files" names)
 * keeps them out of a packed tarball. Run by scripts/build.js after each CLI bundle.
 */
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** How long a chunk of an older build stays for a CLI started before it went out of use. */
export const STALE_CHUNK_KEPT_MS = 24 * 60 * 60 * 1000;

/**
 * @param {string} outdir the bundle's directory
 * @param {Set<string>} keep the files this build wrote (and others it owns)
 * @param {number} [now]
 * @returns {Promise<{ kept: string[]; deleted: string[] }>}
 */
export async function retireOldChunks(outdir, keep, now = Date.now()) {
  const ledgerFile = join(outdir, '.stale-chunks.json');
  /** @type {Record<string, unknown>} */
  let before = {};
  try {
    before = JSON.parse(await readFile(ledgerFile, 'utf8'));
  } catch {
    // None yet, or unreadable: every older chunk counts as going out of use now.
  }
  /** @type {Record<string, number>} */
  const ledger = {};
  const deleted = [];
  for (const name of (await readdir(outdir)).sort()) {
    // Hidden files are this module's own; name.<pid> is another build's file being written.
    if (keep.has(name) || name.startsWith('.') || /\.\d+$/.test(name)) continue;
    const since = before[name];
    const from = typeof since === 'number' && since <= now ? since : now;
    if (now - from >= STALE_CHUNK_KEPT_MS) {
      await rm(join(outdir, name), { force: true });
      deleted.push(name);
    } else ledger[name] = from;
  }
  const kept = Object.keys(ledger);
  await replace(ledgerFile, `${JSON.stringify(ledger, null, 2)}\n`);
  await replace(
    join(outdir, '.npmignore'),
    [
      '# Written by scripts/build.js: chunks of older builds, kept for CLIs still running.',
      '.stale-chunks.json',
      ...kept,
    ]
      .map((line) => `${line}\n`)
      .join(''),
  );
  return { kept, deleted };
}

/** Written aside and renamed into place, and only when it changed. */
async function replace(file, text) {
  if ((await readFile(file, 'utf8').catch(() => null)) === text) return;
  const aside = `${file}.${process.pid}`;
  await writeFile(aside, text);
  await rename(aside, file);
}
