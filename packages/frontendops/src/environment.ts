/**
 * An Environment binds one stack's deploy target to the ports that act on it: the three buckets,
 * the CDN, the lock, the state records. Built at the edge (CLI, MCP server, console) and passed in.
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { createCloudFrontCdn } from './adapters/cloudfront.ts';
import { createS3Client, createS3Store } from './adapters/s3.ts';
import type { Config } from './config.ts';
import type { DeployTarget } from './engine/types.ts';
import { findLocalEnv, LOCAL_S3_CREDENTIALS } from './local/env-file.ts';
import type { Cdn, Locker, ObjectStore } from './ports.ts';
import { readDeployTarget } from './stacks/resolve.ts';
import { createFileLocker } from './state/lock-file.ts';
import { createS3Locker } from './state/lock-s3.ts';
import { createStateRecords, type StateRecords } from './state/records.ts';

export interface Environment {
  target: DeployTarget;
  artifacts: ObjectStore;
  hosting: ObjectStore;
  state: ObjectStore;
  records: StateRecords;
  locker: Locker;
  cdn: Cdn | null;
  retain: number;
  /** Things the operator was told (e.g. a local file lock is used), once a lock was taken. */
  notices: string[];
  close(): void;
}

export interface EnvironmentOptions {
  credentials?: AwsCredentialIdentity;
  /** CloudFront-API endpoint (local edge, test double); real CloudFront when absent. */
  cdnEndpoint?: string;
  /** Where file locks live when the S3 endpoint ignores conditional writes. */
  lockDir?: string;
  retain?: number;
  /** Told about things an operator should know (default: a "note:" line on stderr). */
  onNotice?: (notice: string) => void;
}

const printNotice = (notice: string) => process.stderr.write(`note: ${notice}\n`);

export async function openEnvironment(
  target: DeployTarget,
  options: EnvironmentOptions = {},
): Promise<Environment> {
  const client = createS3Client({
    region: target.region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  const store = (bucket: string) => createS3Store({ bucket, client });
  const state = store(target.stateBucket);
  const notices: string[] = [];
  // Which lock to use is decided at the first lock, not at open: read-only commands write nothing.
  let chosen: Promise<Locker> | undefined;
  const chooseLocker = async (): Promise<Locker> => {
    if (await state.supportsConditionalWrites()) return createS3Locker(state, target.statePrefix);
    const notice =
      'The S3 endpoint ignores conditional writes, so deploys are serialised by a file lock on this machine only.';
    notices.push(notice);
    (options.onNotice ?? printNotice)(notice);
    return createFileLocker(options.lockDir ?? defaultLockDir(target));
  };
  const locker: Locker = {
    acquire: async (name, lockOptions) => {
      chosen ??= chooseLocker();
      return (await chosen).acquire(name, lockOptions);
    },
  };
  const cdn = target.distributionId
    ? createCloudFrontCdn({
        distributionId: target.distributionId,
        ...(options.cdnEndpoint ? { endpoint: options.cdnEndpoint } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
      })
    : null;
  return {
    target,
    artifacts: store(target.artifactsBucket),
    hosting: store(target.hostingBucket),
    state,
    records: createStateRecords(state, target.statePrefix),
    locker,
    cdn,
    retain: options.retain ?? 3,
    notices,
    close: () => client.destroy(),
  };
}

/**
 * Resolves a --stack reference (configured name, outputs file, or the running local environment)
 * and opens it. Against the local environment, its fixed credentials and local edge are used.
 */
export async function openStack(
  ref: string,
  config: Config,
  cwd: string = process.cwd(),
): Promise<Environment> {
  const target = await readDeployTarget(ref, { config, cwd });
  const local = await findLocalEnv(cwd);
  const isLocal =
    local !== null && target.endpoint !== undefined && sameOrigin(target.endpoint, local.s3Endpoint);
  return openEnvironment(target, {
    retain: config.retain,
    ...(isLocal && local
      ? {
          credentials: LOCAL_S3_CREDENTIALS,
          cdnEndpoint: local.cdnEndpoint,
          lockDir: join(local.dataDir, 'locks'),
        }
      : {}),
  });
}

/** One lock directory per state location, so unrelated endpoints never contend. */
export function defaultLockDir(target: DeployTarget): string {
  const where = createHash('sha256').update(
    `${target.endpoint ?? 'aws'}|${target.stateBucket}|${target.statePrefix}`,
  );
  return join(tmpdir(), 'frontendops-locks', where.digest('hex').slice(0, 16));
}

const sameOrigin = (a: string, b: string) => new URL(a).origin === new URL(b).origin;
