/**
 * Spawns a measured process, as a user's shell would: wall time from spawn to exit (start-up
 * included) and peak resident memory.
 *
 * Peak RSS is the kernel's own account: the command runs under GNU time (`/usr/bin/time -f %M`),
 * which reports the child's ru_maxrss from wait4() — exact, not sampled, and taken after the
 * process ended — along with its CPU time (%U + %S: time spent in the tool, not waiting on S3). Where GNU time is missing, /proc/<pid>/status VmHWM (the kernel's high-water mark)
 * is read every 5 ms until exit, and the figure is marked as sampled.
 *
 * Every process is started in its own process group and remembered until it ends; killAll() (also
 * run on exit) stops whatever is still running, so a failing bench leaves nothing behind.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  /** Peak resident set size in MiB; null when it could not be read. */
  peakRssMb: number | null;
  /** How peakRssMb was obtained. */
  rssSource: 'wait4' | 'sampled' | 'none';
  /** CPU time (user + system) the process used, from GNU time; null without it. */
  cpuMs: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed (the whole process group) after this long; default 10 minutes. */
  timeoutMs?: number;
  /** Written to stdin. stdin is then closed, unless onStdout is given (which closes it when done). */
  input?: string;
  /** Called with each stdout chunk; ends the conversation with `child.stdin.end()`. */
  onStdout?: (text: string, child: ChildProcess) => void;
  /** Called with each stderr chunk. */
  onStderr?: (text: string) => void;
}

const GNU_TIME = '/usr/bin/time';
const live = new Set<ChildProcess>();
let timeAvailable: boolean | undefined;
let counter = 0;

export function hasGnuTime(): boolean {
  if (timeAvailable === undefined) {
    try {
      execFileSync(GNU_TIME, ['-f', '%M', 'true'], { stdio: 'ignore' });
      timeAvailable = true;
    } catch {
      timeAvailable = false;
    }
  }
  return timeAvailable;
}

/** Runs `command args…` to its end and measures it. Never rejects for a non-zero exit. */
export async function measure(command: string, args: string[], options: SpawnOptions): Promise<Measured> {
  const viaTime = hasGnuTime();
  const rssFile = join(tmpdir(), `frontendops-bench-rss-${process.pid}-${counter++}`);
  const [file, argv] = viaTime
    ? [GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, command, ...args]]
    : [command, args];
  const started = performance.now();
  const child = spawn(file, argv, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // its own process group: killAll() reaches its children too
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    options.onStdout?.(text, child);
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    options.onStderr?.(text);
  });
  child.stdin.on('error', () => undefined); // a child that exits without reading its stdin
  if (options.input !== undefined) child.stdin.write(options.input);
  if (!options.onStdout) child.stdin.end();

  let sampledKb = 0;
  const sampler = viaTime
    ? undefined
    : setInterval(() => {
        void readFile(`/proc/${child.pid}/status`, 'utf8').then(
          (status) => {
            const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
            sampledKb = Math.max(sampledKb, kb);
          },
          () => undefined,
        );
      }, 5);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill(child);
  }, options.timeoutMs ?? 600_000);

  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on('close', (c, s) => resolve([c, s]));
    child.on('error', (error) => {
      stderr += String(error);
      resolve([null, null]);
    });
  });
  const ms = performance.now() - started;
  clearTimeout(timer);
  if (sampler) clearInterval(sampler);
  live.delete(child);

  let peakKb: number | null = viaTime ? null : sampledKb || null;
  let cpuMs: number | null = null;
  if (viaTime) {
    const text = await readFile(rssFile, 'utf8').catch(() => '');
    // GNU time writes "Command exited with non-zero status N" before the figures: take the last line.
    const figures = /^(\d+) ([\d.]+) ([\d.]+)$/.exec(text.trim().split('\n').pop() ?? '');
    if (figures) {
      peakKb = Number(figures[1]);
      cpuMs = (Number(figures[2]) + Number(figures[3])) * 1000;
    }
    await rm(rssFile, { force: true });
  }
  return {
    code,
    signal,
    ms,
    peakRssMb: peakKb === null ? null : peakKb / 1024,
    cpuMs,
    rssSource: peakKb === null ? 'none' : viaTime ? 'wait4' : 'sampled',
    stdout,
    stderr,
    timedOut,
  };
}

function kill(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Stops every measured process still running. */
export function killAll(): void {
  for (const child of live) kill(child);
  live.clear();
}

process.once('exit', killAll);
