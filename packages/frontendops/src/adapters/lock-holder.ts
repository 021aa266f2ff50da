/** What both lockers share: who holds a lock, whether that process still lives, the errors they throw. */
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { escapeOnOneLine } from '../engine/text.ts';
import { FrontendOpsError } from '../errors.ts';

export interface LockHolder {
  owner: string;
  host: string;
  pid: number;
  acquiredAt: string;
  /**
   * Which process space `pid` belongs to (processSpace): containers that share a host name (host
   * networking, the same --hostname) have pid spaces of their own. Absent in locks written before it.
   */
  space?: string;
}

let space: string | undefined;
/**
 * This process's pid space: the host name, the kernel's boot id and the pid namespace, digested
 * (Linux; elsewhere the host name alone). Two processes see each other's pids only when it is equal.
 */
export function processSpace(): string {
  if (space === undefined) {
    const read = (what: () => string) => {
      try {
        return what().trim();
      } catch {
        return '';
      }
    };
    const boot = read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
    const pids = read(() => readlinkSync('/proc/self/ns/pid'));
    space = createHash('sha256').update(`${hostname()}|${boot}|${pids}`).digest('hex').slice(0, 16);
  }
  return space;
}

/** Is the process `pid` alive on this machine? (EPERM: it lives, under another user.) */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A holder killed on this host (kill -9) gives its lock up at once; elsewhere only expiry frees it.
 * "This host" is this process space: a holder in another container with the same host name is alive
 * as far as we can tell (its pid means nothing here). A lock from before spaces were written is
 * judged by the host name, as then.
 */
export const diedOnThisHost = (holder: LockHolder) =>
  holder.host === hostname() &&
  (holder.space === undefined || holder.space === processSpace()) &&
  !isAlive(holder.pid);

/** A lock's name: its kind and a digest of what it guards (a "locked" message names no bucket). */
export const lockName = (kind: string, ...identity: string[]): string =>
  `${kind}-${createHash('sha256').update(identity.join('|')).digest('hex').slice(0, 24)}`;

/**
 * A lock's name as one file name or key segment: letters, digits, ".", "_", "-". A name that is not
 * already one of those, or is long (one that embeds a state prefix), is spelled safely and followed by
 * a digest of the whole, so two names never share a lock ("a/b" and "a_b" do not), and it stays well
 * within the file system's 255-byte name limit and S3's 1,024-byte key limit.
 */
export function lockFileName(name: string): string {
  if (/^[A-Za-z0-9._-]+$/.test(name) && name.length <= MAX_LOCK_NAME) return name;
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safe.slice(0, MAX_LOCK_NAME - 25)}-${createHash('sha256').update(name).digest('hex').slice(0, 24)}`;
}

/** The longest lockFileName (bytes, all ASCII). */
export const MAX_LOCK_NAME = 100;

/**
 * Who holds a lock, in the words its lock object gives: whoever can write where locks live (the state
 * bucket) chooses them, so they are shown on one line, control characters escaped, wherever they go
 * (a terminal's notice, a refusal, an MCP client, the console).
 */
const holderWords = (holder: { owner: string; acquiredAt: string } | null): string =>
  holder ? escapeOnOneLine(`${holder.owner} (since ${holder.acquiredAt})`) : 'another process';

/** What a wait for a held lock is, as it begins: who holds it, and how long this one waits. */
export function waitingNotice(
  name: string,
  holder: { owner: string; acquiredAt: string } | null,
  waitMs: number,
): string {
  return `${name} is locked by ${holderWords(holder)}; waiting up to ${Math.max(1, Math.round(waitMs / 1000))}s for it.`;
}

export function lockedError(
  name: string,
  holder: { owner: string; acquiredAt: string } | null,
  waitMs: number,
) {
  return new FrontendOpsError(
    'LOCKED',
    `${name} is locked by ${holderWords(holder)}; waited ${Math.round(waitMs / 1000)}s. One deploy per environment runs at a time: wait for it to finish and try again.`,
    { details: { holder } },
  );
}

/**
 * What a holder's assertHeld throws once its lock is lost (`reason`: how, in a few words). The run
 * stops before its next change, so what it changed so far is all it changed.
 */
export function lostLockError(name: string, reason: string) {
  return new FrontendOpsError(
    'LOCKED',
    `${name} lost its lock: ${reason}. Nothing more was changed by this run; check \`frontendops status\` and run the command again.`,
    { details: { lost: true, reason } },
  );
}
