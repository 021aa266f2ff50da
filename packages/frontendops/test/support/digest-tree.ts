/** A digest of every file under a directory (paths and bytes): equal digests prove a read wrote nothing. */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function digestTree(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  });
  if (!entries) return 'absent';
  for (const entry of entries.map((e) => join(e.parentPath, e.name)).sort()) {
    hash.update(entry);
    hash.update(await readFile(entry).catch(() => Buffer.from('(directory)')));
  }
  return hash.digest('hex');
}
