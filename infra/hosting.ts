import type * as pulumi from '@pulumi/pulumi';
import { createGithubAccess } from './access.ts';
import { createCdn } from './cdn.ts';
import type { HostingConfig } from './config.ts';
import { createPrivateBucket } from './storage.ts';

/**
 * The stack outputs the FrontendOps infra server reads (see the FrontendOps README's Stacks section). All plain, none secret: the
 * agent sees only opaque handles derived from them, and the servers hold the credentials.
 */
export type HostingOutputs = {
  artifactsBucket: pulumi.Output<string>;
  hostingBucket: pulumi.Output<string>;
  stateBucket: pulumi.Output<string>;
  distributionId: pulumi.Output<string>;
  region: string;
  siteUrl: pulumi.Output<string>;
  deployerRoleArn: pulumi.Output<string>;
  /** The KeyValueStore holding the release pointer (an ARN names a resource; not a secret). */
  releaseStoreArn: pulumi.Output<string>;
};

export function createDashboardHosting(config: HostingConfig): HostingOutputs {
  const hosting = createPrivateBucket('hosting', { versioned: false });
  const artifacts = createPrivateBucket('artifacts', {
    versioned: true,
    lifecycleRules: [
      {
        // Artifacts are immutable per commit; old versions only appear if one is overwritten by hand.
        id: 'expire-noncurrent-versions',
        status: 'Enabled',
        filter: {},
        noncurrentVersionExpiration: { noncurrentDays: config.artifactsNoncurrentDays },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
      },
    ],
  });
  // Versioned, so a bad write to the live pointer or the audit chain can always be looked back at.
  const state = createPrivateBucket('state', {
    versioned: true,
    lifecycleRules: [
      {
        id: 'abort-incomplete-uploads',
        status: 'Enabled',
        filter: {},
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
      },
    ],
  });

  const cdn = createCdn({
    hostingBucket: hosting.bucket,
    hostingPublicAccessBlock: hosting.publicAccessBlock,
    priceClass: config.priceClass,
  });
  const access = createGithubAccess({
    config,
    artifactsBucket: artifacts.bucket,
    hostingBucket: hosting.bucket,
    stateBucket: state.bucket,
    distribution: cdn.distribution,
    releaseStore: cdn.releaseStore,
  });

  return {
    artifactsBucket: artifacts.bucket.bucket,
    hostingBucket: hosting.bucket.bucket,
    stateBucket: state.bucket.bucket,
    distributionId: cdn.distribution.id,
    region: config.region,
    siteUrl: cdn.siteUrl,
    deployerRoleArn: access.deployer.arn,
    releaseStoreArn: cdn.releaseStore.arn,
  };
}
