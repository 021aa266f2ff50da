/**
 * The embedded S3-protocol server of the local environment: s3rver, storing files under a
 * directory, on 127.0.0.1, in a child process (see s3-server-child.ts for why). Every finished
 * request can be observed (method, bucket, key, status): the tests record the write order with it
 * and the benchmark counts requests.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface S3RequestRecord {
  method: string;
  /** Path-style: bucket and key decoded from the URL. */
  bucket: string;
  key: string;
  /** The query string, which tells operations apart ("delete", "list-type=2&prefix=…"). */
  query: string;
  status: number;
  /** x-amz-copy-source, decoded, when the request is a server-side copy. */
  copySource?: string;
  /** For DeleteObjects: the keys the server deleted. */
  deletedKeys?: string[];
  at: number;
}

/** Which finished request pauses the server (crash tests): every given field must match. */
export interface PauseRule {
  bucket?: string;
  method?: string;
  keySuffix?: string;
  query?: string;
  copy?: boolean;
  /** Pause after the nth match (default 1). */
  nth: number;
}

export interface LocalS3Options {
  directory: string;
  /** The one key the server accepts (createLocalCredentials()). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  host?: string;
  port?: number;
  buckets?: readonly string[];
  onRequest?: (record: S3RequestRecord) => void;
}

export interface LocalS3 {
  endpoint: string;
  pid: number;
  /** Resolves once every request the server has finished has been passed to onRequest. */
  flush(): Promise<void>;
  /**
   * Fault injection: after the nth request matching `rule` finishes, hold every further request
   * until resume(). Resolves when the server has paused.
   */
  pauseAfter(rule: PauseRule): Promise<void>;
  resume(): void;
  close(): Promise<void>;
}

// The compiled server forks the compiled child beside it. Run from sources (the tests, the bench), it
// forks the package's compiled child when there is one — the tests build the package first — and
// the TypeScript child through tsx only when there is none: tsx doubles a start's CPU (0.55 s, not
// 0.28 s), and the tests start some fifty of these servers.
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const BUILT_CHILD = fileURLToPath(
  new URL(FROM_SOURCES ? '../../dist/local/s3-server-child.js' : './s3-server-child.js', import.meta.url),
);
const CHILD_FROM_TS = FROM_SOURCES && !existsSync(BUILT_CHILD);
const CHILD = CHILD_FROM_TS ? fileURLToPath(new URL('./s3-server-child.ts', import.meta.url)) : BUILT_CHILD;
const START_TIMEOUT_MS = 20_000;

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const host = options.host ?? '127.0.0.1';
  const child = fork(CHILD, [], {
    execArgv: ['--openssl-legacy-provider', '--no-warnings', ...(CHILD_FROM_TS ? ['--import', 'tsx'] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const flushes = new Map<number, () => void>();
  let nextFlush = 0;
  let onPaused: (() => void) | null = null;
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the embedded S3 server did not start in time')),
      START_TIMEOUT_MS,
    );
    child.on('message', (message: { type: string; port?: number; record?: S3RequestRecord }) => {
      if (message.type === 'ready' && message.port) {
        clearTimeout(timer);
        resolve(message.port);
      } else if (message.type === 'request' && message.record) {
        options.onRequest?.(message.record);
      } else if (message.type === 'paused') {
        onPaused?.();
        onPaused = null;
      } else if (message.type === 'flushed') {
        const id = (message as { id?: number }).id ?? -1;
        flushes.get(id)?.();
        flushes.delete(id);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the embedded S3 server exited during start-up (code ${code})`));
    });
  });
  child.send({
    type: 'start',
    directory: options.directory,
    host,
    port: options.port ?? 0,
    buckets: [...(options.buckets ?? [])],
    credentials: options.credentials,
    record: Boolean(options.onRequest),
  });
  let port: number;
  try {
    port = await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    endpoint: `http://${host}:${port}`,
    pid: child.pid ?? 0,
    flush() {
      const id = nextFlush++;
      return new Promise<void>((resolve) => {
        flushes.set(id, resolve);
        child.send({ type: 'flush', id });
      });
    },
    pauseAfter(rule) {
      return new Promise<void>((resolvePaused) => {
        onPaused = resolvePaused;
        child.send({ type: 'pause-after', rule });
      });
    },
    resume() {
      child.send({ type: 'resume' });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
