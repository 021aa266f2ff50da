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
  /**
   * Honour If-None-Match / If-Match on PutObject as S3 does (default true: the local environment's
   * deploy lock and live pointer then work as on S3). false: ignore them, as s3rver and some
   * S3-compatible servers do (tests of the file lock FrontendOps falls back to there).
   */
  conditionalWrites?: boolean;
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

/**
 * A process that runs embedded S3 servers one after another (see s3-server-child.ts). A server's
 * close() stops it and leaves the process for the next start(); dispose() ends the process. The
 * tests keep one per worker; anything else uses startLocalS3, whose close() ends the process too.
 */
export interface LocalS3Host {
  readonly pid: number;
  /** Starts a server; one at a time (the last one closed first). */
  start(options: LocalS3Options): Promise<LocalS3>;
  /** Whether the process still runs, so start() can be called. */
  readonly alive: boolean;
  /** Settles when the process has ended. */
  readonly exited: Promise<void>;
  dispose(): Promise<void>;
}

type ChildMessage =
  | { type: 'ready'; session: number; port: number }
  | { type: 'failed'; session: number; error: string }
  | { type: 'request'; session: number; record: S3RequestRecord }
  | { type: 'paused'; session: number }
  | { type: 'flushed'; session: number; id: number }
  | { type: 'stopped'; session: number };

export function startLocalS3Host(): LocalS3Host {
  const child = fork(CHILD, [], {
    execArgv: ['--openssl-legacy-provider', '--no-warnings', ...(CHILD_FROM_TS ? ['--import', 'tsx'] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit').then(() => undefined);
  const listeners = new Map<number, (message: ChildMessage) => void>();
  child.on('message', (message: ChildMessage) => listeners.get(message.session)?.(message));
  let nextSession = 0;
  let running = false;
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const dispose = async () => {
    if (gone()) return;
    child.kill('SIGTERM');
    await exited;
  };
  return {
    pid: child.pid ?? 0,
    get alive() {
      return !gone() && child.connected;
    },
    dispose,
    exited,
    async start(options) {
      if (running) throw new Error('this embedded S3 process already runs a server: close it first');
      if (gone() || !child.connected) throw new Error('the embedded S3 server process has ended');
      running = true;
      const session = nextSession++;
      const host = options.host ?? '127.0.0.1';
      const flushes = new Map<number, () => void>();
      let nextFlush = 0;
      let onPaused: (() => void) | null = null;
      let onStopped: (() => void) | null = null;
      const ready = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('the embedded S3 server did not start in time')),
          START_TIMEOUT_MS,
        );
        listeners.set(session, (message) => {
          if (message.type === 'ready') {
            clearTimeout(timer);
            resolve(message.port);
          } else if (message.type === 'failed') {
            clearTimeout(timer);
            reject(new Error(`the embedded S3 server did not start: ${message.error}`));
          } else if (message.type === 'request') {
            options.onRequest?.(message.record);
          } else if (message.type === 'paused') {
            onPaused?.();
            onPaused = null;
          } else if (message.type === 'flushed') {
            flushes.get(message.id)?.();
            flushes.delete(message.id);
          } else if (message.type === 'stopped') {
            onStopped?.();
          }
        });
        exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`the embedded S3 server exited during start-up (code ${child.exitCode})`));
        });
      });
      child.send({
        type: 'start',
        session,
        directory: options.directory,
        host,
        port: options.port ?? 0,
        buckets: [...(options.buckets ?? [])],
        credentials: options.credentials,
        record: Boolean(options.onRequest),
        conditionalWrites: options.conditionalWrites ?? true,
      });
      let port: number;
      try {
        port = await ready;
      } catch (error) {
        child.kill('SIGKILL');
        throw error;
      }
      let closing: Promise<void> | null = null;
      return {
        endpoint: `http://${host}:${port}`,
        pid: child.pid ?? 0,
        flush() {
          const id = nextFlush++;
          return new Promise<void>((resolve) => {
            flushes.set(id, resolve);
            child.send({ type: 'flush', session, id });
          });
        },
        pauseAfter(rule) {
          return new Promise<void>((resolvePaused) => {
            onPaused = resolvePaused;
            child.send({ type: 'pause-after', session, rule });
          });
        },
        resume() {
          child.send({ type: 'resume', session });
        },
        close() {
          closing ??= (async () => {
            if (!gone() && child.connected) {
              // Every request the server finished has been reported before it says it stopped.
              await Promise.race([
                new Promise<void>((resolve) => {
                  onStopped = resolve;
                  child.send({ type: 'stop', session });
                }),
                exited,
              ]);
            }
            listeners.delete(session);
            running = false;
          })();
          return closing;
        },
      };
    },
  };
}

/** One embedded S3 server in a process of its own; close() ends the process. */
export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const host = startLocalS3Host();
  const server = await host.start(options);
  return {
    ...server,
    async close() {
      await host.dispose();
    },
  };
}
