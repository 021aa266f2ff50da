/**
 * A lock holder in another process, for the Locker contract: a deploy that runs elsewhere on this
 * machine, which a test can make hang (SIGSTOP: alive, but renewing nothing, like a process stuck or
 * cut off) or die (SIGKILL) while it holds a lock. The child (lock-holder-child.ts) opens the same
 * backend as the test's locker from a LockerSpec and takes orders as JSON lines on stdin.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Locker, LockOptions } from '../../../src/ports.ts';
import { killTracked, spawnTracked } from '../processes.ts';

/** A locker's backend, as JSON a child process can open. */
export type LockerSpec =
  | { kind: 'file'; dir: string }
  | {
      kind: 's3';
      endpoint: string;
      credentials: { accessKeyId: string; secretAccessKey: string };
      bucket: string;
      prefix: string;
    };

/**
 * The locker a spec describes (imported on demand: a child with a file lock need not load the AWS SDK).
 * The S3 lock reads its time from `now` (default: the real clock).
 */
export async function openLocker(spec: LockerSpec, now: () => number = Date.now): Promise<Locker> {
  if (spec.kind === 'file')
    return (await import('../../../src/adapters/lock-file.ts')).createFileLocker(spec.dir);
  const [{ createS3Store }, { createS3Locker }] = await Promise.all([
    import('../../../src/adapters/s3.ts'),
    import('../../../src/adapters/lock-s3.ts'),
  ]);
  const store = createS3Store({
    bucket: spec.bucket,
    endpoint: spec.endpoint,
    credentials: spec.credentials,
  });
  return createS3Locker(store, spec.prefix, now);
}

export interface LockHolderProcess {
  pid: number;
  /** Resolves once the child holds the lock; rejects with the child's error code and message. */
  acquire(name: string, options: LockOptions): Promise<void>;
  /** The child releases what it holds; ok false (with the message) when its release threw. */
  release(): Promise<{ ok: boolean; message?: string }>;
  /** The child's assertHeld: ok, or the code and message of what it threw. */
  check(): Promise<Reply>;
  /** Moves the clock its S3 lock reads on by `ms` (contract.ts: TestClock). */
  advance(ms: number): Promise<Reply>;
  /** SIGSTOP: the process lives on but does nothing, its lock unrenewed. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL, and waits until it is gone. */
  kill(): Promise<void>;
  /** Whether the process still runs (it has not exited, nor been killed). */
  alive(): boolean;
}

export const LOCKER_SPEC_ENV = 'FRONTENDOPS_TEST_LOCKER_SPEC';
const CHILD = fileURLToPath(new URL('./lock-holder-child.ts', import.meta.url));

export interface Reply {
  ok: boolean;
  code?: string;
  message?: string;
}

export async function startLockHolder(spec: LockerSpec): Promise<LockHolderProcess> {
  const child: ChildProcess = spawnTracked(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, [LOCKER_SPEC_ENV]: JSON.stringify(spec) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting: Array<(reply: Reply) => void> = [];
  const gone = new Promise<Reply>((resolve) =>
    child.once('exit', (code, signal) =>
      resolve({ ok: false, code: 'EXITED', message: `${code ?? signal}` }),
    ),
  );
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    waiting.shift()?.(JSON.parse(line) as Reply);
  });
  const ask = async (order: unknown): Promise<Reply> => {
    const reply = new Promise<Reply>((resolve) => waiting.push(resolve));
    child.stdin?.write(`${JSON.stringify(order)}\n`);
    return Promise.race([reply, gone]);
  };
  const ready = await ask({ op: 'ping' });
  if (!ready.ok) throw new Error(`the lock holder process did not start: ${ready.message}`);
  const pid = child.pid as number;
  return {
    pid,
    async acquire(name, options) {
      const reply = await ask({ op: 'acquire', name, options });
      if (!reply.ok) throw Object.assign(new Error(reply.message), { code: reply.code });
    },
    async release() {
      const reply = await ask({ op: 'release' });
      return reply.ok ? { ok: true } : { ok: false, message: `${reply.code}: ${reply.message}` };
    },
    check: () => ask({ op: 'check' }),
    advance: (ms) => ask({ op: 'advance', ms }),
    pause: () => signal(pid, 'SIGSTOP'),
    resume: () => signal(pid, 'SIGCONT'),
    kill: () => killTracked(child),
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

/** A signal to a process that may be gone already (a test's cleanup resumes whatever it paused). */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
