/**
 * readPrivateFile's checks are made on the file it opened (fstat of the handle), not on the path
 * before or after: a path that is a symbolic link is judged by the file it leads to, and a FIFO put
 * where a secret should be is refused without waiting for a writer. Its directory's check is made on
 * the directory the file is opened in, on Linux: a swap of the directory between the check and the
 * open is staged by running it just before the module's open of the file (`node:fs/promises`' open,
 * wrapped: the real call, after the swap).
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readPrivateFile } from '../src/private-file.ts';

/** What runs just before the next open of a path (the module's), if anything. */
const beforeOpen = vi.hoisted(() => ({ run: null as null | ((path: string) => Promise<void>) }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    open: async (...args: Parameters<typeof actual.open>) => {
      await beforeOpen.run?.(String(args[0]));
      return actual.open(...args);
    },
  };
});

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

  it.skipIf(process.platform !== 'linux')(
    'a directory swapped for an open one between its check and the open of the file is not read from',
    async () => {
      const home = join(dir, 'swap');
      const keys = join(home, 'keys');
      const open = join(home, 'open');
      await mkdir(keys, { recursive: true });
      await mkdir(open);
      await chmod(keys, 0o700);
      await chmod(open, 0o777);
      await writeFile(join(keys, 'key'), 'checked\n', { mode: 0o600 });
      await writeFile(join(open, 'key'), 'planted\n', { mode: 0o600 });
      expect(await readPrivateFile(join(open, 'key'), { ownDirectory: true })).toEqual({
        problem: 'open-directory',
        mode: '0777',
      });
      // Just before the file is opened, the directory checked is moved away and the open one put in its place.
      beforeOpen.run = async (path) => {
        if (!path.endsWith('/key')) return;
        beforeOpen.run = null;
        await rename(keys, join(home, 'checked'));
        await rename(open, keys);
      };
      try {
        expect(await readPrivateFile(join(keys, 'key'), { ownDirectory: true })).toEqual({
          text: 'checked\n',
        });
      } finally {
        beforeOpen.run = null;
      }
      // A file that cannot be opened is named by its path, not by where in /proc it was opened.
      const long = join(home, 'checked', 'k'.repeat(300));
      const unopened = await readPrivateFile(long, { ownDirectory: true });
      expect(unopened).toMatchObject({ problem: 'unopened', error: { code: 'ENAMETOOLONG', path: long } });
      expect('error' in unopened && unopened.error.message).toContain(long);
    },
  );
});
