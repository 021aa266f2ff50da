/**
 * readPrivateFile's checks are made on the file it opened (fstat of the handle), not on the path
 * before or after: a path that is a symbolic link is judged by the file it leads to, and a FIFO put
 * where a secret should be is refused without waiting for a writer. (A swap between a check and the
 * open cannot be staged deterministically here; holding every check of the file to the open handle is
 * what makes one pointless: see the module's comment.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateFile } from '../src/private-file.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-private-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(process.platform === 'win32')('readPrivateFile judges the file it opened', () => {
  it('a link to a file others may read is refused as that file is; a link to a private one is read, unless links are refused', async () => {
    const shared = join(dir, 'shared');
    await writeFile(shared, 'secret\n', { mode: 0o644 });
    const toShared = join(dir, 'to-shared');
    await symlink(shared, toShared);
    expect(await readPrivateFile(toShared)).toEqual({ problem: 'shared', mode: '0644' });

    const mine = join(dir, 'mine');
    await writeFile(mine, 'secret\n', { mode: 0o600 });
    const toMine = join(dir, 'to-mine');
    await symlink(mine, toMine);
    expect(await readPrivateFile(toMine)).toEqual({ text: 'secret\n' });
    expect(await readPrivateFile(toMine, { noLinks: true })).toEqual({ problem: 'link' });
  });

  it('a FIFO where the secret should be is refused at once, not waited on', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    expect(await readPrivateFile(fifo)).toEqual({ problem: 'not-a-file' });
  });
});
