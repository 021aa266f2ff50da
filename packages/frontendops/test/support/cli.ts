/** Runs the real CLI (bin/frontendops.js) in a child process, as a user would; tracked for cleanup. */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked } from './processes.ts';

export const BIN = fileURLToPath(new URL('../../bin/frontendops.js', import.meta.url));
/** The repository's root (the workspace root). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/** Where tests leave screenshots for people to look at (git-ignored). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * `env` is added to the test process's variables; undefined unsets one (a set but empty one is a value).
 * `as`: another user to run it as (a test running as root).
 */
export function startCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd?: string,
  as: Pick<SpawnOptions, 'uid' | 'gid'> = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawnTracked(process.execPath, [BIN, ...args], {
    ...as,
    cwd: cwd ?? process.cwd(),
    env: { ...process.env, FRONTENDOPS_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<CliResult>((resolveDone, failDone) => {
    // A process that could not start (its binary not executable for `as`) closes nothing.
    child.on('error', failDone);
    child.on('close', (code, signal) => resolveDone({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/**
 * Whether a user other than the owner of this Node binary and of its folders (and not in their
 * groups) may run it, as startCli's `as` needs: each folder on its path searchable by others, the
 * binary executable by them. Node installed from npm under a private temporary folder is not.
 */
export function nodeRunnableByOthers(path: string = process.execPath): boolean {
  const others = (p: string, bit: number) => (statSync(p).mode & bit) !== 0;
  if (!others(path, 0o001)) return false;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (!others(dir, 0o001)) return false;
    if (dirname(dir) === dir) return true;
  }
}

export const runCli = (
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd?: string,
  as: Pick<SpawnOptions, 'uid' | 'gid'> = {},
) => startCli(args, env, cwd, as).done;

/** Waits (bounded) until the child prints something matching `pattern` on stderr. */
export function waitForStderr(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<RegExpMatchArray> {
  return new Promise((done, fail) => {
    let seen = '';
    const timer = setTimeout(
      () => fail(new Error(`timed out waiting for ${pattern}; stderr: ${seen}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        done(match);
      }
    });
    child.on('exit', (code) => fail(new Error(`exited with ${code}; stderr: ${seen}`)));
  });
}
