/** Starts the embedded S3 server in a temp dir for one test file, with a key of its own; records every request. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createS3Client, createS3Store } from '../../src/adapters/s3.ts';
import { type LocalS3, type S3RequestRecord, startLocalS3 } from '../../src/local/s3-server.ts';
import type { ObjectStore } from '../../src/ports.ts';
import { createLocalCredentials } from '../../src/stacks/local-env-file.ts';
import { trackPid } from './processes.ts';

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

export async function startTestS3(buckets: readonly string[]): Promise<TestS3> {
  const dir = await mkdtemp(join(tmpdir(), 'frontendops-s3-'));
  const requests: S3RequestRecord[] = [];
  const credentials = createLocalCredentials();
  const server = await startLocalS3({
    directory: join(dir, 'data'),
    buckets,
    credentials,
    onRequest: (record) => requests.push(record),
  });
  const untrack = trackPid(server.pid);
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
      await rm(dir, { recursive: true, force: true });
    },
  };
}
