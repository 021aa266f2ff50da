/**
 * Opening a site: resolve a --stack reference, read its outputs, build the deploy target and bind it
 * to the ports (S3 stores sharing one client, the CDN, the lock, the state records). The same path
 * for every stack: a source that knows how to reach its target (the embedded environment) says so
 * in its `access`; every other stack is reached through the standard AWS SDK chain.
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCloudFrontCdn } from '../adapters/cloudfront.ts';
import { createCloudFrontReleaseStore } from '../adapters/cloudfront-kvs.ts';
import { createFileLocker } from '../adapters/lock-file.ts';
import { createS3Locker } from '../adapters/lock-s3.ts';
import { createS3Client, createS3Store } from '../adapters/s3.ts';
import type { Config } from '../config.ts';
import type { DeployTarget } from '../engine/types.ts';
import type { Locker, SiteAccess } from '../ports.ts';
import type { Site } from '../site.ts';
import { createStateRecords } from '../state/records.ts';
import { readStack } from './resolve.ts';

export interface ConnectSiteOptions {
  /** How to reach the target when not through the standard AWS SDK chain (see SiteAccess). */
  access?: SiteAccess;
  /** Where file locks live when the S3 endpoint ignores conditional writes (default: lockDirFor). */
  lockDir?: string;
  retain?: number;
  /** Atomic releases: SPA routing of "/dir/" (default false). */
  spa?: boolean;
  /** Atomic releases: the grace before replaced releases are pruned (default: access.propagationMs, else 60 s). */
  releaseGraceMs?: number;
  /** Whether changes need a person's approval (see Site.protected); default false. */
  protected?: boolean;
  /** Told about things an operator should know (default: a "note:" line on stderr, once). */
  onNotice?: (notice: string) => void;
}

/** Resolves a --stack reference (an outputs file, `local`, or a configured name) and opens it. */
export async function openSite(
  ref: string,
  config: Config,
  cwd: string,
  options: Pick<ConnectSiteOptions, 'onNotice'> = {},
): Promise<Site> {
  const { target, access, named } = await readStack(ref, { config, cwd });
  return connectSite(target, {
    ...(access ? { access } : {}),
    retain: config.retain,
    spa: config.spa ?? false,
    ...(access?.propagationMs === undefined
      ? { releaseGraceMs: (config.releaseGraceSeconds ?? 60) * 1000 }
      : {}),
    protected: config.protected.includes(target.stack) || !named,
    ...options,
  });
}

export async function connectSite(target: DeployTarget, options: ConnectSiteOptions = {}): Promise<Site> {
  const credentials = options.access?.credentials;
  const client = createS3Client({
    region: target.region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
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
    return createFileLocker(options.lockDir ?? lockDirFor(target));
  };
  const locker: Locker = {
    acquire: async (name, lockOptions) => {
      chosen ??= chooseLocker();
      return (await chosen).acquire(name, lockOptions);
    },
  };
  const cdnEndpoint = options.access?.cdnEndpoint;
  const cdn = target.distributionId
    ? createCloudFrontCdn({
        distributionId: target.distributionId,
        ...(cdnEndpoint ? { endpoint: cdnEndpoint } : {}),
        ...(credentials ? { credentials } : {}),
      })
    : null;
  const kvsEndpoint = options.access?.kvsEndpoint;
  const releases = target.releaseStoreArn
    ? createCloudFrontReleaseStore({
        kvsArn: target.releaseStoreArn,
        ...(kvsEndpoint ? { endpoint: kvsEndpoint } : {}),
        ...(credentials ? { credentials } : {}),
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
    protected: options.protected ?? false,
    notices,
    mode: releases ? 'atomic' : 'in-place',
    releases,
    releaseGraceMs: options.releaseGraceMs ?? options.access?.propagationMs ?? 60_000,
    spa: options.spa ?? false,
    close: () => client.destroy(),
  };
}

/** One lock directory per state location, so unrelated endpoints never contend. */
export function lockDirFor(target: DeployTarget): string {
  const where = createHash('sha256').update(
    `${target.endpoint ?? 'aws'}|${target.stateBucket}|${target.statePrefix}`,
  );
  return join(tmpdir(), 'frontendops-locks', where.digest('hex').slice(0, 16));
}

const printNotice = (notice: string) => process.stderr.write(`note: ${notice}\n`);
