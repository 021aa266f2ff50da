/**
 * Starts the embedded S3 server in a temp dir, with a key of its own, on a port of its own; records
 * every request. The server runs in a process this worker keeps between test files (vitest runs
 * the files of a worker one after another, in one module graph): stopping a server leaves its
 * process idle for the next one, which gets a new directory, key and port, so what one test
 * wrote, signed or listened on never reaches another. A file that needs two servers at once gets
 * two processes. This spares the suite a process start (about 0.3 s of CPU) per server.
 */
import { accessSync, constants, statfsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createS3Client, createS3Store } from '../../src/adapters/s3.ts';
import {
  type LocalS3,
  type LocalS3Host,
  type S3RequestRecord,
  startLocalS3Host,
} from '../../src/local/s3-server.ts';
import type { ObjectStore } from '../../src/ports.ts';
import { createLocalCredentials } from '../../src/stacks/local-env-file.ts';
import { keepForNextFiles, trackPid } from './processes.ts';

export interface TestS3 {
  endpoint: string;
  dir: string;
  /** The one key this server accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  requests: S3RequestRecord[];
  /** Waits until every request the server finished is in `requests`. */
  settle(): Promise<void>;
  /** Holds every request after the nth one matching `rule` finished, until resume(). */
  pauseAfter: LocalS3['pauseAfter'];
  resume(): void;
  store(bucket: string): ObjectStore;
  stop(): Promise<void>;
}

/**
 * A mark in `s3`'s request log and the requests it finished since one, each once they all are in the
 * log: how a test env tells what an operation sent (AtomicEnv and TestDeployEnv spread these).
 */
export function requestLog(s3: Pick<TestS3, 'requests' | 'settle'>): {
  mark(): Promise<number>;
  requestsSince(mark: number): Promise<S3RequestRecord[]>;
} {
  return {
    async mark() {
      await s3.settle();
      return s3.requests.length;
    },
    async requestsSince(mark) {
      await s3.settle();
      return s3.requests.slice(mark);
    },
  };
}

/**
 * Where servers keep their objects: a memory file system (/dev/shm) when this machine has one with
 * room to spare, else the temp directory. The server keeps each object as files (a data file and its
 * metadata, written to a temporary name and renamed), and on a disk's journaled file system those file
 * operations were a tenth of its CPU. The file system's rules (names up to 255 bytes, atomic renames)
 * are the same on both.
 */
const DATA_ROOT = memoryFileSystem() ?? tmpdir();

function memoryFileSystem(): string | null {
  const dir = '/dev/shm';
  try {
    accessSync(dir, constants.W_OK);
    const { bavail, bsize } = statfsSync(dir);
    // A container's default is 64 MiB: too small to be sure of, and other programs share it.
    return bavail * bsize >= 2 ** 30 ? dir : null;
  } catch {
    return null;
  }
}

/** Hosts of this worker with no server running. */
const idle: LocalS3Host[] = [];

function leaseHost(): LocalS3Host {
  for (let host = idle.pop(); host; host = idle.pop()) if (host.alive) return host;
  const host = startLocalS3Host();
  const release = keepForNextFiles(host.pid);
  host.exited.then(release);
  return host;
}

/**
 * `conditionalWrites`: honour If-None-Match / If-Match as S3 does, as the local environment's server
 * does. Off by default: most tests run where FrontendOps falls back to its file lock (an S3-compatible
 * server that ignores them), and the test proxy adds them where a test needs both (s3-proxy.ts).
 */
export async function startTestS3(
  buckets: readonly string[],
  options: { conditionalWrites?: boolean } = {},
): Promise<TestS3> {
  const dir = await mkdtemp(join(DATA_ROOT, 'frontendops-s3-'));
  const requests: S3RequestRecord[] = [];
  const credentials = createLocalCredentials();
  const host = leaseHost();
  // While it runs a server, the host is this file's: a file that ends without stopping it kills it.
  const untrack = trackPid(host.pid);
  const server = await host.start({
    directory: join(dir, 'data'),
    buckets,
    credentials,
    onRequest: (record) => requests.push(record),
    conditionalWrites: options.conditionalWrites ?? false,
  });
  const client = createS3Client({ endpoint: server.endpoint, credentials });
  return {
    endpoint: server.endpoint,
    dir,
    credentials,
    requests,
    settle: () => server.flush(),
    pauseAfter: (rule) => server.pauseAfter(rule),
    resume: () => server.resume(),
    store: (bucket) => createS3Store({ bucket, client }),
    async stop() {
      client.destroy();
      await server.close();
      untrack();
      if (host.alive) idle.push(host);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
