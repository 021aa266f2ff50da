/**
 * Every process a test starts is tracked, in its own process group, and killed with the group when
 * the test file ends — passed, failed or timed out — and, as a last resort, by the global teardown
 * (test/support/process-registry-setup.ts) for anything a dead worker left behind. A group outlives its
 * leader: a server a test killed may leave its children running (a helper that ignores its
 * parent's death), so a group stays tracked, and listed in the registry, until none of it is left.
 * test/hygiene.test.ts proves all of it.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const PIDS_ENV = 'FRONTENDOPS_TEST_PIDS';

/** Group leaders this test file started that are still running. */
const leaders = new Set<ChildProcess>();
/** Groups whose leader exited while other members still ran. */
const orphaned = new Set<number>();
/** Processes known by pid only, not group leaders (a server a module under test forked). */
const singles = new Set<number>();
/** Processes this worker keeps for its next test files while idle (the embedded S3 hosts). */
const kept = new Set<number>();

/** spawn(), in a process group of its own (so its children die with it), registered for cleanup. */
export function spawnTracked(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  const pid = child.pid;
  if (!pid) return child;
  leaders.add(child);
  register(`group-${pid}`);
  child.once('exit', () => {
    leaders.delete(child);
    if (groupAlive(pid)) orphaned.add(pid);
    else unregister(`group-${pid}`);
  });
  return child;
}

/** Runs a command to its end as spawnTracked does (so a test that ends first kills it), with its output. */
export function runTracked(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnTracked(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Kills a tracked child's whole process group (SIGKILL), and waits for all of it to be gone. */
export async function killTracked(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (!pid) return;
  const exited =
    child.exitCode === null && child.signalCode === null
      ? new Promise((resolve) => child.once('exit', resolve))
      : Promise.resolve();
  signal(-pid);
  await exited;
  await groupGone(pid);
  leaders.delete(child);
  orphaned.delete(pid);
  unregister(`group-${pid}`);
}

/** Registers a process known only by its pid (a server a module under test forked) for cleanup. */
export function trackPid(pid: number): () => void {
  return listPid(singles, `process-${pid}`, pid);
}

/**
 * Keeps an idle process (an embedded S3 host between two servers) for the worker's next test files:
 * the end of a file does not kill it as a leftover. It ends with the worker (its IPC channel closes)
 * or at the latest with the global teardown, which kills it without reporting it. Call the returned
 * function when the process has ended.
 */
export function keepForNextFiles(pid: number): () => void {
  return listPid(kept, `kept-${pid}`, pid);
}

/** Adds `pid` to `set` and to the registry under `name`; the returned function takes both back. */
function listPid(set: Set<number>, name: string, pid: number): () => void {
  set.add(pid);
  register(name);
  return () => {
    set.delete(pid);
    unregister(name);
  };
}

/** Kills every process this test file started and did not stop itself, and waits for them to be gone. */
export async function killAllTracked(): Promise<void> {
  await Promise.all([...leaders].map(killTracked));
  for (const pgid of orphaned) signal(-pgid);
  await Promise.all([...orphaned].map(groupGone));
  for (const pgid of orphaned) unregister(`group-${pgid}`);
  orphaned.clear();
  for (const pid of singles) {
    signal(pid);
    unregister(`process-${pid}`);
  }
  singles.clear();
  await killDescendants();
}

/**
 * Whatever else this worker still has running below it: what a module under test started itself
 * (the S3 server child of `frontendops dev` run in-process, the MCP servers of an in-process agent, a
 * build). Only in a forked worker (vitest's default pool): in a thread the process is vitest's own.
 */
async function killDescendants(): Promise<void> {
  if (typeof process.send !== 'function') return;
  const below = descendantsOf(process.pid).filter((pid) => !kept.has(pid));
  for (const pid of below) signal(pid);
  const deadline = Date.now() + 5_000;
  while (below.some(exists) && Date.now() < deadline) await sleep(10);
}

/** Every process below `root` (children, their children, …), from one `ps` listing (not `ps` itself). */
function descendantsOf(root: number): number[] {
  const ps = spawnSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  if (ps.status !== 0) return [];
  const listing = ps.stdout;
  const children = new Map<number, number[]>();
  for (const line of listing.split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (!pid || ppid === undefined || Number.isNaN(ppid)) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const found: number[] = [];
  for (let queue = [root]; queue.length > 0; ) {
    const next = children.get(queue.shift() as number) ?? [];
    found.push(...next.filter((pid) => pid !== ps.pid));
    queue = [...queue, ...next];
  }
  return found;
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The global teardown's sweep: kills every group and process still in the registry (what a dead
 * worker could not), and returns what it found.
 */
export function killRegistered(registry: string): string[] {
  const names = readdirSync(registry).filter((name) => /^(group|process|kept)-\d+$/.test(name));
  for (const name of names) {
    const pid = Number(name.slice(name.indexOf('-') + 1));
    signal(name.startsWith('group-') ? -pid : pid);
  }
  return names.filter((name) => !name.startsWith('kept-'));
}

function signal(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Does any process of the group `pgid` still exist? */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits (at most 5 s) until no process of the group is left. */
async function groupGone(pgid: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(10);
}

function register(name: string): void {
  const registry = process.env[PIDS_ENV];
  if (!registry) return;
  mkdirSync(registry, { recursive: true });
  writeFileSync(join(registry, name), '');
}

function unregister(name: string): void {
  const registry = process.env[PIDS_ENV];
  if (registry) rmSync(join(registry, name), { force: true });
}
