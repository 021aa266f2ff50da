/**
 * What every bench section runs against: a fresh embedded S3 server (s3rver in its child process,
 * reporting every request it finished) with the section's buckets, and the CloudFront API double.
 * The server accepts one key, made for the run (`credentials`): the CLIs get it in their environment.
 * `counted` runs one tool alone and counts the S3 requests the server finished meanwhile.
 */
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, createS3Store } from '../src/adapters/s3.ts';
import { type LocalS3, type S3RequestRecord, startLocalS3 } from '../src/local/s3-server.ts';
import type { ObjectStore } from '../src/ports.ts';
import { createLocalCredentials, type LocalEnv } from '../src/stacks/local-env-file.ts';
import { type CloudFrontDouble, startCloudFrontDouble } from '../test/support/cloudfront-double.ts';
import { countOperations } from './report.ts';

export const APP = 'sophia-dashboard';
export const COMMIT_A = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
export const COMMIT_B = 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2';
export const ARTIFACTS = 'bench-artifacts';

export interface Counted<T> {
  value: T;
  ms: number;
  requests: number;
  /** Requests by S3 operation (ListObjectsV2, CopyObject, …). */
  operations: Record<string, number>;
}

export interface BenchServers {
  s3: LocalS3;
  /** The key this run's embedded server accepts (made fresh for the run; it accepts nothing else). */
  credentials: LocalEnv['credentials'];
  cdn: CloudFrontDouble;
  /** A client straight to the server (no proxy), for setting up and checking. */
  client: S3Client;
  store(bucket: string): ObjectStore;
  counted<T>(work: () => Promise<T>): Promise<Counted<T>>;
  close(): Promise<void>;
}

/**
 * `conditionalWrites` (default true, as the local environment runs it): the server honours
 * If-None-Match / If-Match, so FrontendOps takes the S3 lock and appends as on AWS; false, it ignores
 * them as some S3-compatible servers do, and FrontendOps falls back to its file lock.
 */
export async function startServers(
  dir: string,
  buckets: readonly string[],
  options: { conditionalWrites?: boolean } = {},
): Promise<BenchServers> {
  const records: S3RequestRecord[] = [];
  const credentials = createLocalCredentials();
  const s3 = await startLocalS3({
    credentials,
    directory: join(dir, 's3'),
    buckets: [ARTIFACTS, ...buckets],
    onRequest: (record) => records.push(record),
    conditionalWrites: options.conditionalWrites ?? true,
  });
  const cdn = await startCloudFrontDouble().catch(async (error) => {
    await s3.close();
    throw error;
  });
  const client = createS3Client({ endpoint: s3.endpoint, credentials });
  return {
    s3,
    credentials,
    cdn,
    client,
    store: (bucket) => createS3Store({ bucket, client }),
    async counted(work) {
      await s3.flush();
      records.length = 0;
      const started = performance.now();
      const value = await work();
      const ms = performance.now() - started;
      await s3.flush();
      const mine = records.splice(0);
      return { value, ms, requests: mine.length, operations: countOperations(mine) };
    },
    async close() {
      client.destroy();
      await Promise.allSettled([cdn.close(), s3.close()]);
    },
  };
}
