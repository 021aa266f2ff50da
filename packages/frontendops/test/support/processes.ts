/**
 * Every process a test starts is tracked, in its own process group, and killed with the group when
 * the test file ends — passed, failed or timed out — and, as a last resort, by the global teardown
 * (test/support/global-setup.ts) for anything a crashed worker left behind.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PIDS_ENV = 'FRONTENDOPS_TEST_PIDS';
const tracked = new Set<ChildProcess>();

/** spawn(), in a process group of its own (so its children die with it), registered for cleanup. */
export function spawnTracked(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  track(child);
  return child;
}

/** Registers a child started elsewhere (e.g. by fork) for cleanup. */
export function track(child: ChildProcess): void {
  tracked.add(child);
  const registry = process.env[PIDS_ENV];
  if (registry && child.pid) {
    mkdirSync(registry, { recursive: true });
    writeFileSync(join(registry, String(child.pid)), '');
  }
  child.once('exit', () => forget(child));
}

/** Kills a tracked child's whole process group (SIGKILL), and waits for it to be gone. */
export async function killTracked(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    killGroup(child.pid);
    await gone;
  }
  forget(child);
}

const trackedPids = new Set<number>();

/** Registers a process known only by its pid (a server a module under test forked) for cleanup. */
export function trackPid(pid: number): () => void {
  trackedPids.add(pid);
  const registry = process.env[PIDS_ENV];
  if (registry) {
    mkdirSync(registry, { recursive: true });
    writeFileSync(join(registry, String(pid)), '');
  }
  return () => {
    trackedPids.delete(pid);
    if (registry) rmSync(join(registry, String(pid)), { force: true });
  };
}

/** Kills every process this test file started and did not stop itself. */
export async function killAllTracked(): Promise<void> {
  await Promise.all([...tracked].map(killTracked));
  for (const pid of trackedPids) killGroup(pid);
  trackedPids.clear();
}

export function killGroup(pid: number | undefined): void {
  if (!pid) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function forget(child: ChildProcess): void {
  tracked.delete(child);
  const registry = process.env[PIDS_ENV];
  if (registry && child.pid) rmSync(join(registry, String(child.pid)), { force: true });
}
