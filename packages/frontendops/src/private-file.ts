/**
 * Secrets kept in files of the user's own (an approver's private key, the receipt key the MCP
 * servers share), read as ssh reads a private key: a file others may read (group or other permission
 * bits) or another user owns (root aside: it could read and replace it anyway) is not used, since
 * whoever reads it holds the secret, and whoever owns it can replace it with one they hold. The check
 * is made on the open file, so the file read is the file checked. Each caller says what that means
 * for its secret, and what to do.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';

export type PrivateFileRead =
  | { text: string }
  /** Nothing at the path (or a path through something that is not a directory). */
  | { problem: 'missing' }
  | { problem: 'directory' }
  /** A FIFO, a device, a socket: a secret is a regular file. */
  | { problem: 'not-a-file' }
  /** Others than its owner may read it: `mode` as `chmod` takes it, e.g. "0644". */
  | { problem: 'shared'; mode: string }
  | { problem: 'foreign'; uid: number; me: number };

export async function readPrivateFile(path: string): Promise<PrivateFileRead> {
  // Not blocking on a FIFO (a pipe would wait for a writer).
  const file = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
      throw error;
    },
  );
  if (!file) return { problem: 'missing' };
  try {
    const info = await file.stat();
    if (info.isDirectory()) return { problem: 'directory' };
    if (!info.isFile()) return { problem: 'not-a-file' };
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      return { problem: 'shared', mode: (info.mode & 0o777).toString(8).padStart(4, '0') };
    }
    const me = process.getuid?.();
    if (me !== undefined && info.uid !== me && info.uid !== 0)
      return { problem: 'foreign', uid: info.uid, me };
    return { text: await file.readFile('utf8') };
  } finally {
    await file.close();
  }
}

/** A path as a message shows it: under the home directory as `~/…`, so no message names the user's home. */
export function shownPath(path: string, home = homedir()): string {
  return home && path.startsWith(`${home}/`) ? `~/${path.slice(home.length + 1)}` : path;
}
