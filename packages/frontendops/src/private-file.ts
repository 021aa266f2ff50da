/**
 * Secrets kept in files of the user's own (an approver's private key, the receipt key the MCP
 * servers share), read as ssh reads a private key: a file others may read (group or other permission
 * bits) or another user owns (root aside: it could read and replace it anyway) is not used, since
 * whoever reads it holds the secret, and whoever owns it can replace it with one they hold. The check
 * is made on the open file, so the file read is the file checked. Each caller says what that means
 * for its secret, and what to do.
 *
 * The directory's check (ownDirectory) is made, on Linux, on the directory opened, and the file is
 * opened in that directory (through /proc/self/fd, as openat would: Node has none), so a swap of the
 * directory between the check and the open changes nothing. Elsewhere (or with no /proc) it is made on
 * its path before the open, and whoever could swap the directory between the two could have another
 * one's file opened; what is read is still held to the checks on the open file: one of the user's own
 * (or root's) that no one else may read, which that person does not hold either. The directory's
 * check is there for what comes after (no one else can replace the file later), not for this read.
 */
import { constants, existsSync, type Stats } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { isInside } from './inside.ts';

export type PrivateFileRead =
  | { text: string }
  /** Nothing at the path (or a path through something that is not a directory). */
  | { problem: 'missing' }
  /** It could not be opened for another reason (no permission, too many open files): the error. */
  | { problem: 'unopened'; error: NodeJS.ErrnoException }
  | { problem: 'directory' }
  /** A FIFO, a device, a socket: a secret is a regular file. */
  | { problem: 'not-a-file' }
  /** A symbolic link, where links are not followed (options.noLinks). */
  | { problem: 'link' }
  /** Others than its owner may read it: `mode` as `chmod` takes it, e.g. "0644". */
  | { problem: 'shared'; mode: string }
  | { problem: 'foreign'; uid: number; me: number }
  /** Its directory may be written by others (options.ownDirectory): they can replace the file. */
  | { problem: 'open-directory'; mode: string }
  /** Its directory is another user's (options.ownDirectory): they can replace the file. */
  | { problem: 'foreign-directory'; uid: number; me: number };

export interface PrivateFileOptions {
  /**
   * Refuse a symbolic link rather than read what it points to. For a secret FrontendOps makes itself
   * and takes any bytes of (the receipt key): a link to a file whose content anyone knows (one under
   * /proc, say) would otherwise pass every other check.
   */
  noLinks?: boolean;
  /** Refuse a file whose directory others may write or another user owns, as ssh's StrictModes does. */
  ownDirectory?: boolean;
}

export async function readPrivateFile(
  path: string,
  options: PrivateFileOptions = {},
): Promise<PrivateFileRead> {
  if (!options.ownDirectory || process.platform === 'win32') return readOpened(path, options);
  const directory = canOpenInDirectory()
    ? await open(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY).catch(() => null)
    : null;
  try {
    const dir = directory ? await directory.stat() : await stat(dirname(path)).catch(() => null);
    const me = process.getuid?.();
    if (dir && me !== undefined && isForeign(dir.uid, me))
      return { problem: 'foreign-directory', uid: dir.uid, me };
    if (dir && (dir.mode & 0o022) !== 0) return { problem: 'open-directory', mode: modeOf(dir.mode) };
    return await readOpened(
      path,
      options,
      directory && join(`/proc/self/fd/${directory.fd}`, basename(path)),
    );
  } finally {
    await directory?.close();
  }
}

/** Whether a directory opened can be named as /proc/self/fd/<fd> (Linux, /proc mounted): asked once. */
let procFd: boolean | undefined;
function canOpenInDirectory(): boolean {
  procFd ??= process.platform === 'linux' && existsSync('/proc/self/fd');
  return procFd;
}

/**
 * readPrivateFile's read of the file at `path`, its checks made on the open file; opened as `opened`
 * names it when given (the same file, in the directory checked), errors naming `path`.
 */
async function readOpened(
  path: string,
  options: PrivateFileOptions,
  opened: string | null = null,
): Promise<PrivateFileRead> {
  const me = process.getuid?.();
  // Not blocking on a FIFO (a pipe would wait for a writer).
  const flags =
    constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (options.noLinks ? (constants.O_NOFOLLOW ?? 0) : 0);
  let file: FileHandle;
  try {
    file = await open(opened ?? path, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (opened && error instanceof Error) {
      error.message = error.message.replaceAll(opened, path);
      (error as NodeJS.ErrnoException).path = path;
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') return { problem: 'missing' };
    if (code === 'ELOOP' && options.noLinks) return { problem: 'link' };
    return { problem: 'unopened', error: error as NodeJS.ErrnoException };
  }
  try {
    const info = await file.stat();
    if (info.isDirectory()) return { problem: 'directory' };
    if (!info.isFile()) return { problem: 'not-a-file' };
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0)
      return { problem: 'shared', mode: modeOf(info.mode) };
    if (me !== undefined && isForeign(info.uid, me)) return { problem: 'foreign', uid: info.uid, me };
    return { text: await file.readFile('utf8') };
  } finally {
    await file.close();
  }
}

/**
 * A file a path names, which someone else may choose (a file of the repository, a path in its
 * configuration), opened without blocking (a named pipe would wait for a writer forever) and kept
 * open only if it is a regular file: its handle, which the caller closes; otherwise what it is
 * (`kind`: "a directory", "a device"). Errors opening it are thrown.
 */
export async function openRegularFile(
  path: string,
): Promise<{ handle: FileHandle } | { problem: 'not-a-file'; kind: string }> {
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  let info: Stats;
  try {
    info = await handle.stat();
  } catch (error) {
    await handle.close();
    throw error;
  }
  if (info.isFile()) return { handle };
  await handle.close();
  return { problem: 'not-a-file', kind: info.isDirectory() ? 'a directory' : specialKind(info) };
}

/**
 * A small file a path names, which someone else may choose (openRegularFile), never read past
 * `maxBytes` (a link to /dev/zero, or a huge file, is not read whole). Errors opening it are thrown.
 */
export async function readSmallFile(
  path: string,
  maxBytes: number,
): Promise<{ text: string } | { problem: 'not-a-file'; kind: string } | { problem: 'too-large' }> {
  const opened = await openRegularFile(path);
  if ('problem' in opened) return opened;
  const { handle } = opened;
  try {
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return { problem: 'too-large' };
    return { text: buffer.subarray(0, length).toString('utf8') };
  } finally {
    await handle.close();
  }
}

/** What a path that is neither a file nor a directory is, in words ("a named pipe (FIFO)"). */
export function specialKind(kind: Stats): string {
  if (kind.isFIFO()) return 'a named pipe (FIFO)';
  if (kind.isSocket()) return 'a socket';
  if (kind.isCharacterDevice() || kind.isBlockDevice()) return 'a device';
  return 'neither a file nor a directory';
}

const modeOf = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');
/** Another user's (root could read and replace it anyway). */
const isForeign = (uid: number, me: number) => uid !== me && uid !== 0;

/** A path as a message shows it: under the home directory as `~/…`, so no message names the user's home. */
export function shownPath(path: string, home = homedir()): string {
  if (!home) return path;
  return path !== home && isInside(home, path) ? join('~', relative(home, path)) : path;
}
