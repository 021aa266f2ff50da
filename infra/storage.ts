import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

export type PrivateBucketOptions = {
  versioned: boolean;
  /** Lifecycle rules in the provider's shape; omitted when empty. */
  lifecycleRules?: aws.types.input.s3.BucketLifecycleConfigurationRule[];
};

/**
 * A bucket nobody reaches anonymously: every public-access block on, ACLs disabled (the bucket
 * owner owns every object), encrypted at rest, optionally versioned.
 */
export function createPrivateBucket(name: string, options: PrivateBucketOptions, parent?: pulumi.Resource) {
  const opts = parent ? { parent } : {};
  const bucket = new aws.s3.Bucket(name, { forceDestroy: false }, opts);
  const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
    `${name}-public-access`,
    {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    },
    opts,
  );
  new aws.s3.BucketOwnershipControls(
    `${name}-ownership`,
    { bucket: bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } },
    opts,
  );
  new aws.s3.BucketServerSideEncryptionConfiguration(
    `${name}-encryption`,
    { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }] },
    opts,
  );
  const versioning = options.versioned
    ? new aws.s3.BucketVersioning(
        `${name}-versioning`,
        { bucket: bucket.id, versioningConfiguration: { status: 'Enabled' } },
        opts,
      )
    : undefined;
  if (options.lifecycleRules && options.lifecycleRules.length > 0) {
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      { bucket: bucket.id, rules: options.lifecycleRules },
      // Lifecycle rules on noncurrent versions need versioning in place first.
      { ...opts, dependsOn: versioning ? [versioning] : [] },
    );
  }
  return { bucket, publicAccessBlock };
}
